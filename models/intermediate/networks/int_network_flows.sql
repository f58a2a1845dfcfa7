-- Inter-municipal moves counted per network (period x group) and ordered pair of vintage municipalities.
-- Only the pairs with at least one move; the dyads mart adds the zeros. Reads fct_moves (the enriched moves
-- exist only there, written once).
with

moves as (
    select
        period_label,
        age_band,
        income_group,
        origin_nis as origin_vintage_nis,
        destination_nis as destination_vintage_nis
    from {{ ref('fct_moves') }}
    where is_inter_municipal and period_label is not null
),

networks as (
    select network_id, period_label, group_type, group_value from {{ ref('int_networks') }}
),

moves_by_group as (
    select period_label, 'all' as group_type, 'all' as group_value, origin_vintage_nis, destination_vintage_nis
    from moves
    union all
    select period_label, 'age_band', age_band, origin_vintage_nis, destination_vintage_nis from moves
    union all
    select period_label, 'income_group', income_group, origin_vintage_nis, destination_vintage_nis from moves
),

flows as (
    select
        networks.network_id,
        moves_by_group.period_label,
        moves_by_group.group_type,
        moves_by_group.group_value,
        moves_by_group.origin_vintage_nis as origin_nis,
        moves_by_group.destination_vintage_nis as destination_nis,
        count(*) as n_moves
    from moves_by_group
    -- movers outside the networks' groups (age 'other' or 'unknown', income 'unknown') count in 'all' only
    inner join networks using (period_label, group_type, group_value)
    group by all
)

select * from flows
