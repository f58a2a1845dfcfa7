-- One row per raw person-year income row, typed to the contract; *_raw keep the text for the checks.
with source as (
    select * from {{ source('register', 'incomes') }}
),

renamed as (
    select
        cast(source_row as bigint) as source_row,
        -- keys
        cast(person_id as varchar) as person_id,
        try_cast(income_year as integer) as income_year,
        cast(income_year as varchar) as income_year_raw,
        -- income, EUR per year
        try_cast(disposable_income as double) as disposable_income,
        cast(disposable_income as varchar) as disposable_income_raw,
        try_cast(household_equivalised_income as double) as household_equivalised_income,
        -- household
        cast(household_id as varchar) as household_id,
        cast(household_type as varchar) as household_type,
        try_cast(is_student as boolean) as is_student,
        try_cast(is_institutional_household as boolean) as is_institutional_household
    from source
)

select * from renamed
