-- The areas of the income-position study, one row each, at four levels: every municipality of the target
-- vintage, every named area (a group of municipalities of one area type, optional raw table area_types), every
-- area type, and the whole territory (every municipality). Each area but the territory names its parent, the
-- area of the next level that holds it; a named area's code is `<area type>/<area name>`.
with

municipalities as (
    select nis_code, coalesce(name_nl, name_fr, nis_code) as municipality_name
    from {{ ref('dim_municipality') }}
),

areas as (
    select nis_code, area_type, area_name, is_unclassified from {{ ref('int_area_types_vintage') }}
),

municipality_rows as (
    select
        'municipality' as area_level,
        3 as level_order,
        municipalities.nis_code as area_code,
        municipalities.municipality_name as area_name,
        areas.area_type,
        'area' as parent_level,
        areas.area_type || '/' || areas.area_name as parent_code,
        1 as n_municipalities,
        areas.is_unclassified
    from municipalities
    inner join areas using (nis_code)
),

area_rows as (
    select
        'area' as area_level,
        2 as level_order,
        area_type || '/' || area_name as area_code,
        area_name,
        area_type,
        'area_type' as parent_level,
        area_type as parent_code,
        count(*) as n_municipalities,
        bool_and(is_unclassified) as is_unclassified
    from areas
    group by area_type, area_name
),

type_rows as (
    select
        'area_type' as area_level,
        1 as level_order,
        area_type as area_code,
        area_type as area_name,
        area_type,
        'territory' as parent_level,
        'territory' as parent_code,
        count(*) as n_municipalities,
        bool_and(is_unclassified) as is_unclassified
    from areas
    group by area_type
),

territory_row as (
    select
        'territory' as area_level,
        0 as level_order,
        'territory' as area_code,
        'whole territory' as area_name,
        cast(null as varchar) as area_type,
        cast(null as varchar) as parent_level,
        cast(null as varchar) as parent_code,
        count(*) as n_municipalities,
        bool_and(is_unclassified) as is_unclassified
    from areas
),

unioned as (
    select * from municipality_rows
    union all
    select * from area_rows
    union all
    select * from type_rows
    union all
    select * from territory_row
),

final as (
    select
        cast(area_level as varchar) as area_level,
        cast(area_code as varchar) as area_code,
        cast(area_name as varchar) as area_name,
        cast(area_type as varchar) as area_type,
        cast(parent_level as varchar) as parent_level,
        cast(parent_code as varchar) as parent_code,
        cast(level_order as integer) as level_order,
        cast(n_municipalities as integer) as n_municipalities,
        cast(is_unclassified as boolean) as is_unclassified
    from unioned
)

select * from final
