-- The municipalities of the target vintage. Area is the sum, and the centroid the area-weighted mean, of
-- the codes valid on the first day of the data period that map onto each vintage code (the exact centroid
-- of their union). Names and hierarchy come from the vintage code's own (clean) row as they are there: a
-- name the row leaves empty stays empty (23106 Pajottegem has no French name; it does not take Herne's).
-- A vintage code without a row of its own gets no names, and the hierarchy (arrondissement, province,
-- region) of its largest part, flagged attributes_from_largest_part.
{%- set vintage_date = "make_date(" ~ sql_value(var('target_vintage')) ~ ", 1, 1)" %}
{%- set start_date = "cast(" ~ sql_string(var('data_start_date')) ~ " as date)" %}

with

municipalities as (
    select * from {{ ref('int_municipalities_checked') }} where rule is null
),

vintage_map as (
    select nis_code, vintage_nis from {{ ref('int_nis_code_vintage_map') }}
),

base_codes as (
    select municipalities.*, vintage_map.vintage_nis
    from municipalities
    inner join vintage_map using (nis_code)
    where municipalities.valid_from <= {{ start_date }}
        and (municipalities.valid_to is null or municipalities.valid_to >= {{ start_date }})
        and vintage_map.vintage_nis is not null
),

geometry as (
    select
        vintage_nis as nis_code,
        sum(area_km2) as area_km2,
        sum(area_km2 * centroid_x) / sum(area_km2) as centroid_x,
        sum(area_km2 * centroid_y) / sum(area_km2) as centroid_y,
        count(*) as n_predecessor_codes,
        arg_max(nis_code, area_km2) as largest_part_nis
    from base_codes
    group by vintage_nis
),

-- vintage codes no base code maps onto (a code created after the start by a change the seed does not list)
own_geometry as (
    select
        municipalities.nis_code,
        municipalities.area_km2,
        municipalities.centroid_x,
        municipalities.centroid_y,
        0 as n_predecessor_codes,
        municipalities.nis_code as largest_part_nis
    from municipalities
    where municipalities.valid_from <= {{ vintage_date }}
        and (municipalities.valid_to is null or municipalities.valid_to >= {{ vintage_date }})
        and municipalities.nis_code not in (select nis_code from geometry)
),

all_geometry as (
    select * from geometry
    union all
    select * from own_geometry
),

final as (
    select
        all_geometry.nis_code,
        own.name_nl,
        own.name_fr,
        case when own.nis_code is not null then own.arrondissement_nis else part.arrondissement_nis end
            as arrondissement_nis,
        case when own.nis_code is not null then own.province_nis else part.province_nis end as province_nis,
        case when own.nis_code is not null then own.region_nis else part.region_nis end as region_nis,
        all_geometry.area_km2,
        all_geometry.centroid_x,
        all_geometry.centroid_y,
        all_geometry.n_predecessor_codes,
        own.nis_code is null as attributes_from_largest_part,
        {{ sql_value(var('target_vintage')) }} as vintage
    from all_geometry
    left join municipalities as own
        on own.nis_code = all_geometry.nis_code
    left join municipalities as part
        on part.nis_code = all_geometry.largest_part_nis
)

select * from final
