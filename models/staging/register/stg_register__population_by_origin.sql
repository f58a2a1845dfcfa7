-- Registered population on 1 January per area (sector or municipality) and country, typed to the contract
-- (an optional table: empty when the extract has none; an optional count column is NULL where it is absent).
with source as (
    select * from {{ source('register', 'population_by_origin') }}
),

renamed as (
    select
        cast({{ raw_row_column() }} as bigint) as source_row,
        -- keys
        cast(area_code as varchar) as area_code,
        try_cast(reference_date as date) as reference_date,
        cast(country as varchar) as country,
        -- residents of the area whose origin is the country, by each definition of origin
        try_cast(by_nationality_at_birth as bigint) as by_nationality_at_birth,
        try_cast(by_current_nationality as bigint) as by_current_nationality,
        try_cast(by_country_of_birth as bigint) as by_country_of_birth
    from source
)

select * from renamed
