-- Yearly cut points of the income groups (seed income_groups: quartiles by default) by DuckDB's
-- quantile_cont. Computed over everyone with an income that year, or with var income_cutpoints_population =
-- movers over the persons whose income year that is for an inter-municipal move (var income_group_year).
{%- set population = var('income_cutpoints_population') %}
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

income_groups as (
    select income_group, group_order, lower_quantile, upper_quantile from {{ ref('income_groups') }}
),

{#- the inner quantiles of the seed, read when the model runs, for DuckDB's quantile_cont -#}
{%- set quantiles = [] %}
{%- if execute %}
    {%- set found = run_query(
        "select distinct q from (select lower_quantile as q from " ~ ref('income_groups')
        ~ " union all select upper_quantile from " ~ ref('income_groups') ~ ") where q > 0 and q < 1 order by q"
    ) %}
    {%- set quantiles = found.columns[0].values() | list %}
{%- endif %}
{%- set quantile_list = '[' ~ (quantiles | join(', ')) ~ ']' %}

cut_lists as (
    select
        income_year,
        {%- if quantiles | length > 0 %}
        quantile_cont(disposable_income, {{ quantile_list }}) as cuts,
        {%- else %}
        cast([] as double[]) as cuts,
        {%- endif %}
        count(*) as n_incomes
    from population
    group by income_year
),

cut_values as (
    select
        income_year,
        unnest(cast({{ quantile_list }} as double[])) as quantile,
        unnest(cuts) as cut_value
    from cut_lists
),

groups as (
    select
        income_groups.income_group,
        income_groups.group_order,
        cut_lists.income_year,
        -- the lowest and highest groups are open-ended
        case when income_groups.lower_quantile <= 0 then '-infinity'::double else lower_cuts.cut_value end
            as lower_cut,
        case when income_groups.upper_quantile >= 1 then 'infinity'::double else upper_cuts.cut_value end
            as upper_cut,
        cut_lists.n_incomes,
        '{{ population }}' as cutpoints_population
    from income_groups
    cross join cut_lists
    left join cut_values as lower_cuts
        on lower_cuts.income_year = cut_lists.income_year
        and lower_cuts.quantile = income_groups.lower_quantile
    left join cut_values as upper_cuts
        on upper_cuts.income_year = cut_lists.income_year
        and upper_cuts.quantile = income_groups.upper_quantile
)

select * from groups
