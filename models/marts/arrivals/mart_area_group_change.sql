-- The change of each group's share of the residents of an area between 1 January of two years (vars
-- arrival_compare_from_year and arrival_compare_to_year), in percentage points. Both years must be years of
-- population_by_origin: a build that compares a year the stock lacks stops, naming it.
{%- set from_year = var('arrival_compare_from_year') %}
{%- set to_year = var('arrival_compare_to_year') %}

with

shares as (
    select * from {{ ref('mart_area_population_groups') }}
),

stock_years as (
    select distinct year from shares
),

guard as (
    select
        case
            when (select count(*) from stock_years) > 0
                and ({{ sql_value(from_year) }} not in (select year from stock_years)
                    or {{ sql_value(to_year) }} not in (select year from stock_years))
                then error('dbt vars arrival_compare_from_year and arrival_compare_to_year ('
                    || {{ sql_string(from_year ~ ', ' ~ to_year) }} || ') must be years of population_by_origin, which has '
                    || (select string_agg(cast(year as varchar), ', ' order by year) from stock_years))
            when {{ sql_value(from_year) }} >= {{ sql_value(to_year) }}
                then error('dbt var arrival_compare_from_year (' || {{ sql_string(from_year) }}
                    || ') must come before arrival_compare_to_year (' || {{ sql_string(to_year) }} || ')')
            else true
        end as ok
),

paired as (
    select
        first.area_level,
        first.area_code,
        first.nis_code,
        first.classification,
        first.group_label,
        first.group_order,
        first.is_foreign_group,
        first.share as share_from,
        second.share as share_to
    from shares as first
    inner join shares as second
        on second.area_level = first.area_level
        and second.area_code = first.area_code
        and second.classification = first.classification
        and second.group_label = first.group_label
        and second.year = {{ sql_value(to_year) }}
    where first.year = {{ sql_value(from_year) }}
),

final as (
    select
        cast(area_level as varchar) as area_level,
        cast(area_code as varchar) as area_code,
        cast(nis_code as varchar) as nis_code,
        cast(classification as varchar) as classification,
        cast(group_label as varchar) as group_label,
        cast(group_order as integer) as group_order,
        cast(is_foreign_group as boolean) as is_foreign_group,
        cast({{ sql_value(from_year) }} as integer) as from_year,
        cast({{ sql_value(to_year) }} as integer) as to_year,
        cast(share_from as double) as share_from,
        cast(share_to as double) as share_to,
        cast(100.0 * (share_to - share_from) as double) as change_pp
    from paired
    cross join guard
    where guard.ok
)

select * from final
