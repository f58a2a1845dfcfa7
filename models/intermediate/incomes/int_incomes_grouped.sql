-- Imputed incomes with their income group: lower_cut <= income < upper_cut of the year's cut points.
-- A view: its only reader is fct_incomes, so the 17 million rows are written once, there.
{{ config(materialized='view') }}
with

incomes as (
    select * from {{ ref('int_incomes_imputed') }}
),

cutpoints as (
    select * from {{ ref('int_income_cutpoints') }}
),

grouped as (
    select
        incomes.*,
        coalesce(cutpoints.income_group, 'unknown') as income_group
    from incomes
    left join cutpoints
        on cutpoints.income_year = incomes.income_year
        and incomes.disposable_income >= cutpoints.lower_cut
        and incomes.disposable_income < cutpoints.upper_cut
)

select * from grouped
