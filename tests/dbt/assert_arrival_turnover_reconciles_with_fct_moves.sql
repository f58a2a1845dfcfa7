-- mart_area_turnover and mart_area_net_migration count the moves of fct_moves: per municipality and year,
-- arrivals (moves into it from elsewhere, abroad included), departures (out of it, abroad included), moves
-- within it, internal arrivals and departures of mart_area_net_migration (counterpart all), and the recent
-- immigrants (a first immigration in the year and, on 1 January after it, a last move into the municipality
-- that is no emigration), each counted here from fct_moves itself. Fails on every municipality and year
-- with a difference.
with

moves as (
    select move_id, person_id, move_date, move_year, move_type, origin_nis, destination_nis from {{ ref('fct_moves') }}
),

flows as (
    select destination_nis as nis_code, move_year as year,
        count(*) filter (where origin_nis is distinct from destination_nis) as arrivals,
        count(*) filter (where move_type = 'internal' and origin_nis <> destination_nis) as internal_arrivals,
        count(*) filter (where origin_nis = destination_nis) as moves_within,
        0 as departures, 0 as internal_departures
    from moves where destination_nis is not null group by all
    union all
    select origin_nis, move_year, 0, 0, 0,
        count(*) filter (where origin_nis is distinct from destination_nis),
        count(*) filter (where move_type = 'internal' and origin_nis <> destination_nis)
    from moves where origin_nis is not null group by all
),

first_immigrations as (
    select person_id, min(move_date) as arrival_date from moves where move_type = 'immigration' group by person_id
),

residence as (
    select moves.destination_nis as nis_code, year(first_immigrations.arrival_date) as year, moves.move_type
    from moves
    inner join first_immigrations using (person_id)
    where moves.move_date < make_date(year(first_immigrations.arrival_date) + 1, 1, 1)
    qualify row_number() over (partition by moves.person_id order by moves.move_date desc, moves.move_id desc) = 1
),

expected as (
    select nis_code, year, sum(arrivals) as arrivals, sum(departures) as departures, sum(moves_within) as moves_within,
        sum(internal_arrivals) as internal_arrivals, sum(internal_departures) as internal_departures,
        0 as recent_immigrants
    from flows group by all
    union all
    select nis_code, year, 0, 0, 0, 0, 0, count(*) from residence where move_type <> 'emigration' group by all
),

expected_total as (
    select nis_code, year, sum(arrivals) as arrivals, sum(departures) as departures, sum(moves_within) as moves_within,
        sum(internal_arrivals) as internal_arrivals, sum(internal_departures) as internal_departures,
        sum(recent_immigrants) as recent_immigrants
    from expected group by all
),

marts as (
    select turnover.area_code as nis_code, turnover.year, turnover.arrivals, turnover.departures, turnover.moves_within,
        net.arrivals as internal_arrivals, net.departures as internal_departures, turnover.recent_immigrants
    from {{ ref('mart_area_turnover') }} as turnover
    inner join {{ ref('mart_area_net_migration') }} as net
        on net.area_level = turnover.area_level and net.area_code = turnover.area_code and net.year = turnover.year
        and net.population_group = 'all' and net.counterpart = 'all'
    where turnover.area_level = 'municipality'
)

select marts.*, expected_total.arrivals as expected_arrivals, expected_total.departures as expected_departures,
    expected_total.moves_within as expected_moves_within, expected_total.recent_immigrants as expected_recent_immigrants
from marts
left join expected_total using (nis_code, year)
where marts.arrivals <> coalesce(expected_total.arrivals, 0)
    or marts.departures <> coalesce(expected_total.departures, 0)
    or marts.moves_within <> coalesce(expected_total.moves_within, 0)
    or marts.internal_arrivals <> coalesce(expected_total.internal_arrivals, 0)
    or marts.internal_departures <> coalesce(expected_total.internal_departures, 0)
    or marts.recent_immigrants <> coalesce(expected_total.recent_immigrants, 0)
