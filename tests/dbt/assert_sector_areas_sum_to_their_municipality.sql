-- The areas of a municipality's sectors sum to its area within 1 % (the sectors of one vintage tile it).
-- Warn only: an extract's sector areas may be of another survey than its municipality areas.
{{ config(severity='warn') }}

with

sectors as (
    select nis_code, sum(area_km2) as sector_area_km2
    from {{ ref('dim_sector') }}
    where not is_unknown_sector
    group by nis_code
)

select municipalities.nis_code, municipalities.area_km2, sectors.sector_area_km2
from sectors
inner join {{ ref('dim_municipality') }} as municipalities using (nis_code)
where abs(sectors.sector_area_km2 - municipalities.area_km2) > 0.01 * municipalities.area_km2
