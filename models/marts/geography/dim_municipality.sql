-- The municipalities of the target vintage (var target_vintage).
with

municipalities as (
    select * from {{ ref('int_municipalities_vintage') }}
),

regions as (
    select * from {{ ref('regions') }}
),

final as (
    select
        cast(municipalities.nis_code as varchar) as nis_code,
        cast(municipalities.name_nl as varchar) as name_nl,
        cast(municipalities.name_fr as varchar) as name_fr,
        cast(municipalities.arrondissement_nis as varchar) as arrondissement_nis,
        cast(municipalities.province_nis as varchar) as province_nis,
        cast(municipalities.region_nis as varchar) as region_nis,
        cast(regions.region_name as varchar) as region_name,
        cast(municipalities.area_km2 as double) as area_km2,
        cast(municipalities.centroid_x as double) as centroid_x,
        cast(municipalities.centroid_y as double) as centroid_y,
        cast(municipalities.n_predecessor_codes as integer) as n_predecessor_codes,
        cast(municipalities.vintage as integer) as vintage
    from municipalities
    left join regions using (region_nis)
)

select * from final
