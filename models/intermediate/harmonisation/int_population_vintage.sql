-- Population on 1 January per vintage municipality and year: the clean rows of the extract (on the codes
-- valid that day) summed onto the target vintage, with the density over the vintage area. A duplicate or a
-- code that lands on no vintage municipality is quarantined by int_population_checked, so every clean row is
-- summed exactly once (n_source_rows, reconciled in audit.rpt_reconciliation).
with

population as (
    select nis_code, reference_date, population, vintage_nis
    from {{ ref('int_population_checked') }}
    where rule is null
),

municipalities as (
    select nis_code, area_km2 from {{ ref('int_municipalities_vintage') }}
),

harmonised as (
    select
        vintage_nis as nis_code,
        year(reference_date) as year,
        sum(population) as population,
        count(*) as n_source_rows
    from population
    group by all
),

final as (
    select
        harmonised.nis_code,
        harmonised.year,
        harmonised.population,
        municipalities.area_km2,
        harmonised.population / municipalities.area_km2 as density_per_km2,
        harmonised.n_source_rows
    from harmonised
    inner join municipalities using (nis_code)
)

select * from final
