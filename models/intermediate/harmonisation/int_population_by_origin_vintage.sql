-- Residents on 1 January per area of the target vintage, year and country: the clean rows of
-- population_by_origin (on the codes valid that day) summed onto the vintage municipality (municipality
-- rows) or the vintage sector (sector rows). Every clean row is summed exactly once (n_source_rows,
-- reconciled in audit.rpt_reconciliation); a count the extract does not publish stays NULL.
with

population as (
    select * from {{ ref('int_population_by_origin_checked') }} where rule is null
),

final as (
    select
        area_level,
        case when area_level = 'municipality' then vintage_nis else vintage_sector end as area_code,
        vintage_nis as nis_code,
        year(reference_date) as year,
        country,
        sum(by_nationality_at_birth) as by_nationality_at_birth,
        sum(by_current_nationality) as by_current_nationality,
        sum(by_country_of_birth) as by_country_of_birth,
        -- a count the extract leaves empty on some summed row is not summed as if it were 0
        count(*) filter (where by_nationality_at_birth is null) as n_missing_nationality_at_birth,
        count(*) filter (where by_current_nationality is null) as n_missing_current_nationality,
        count(*) filter (where by_country_of_birth is null) as n_missing_country_of_birth,
        count(*) as n_source_rows
    from population
    group by all
)

select * from final
