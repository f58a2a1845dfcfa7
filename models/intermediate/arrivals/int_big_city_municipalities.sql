-- The municipalities of the target vintage that lie in each big city of seed big_cities: the municipalities
-- of its region (area_type region, e.g. the 19 of the Brussels-Capital Region) or the municipality itself
-- (area_type municipality). A municipality in two big cities is refused by the singular test
-- assert_big_cities_are_well_formed.
with

cities as (
    select * from {{ ref('big_cities') }}
),

municipalities as (
    select nis_code, region_nis from {{ ref('int_municipalities_vintage') }}
)

select
    municipalities.nis_code,
    cities.city_label,
    cities.city_order,
    cities.is_inflow_source
from cities
inner join municipalities
    on (cities.area_type = 'region' and municipalities.region_nis = cities.area_code)
    or (cities.area_type = 'municipality' and municipalities.nis_code = cities.area_code)
