-- Every clean statistical sector code of the extract mapped to a sector of the target vintage, the way
-- Statbel renumbers sectors when municipalities merge or are renumbered: the sector keeps the rest of its
-- code and takes the code of its new municipality as prefix (44049A00- of Nevele is 44083A00- of Deinze
-- from 2019). So a code valid on 1 January of the vintage year maps to itself; an older code maps to the
-- code <vintage municipality><its last four characters> when the extract lists that code as valid on the
-- vintage date and starting after the old code ended. A successor claimed by codes of two municipalities
-- (Statbel re-lettered one of them), an old code without such a successor, and a code that starts after the
-- vintage date map to no sector (vintage_sector NULL): what they count goes to the unknown sector of their
-- vintage municipality, flagged.
{%- set vintage_date = "make_date(" ~ sql_value(var('target_vintage')) ~ ", 1, 1)" %}

with

sectors as (
    select sector_code, nis_code, valid_from, valid_to, vintage_nis
    from {{ ref('int_sectors_checked') }}
    where rule is null
),

classified as (
    select
        *,
        case
            when valid_from <= {{ vintage_date }} and (valid_to is null or valid_to >= {{ vintage_date }})
                then 'valid_at_vintage'
            when valid_to < {{ vintage_date }} then 'forward'
            else 'backward'
        end as direction
    from sectors
),

at_vintage as (
    select sector_code, valid_from from classified where direction = 'valid_at_vintage'
),

forward_candidates as (
    select classified.sector_code, at_vintage.sector_code as candidate
    from classified
    inner join at_vintage
        on at_vintage.sector_code = classified.vintage_nis || substr(classified.sector_code, 6)
        and at_vintage.valid_from > classified.valid_to
    where classified.direction = 'forward'
),

-- old codes of different municipalities that claim one successor: it cannot be told which one it is
claims as (
    select candidate, count(distinct left(sector_code, 5)) as n_claimants
    from forward_candidates
    group by candidate
),

final as (
    select
        classified.sector_code,
        classified.nis_code,
        classified.valid_from,
        classified.valid_to,
        classified.vintage_nis,
        case
            when classified.direction = 'valid_at_vintage' then classified.sector_code
            when claims.n_claimants = 1 then forward_candidates.candidate
        end as vintage_sector,
        case
            when classified.direction = 'valid_at_vintage' then 'valid_at_vintage'
            when claims.n_claimants = 1 then 'forward'
            when claims.n_claimants > 1 then 'ambiguous'
            when classified.direction = 'forward' then 'no_successor'
            else 'after_vintage'
        end as mapping_status,
        {{ sql_value(var('target_vintage')) }} as vintage
    from classified
    left join forward_candidates using (sector_code)
    left join claims on claims.candidate = forward_candidates.candidate
)

select * from final
