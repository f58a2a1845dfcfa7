-- Population on 1 January per area of the arrival marts and year, the denominator of every rate: a
-- municipality's is its registered population (int_population_vintage, as in dim_municipality_year), a
-- sector's the sum of its residents in population_by_origin (NULL for a year the stock does not cover).
-- Every area has a row for each year of the data period and the year after.
{%- set first_year = modules.datetime.date.fromisoformat(var('data_start_date') | string).year %}
{%- set last_year = modules.datetime.date.fromisoformat(var('data_end_date') | string).year + 1 %}

with

areas as (
    select * from {{ ref('int_arrival_areas') }}
),

years as (
    select cast(range as integer) as year from range({{ first_year }}, {{ last_year + 1 }})
),

municipalities as (
    select 'municipality' as area_level, nis_code as area_code, year, population
    from {{ ref('int_population_vintage') }}
),

sectors as (
    select area_level, area_code, year, sum(residents) as population
    from {{ ref('int_area_population_by_country') }}
    where area_level = 'sector'
    group by all
),

populations as (
    select * from municipalities
    union all
    select * from sectors
)

select
    areas.area_level,
    areas.area_code,
    areas.nis_code,
    years.year,
    populations.population
from areas
cross join years
left join populations using (area_level, area_code, year)
