-- dim_network is exactly every period of seed periods x every mover group (all movers; each band of seed
-- age_bands, ordered by min_age; each group of seed income_groups, by group_order), with the period's dates
-- and the first year of the period as density year. Fails on every network missing, extra, or whose dates,
-- density year or group order differ from the seeds.
with

periods as (
    select period_label, start_date, end_date from {{ ref('periods') }}
),

groups as (
    select 'all' as group_type, 'all' as group_value, 0 as group_order
    union all
    select 'age_band', band_label, row_number() over (order by min_age) from {{ ref('age_bands') }}
    union all
    select 'income_group', income_group, group_order from {{ ref('income_groups') }}
),

expected as (
    select
        periods.period_label,
        groups.group_type,
        groups.group_value,
        periods.start_date as period_start,
        periods.end_date as period_end,
        year(periods.start_date) as density_year,
        groups.group_order
    from periods
    cross join groups
),

actual as (
    select period_label, group_type, group_value, period_start, period_end, density_year, group_order
    from {{ ref('dim_network') }}
)

select
    coalesce(expected.period_label, actual.period_label) as period_label,
    coalesce(expected.group_type, actual.group_type) as group_type,
    coalesce(expected.group_value, actual.group_value) as group_value,
    case
        when actual.period_label is null then 'missing from dim_network'
        when expected.period_label is null then 'not a period and group of the seeds'
        else 'dates, density year or group order differ from the seeds'
    end as problem
from expected
full outer join actual using (period_label, group_type, group_value)
where expected.period_label is null
    or actual.period_label is null
    or expected.period_start is distinct from actual.period_start
    or expected.period_end is distinct from actual.period_end
    or expected.density_year is distinct from actual.density_year
    or expected.group_order is distinct from actual.group_order
