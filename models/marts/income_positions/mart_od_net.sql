-- Domestic migration between area types of the income-position study, per span of study years and income
-- position: for each area type and partner area type, the movers from the partner, the movers to it, and the
-- net gain from it (from - to). Antisymmetric: the net of (a, b) is minus that of (b, a), and the diagonal
-- (moves between municipalities of one area type) nets to 0. Summed over the other area types, the net is the
-- area type's net in mart_migration_balance.
with

spans as (
    select year_from, year_to, n_years from {{ ref('int_position_spans') }}
),

area_types as (
    select area_code as area_type from {{ ref('dim_area') }} where area_level = 'area_type'
),

positions as (
    select position, position_order from {{ ref('dim_income_position') }}
    union all
    select 'all', 0
),

types as (
    select nis_code, area_code as area_type from {{ ref('int_area_membership') }} where area_level = 'area_type'
),

flows as (
    select
        origin.area_type as origin_type,
        destination.area_type as destination_type,
        flows.move_year,
        flows.position,
        flows.n_moves
    from {{ ref('int_position_flows') }} as flows
    inner join types as origin on origin.nis_code = flows.origin_nis
    inner join types as destination on destination.nis_code = flows.destination_nis
),

flows_all as (
    select * from flows
    union all
    select origin_type, destination_type, move_year, 'all', n_moves from flows
),

counted as (
    select
        flows_all.origin_type,
        flows_all.destination_type,
        spans.year_from,
        spans.year_to,
        flows_all.position,
        sum(flows_all.n_moves) as n_moves
    from flows_all
    inner join spans on flows_all.move_year between spans.year_from and spans.year_to
    group by all
),

grid as (
    select
        area.area_type,
        partner.area_type as partner_area_type,
        spans.year_from,
        spans.year_to,
        spans.n_years,
        positions.position,
        positions.position_order
    from area_types as area
    cross join area_types as partner
    cross join spans
    cross join positions
),

final as (
    select
        cast(grid.area_type as varchar) as area_type,
        cast(grid.partner_area_type as varchar) as partner_area_type,
        cast(grid.year_from as integer) as year_from,
        cast(grid.year_to as integer) as year_to,
        cast(grid.n_years as integer) as n_years,
        cast(grid.position as varchar) as position,
        cast(grid.position_order as integer) as position_order,
        cast(coalesce(inflow.n_moves, 0) as bigint) as movers_from_partner,
        cast(coalesce(outflow.n_moves, 0) as bigint) as movers_to_partner,
        cast(coalesce(inflow.n_moves, 0) - coalesce(outflow.n_moves, 0) as bigint) as net_movers
    from grid
    left join counted as inflow
        on inflow.destination_type = grid.area_type
        and inflow.origin_type = grid.partner_area_type
        and inflow.year_from = grid.year_from
        and inflow.year_to = grid.year_to
        and inflow.position = grid.position
    left join counted as outflow
        on outflow.origin_type = grid.area_type
        and outflow.destination_type = grid.partner_area_type
        and outflow.year_from = grid.year_from
        and outflow.year_to = grid.year_to
        and outflow.position = grid.position
)

select * from final
