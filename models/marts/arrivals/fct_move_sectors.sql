-- One row per move of fct_moves: the statistical sector of each Belgian side harmonised to the target
-- vintage (int_sector_code_vintage_map). When the extract has sectors, a Belgian side without a sector, or
-- with one that maps to no sector of the vintage, is in the unknown sector of its municipality, so the
-- sectors of a municipality always count all of its moves; without sectors both are NULL.
with

moves as (
    select
        move_id,
        origin_vintage_nis,
        destination_vintage_nis,
        origin_sector,
        destination_sector,
        origin_vintage_sector,
        destination_vintage_sector
    from {{ ref('int_moves_checked') }}
    where rule is null
),

available as (
    select exists (select 1 from {{ ref('int_sectors_vintage') }}) as has_sectors
),

harmonised as (
    select
        moves.*,
        {%- for side in ['origin', 'destination'] %}
        case when available.has_sectors and moves.{{ side }}_vintage_nis is not null
            then coalesce(moves.{{ side }}_vintage_sector, {{ unknown_sector_code('moves.' ~ side ~ '_vintage_nis') }})
        end as {{ side }}_sector_vintage{{ ',' if not loop.last }}
        {%- endfor %}
    from moves
    cross join available
),

final as (
    select
        cast(move_id as bigint) as move_id,
        cast(origin_sector_vintage as varchar) as origin_sector,
        cast(destination_sector_vintage as varchar) as destination_sector,
        cast(origin_sector as varchar) as origin_sector_raw,
        cast(destination_sector as varchar) as destination_sector_raw,
        cast(
            origin_sector_vintage is distinct from origin_sector and origin_sector_vintage is not null
            or destination_sector_vintage is distinct from destination_sector and destination_sector_vintage is not null
            as boolean
        ) as sector_harmonised
    from harmonised
)

select * from final
