-- Where the immigrants of one year moved on to: the cohort of the first year of the data period (var
-- data_start_date: the one the data follow longest, up to var arrival_onward_horizon_years), over every
-- municipality of first settlement, per horizon and destination (each big city of seed big_cities, or
-- other_municipality): the movers on, as shares of the cohort's immigrants and of its movers on
-- (mart_onward_migration, mart_onward_destinations). Compile with
-- `dbt compile --select arrivals_onward_destinations_of_a_cohort` and run it on the warehouse.
{%- set cohort_year = modules.datetime.date.fromisoformat(var('data_start_date') | string).year %}

with

cohort as (
    select horizon_years, sum(n_immigrants) as n_immigrants, sum(n_moved_on) as n_moved_on
    from {{ ref('mart_onward_migration') }}
    where area_level = 'municipality' and arrival_year = {{ cohort_year }}
    group by horizon_years
),

destinations as (
    select horizon_years, destination, destination_order, sum(n_moved_on) as n_moved_on
    from {{ ref('mart_onward_destinations') }}
    where area_level = 'municipality' and arrival_year = {{ cohort_year }}
    group by all
)

select
    {{ cohort_year }} as arrival_year,
    destinations.horizon_years,
    destinations.destination,
    destinations.n_moved_on,
    cohort.n_moved_on as n_moved_on_all_destinations,
    cohort.n_immigrants,
    round(destinations.n_moved_on / cohort.n_immigrants, 4) as share_of_immigrants,
    round(destinations.n_moved_on / nullif(cohort.n_moved_on, 0), 4) as share_of_movers_on
from destinations
inner join cohort using (horizon_years)
order by destinations.horizon_years, destinations.destination_order
