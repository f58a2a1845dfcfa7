-- The levels of the areas of the arrival marts: the municipalities always, and the statistical sectors when
-- var arrival_area_level is `sector`, or `auto` and the extract has sectors. A build asked for sectors of an
-- extract without them stops here, saying so.
{%- set level = var('arrival_area_level') %}

with

available as (
    select exists (select 1 from {{ ref('int_sectors_vintage') }}) as has_sectors
),

guard as (
    select
        case
            when {{ sql_value(level) }} = 'sector' and not has_sectors
                then error('dbt var arrival_area_level is sector, but the extract has no statistical sectors (table '
                    || 'sectors, with at least one clean sector valid on 1 January ' || {{ sql_string(var('target_vintage')) }}
                    || '): add sectors.parquet or sectors.csv to the extract, or set arrival_area_level to auto or municipality')
            else true
        end as ok,
        has_sectors
    from available
),

levels as (
    select 'municipality' as area_level, 1 as level_order
    union all
    select 'sector', 2
    from guard
    where has_sectors and {{ sql_value(level) }} in ('sector', 'auto')
)

select levels.*
from levels
cross join guard
where guard.ok
