-- When the extract has sectors, every municipality of the target vintage has its unknown sector in
-- dim_sector (where what has no sector of the vintage is counted), so its sectors can always sum to it.
with

sectors as (
    select * from {{ ref('dim_sector') }}
)

select municipalities.nis_code
from {{ ref('dim_municipality') }} as municipalities
where exists (select 1 from sectors)
    and not exists (
        select 1 from sectors
        where sectors.nis_code = municipalities.nis_code and sectors.is_unknown_sector
    )
