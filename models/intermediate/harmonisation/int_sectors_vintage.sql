-- The statistical sectors of the target vintage: every clean sector code valid on 1 January of the vintage
-- year, with the number of extract codes mapping onto it, and, when the extract has sectors at all, the
-- unknown sector <nis>ZZZZ of every vintage municipality (no area, centroid or boundary), where the
-- warehouse counts what has no sector of the vintage. An extract without sectors has none.
with

sectors as (
    select * from {{ ref('int_sectors_checked') }} where rule is null
),

sector_map as (
    select sector_code, vintage_sector, mapping_status from {{ ref('int_sector_code_vintage_map') }}
),

at_vintage as (
    select sectors.*
    from sectors
    inner join sector_map using (sector_code)
    where sector_map.mapping_status = 'valid_at_vintage'
),

predecessors as (
    select vintage_sector as sector_code, count(*) as n_codes
    from sector_map
    where vintage_sector is not null
    group by vintage_sector
),

unknown_sectors as (
    select
        {{ unknown_sector_code('municipalities.nis_code') }} as sector_code,
        municipalities.nis_code as vintage_nis
    from {{ ref('int_municipalities_vintage') }} as municipalities
    where exists (select 1 from at_vintage)
        and {{ unknown_sector_code('municipalities.nis_code') }} not in (select sector_code from at_vintage)
),

final as (
    select
        at_vintage.sector_code,
        at_vintage.vintage_nis as nis_code,
        at_vintage.name_nl,
        at_vintage.name_fr,
        at_vintage.area_km2,
        at_vintage.centroid_x,
        at_vintage.centroid_y,
        at_vintage.boundary_wkt,
        right(at_vintage.sector_code, 4) = {{ unknown_sector_suffix() }} as is_unknown_sector,
        coalesce(predecessors.n_codes, 0) as n_extract_codes
    from at_vintage
    left join predecessors using (sector_code)
    union all
    select
        sector_code,
        vintage_nis,
        cast(null as varchar),
        cast(null as varchar),
        cast(null as double),
        cast(null as double),
        cast(null as double),
        cast(null as varchar),
        true,
        0
    from unknown_sectors
)

select *, {{ sql_value(var('target_vintage')) }} as vintage from final
