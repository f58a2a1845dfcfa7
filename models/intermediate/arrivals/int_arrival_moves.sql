-- Every move of fct_moves with what the arrival marts need: the sectors of both sides (fct_move_sectors),
-- whether the person is foreign by the build's origin definition (int_arrival_persons; a person without a
-- clean persons row is of unknown origin, not foreign) and the big city (seed big_cities) each side lies in.
with

moves as (
    select move_id, person_id, move_date, move_year, move_type, origin_nis, destination_nis
    from {{ ref('fct_moves') }}
),

sectors as (
    select move_id, origin_sector, destination_sector from {{ ref('fct_move_sectors') }}
),

persons as (
    select person_id, is_foreign from {{ ref('int_arrival_persons') }}
),

cities as (
    select nis_code, city_label, is_inflow_source from {{ ref('int_big_city_municipalities') }}
)

select
    moves.move_id,
    moves.person_id,
    moves.move_date,
    moves.move_year,
    moves.move_type,
    moves.origin_nis,
    moves.destination_nis,
    sectors.origin_sector,
    sectors.destination_sector,
    coalesce(persons.is_foreign, false) as is_foreign,
    origin_city.city_label as origin_city,
    coalesce(origin_city.is_inflow_source, false) as origin_city_is_inflow_source,
    destination_city.city_label as destination_city
from moves
inner join sectors using (move_id)
left join persons using (person_id)
left join cities as origin_city on origin_city.nis_code = moves.origin_nis
left join cities as destination_city on destination_city.nis_code = moves.destination_nis
