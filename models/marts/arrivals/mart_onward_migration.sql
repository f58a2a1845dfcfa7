-- Onward migration of the immigrants of each year: per area of first settlement (the destination of a
-- person's first immigration in the extract) and arrival year, how many immigrants settled there and how
-- many of them moved on to another municipality (their first internal move between two municipalities
-- after arriving) within 1, 2, ... years (var arrival_onward_horizon_years). A horizon is shown only when the
-- data period covers it for the whole cohort (arrival year + horizon <= the last year of the data), so the
-- share of a cohort that moved on never falls as the horizon grows. Only areas that received immigrants.
{%- set last_year = modules.datetime.date.fromisoformat(var('data_end_date') | string).year %}
{%- set horizon = var('arrival_onward_horizon_years') | int %}

with

immigrants as (
    select * from {{ ref('int_immigrant_onward_moves') }}
),

horizons as (
    select cast(range as integer) as horizon_years from range(1, {{ horizon + 1 }})
),

cohorts as (
    select
        immigrants.area_level,
        immigrants.area_code,
        immigrants.arrival_year,
        horizons.horizon_years,
        count(*) as n_immigrants,
        count(*) filter (where immigrants.onward_date < immigrants.arrival_date + to_years(horizons.horizon_years))
            as n_moved_on
    from immigrants
    cross join horizons
    where immigrants.arrival_year + horizons.horizon_years <= {{ last_year }}
    group by all
),

final as (
    select
        cast(cohorts.area_level as varchar) as area_level,
        cast(cohorts.area_code as varchar) as area_code,
        cast(areas.nis_code as varchar) as nis_code,
        cast(cohorts.arrival_year as integer) as arrival_year,
        cast(cohorts.horizon_years as integer) as horizon_years,
        cast(cohorts.n_immigrants as bigint) as n_immigrants,
        cast(cohorts.n_moved_on as bigint) as n_moved_on,
        cast(cohorts.n_moved_on / cohorts.n_immigrants as double) as share_moved_on
    from cohorts
    inner join {{ ref('int_arrival_areas') }} as areas using (area_level, area_code)
)

select * from final
