-- Every area of the arrival marts: each municipality of the target vintage (area_code = its NIS code) and,
-- at sector level, each sector of the vintage with the unknown sector of every municipality.
with

levels as (
    select area_level from {{ ref('int_arrival_area_levels') }}
),

municipalities as (
    select 'municipality' as area_level, nis_code as area_code, nis_code
    from {{ ref('int_municipalities_vintage') }}
),

sectors as (
    select 'sector' as area_level, sector_code as area_code, nis_code
    from {{ ref('int_sectors_vintage') }}
),

areas as (
    select * from municipalities
    union all
    select * from sectors
)

select areas.*
from areas
inner join levels using (area_level)
