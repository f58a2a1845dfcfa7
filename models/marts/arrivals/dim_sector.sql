-- The statistical sectors of the target vintage (var target_vintage), with the unknown sector <nis>ZZZZ of
-- every municipality; empty when the extract has no sectors.
with

sectors as (
    select * from {{ ref('int_sectors_vintage') }}
),

final as (
    select
        cast(sector_code as varchar) as sector_code,
        cast(nis_code as varchar) as nis_code,
        cast(name_nl as varchar) as name_nl,
        cast(name_fr as varchar) as name_fr,
        cast(area_km2 as double) as area_km2,
        cast(centroid_x as double) as centroid_x,
        cast(centroid_y as double) as centroid_y,
        cast(boundary_wkt as varchar) as boundary_wkt,
        cast(is_unknown_sector as boolean) as is_unknown_sector,
        cast(n_extract_codes as integer) as n_extract_codes,
        cast(vintage as integer) as vintage
    from sectors
)

select * from final
