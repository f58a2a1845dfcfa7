-- The top arrival areas of the last year with a complete window (mart_arrival_neighbourhoods): at the finest
-- level of the build (statistical sectors when it ran with them, else municipalities), flagged areas first,
-- then by the criteria they meet and their recent immigrants per 1,000, with every criterion, the build's
-- thresholds (vars arrival_*), their names and the share of their immigrants who moved on within a year.
-- Compile it with the build's vars (`dbt compile --select arrivals_top_sectors_last_year`; the SQL lands in
-- target/compiled/mignet/analysis/) and run it on the warehouse. docs/arrivals.md explains every column.
{%- set top_n = 25 %}

with

neighbourhoods as (
    select * from {{ ref('mart_arrival_neighbourhoods') }}
),

finest_level as (
    select case when bool_or(area_level = 'sector') then 'sector' else 'municipality' end as area_level
    from neighbourhoods
),

last_window as (
    select max(year) as year from neighbourhoods
),

onward_within_a_year as (
    select area_level, area_code, sum(n_immigrants) as n_immigrants, sum(n_moved_on) as n_moved_on
    from {{ ref('mart_onward_migration') }}
    where horizon_years = 1
    group by all
),

ranked as (
    select
        neighbourhoods.*,
        cast(meets_population as integer) + cast(meets_recent_immigrants as integer)
            + cast(meets_foreign_net as integer) + cast(meets_moving_intensity as integer) as criteria_met
    from neighbourhoods
    inner join finest_level using (area_level)
    inner join last_window using (year)
)

select
    ranked.area_level,
    ranked.area_code,
    coalesce(sectors.name_nl, municipalities.name_nl) as area_name,
    municipalities.name_nl as municipality_name,
    ranked.year as window_end_year,
    ranked.window_years,
    round(ranked.mean_population) as mean_population,
    round(ranked.recent_immigrants_per_1000, 1) as recent_immigrants_per_1000,
    {{ var('arrival_min_recent_immigrants_per_1000') }} as min_recent_immigrants_per_1000,
    round(ranked.foreign_net_per_1000, 1) as foreign_net_per_1000,
    {{ var('arrival_max_foreign_net_per_1000') }} as max_foreign_net_per_1000,
    round(ranked.moving_intensity, 3) as moving_intensity,
    {{ var('arrival_min_moving_intensity') }} as min_moving_intensity,
    ranked.meets_population,
    ranked.meets_recent_immigrants,
    ranked.meets_foreign_net,
    ranked.meets_moving_intensity,
    ranked.criteria_met,
    ranked.is_arrival_neighbourhood,
    round(onward.n_moved_on / nullif(onward.n_immigrants, 0), 3) as share_moved_on_within_a_year
from ranked
inner join {{ ref('dim_municipality') }} as municipalities on municipalities.nis_code = ranked.nis_code
left join {{ ref('dim_sector') }} as sectors
    on ranked.area_level = 'sector' and sectors.sector_code = ranked.area_code
left join onward_within_a_year as onward
    on onward.area_level = ranked.area_level and onward.area_code = ranked.area_code
order by
    ranked.is_arrival_neighbourhood desc,
    ranked.criteria_met desc,
    ranked.recent_immigrants_per_1000 desc nulls last,
    ranked.area_code
limit {{ top_n }}
