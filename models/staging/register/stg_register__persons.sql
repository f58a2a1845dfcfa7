-- One row per raw person row, typed to the contract; birth_date_unparsed keeps unreadable text for the checks.
with source as (
    select * from {{ source('register', 'persons') }}
),

renamed as (
    select
        cast({{ raw_row_column() }} as bigint) as source_row,
        cast(person_id as varchar) as person_id,
        cast(sex as varchar) as sex,
        try_cast(birth_date as date) as birth_date,
        {{ unparsed('birth_date', 'date') }} as birth_date_unparsed,
        cast(country_of_birth as varchar) as country_of_birth,
        cast(nationality_at_birth as varchar) as nationality_at_birth,
        cast(current_nationality as varchar) as current_nationality
    from source
)

select * from renamed
