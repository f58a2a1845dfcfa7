-- The networks: every period x mover group (all movers, each age band, each income group).
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

networks as (
    select
        cast(row_number() over (order by periods.start_date, groups.group_type = 'income_group',
            groups.group_type = 'age_band', groups.group_order) as integer) as network_id,
        periods.period_label,
        periods.start_date,
        periods.end_date,
        year(periods.start_date) as density_year,
        groups.group_type,
        groups.group_value,
        groups.group_order
    from periods
    cross join groups
)

select * from networks
