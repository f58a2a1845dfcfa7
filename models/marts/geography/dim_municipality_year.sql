-- Population on 1 January and density per municipality of the target vintage and year.
with

population as (
    select * from {{ ref('int_population_vintage') }}
),

final as (
    select
        cast(nis_code as varchar) as nis_code,
        cast(year as integer) as year,
        cast(population as bigint) as population,
        cast(area_km2 as double) as area_km2,
        cast(density_per_km2 as double) as density_per_km2
    from population
)

select * from final
