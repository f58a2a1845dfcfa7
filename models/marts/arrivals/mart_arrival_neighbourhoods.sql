-- The arrival-neighbourhood flag per area and year: an area is an arrival neighbourhood in a year when,
-- over the rolling window of var arrival_window_years years ending in it, it received many recent
-- immigrants (at least var arrival_min_recent_immigrants_per_1000 per 1,000 inhabitants a year), its
-- foreign residents left it on balance for other areas (net internal migration of foreigners at most var
-- arrival_max_foreign_net_per_1000 per 1,000 a year), its population turned over fast (moving intensity at
-- least var arrival_min_moving_intensity), and it is not too small to say (mean population at least var
-- arrival_min_population). Only years whose window the data period covers; unknown sectors are never
-- flagged. Each criterion is a column of its own, so a reader sees why an area is (not) flagged.
{%- set window = var('arrival_window_years') | int %}

with

turnover as (
    select * from {{ ref('mart_area_turnover') }}
),

foreign_net as (
    select area_level, area_code, year, net_per_1000_window
    from {{ ref('mart_area_net_migration') }}
    where population_group = 'foreign' and counterpart = 'all'
),

unknown_sectors as (
    select sector_code from {{ ref('dim_sector') }} where is_unknown_sector
),

windowed as (
    select
        *,
        count(*) over w as window_years,
        count(population) over w as window_years_with_population,
        avg(population) over w as mean_population,
        sum(arrivals + departures + moves_within) over w as window_moves,
        sum(population) over w as window_population,
        sum(recent_immigrants) over w as window_recent_immigrants,
        sum(population_next_year) over w as window_population_next_year,
        count(population_next_year) over w as window_years_with_next_population
    from turnover
    window w as (
        partition by area_level, area_code
        order by year range between {{ window - 1 }} preceding and current row
    )
),

indicators as (
    select
        windowed.area_level,
        windowed.area_code,
        windowed.nis_code,
        windowed.year,
        windowed.mean_population,
        1000.0 * windowed.window_recent_immigrants / nullif(windowed.window_population_next_year, 0)
            as recent_immigrants_per_1000,
        foreign_net.net_per_1000_window as foreign_net_per_1000,
        windowed.window_moves / nullif(windowed.window_population, 0) as moving_intensity,
        windowed.area_level = 'sector' and windowed.area_code in (select sector_code from unknown_sectors)
            as is_unknown_sector
    from windowed
    left join foreign_net using (area_level, area_code, year)
    where windowed.window_years = {{ window }}
        and windowed.window_years_with_population = {{ window }}
        and windowed.window_years_with_next_population = {{ window }}
),

final as (
    select
        cast(area_level as varchar) as area_level,
        cast(area_code as varchar) as area_code,
        cast(nis_code as varchar) as nis_code,
        cast(year as integer) as year,
        cast({{ window }} as integer) as window_years,
        cast(mean_population as double) as mean_population,
        cast(recent_immigrants_per_1000 as double) as recent_immigrants_per_1000,
        cast(foreign_net_per_1000 as double) as foreign_net_per_1000,
        cast(moving_intensity as double) as moving_intensity,
        cast(coalesce(mean_population >= {{ sql_value(var('arrival_min_population')) }}, false) and not is_unknown_sector
            as boolean) as meets_population,
        cast(coalesce(recent_immigrants_per_1000 >= {{ sql_value(var('arrival_min_recent_immigrants_per_1000')) }}, false)
            as boolean) as meets_recent_immigrants,
        cast(coalesce(foreign_net_per_1000 <= {{ sql_value(var('arrival_max_foreign_net_per_1000')) }}, false) as boolean)
            as meets_foreign_net,
        cast(coalesce(moving_intensity >= {{ sql_value(var('arrival_min_moving_intensity')) }}, false) as boolean)
            as meets_moving_intensity
    from indicators
)

select
    *,
    cast(meets_population and meets_recent_immigrants and meets_foreign_net and meets_moving_intensity as boolean)
        as is_arrival_neighbourhood
from final
