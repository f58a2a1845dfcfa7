-- Registered population on 1 January per code valid that day and income position, typed to the contract (the
-- denominators of the income-position study). An optional table: an extract without it gives an empty view.
with source as (
    select * from {{ source('register', 'population_positions') }}
),

renamed as (
    select
        cast({{ raw_row_column() }} as bigint) as source_row,
        cast(nis_code as varchar) as nis_code,
        try_cast(reference_date as date) as reference_date,
        cast(classification as varchar) as classification,
        cast(position as varchar) as position,
        try_cast(population as bigint) as population
    from source
)

select * from renamed
