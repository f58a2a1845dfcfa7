-- Every network (period x mover group) and every ordered pair of distinct municipalities, zero flows
-- included: the dyads the network models are fitted on. Built as nodes x nodes within each network,
-- left-joined to the (few) pairs with moves, so the cost is one join over the N(N-1) pairs.
with

networks as (
    select network_id, period_label, group_type, group_value, density_year from {{ ref('int_networks') }}
),

municipalities as (
    select nis_code, centroid_x, centroid_y from {{ ref('int_municipalities_vintage') }}
),

population as (
    select nis_code, year, density_per_km2 from {{ ref('int_population_vintage') }}
),

flows as (
    select network_id, origin_nis, destination_nis, n_moves from {{ ref('int_network_flows') }}
),

-- each municipality in each network, with the density of the period's first year
network_nodes as (
    select
        networks.network_id,
        municipalities.nis_code,
        municipalities.centroid_x,
        municipalities.centroid_y,
        population.density_per_km2
    from networks
    cross join municipalities
    left join population
        on population.nis_code = municipalities.nis_code
        and population.year = networks.density_year
),

-- every pair with a move in either direction, with both counts
flow_pairs as (
    select
        coalesce(forward.network_id, backward.network_id) as network_id,
        coalesce(forward.origin_nis, backward.destination_nis) as origin_nis,
        coalesce(forward.destination_nis, backward.origin_nis) as destination_nis,
        coalesce(forward.n_moves, 0) as n_moves,
        coalesce(backward.n_moves, 0) as reverse_n_moves
    from flows as forward
    full outer join flows as backward
        on backward.network_id = forward.network_id
        and backward.origin_nis = forward.destination_nis
        and backward.destination_nis = forward.origin_nis
),

dyads as (
    select
        origin.network_id,
        origin.nis_code as origin_nis,
        destination.nis_code as destination_nis,
        coalesce(flow_pairs.n_moves, 0) as n_moves,
        coalesce(flow_pairs.reverse_n_moves, 0) as reverse_n_moves,
        (origin.density_per_km2 - destination.density_per_km2) / 1000.0 as density_diff_per_1000,
        sqrt(
            power(origin.centroid_x - destination.centroid_x, 2)
            + power(origin.centroid_y - destination.centroid_y, 2)
        ) / 1000.0 as distance_km
    from network_nodes as origin
    inner join network_nodes as destination
        on destination.network_id = origin.network_id
        and destination.nis_code <> origin.nis_code
    left join flow_pairs
        on flow_pairs.network_id = origin.network_id
        and flow_pairs.origin_nis = origin.nis_code
        and flow_pairs.destination_nis = destination.nis_code
),

final as (
    select
        cast(networks.period_label as varchar) as period_label,
        cast(networks.group_type as varchar) as group_type,
        cast(networks.group_value as varchar) as group_value,
        cast(dyads.origin_nis as varchar) as origin_nis,
        cast(dyads.destination_nis as varchar) as destination_nis,
        cast(dyads.n_moves as bigint) as n_moves,
        cast(dyads.n_moves >= {{ var('min_moves') }} as boolean) as tie,
        cast(dyads.reverse_n_moves >= {{ var('min_moves') }} as boolean) as reverse_tie,
        cast(dyads.density_diff_per_1000 as double) as density_diff_per_1000,
        cast(dyads.distance_km as double) as distance_km,
        cast(dyads.distance_km / 10.0 as double) as distance_10km
    from dyads
    inner join networks using (network_id)
)

select * from final
