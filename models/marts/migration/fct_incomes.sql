-- One row per person and income year (clean rows), with the imputed income and the income group.
with

incomes as (
    select * from {{ ref('int_incomes_grouped') }}
),

final as (
    select
        cast(person_id as varchar) as person_id,
        cast(income_year as integer) as income_year,
        cast(age_band as varchar) as age_band,
        cast(disposable_income_raw as double) as disposable_income_raw,
        cast(disposable_income as double) as disposable_income,
        cast(income_imputed as boolean) as income_imputed,
        cast(imputation_method as varchar) as imputation_method,
        cast(income_group as varchar) as income_group
    from incomes
)

select * from final
