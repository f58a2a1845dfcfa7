-- The seeds of the income-position study are usable: the income bands of seed income_positions (the rows
-- that are no student position) start at 0, do not overlap, leave no gap and end open (so every income has
-- exactly one band); at most one student position; no position is called `all` (the marts' own total); seed
-- social_minimum has at most one amount for a year, household type and age, each amount positive, each age
-- range well ordered; seed income_position_exclusions names each reason once. Fails on every problem found.
with

bands as (
    select
        position,
        coalesce(min_ratio_pct, 0) as lower_pct,
        max_ratio_pct as upper_pct,
        lead(coalesce(min_ratio_pct, 0)) over (order by coalesce(min_ratio_pct, 0), position) as next_lower_pct,
        row_number() over (order by coalesce(min_ratio_pct, 0), position) as band_rank,
        count(*) over () as n_bands
    from {{ ref('income_positions') }}
    where not coalesce(is_student_position, false)
),

problems as (
    select 'income_positions: the lowest band ' || position || ' starts above 0' as problem
    from bands where band_rank = 1 and lower_pct > 0
    union all
    select 'income_positions: band ' || position || ' ends at ' || coalesce(cast(upper_pct as varchar), 'open')
        || ' but the next starts at ' || cast(next_lower_pct as varchar)
    from bands where next_lower_pct is not null and upper_pct is distinct from next_lower_pct
    union all
    select 'income_positions: the highest band ' || position || ' is not open-ended'
    from bands where band_rank = n_bands and upper_pct is not null
    union all
    select 'income_positions: band ' || position || ' is empty or reversed'
    from bands where upper_pct is not null and upper_pct <= lower_pct
    union all
    select 'income_positions: ' || cast(count(*) as varchar) || ' student positions'
    from {{ ref('income_positions') }} where coalesce(is_student_position, false) having count(*) > 1
    union all
    select 'income_positions: position ' || position || ' appears ' || cast(count(*) as varchar) || ' times'
    from {{ ref('income_positions') }} group by position having count(*) > 1
    union all
    select 'income_positions: a position is called all, the marts'' total'
    from {{ ref('income_positions') }} where position = 'all'
    union all
    select 'social_minimum: ' || cast(a.year as varchar) || ' ' || a.household_type || ' has overlapping ages '
        || cast(a.min_age as varchar) || '-' || cast(a.max_age as varchar) || ' and '
        || cast(b.min_age as varchar) || '-' || cast(b.max_age as varchar)
    from {{ ref('social_minimum') }} as a
    inner join {{ ref('social_minimum') }} as b
        on a.year = b.year and a.household_type = b.household_type
        and (a.min_age, a.max_age, a.age_class) < (b.min_age, b.max_age, b.age_class)
        and a.min_age <= b.max_age and b.min_age <= a.max_age
    union all
    select 'social_minimum: ' || cast(year as varchar) || ' ' || household_type || ' ' || age_class
        || ' has no positive amount or its ages are reversed'
    from {{ ref('social_minimum') }}
    where not coalesce(monthly_amount_eur > 0, false) or not coalesce(min_age <= max_age, false)
    union all
    select 'income_position_exclusions: reason ' || exclusion || ' appears ' || cast(count(*) as varchar) || ' times'
    from {{ ref('income_position_exclusions') }} group by exclusion having count(*) > 1
)

select * from problems
