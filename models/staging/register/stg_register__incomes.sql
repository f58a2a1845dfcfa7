-- One row per raw person-year income row, typed to the contract; *_unparsed keep unreadable text for the checks.
with source as (
    select * from {{ source('register', 'incomes') }}
),

renamed as (
    select
        cast({{ raw_row_column() }} as bigint) as source_row,
        -- keys
        cast(person_id as varchar) as person_id,
        try_cast(income_year as integer) as income_year,
        -- income, EUR per year
        try_cast(disposable_income as double) as disposable_income,
        {{ unparsed('disposable_income', 'double') }} as disposable_income_unparsed,
        try_cast(household_equivalised_income as double) as household_equivalised_income,
        -- household
        cast(household_id as varchar) as household_id,
        cast(household_type as varchar) as household_type,
        try_cast(is_student as boolean) as is_student,
        try_cast(is_institutional_household as boolean) as is_institutional_household
    from source
)

select * from renamed
