-- Every network (period x mover group) and every ordered pair of distinct municipalities, zero flows
-- included: the dyads the network models are fitted on.
with

networks as (
    select period_label, group_type, group_value, density_year from {{ ref('int_networks') }}
),

municipalities as (
    select nis_code, centroid_x, centroid_y from {{ ref('int_municipalities_vintage') }}
),

population as (
    select nis_code, year, density_per_km2 from {{ ref('int_population_vintage') }}
),

flows as (
    select * from {{ ref('int_network_flows') }}
),

pairs as (
    select
        origin.nis_code as origin_nis,
        destination.nis_code as destination_nis,
        sqrt(
            power(origin.centroid_x - destination.centroid_x, 2)
            + power(origin.centroid_y - destination.centroid_y, 2)
        ) / 1000.0 as distance_km
    from municipalities as origin
    cross join municipalities as destination
    where origin.nis_code <> destination.nis_code
),

dyads as (
    select
        networks.period_label,
        networks.group_type,
        networks.group_value,
        pairs.origin_nis,
        pairs.destination_nis,
        coalesce(flows.n_moves, 0) as n_moves,
        coalesce(reverse_flows.n_moves, 0) as reverse_n_moves,
        (origin_density.density_per_km2 - destination_density.density_per_km2) / 1000.0 as density_diff_per_1000,
        pairs.distance_km
    from networks
    cross join pairs
    left join flows
        on flows.period_label = networks.period_label
        and flows.group_type = networks.group_type
        and flows.group_value = networks.group_value
        and flows.origin_nis = pairs.origin_nis
        and flows.destination_nis = pairs.destination_nis
    left join flows as reverse_flows
        on reverse_flows.period_label = networks.period_label
        and reverse_flows.group_type = networks.group_type
        and reverse_flows.group_value = networks.group_value
        and reverse_flows.origin_nis = pairs.destination_nis
        and reverse_flows.destination_nis = pairs.origin_nis
    left join population as origin_density
        on origin_density.nis_code = pairs.origin_nis and origin_density.year = networks.density_year
    left join population as destination_density
        on destination_density.nis_code = pairs.destination_nis and destination_density.year = networks.density_year
),

final as (
    select
        cast(period_label as varchar) as period_label,
        cast(group_type as varchar) as group_type,
        cast(group_value as varchar) as group_value,
        cast(origin_nis as varchar) as origin_nis,
        cast(destination_nis as varchar) as destination_nis,
        cast(n_moves as bigint) as n_moves,
        cast(n_moves >= {{ var('min_moves') }} as boolean) as tie,
        cast(reverse_n_moves >= {{ var('min_moves') }} as boolean) as reverse_tie,
        cast(density_diff_per_1000 as double) as density_diff_per_1000,
        cast(distance_km as double) as distance_km,
        cast(distance_km / 10.0 as double) as distance_10km
    from dyads
)

select * from final
