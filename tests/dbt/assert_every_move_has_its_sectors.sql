-- fct_move_sectors has exactly one row per move of fct_moves, with a sector on every Belgian side and none
-- abroad when the extract has sectors (dim_sector is not empty), and no sector at all otherwise; each
-- sector lies in its side's municipality. Fails on every move that breaks it.
with

moves as (
    select move_id, origin_nis, destination_nis from {{ ref('fct_moves') }}
),

sectors as (
    select move_id, origin_sector, destination_sector from {{ ref('fct_move_sectors') }}
),

dim as (
    select sector_code, nis_code from {{ ref('dim_sector') }}
),

available as (
    select exists (select 1 from dim) as has_sectors
),

joined as (
    select
        coalesce(moves.move_id, sectors.move_id) as move_id,
        moves.move_id is null as not_in_fct_moves,
        sectors.move_id is null as without_sectors_row,
        moves.origin_nis,
        moves.destination_nis,
        sectors.origin_sector,
        sectors.destination_sector,
        origin_dim.nis_code as origin_sector_nis,
        destination_dim.nis_code as destination_sector_nis
    from moves
    full outer join sectors using (move_id)
    left join dim as origin_dim on origin_dim.sector_code = sectors.origin_sector
    left join dim as destination_dim on destination_dim.sector_code = sectors.destination_sector
)

select joined.*
from joined
cross join available
where not_in_fct_moves
    or without_sectors_row
    or (available.has_sectors and ((origin_nis is null) <> (origin_sector is null)
                                   or (destination_nis is null) <> (destination_sector is null)))
    or (not available.has_sectors and (origin_sector is not null or destination_sector is not null))
    or origin_sector_nis is distinct from case when origin_sector is not null then origin_nis end
    or destination_sector_nis is distinct from case when destination_sector is not null then destination_nis end
