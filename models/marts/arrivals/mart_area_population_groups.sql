-- Residents on 1 January per area (municipality, and sector at sector level), year, classification of seed
-- nationality_groups and group, by the build's origin definition: every group of every classification for
-- every area and year of the stock, zero counts included, so each area's shares sum to 1 per classification.
with

stock as (
    select * from {{ ref('int_area_population_by_country') }}
),

groups as (
    select * from {{ ref('int_nationality_groups') }}
),

classifications as (
    select distinct classification from groups
),

members as (
    select classification, country_code, group_label from {{ ref('nationality_groups') }}
),

grouped as (
    select
        stock.area_level,
        stock.area_code,
        classifications.classification,
        stock.year,
        case
            when stock.country is null then 'unknown'
            when stock.country = {{ sql_string(var('home_country')) }} then 'home'
            else coalesce(members.group_label, 'other')
        end as group_label,
        sum(stock.residents) as population_group
    from stock
    cross join classifications
    left join members
        on members.classification = classifications.classification
        and members.country_code = stock.country
    group by all
),

areas as (
    select areas.area_level, areas.area_code, areas.nis_code, years.year
    from {{ ref('int_arrival_areas') }} as areas
    inner join (select distinct area_level, year from stock) as years using (area_level)
),

dense as (
    select
        areas.area_level,
        areas.area_code,
        areas.nis_code,
        areas.year,
        groups.classification,
        groups.group_label,
        groups.group_order,
        groups.is_foreign_group,
        coalesce(grouped.population_group, 0) as population_group
    from areas
    cross join groups
    left join grouped using (area_level, area_code, classification, year, group_label)
),

final as (
    select
        cast(area_level as varchar) as area_level,
        cast(area_code as varchar) as area_code,
        cast(nis_code as varchar) as nis_code,
        cast(year as integer) as year,
        cast(classification as varchar) as classification,
        cast(group_label as varchar) as group_label,
        cast(group_order as integer) as group_order,
        cast(is_foreign_group as boolean) as is_foreign_group,
        cast(population_group as bigint) as population_group,
        cast(sum(population_group) over (partition by area_level, area_code, year, classification) as bigint)
            as population_total,
        cast(population_group / nullif(sum(population_group) over (
            partition by area_level, area_code, year, classification), 0) as double) as share
    from dense
)

select * from final
