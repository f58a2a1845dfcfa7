-- One row: the dbt invocation that built this warehouse, when, with which dbt and which settings.
-- `mignet validate` reads it to take exactly this build's dbt results: data/build/<build_id>/ after
-- `mignet build`, or the target folder after a hand-run `dbt build`; results of any other build are refused.
select
    cast('{{ invocation_id }}' as varchar) as build_id,
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp) as run_started_at,
    cast('{{ dbt_version }}' as varchar) as dbt_version,
    cast({{ var('target_vintage') }} as integer) as target_vintage,
    cast('{{ var("imputation_method") }}' as varchar) as imputation_method,
    cast('{{ var("income_group_year") }}' as varchar) as income_group_year,
    cast('{{ var("income_cutpoints_population") }}' as varchar) as income_cutpoints_population,
    cast({{ var('min_moves') }} as integer) as min_moves
