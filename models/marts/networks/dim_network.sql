-- The study's networks, one row each: every period of the periods seed x every mover group (all movers,
-- each age band, each income group of the seeds). What the network models fit and the reports show, so no
-- Python stage repeats the periods or the groups.
with

networks as (
    select * from {{ ref('int_networks') }}
),

final as (
    select
        cast(network_id as integer) as network_id,
        cast(period_label as varchar) as period_label,
        cast(start_date as date) as period_start,
        cast(end_date as date) as period_end,
        cast(density_year as integer) as density_year,
        cast(group_type as varchar) as group_type,
        cast(group_value as varchar) as group_value,
        cast(group_order as integer) as group_order
    from networks
)

select * from final
