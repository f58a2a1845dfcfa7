-- Seed big_cities is usable: labels unique and none the arrival marts use themselves (all, abroad,
-- other_municipality, same_municipality), area_type region (a region of seed regions) or municipality (a
-- municipality of the target vintage), and no municipality in two big cities. Fails on every offending row.
with

seed as (
    select * from {{ ref('big_cities') }}
),

problems as (
    select city_label as value, 'label twice' as problem from seed group by city_label having count(*) > 1
    union all
    select city_label, 'a label the arrival marts use themselves' from seed
    where city_label in ('all', 'abroad', 'other_municipality', 'same_municipality')
    union all
    select city_label, 'area_type is neither region nor municipality' from seed
    where area_type is null or area_type not in ('region', 'municipality')
    union all
    select city_label, 'no region of seed regions' from seed
    where area_type = 'region' and area_code not in (select region_nis from {{ ref('regions') }})
    union all
    select city_label, 'no municipality of the target vintage' from seed
    where area_type = 'municipality' and area_code not in (select nis_code from {{ ref('dim_municipality') }})
    union all
    select nis_code, 'a municipality in two big cities' from {{ ref('int_big_city_municipalities') }}
    group by nis_code having count(*) > 1
)

select * from problems
