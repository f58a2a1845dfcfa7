-- Per period, mover group and destination: inter-municipal movers in, and the group's share of all
-- movers into that destination in that period (the study's maps).
with

networks as (
    select period_label, group_type, group_value from {{ ref('int_networks') }}
),

municipalities as (
    select nis_code from {{ ref('int_municipalities_vintage') }}
),

flows_in as (
    select period_label, group_type, group_value, destination_nis, sum(n_moves) as movers_in
    from {{ ref('int_network_flows') }}
    group by all
),

all_in as (
    select period_label, destination_nis, movers_in as movers_in_all_groups
    from flows_in
    where group_type = 'all'
),

shares as (
    select
        networks.period_label,
        networks.group_type,
        networks.group_value,
        municipalities.nis_code as destination_nis,
        coalesce(flows_in.movers_in, 0) as movers_in,
        coalesce(all_in.movers_in_all_groups, 0) as movers_in_all_groups
    from networks
    cross join municipalities
    left join flows_in
        on flows_in.period_label = networks.period_label
        and flows_in.group_type = networks.group_type
        and flows_in.group_value = networks.group_value
        and flows_in.destination_nis = municipalities.nis_code
    left join all_in
        on all_in.period_label = networks.period_label
        and all_in.destination_nis = municipalities.nis_code
),

final as (
    select
        cast(period_label as varchar) as period_label,
        cast(group_type as varchar) as group_type,
        cast(group_value as varchar) as group_value,
        cast(destination_nis as varchar) as destination_nis,
        cast(movers_in as bigint) as movers_in,
        cast(movers_in_all_groups as bigint) as movers_in_all_groups,
        cast(case when movers_in_all_groups > 0 then movers_in / movers_in_all_groups end as double) as share
    from shares
)

select * from final
