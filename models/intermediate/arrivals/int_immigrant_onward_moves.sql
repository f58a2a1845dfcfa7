-- Every immigrant once per level of the arrival marts: the area of first settlement (the destination of the
-- person's first immigration in the extract), the day of that arrival, and the day and destination (the big
-- city of seed big_cities it lies in, or other_municipality) of the person's first internal move between
-- two municipalities after it (NULL: the person did not move on in the data period).
with

moves as (
    select * from {{ ref('int_arrival_area_moves') }}
),

first_immigrations as (
    select
        area_level,
        person_id,
        min_by(destination_area, (move_date, move_id)) as area_code,
        min(move_date) as arrival_date
    from moves
    where move_type = 'immigration'
    group by area_level, person_id
),

onward as (
    select
        first_immigrations.area_level,
        first_immigrations.person_id,
        min(moves.move_date) as onward_date,
        min_by(coalesce(moves.destination_city, 'other_municipality'), (moves.move_date, moves.move_id))
            as onward_destination
    from first_immigrations
    inner join moves
        on moves.area_level = first_immigrations.area_level
        and moves.person_id = first_immigrations.person_id
        and moves.move_date > first_immigrations.arrival_date
        and moves.move_type = 'internal'
        and moves.origin_nis <> moves.destination_nis
    group by all
)

select
    first_immigrations.area_level,
    first_immigrations.person_id,
    first_immigrations.area_code,
    first_immigrations.arrival_date,
    year(first_immigrations.arrival_date) as arrival_year,
    onward.onward_date,
    onward.onward_destination
from first_immigrations
left join onward using (area_level, person_id)
