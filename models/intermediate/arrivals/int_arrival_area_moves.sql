-- Every move once per level of the arrival marts, with its origin and destination area at that level: the
-- municipalities, and at sector level the sectors (NULL on the side abroad). A move is an arrival of its
-- destination area and a departure of its origin area when the two differ, and a move within the area when
-- they are the same. A view: each mart aggregates it once.
{{ config(materialized='view') }}

with

moves as (
    select * from {{ ref('int_arrival_moves') }}
),

levels as (
    select area_level from {{ ref('int_arrival_area_levels') }}
),

by_level as (
    select 'municipality' as area_level, origin_nis as origin_area, destination_nis as destination_area, *
    from moves
    union all
    select 'sector', origin_sector, destination_sector, *
    from moves
    where exists (select 1 from levels where area_level = 'sector')
)

select * exclude (origin_sector, destination_sector)
from by_level
