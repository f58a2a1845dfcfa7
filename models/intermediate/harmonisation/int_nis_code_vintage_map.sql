-- Every NIS code (of the extract and of the nis_code_changes seed) mapped to the target vintage.
-- Codes valid on the vintage date map to themselves; older codes follow the changes forward (chains such
-- as old -> 2019 -> 2025 included); codes that start after the vintage date follow them backward, which is
-- only unambiguous for a pure renumbering. A code with several candidates is ambiguous (vintage_nis NULL).
-- The extract's codes are its clean municipality rows (int_municipalities_checked).
{%- set vintage_date = "make_date(" ~ sql_value(var('target_vintage')) ~ ", 1, 1)" %}

with recursive

municipalities as (
    select nis_code, valid_from, valid_to from {{ ref('int_municipalities_checked') }} where rule is null
),

changes as (
    select old_nis, new_nis, valid_from
    from {{ ref('nis_code_changes') }}
    -- a code that absorbs others and keeps its number (11002 Antwerpen in 2025) is not a change of code
    where old_nis <> new_nis
),

all_codes as (
    select nis_code from municipalities
    union
    select old_nis from changes
    union
    select new_nis from changes
),

code_validity as (
    select
        all_codes.nis_code,
        municipalities.nis_code is not null as in_extract,
        coalesce(municipalities.valid_from, seed_start.first_valid_from) as valid_from,
        coalesce(municipalities.valid_to, seed_end.last_valid_to) as valid_to
    from all_codes
    left join municipalities using (nis_code)
    left join (
        select new_nis as nis_code, min(valid_from) as first_valid_from from changes group by new_nis
    ) as seed_start using (nis_code)
    left join (
        select old_nis as nis_code, max(valid_from) - interval 1 day as last_valid_to from changes group by old_nis
    ) as seed_end using (nis_code)
),

classified as (
    select
        *,
        case
            when (valid_from is null or valid_from <= {{ vintage_date }})
                and (valid_to is null or valid_to >= {{ vintage_date }}) then 'valid_at_vintage'
            when valid_to < {{ vintage_date }} then 'forward'
            else 'backward'
        end as direction
    from code_validity
),

forward_steps (start_nis, current_nis, depth) as (
    select nis_code, nis_code, 0 from classified where direction = 'forward'
    union all
    select forward_steps.start_nis, changes.new_nis, forward_steps.depth + 1
    from forward_steps
    inner join changes
        on changes.old_nis = forward_steps.current_nis
        and changes.valid_from <= {{ vintage_date }}
    where forward_steps.depth < 10
),

forward_ends as (
    select start_nis, current_nis
    from forward_steps
    where not exists (
        select 1 from changes
        where changes.old_nis = forward_steps.current_nis and changes.valid_from <= {{ vintage_date }}
    )
),

backward_steps (start_nis, current_nis, depth) as (
    select nis_code, nis_code, 0 from classified where direction = 'backward'
    union all
    select backward_steps.start_nis, changes.old_nis, backward_steps.depth + 1
    from backward_steps
    inner join changes
        on changes.new_nis = backward_steps.current_nis
        and changes.valid_from > {{ vintage_date }}
    where backward_steps.depth < 10
),

backward_ends as (
    select start_nis, current_nis
    from backward_steps
    where not exists (
        select 1 from changes
        where changes.new_nis = backward_steps.current_nis and changes.valid_from > {{ vintage_date }}
    )
),

candidates as (
    select start_nis, current_nis from forward_ends
    union
    select start_nis, current_nis from backward_ends
),

-- a candidate must itself be a code of the vintage, else the chain ends in a code that lapsed
valid_candidates as (
    select candidates.start_nis, candidates.current_nis
    from candidates
    inner join classified
        on classified.nis_code = candidates.current_nis
        and classified.direction = 'valid_at_vintage'
),

resolved as (
    select
        start_nis as nis_code,
        count(distinct current_nis) as n_candidates,
        min(current_nis) as only_candidate
    from valid_candidates
    group by start_nis
),

final as (
    select
        classified.nis_code,
        classified.in_extract,
        classified.valid_from,
        classified.valid_to,
        case
            when classified.direction = 'valid_at_vintage' then classified.nis_code
            when resolved.n_candidates = 1 then resolved.only_candidate
        end as vintage_nis,
        case
            when classified.direction = 'valid_at_vintage' then 'valid_at_vintage'
            when resolved.n_candidates = 1 then classified.direction
            when resolved.n_candidates > 1 then 'ambiguous'
            else 'no_successor'
        end as mapping_status,
        coalesce(resolved.n_candidates, case when classified.direction = 'valid_at_vintage' then 1 else 0 end)
            as n_candidates,
        {{ sql_value(var('target_vintage')) }} as vintage
    from classified
    left join resolved using (nis_code)
)

select * from final
