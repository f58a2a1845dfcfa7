-- Every municipality of the target vintage with each area of dim_area that holds it, one row per level:
-- itself, its named area, its area type and the whole territory. The marts of the income-position study sum
-- municipalities onto their areas through it.
with

areas as (
    select area_level, area_code, parent_level, parent_code from {{ ref('dim_area') }}
),

municipalities as (
    select area_code as nis_code, parent_code as area_code from areas where area_level = 'municipality'
),

named_areas as (
    select area_code, parent_code as area_type from areas where area_level = 'area'
),

final as (
    select nis_code, 'municipality' as area_level, nis_code as area_code from municipalities
    union all
    select nis_code, 'area', area_code from municipalities
    union all
    select municipalities.nis_code, 'area_type', named_areas.area_type
    from municipalities
    inner join named_areas using (area_code)
    union all
    select nis_code, 'territory', 'territory' from municipalities
)

select * from final
