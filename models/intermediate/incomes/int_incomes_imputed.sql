-- Clean incomes with the person's age band in the income year (age reached on 31 December) and the missing
-- disposable incomes imputed by var imputation_method: the mean (the study's method, which assumes missing
-- completely at random) or the median of the same age band and year, or none.
-- A view: its two readers (int_income_cutpoints, and fct_incomes through int_incomes_grouped) each compute it
-- in less time than writing 17 million rows once costs.
{{ config(materialized='view') }}
{%- set method = var('imputation_method') %}

with

incomes as (
    select * from {{ ref('int_incomes_checked') }} where rule is null
),

-- ages 0..150 with their band: an equality join instead of a range join over every income row
age_lookup as (
    select ages.age, age_bands.band_label
    from range(0, 151) as ages (age)
    inner join {{ ref('age_bands') }} as age_bands on ages.age between age_bands.min_age and age_bands.max_age
),

aged as (
    select
        incomes.*,
        -- birth_date: of the person's clean persons row, looked up by int_incomes_checked
        incomes.income_year - year(incomes.birth_date) as age_in_year
    from incomes
),

banded as (
    select
        aged.*,
        case
            when aged.age_in_year is null then 'unknown'
            else coalesce(age_lookup.band_label, 'other')
        end as age_band
    from aged
    left join age_lookup on age_lookup.age = aged.age_in_year
),

band_year_stats as (
    select
        income_year,
        age_band,
        -- an exact decimal sum (to 1/10,000 EUR) rather than avg() over doubles, whose parallel summation
        -- differs in the last bits from run to run and would make identical inputs hash differently
        cast(sum(cast(disposable_income as decimal(38, 4))) as double) / count(*) as mean_income,
        median(disposable_income) as median_income
    from banded
    where disposable_income is not null
    group by income_year, age_band
),

imputed as (
    select
        banded.person_id,
        banded.income_year,
        banded.age_band,
        banded.disposable_income as disposable_income_raw,
        {%- if method == 'mean' %}
        coalesce(banded.disposable_income, band_year_stats.mean_income) as disposable_income,
        banded.disposable_income is null and band_year_stats.mean_income is not null as income_imputed,
        {%- elif method == 'median' %}
        coalesce(banded.disposable_income, band_year_stats.median_income) as disposable_income,
        banded.disposable_income is null and band_year_stats.median_income is not null as income_imputed,
        {%- else %}
        banded.disposable_income as disposable_income,
        false as income_imputed,
        {%- endif %}
        '{{ method }}' as imputation_method
    from banded
    left join band_year_stats using (income_year, age_band)
)

select * from imputed
