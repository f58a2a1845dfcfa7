-- Internal migration of foreign residents toward and from the big cities (seed big_cities: Brussels, Antwerp,
-- Ghent by default): per municipality, the net moves of foreigners with each city over the rolling window of
-- var arrival_window_years years ending in the last year of the data, per 1,000 inhabitants a year
-- (mart_area_net_migration), the municipalities that gain most from the cities first. Compile with
-- `dbt compile --select arrivals_net_migration_with_big_cities` and run it on the warehouse.
{%- set last_year = modules.datetime.date.fromisoformat(var('data_end_date') | string).year %}
{%- set top_n = 30 %}

with

net as (
    select * from {{ ref('mart_area_net_migration') }}
    where area_level = 'municipality' and population_group = 'foreign' and year = {{ last_year }}
),

with_cities as (
    select
        area_code as nis_code,
        -- one denominator (the municipality's population), so the cities' rates add up
        sum(net_per_1000_window) filter (where counterpart <> 'all') as net_per_1000_with_big_cities,
        max(net_per_1000_window) filter (where counterpart = 'all') as net_per_1000_with_every_area
    from net
    group by area_code
),

per_city as (
    select
        area_code as nis_code,
        list({'city': counterpart, 'net_per_1000': round(net_per_1000_window, 2)} order by counterpart_order)
            as net_per_1000_by_city
    from net
    where counterpart <> 'all'
    group by area_code
)

select
    municipalities.nis_code,
    municipalities.name_nl,
    {{ var('arrival_window_years') }} as window_years,
    {{ last_year }} as window_end_year,
    round(with_cities.net_per_1000_with_big_cities, 2) as net_per_1000_with_big_cities,
    round(with_cities.net_per_1000_with_every_area, 2) as net_per_1000_with_every_area,
    per_city.net_per_1000_by_city
from with_cities
inner join per_city using (nis_code)
inner join {{ ref('dim_municipality') }} as municipalities using (nis_code)
order by with_cities.net_per_1000_with_big_cities desc nulls last, municipalities.nis_code
limit {{ top_n }}
