-- How the population of each area turns over, per year: arrivals (every move into the area from elsewhere,
-- abroad included), departures (every move out of it, abroad included), moves within the area, and the
-- moving intensity (arrivals + departures + moves within) / population on 1 January; and the recent
-- immigrants of the year: persons first registered from abroad in the extract in that year and resident in
-- the area on 1 January of the next year (their last move before that day is not an emigration, and leads
-- into the area), per 1,000 inhabitants on that day. Every area and year of the data period.
{%- set first_year = modules.datetime.date.fromisoformat(var('data_start_date') | string).year %}
{%- set last_year = modules.datetime.date.fromisoformat(var('data_end_date') | string).year %}

with

moves as (
    select * from {{ ref('int_arrival_area_moves') }}
),

populations as (
    select * from {{ ref('int_area_population') }}
),

flows as (
    select area_level, destination_area as area_code, move_year as year, 1 as arrivals, 0 as departures, 0 as within
    from moves
    where destination_area is not null and origin_area is distinct from destination_area
    union all
    select area_level, origin_area, move_year, 0, 1, 0
    from moves
    where origin_area is not null and origin_area is distinct from destination_area
    union all
    select area_level, origin_area, move_year, 0, 0, 1
    from moves
    where origin_area = destination_area
),

counted as (
    select area_level, area_code, year, sum(arrivals) as arrivals, sum(departures) as departures,
        sum(within) as moves_within
    from flows
    group by all
),

first_immigrations as (
    select person_id, min(move_date) as first_immigration
    from {{ ref('int_arrival_moves') }}
    where move_type = 'immigration'
    group by person_id
),

-- where each recent immigrant lives on 1 January after the year of arrival: the last move before that day
residence as (
    select
        moves.area_level,
        moves.person_id,
        year(first_immigrations.first_immigration) as year,
        moves.move_type,
        moves.destination_area
    from moves
    inner join first_immigrations using (person_id)
    where moves.move_date < make_date(year(first_immigrations.first_immigration) + 1, 1, 1)
    qualify row_number() over (
        partition by moves.area_level, moves.person_id order by moves.move_date desc, moves.move_id desc) = 1
),

recent as (
    select area_level, destination_area as area_code, year, count(*) as recent_immigrants
    from residence
    where move_type <> 'emigration'
    group by all
),

final as (
    select
        cast(populations.area_level as varchar) as area_level,
        cast(populations.area_code as varchar) as area_code,
        cast(populations.nis_code as varchar) as nis_code,
        cast(populations.year as integer) as year,
        cast(populations.population as bigint) as population,
        cast(coalesce(counted.arrivals, 0) as bigint) as arrivals,
        cast(coalesce(counted.departures, 0) as bigint) as departures,
        cast(coalesce(counted.moves_within, 0) as bigint) as moves_within,
        cast((coalesce(counted.arrivals, 0) + coalesce(counted.departures, 0) + coalesce(counted.moves_within, 0))
            / nullif(populations.population, 0) as double) as moving_intensity,
        cast(coalesce(recent.recent_immigrants, 0) as bigint) as recent_immigrants,
        cast(next_year.population as bigint) as population_next_year,
        cast(1000.0 * coalesce(recent.recent_immigrants, 0) / nullif(next_year.population, 0) as double)
            as recent_immigrants_per_1000
    from populations
    left join counted using (area_level, area_code, year)
    left join recent using (area_level, area_code, year)
    left join populations as next_year
        on next_year.area_level = populations.area_level
        and next_year.area_code = populations.area_code
        and next_year.year = populations.year + 1
    where populations.year between {{ first_year }} and {{ last_year }}
)

select * from final
