-- Population on 1 January per municipality of the target vintage, year, classification and income position: the
-- clean rows of the optional raw table population_positions (on the codes valid that day) summed onto the
-- vintage. A duplicate, a code that lands on no vintage municipality and an unknown position are quarantined by
-- int_population_positions_checked, so every clean row is summed exactly once (n_source_rows, reconciled in
-- audit.rpt_reconciliation).
with

population as (
    select vintage_nis, reference_date, classification, position, population
    from {{ ref('int_population_positions_checked') }}
    where rule is null
),

final as (
    select
        vintage_nis as nis_code,
        cast(year(reference_date) as integer) as year,
        classification,
        position,
        sum(population) as population,
        count(*) as n_source_rows
    from population
    group by all
)

select * from final
