-- The area type and named area of each municipality code, typed to the contract (the income-position study).
-- An optional table: an extract without it gives an empty view (macro create_raw_views).
with source as (
    select * from {{ source('register', 'area_types') }}
),

renamed as (
    select
        cast({{ raw_row_column() }} as bigint) as source_row,
        cast(nis_code as varchar) as nis_code,
        cast(area_type as varchar) as area_type,
        cast(area_name as varchar) as area_name
    from source
)

select * from renamed
