-- Arrivals of foreign residents (var origin_definition, var home_country) per area, year and where they came
-- from: `abroad` (immigration), each big city of seed big_cities with is_inflow_source (an internal move from
-- a municipality of it: the Brussels-Capital Region), `other_municipality`, and at sector level
-- `same_municipality` (from another sector of the area's own municipality). A move within the area is no
-- arrival. Every source for every area and year of the data period, zero counts included.
{%- set first_year = modules.datetime.date.fromisoformat(var('data_start_date') | string).year %}
{%- set last_year = modules.datetime.date.fromisoformat(var('data_end_date') | string).year %}

with

moves as (
    select * from {{ ref('int_arrival_area_moves') }}
    where is_foreign
        and move_type in ('immigration', 'internal')
        and origin_area is distinct from destination_area
),

cities as (
    select distinct city_label, city_order from {{ ref('int_big_city_municipalities') }} where is_inflow_source
),

sources as (
    select 'abroad' as source, 1 as source_order, false as sector_only
    union all
    select city_label, 1 + city_order, false from cities
    union all
    select 'other_municipality', 2 + (select coalesce(max(city_order), 0) from cities), false
    union all
    select 'same_municipality', 3 + (select coalesce(max(city_order), 0) from cities), true
),

classified as (
    select
        area_level,
        destination_area as area_code,
        move_year as year,
        case
            when move_type = 'immigration' then 'abroad'
            when origin_nis = destination_nis then 'same_municipality'
            when origin_city_is_inflow_source then origin_city
            else 'other_municipality'
        end as source
    from moves
),

counted as (
    select area_level, area_code, year, source, count(*) as n_arrivals
    from classified
    group by all
),

dense as (
    select
        areas.area_level,
        areas.area_code,
        areas.nis_code,
        cast(years.range as integer) as year,
        sources.source,
        sources.source_order,
        coalesce(counted.n_arrivals, 0) as n_arrivals
    from {{ ref('int_arrival_areas') }} as areas
    cross join range({{ first_year }}, {{ last_year + 1 }}) as years
    inner join sources on areas.area_level = 'sector' or not sources.sector_only
    left join counted
        on counted.area_level = areas.area_level
        and counted.area_code = areas.area_code
        and counted.year = years.range
        and counted.source = sources.source
),

final as (
    select
        cast(area_level as varchar) as area_level,
        cast(area_code as varchar) as area_code,
        cast(nis_code as varchar) as nis_code,
        cast(year as integer) as year,
        cast(source as varchar) as source,
        cast(source_order as integer) as source_order,
        cast(n_arrivals as bigint) as n_arrivals,
        cast(sum(n_arrivals) over (partition by area_level, area_code, year) as bigint) as n_arrivals_all_sources,
        cast(n_arrivals / nullif(sum(n_arrivals) over (partition by area_level, area_code, year), 0) as double) as share
    from dense
)

select * from final
