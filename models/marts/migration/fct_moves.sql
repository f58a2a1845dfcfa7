-- One row per valid (not quarantined) move, harmonised to the target vintage.
with

moves as (
    select * from {{ ref('int_moves_enriched') }}
),

final as (
    select
        -- ids
        cast(move_id as bigint) as move_id,
        cast(person_id as varchar) as person_id,
        -- when
        cast(move_date as date) as move_date,
        cast(move_year as integer) as move_year,
        cast(period_label as varchar) as period_label,
        -- where
        cast(move_type as varchar) as move_type,
        cast(origin_vintage_nis as varchar) as origin_nis,
        cast(destination_vintage_nis as varchar) as destination_nis,
        cast(origin_nis as varchar) as origin_nis_raw,
        cast(destination_nis as varchar) as destination_nis_raw,
        cast(code_remapped as boolean) as code_remapped,
        cast(coalesce(is_inter_municipal, false) as boolean) as is_inter_municipal,
        cast(coalesce(became_intra_by_harmonisation, false) as boolean) as became_intra_by_harmonisation,
        -- who
        cast(sex as varchar) as sex,
        cast(age_at_move as integer) as age_at_move,
        cast(age_band as varchar) as age_band,
        cast(country_of_birth as varchar) as country_of_birth,
        -- income
        cast(income_year as integer) as income_year,
        cast(disposable_income as double) as disposable_income,
        cast(income_imputed as boolean) as income_imputed,
        cast(income_group as varchar) as income_group,
        -- distance and density
        cast(distance_km as double) as distance_km,
        cast(distance_source as varchar) as distance_source,
        cast(density_origin_per_km2 as double) as density_origin_per_km2,
        cast(density_destination_per_km2 as double) as density_destination_per_km2,
        cast((density_origin_per_km2 - density_destination_per_km2) / 1000.0 as double) as density_diff_per_1000
    from moves
)

select * from final
