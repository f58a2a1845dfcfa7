-- Every network (period x mover group) and every ordered pair of distinct municipalities, zero flows
-- included: the dyads the network models are fitted on. Built as nodes x nodes within each network,
-- left-joined to the (few) pairs with moves, so the cost is one join over the N(N-1) pairs. That join is on one
-- integer per dyad (network, origin node, destination node packed in a bigint) rather than on three columns
-- of which two are text.
with

networks as (
    select network_id, period_label, group_type, group_value, density_year from {{ ref('int_networks') }}
),

-- each municipality numbered 1..N (N < 2^20, so a node fits in 20 bits of the dyad key)
municipalities as (
    select
        nis_code,
        centroid_x,
        centroid_y,
        cast(row_number() over (order by nis_code) as bigint) as node
    from {{ ref('int_municipalities_vintage') }}
),

population as (
    select nis_code, year, density_per_km2 from {{ ref('int_population_vintage') }}
),

-- flows between municipalities of the vintage (the nodes), keyed by network and node numbers
flows as (
    select
        (cast(flows.network_id as bigint) << 40) | (origin.node << 20) | destination.node as dyad_key,
        (cast(flows.network_id as bigint) << 40) | (destination.node << 20) | origin.node as reverse_dyad_key,
        flows.n_moves
    from {{ ref('int_network_flows') }} as flows
    inner join municipalities as origin on origin.nis_code = flows.origin_nis
    inner join municipalities as destination on destination.nis_code = flows.destination_nis
),

-- each municipality in each network, with the density of the period's first year
network_nodes as (
    select
        networks.network_id,
        municipalities.nis_code,
        municipalities.node,
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
        coalesce(forward.dyad_key, backward.reverse_dyad_key) as dyad_key,
        coalesce(forward.n_moves, 0) as n_moves,
        coalesce(backward.n_moves, 0) as reverse_n_moves
    from flows as forward
    full outer join flows as backward on backward.dyad_key = forward.reverse_dyad_key
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
        and destination.node <> origin.node
    left join flow_pairs
        on flow_pairs.dyad_key
            = (cast(origin.network_id as bigint) << 40) | (origin.node << 20) | destination.node
),

final as (
    select
        cast(dyads.network_id as integer) as network_id,
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
