-- Yearly cut points of the income groups (seed income_groups: quartiles by default), interpolated like
-- quantile_cont. Computed over everyone with an income that year, or with var income_cutpoints_population =
-- movers over the persons whose income year that is for an inter-municipal move (var income_group_year).
{%- set population = var('income_cutpoints_population') %}
{%- if population not in ['all', 'movers'] %}
    {{ exceptions.raise_compiler_error("var income_cutpoints_population must be all or movers, got '" ~ population ~ "'") }}
{%- endif %}
{%- set year_offset = 1 if var('income_group_year') == 'next_year' else 0 %}

with

incomes as (
    select person_id, income_year, disposable_income
    from {{ ref('int_incomes_imputed') }}
    where disposable_income is not null
),

{%- if population == 'movers' %}

movers as (
    select distinct person_id, year(move_date) + {{ year_offset }} as income_year
    from {{ ref('int_moves_checked') }}
    where rule is null
        and move_type = 'internal'
        and origin_vintage_nis <> destination_vintage_nis
),

population as (
    select incomes.* from incomes inner join movers using (person_id, income_year)
),
{%- else %}

population as (
    select * from incomes
),
{%- endif %}

ranked as (
    select
        income_year,
        disposable_income,
        row_number() over (partition by income_year order by disposable_income) - 1 as position,
        count(*) over (partition by income_year) as n_incomes
    from population
),

income_groups as (
    select income_group, group_order, lower_quantile, upper_quantile from {{ ref('income_groups') }}
),

quantiles as (
    select lower_quantile as quantile from income_groups
    union
    select upper_quantile as quantile from income_groups
),

targets as (
    select
        years.income_year,
        years.n_incomes,
        quantiles.quantile,
        (years.n_incomes - 1) * quantiles.quantile as exact_position
    from (select distinct income_year, n_incomes from ranked) as years
    cross join quantiles
),

cut_values as (
    select
        targets.income_year,
        targets.quantile,
        min(ranked.disposable_income) + (targets.exact_position - floor(targets.exact_position))
            * (max(ranked.disposable_income) - min(ranked.disposable_income)) as cut_value,
        any_value(targets.n_incomes) as n_incomes
    from targets
    inner join ranked
        on ranked.income_year = targets.income_year
        and ranked.position in (floor(targets.exact_position), ceil(targets.exact_position))
    group by targets.income_year, targets.quantile, targets.exact_position
),

groups as (
    select
        income_groups.income_group,
        income_groups.group_order,
        cut_values_low.income_year,
        -- the lowest and highest groups are open-ended
        case when income_groups.lower_quantile <= 0 then '-infinity'::double else cut_values_low.cut_value end
            as lower_cut,
        case when income_groups.upper_quantile >= 1 then 'infinity'::double else cut_values_high.cut_value end
            as upper_cut,
        cut_values_low.n_incomes,
        '{{ population }}' as cutpoints_population
    from income_groups
    inner join cut_values as cut_values_low on cut_values_low.quantile = income_groups.lower_quantile
    inner join cut_values as cut_values_high
        on cut_values_high.quantile = income_groups.upper_quantile
        and cut_values_high.income_year = cut_values_low.income_year
)

select * from groups
