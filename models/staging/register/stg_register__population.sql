-- Registered population on 1 January per code valid that day, typed to the contract.
with source as (
    select * from {{ source('register', 'population') }}
),

renamed as (
    select
        cast({{ raw_row_column() }} as bigint) as source_row,
        cast(nis_code as varchar) as nis_code,
        try_cast(reference_date as date) as reference_date,
        try_cast(population as bigint) as population
    from source
)

select * from renamed
