-- Population on 1 January per vintage municipality and year: the rows of the extract (on the codes valid
-- that day) summed onto the target vintage, with the density over the vintage area.
with

population as (
    select * from {{ ref('stg_register__population') }}
),

vintage_map as (
    select nis_code, vintage_nis from {{ ref('int_nis_code_vintage_map') }}
),

municipalities as (
    select nis_code, area_km2 from {{ ref('int_municipalities_vintage') }}
),

harmonised as (
    select
        vintage_map.vintage_nis as nis_code,
        year(population.reference_date) as year,
        sum(population.population) as population,
        count(*) as n_source_rows
    from population
    inner join vintage_map using (nis_code)
    where vintage_map.vintage_nis is not null
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
