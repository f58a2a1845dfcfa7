-- Every statistical sector code of the extract with its validity interval, typed to the contract (an
-- optional table: empty when the extract has none).
with source as (
    select * from {{ source('register', 'sectors') }}
),

renamed as (
    select
        cast({{ raw_row_column() }} as bigint) as source_row,
        -- codes and names
        cast(sector_code as varchar) as sector_code,
        cast(nis_code as varchar) as nis_code,
        cast(name_nl as varchar) as name_nl,
        cast(name_fr as varchar) as name_fr,
        -- validity
        try_cast(valid_from as date) as valid_from,
        try_cast(valid_to as date) as valid_to,
        -- geometry
        try_cast(area_km2 as double) as area_km2,
        try_cast(centroid_x as double) as centroid_x,
        try_cast(centroid_y as double) as centroid_y,
        cast(boundary_wkt as varchar) as boundary_wkt
    from source
)

select * from renamed
