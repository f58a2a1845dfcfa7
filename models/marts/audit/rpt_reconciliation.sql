-- Per raw table and outcome (clean, or each quarantine rule): raw rows = clean rows + quarantined rows.
-- Raw rows are counted on the raw views, clean rows on the models that carry them on (fct_moves,
-- fct_incomes, ...), quarantined rows on rpt_quarantine, so a row lost anywhere in between shows here.
-- The tables are those of the raw data contract (source register); a pytest keeps this list equal to it.
with

raw_counts as (
    select 'moves' as source_table, count(*) as raw_rows from {{ source('register', 'moves') }}
    union all
    select 'persons', count(*) from {{ source('register', 'persons') }}
    union all
    select 'incomes', count(*) from {{ source('register', 'incomes') }}
    union all
    select 'municipalities', count(*) from {{ source('register', 'municipalities') }}
    union all
    select 'population', count(*) from {{ source('register', 'population') }}
    union all
    select 'area_types', count(*) from {{ source('register', 'area_types') }}
    union all
    select 'population_positions', count(*) from {{ source('register', 'population_positions') }}
    union all
    select 'sectors', count(*) from {{ source('register', 'sectors') }}
    union all
    select 'population_by_origin', count(*) from {{ source('register', 'population_by_origin') }}
),

clean_counts as (
    select 'moves' as source_table, count(*) as clean_rows from {{ ref('fct_moves') }}
    union all
    select 'persons', count(*) from {{ ref('int_persons_checked') }} where rule is null
    union all
    select 'incomes', count(*) from {{ ref('fct_incomes') }}
    union all
    select 'municipalities', count(*) from {{ ref('int_nis_code_vintage_map') }} where in_extract
    union all
    select 'population', coalesce(sum(n_source_rows), 0) from {{ ref('int_population_vintage') }}
    union all
    -- the rows that set an area type of dim_area (the first of each vintage municipality and agreeing parts)
    select 'area_types', coalesce(sum(n_source_rows), 0) from {{ ref('int_area_types_vintage') }}
    union all
    select 'population_positions', coalesce(sum(n_source_rows), 0) from {{ ref('int_population_positions_vintage') }}
    union all
    -- the clean sector codes, each mapped onto a sector of the vintage or onto its municipality's unknown sector
    select 'sectors', count(*) from {{ ref('int_sector_code_vintage_map') }}
    union all
    select 'population_by_origin', coalesce(sum(n_source_rows), 0) from {{ ref('int_population_by_origin_vintage') }}
),

quarantine_counts as (
    select source_table, rule, count(*) as n_rows
    from {{ ref('rpt_quarantine') }}
    group by source_table, rule
),

table_totals as (
    select
        raw_counts.source_table,
        raw_counts.raw_rows,
        coalesce(clean_counts.clean_rows, 0) as clean_rows,
        coalesce((select sum(n_rows) from quarantine_counts where quarantine_counts.source_table = raw_counts.source_table), 0)
            as quarantined_rows
    from raw_counts
    left join clean_counts using (source_table)
),

rules as (
    select source_table, rule, rule_order from {{ ref('quarantine_rules') }}
    -- a rule the checks produce but the seed does not list still shows
    union
    select source_table, rule, 999 from quarantine_counts
    where not exists (
        select 1 from {{ ref('quarantine_rules') }} as listed
        where listed.source_table = quarantine_counts.source_table and listed.rule = quarantine_counts.rule
    )
),

lines as (
    select source_table, 'clean' as outcome, cast(null as varchar) as rule, 0 as rule_order, clean_rows as n_rows
    from table_totals
    union all
    select rules.source_table, 'quarantined', rules.rule, rules.rule_order, coalesce(quarantine_counts.n_rows, 0)
    from rules
    left join quarantine_counts using (source_table, rule)
),

final as (
    select
        cast(lines.source_table as varchar) as source_table,
        cast(lines.outcome as varchar) as outcome,
        cast(lines.rule as varchar) as rule,
        cast(lines.rule_order as integer) as rule_order,
        cast(lines.n_rows as bigint) as n_rows,
        cast(table_totals.raw_rows as bigint) as raw_rows,
        cast(table_totals.clean_rows as bigint) as clean_rows,
        cast(table_totals.quarantined_rows as bigint) as quarantined_rows,
        cast(table_totals.raw_rows = table_totals.clean_rows + table_totals.quarantined_rows as boolean) as is_balanced
    from lines
    inner join table_totals using (source_table)
)

select * from final
