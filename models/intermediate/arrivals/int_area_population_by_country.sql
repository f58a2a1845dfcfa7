-- Residents on 1 January per area of the arrival marts, year and country of origin by the build's
-- definition (var origin_definition picks the counts of population_by_origin). Municipalities take the
-- extract's municipality rows; a municipality and year without such rows takes the sum of its sectors.
-- A build whose stock lacks the chosen counts on some row stops, naming the column.
{%- set counts = 'by_' ~ var('origin_definition') %}
{%- set missing = 'n_missing_' ~ var('origin_definition') %}

with

stock as (
    select
        area_level,
        area_code,
        nis_code,
        year,
        country,
        {{ adapter.quote(counts) }} as residents,
        {{ adapter.quote(missing) }} as n_missing
    from {{ ref('int_population_by_origin_vintage') }}
),

guard as (
    select
        case
            when sum(n_missing) > 0
                then error('population_by_origin has no ' || {{ sql_string(counts) }} || ' on '
                    || cast(sum(n_missing) as varchar) || ' clean rows, but dbt var origin_definition is '
                    || {{ sql_string(var('origin_definition')) }} || ': add the counts to the extract, or choose a '
                    || 'definition whose counts it has')
            else true
        end as ok
    from stock
),

municipality_rows as (
    select * from stock where area_level = 'municipality'
),

-- municipalities and years the extract gives by sector only
summed_sectors as (
    select 'municipality' as area_level, nis_code as area_code, nis_code, year, country, sum(residents) as residents,
        0 as n_missing
    from stock
    where area_level = 'sector'
        and not exists (
            select 1 from municipality_rows
            where municipality_rows.nis_code = stock.nis_code and municipality_rows.year = stock.year
        )
    group by all
),

levels as (
    select area_level from {{ ref('int_arrival_area_levels') }}
),

combined as (
    select * from municipality_rows
    union all
    select * from summed_sectors
    union all
    select * from stock where area_level = 'sector'
)

select combined.area_level, combined.area_code, combined.nis_code, combined.year, combined.country, combined.residents
from combined
inner join levels using (area_level)
cross join guard
where guard.ok
