-- Where the immigrants of mart_onward_migration moved on to: per area of first settlement, arrival year and
-- horizon, the movers on by the destination of their first move to another municipality: each big city of
-- seed big_cities (a municipality of it), or `other_municipality`. Only destinations someone moved to; per
-- area, year and horizon they sum to n_moved_on of mart_onward_migration.
{%- set last_year = modules.datetime.date.fromisoformat(var('data_end_date') | string).year %}
{%- set horizon = var('arrival_onward_horizon_years') | int %}

with

immigrants as (
    select * from {{ ref('int_immigrant_onward_moves') }} where onward_date is not null
),

horizons as (
    select cast(range as integer) as horizon_years from range(1, {{ horizon + 1 }})
),

cities as (
    select distinct city_label, city_order from {{ ref('int_big_city_municipalities') }}
),

destinations as (
    select city_label as destination, city_order as destination_order from cities
    union all
    select 'other_municipality', 1 + (select coalesce(max(city_order), 0) from cities)
),

counted as (
    select
        immigrants.area_level,
        immigrants.area_code,
        immigrants.arrival_year,
        horizons.horizon_years,
        immigrants.onward_destination as destination,
        count(*) as n_moved_on
    from immigrants
    cross join horizons
    where immigrants.arrival_year + horizons.horizon_years <= {{ last_year }}
        and immigrants.onward_date < immigrants.arrival_date + to_years(horizons.horizon_years)
    group by all
),

final as (
    select
        cast(counted.area_level as varchar) as area_level,
        cast(counted.area_code as varchar) as area_code,
        cast(areas.nis_code as varchar) as nis_code,
        cast(counted.arrival_year as integer) as arrival_year,
        cast(counted.horizon_years as integer) as horizon_years,
        cast(counted.destination as varchar) as destination,
        cast(destinations.destination_order as integer) as destination_order,
        cast(counted.n_moved_on as bigint) as n_moved_on
    from counted
    inner join destinations using (destination)
    inner join {{ ref('int_arrival_areas') }} as areas using (area_level, area_code)
)

select * from final
