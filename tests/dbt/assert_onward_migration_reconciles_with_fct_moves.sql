-- The immigrants of mart_onward_migration are the persons of fct_moves whose first immigration led into the
-- municipality in the arrival year, and its movers on those of them whose first internal move between two
-- municipalities after it came within the horizon, counted here from fct_moves itself; the destinations of
-- mart_onward_destinations sum to the movers on. Fails on every municipality, year and horizon that differs.
{%- set last_year = modules.datetime.date.fromisoformat(var('data_end_date') | string).year %}

with

moves as (
    select move_id, person_id, move_date, move_type, origin_nis, destination_nis from {{ ref('fct_moves') }}
),

arrivals as (
    select person_id, arg_min(destination_nis, (move_date, move_id)) as nis_code, min(move_date) as arrival_date
    from moves where move_type = 'immigration' group by person_id
),

onward as (
    select arrivals.person_id, min(moves.move_date) as onward_date
    from arrivals
    inner join moves
        on moves.person_id = arrivals.person_id and moves.move_date > arrivals.arrival_date
        and moves.move_type = 'internal' and moves.origin_nis <> moves.destination_nis
    group by all
),

mart as (
    select * from {{ ref('mart_onward_migration') }} where area_level = 'municipality'
),

expected as (
    select arrivals.nis_code, year(arrivals.arrival_date) as arrival_year, mart.horizon_years,
        count(*) as n_immigrants,
        count(*) filter (where onward.onward_date < arrivals.arrival_date + to_years(mart.horizon_years)) as n_moved_on
    from arrivals
    inner join (select distinct horizon_years from mart) as mart on true
    left join onward using (person_id)
    where year(arrivals.arrival_date) + mart.horizon_years <= {{ last_year }}
    group by all
),

destinations as (
    select area_level, area_code, arrival_year, horizon_years, sum(n_moved_on) as n_moved_on
    from {{ ref('mart_onward_destinations') }}
    group by all
)

select mart.area_code, mart.arrival_year, mart.horizon_years, mart.n_immigrants, mart.n_moved_on,
    expected.n_immigrants as expected_immigrants, expected.n_moved_on as expected_moved_on,
    'fct_moves' as compared_with
from mart
full outer join expected
    on expected.nis_code = mart.area_code and expected.arrival_year = mart.arrival_year
    and expected.horizon_years = mart.horizon_years
where mart.n_immigrants is distinct from expected.n_immigrants or mart.n_moved_on is distinct from expected.n_moved_on
union all
select all_.area_code, all_.arrival_year, all_.horizon_years, all_.n_immigrants, all_.n_moved_on, null,
    destinations.n_moved_on, 'mart_onward_destinations'
from {{ ref('mart_onward_migration') }} as all_
left join destinations using (area_level, area_code, arrival_year, horizon_years)
where all_.n_moved_on <> coalesce(destinations.n_moved_on, 0)
