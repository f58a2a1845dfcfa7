-- Domestic migration across the boundary of each area of the income-position study, per span of study years
-- and income position: movers in (from another area of the same level), movers out, net (in - out), and the
-- net per year relative to the population (net / population on 1 January, the mean over the span's years /
-- the span's years), of all residents and of the residents in the position. Every level of dim_area: a
-- municipality, a named area, an area type, the whole territory (whose every municipality is inside it, so
-- no domestic move crosses its boundary). Moves are the inter-municipal moves of fct_moves with a position
-- (int_moves_income_positions); a person who moves twice counts twice. Position `all` is every classified
-- mover; the excluded movers are in mart_position_exclusions.
with

spans as (
    select year_from, year_to, n_years from {{ ref('int_position_spans') }}
),

areas as (
    select area_level, area_code from {{ ref('dim_area') }}
),

positions as (
    select position, position_order from {{ ref('dim_income_position') }}
    union all
    select 'all', 0
),

membership as (
    select nis_code, area_level, area_code from {{ ref('int_area_membership') }}
),

flows as (
    select move_year, origin_nis, destination_nis, position, n_moves from {{ ref('int_position_flows') }}
),

-- each flow between municipalities as a flow between the areas that hold them, at every level, where these
-- differ (a move inside an area does not cross its boundary)
area_flows as (
    select
        origin.area_level,
        origin.area_code as origin_area,
        destination.area_code as destination_area,
        flows.move_year,
        flows.position,
        flows.n_moves
    from flows
    inner join membership as origin on origin.nis_code = flows.origin_nis
    inner join membership as destination
        on destination.nis_code = flows.destination_nis
        and destination.area_level = origin.area_level
    where origin.area_code <> destination.area_code
),

yearly as (
    select area_level, destination_area as area_code, move_year, position, n_moves as movers_in, 0 as movers_out
    from area_flows
    union all
    select area_level, origin_area, move_year, position, 0, n_moves
    from area_flows
),

yearly_all as (
    select * from yearly
    union all
    select area_level, area_code, move_year, 'all', movers_in, movers_out from yearly
),

counted as (
    select
        yearly_all.area_level,
        yearly_all.area_code,
        spans.year_from,
        spans.year_to,
        yearly_all.position,
        sum(yearly_all.movers_in) as movers_in,
        sum(yearly_all.movers_out) as movers_out
    from yearly_all
    inner join spans on yearly_all.move_year between spans.year_from and spans.year_to
    group by all
),

population as (
    select
        population.area_level,
        population.area_code,
        spans.year_from,
        spans.year_to,
        population.position,
        -- NULL when a year of the span has none
        case when count(population.population) = count(*) then avg(population.population) end as population,
        case when count(population.population_total) = count(*) then avg(population.population_total) end
            as population_total
    from {{ ref('mart_position_population') }} as population
    inner join spans on population.year between spans.year_from and spans.year_to
    group by all
),

grid as (
    select areas.area_level, areas.area_code, spans.year_from, spans.year_to, spans.n_years,
        positions.position, positions.position_order
    from areas
    cross join spans
    cross join positions
),

final as (
    select
        cast(grid.area_level as varchar) as area_level,
        cast(grid.area_code as varchar) as area_code,
        cast(grid.year_from as integer) as year_from,
        cast(grid.year_to as integer) as year_to,
        cast(grid.n_years as integer) as n_years,
        cast(grid.position as varchar) as position,
        cast(grid.position_order as integer) as position_order,
        cast(coalesce(counted.movers_in, 0) as bigint) as movers_in,
        cast(coalesce(counted.movers_out, 0) as bigint) as movers_out,
        cast(coalesce(counted.movers_in, 0) - coalesce(counted.movers_out, 0) as bigint) as net_movers,
        cast(population.population as double) as population,
        cast(population.population_total as double) as population_total,
        cast((coalesce(counted.movers_in, 0) - coalesce(counted.movers_out, 0))
            / nullif(population.population_total, 0) / grid.n_years as double) as net_rate_total,
        cast((coalesce(counted.movers_in, 0) - coalesce(counted.movers_out, 0))
            / nullif(population.population, 0) / grid.n_years as double) as net_rate_position
    from grid
    left join counted using (area_level, area_code, year_from, year_to, position)
    left join population using (area_level, area_code, year_from, year_to, position)
)

select * from final
