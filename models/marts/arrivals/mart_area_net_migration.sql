-- Net internal migration per area and year: internal moves into the area from another area minus internal
-- moves out of it to another area (at sector level another sector, of the same municipality or not), of all
-- residents and of foreign residents (var origin_definition), with every area (`all`) and with each big city
-- of seed big_cities (from and to the municipalities of the city other than the area itself), per 1,000
-- inhabitants on 1 January of the year, and over the rolling window of var arrival_window_years years
-- ending in the year (the window's net moves per 1,000 of its summed populations: NULL until the window is
-- complete). Every area, year, group and counterpart, zeros included.
{%- set first_year = modules.datetime.date.fromisoformat(var('data_start_date') | string).year %}
{%- set last_year = modules.datetime.date.fromisoformat(var('data_end_date') | string).year %}
{%- set window = var('arrival_window_years') | int %}

with

moves as (
    select * from {{ ref('int_arrival_area_moves') }}
    where move_type = 'internal' and origin_area is distinct from destination_area
),

cities as (
    select distinct city_label, city_order from {{ ref('int_big_city_municipalities') }}
),

counterparts as (
    select 'all' as counterpart, 0 as counterpart_order
    union all
    select city_label, city_order from cities
),

population_groups as (
    select 'all' as population_group, false as foreign_only
    union all
    select 'foreign', true
),

-- each move counted for the destination (an arrival from its origin's city) and for the origin (a
-- departure to its destination's city), for all residents and, when foreign, for foreigners
flows as (
    select area_level, destination_area as area_code, move_year as year, is_foreign, origin_city as city,
        1 as arrivals, 0 as departures
    from moves
    union all
    select area_level, origin_area, move_year, is_foreign, destination_city, 0, 1
    from moves
),

counted as (
    select
        flows.area_level,
        flows.area_code,
        flows.year,
        population_groups.population_group,
        counterparts.counterpart,
        sum(flows.arrivals) as arrivals,
        sum(flows.departures) as departures
    from flows
    inner join population_groups on flows.is_foreign or not population_groups.foreign_only
    inner join counterparts on counterparts.counterpart = 'all' or counterparts.counterpart = flows.city
    group by all
),

dense as (
    select
        populations.area_level,
        populations.area_code,
        populations.nis_code,
        populations.year,
        population_groups.population_group,
        counterparts.counterpart,
        counterparts.counterpart_order,
        coalesce(counted.arrivals, 0) as arrivals,
        coalesce(counted.departures, 0) as departures,
        populations.population
    from {{ ref('int_area_population') }} as populations
    cross join population_groups
    cross join counterparts
    left join counted
        on counted.area_level = populations.area_level
        and counted.area_code = populations.area_code
        and counted.year = populations.year
        and counted.population_group = population_groups.population_group
        and counted.counterpart = counterparts.counterpart
    where populations.year between {{ first_year }} and {{ last_year }}
),

windowed as (
    select
        *,
        arrivals - departures as net,
        count(*) over w as window_years,
        sum(arrivals - departures) over w as window_net,
        sum(population) over w as window_population,
        count(population) over w as window_years_with_population
    from dense
    window w as (
        partition by area_level, area_code, population_group, counterpart
        order by year range between {{ window - 1 }} preceding and current row
    )
),

final as (
    select
        cast(area_level as varchar) as area_level,
        cast(area_code as varchar) as area_code,
        cast(nis_code as varchar) as nis_code,
        cast(year as integer) as year,
        cast(population_group as varchar) as population_group,
        cast(counterpart as varchar) as counterpart,
        cast(counterpart_order as integer) as counterpart_order,
        cast(arrivals as bigint) as arrivals,
        cast(departures as bigint) as departures,
        cast(net as bigint) as net,
        cast(population as bigint) as population,
        cast(1000.0 * net / nullif(population, 0) as double) as net_per_1000,
        cast(window_years as integer) as window_years,
        cast(case when window_years = {{ window }} and window_years_with_population = {{ window }}
            then 1000.0 * window_net / nullif(window_population, 0) end as double) as net_per_1000_window
    from windowed
)

select * from final
