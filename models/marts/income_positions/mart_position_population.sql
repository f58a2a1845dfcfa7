-- Population on 1 January per area (every level of dim_area), study year and income position: the
-- denominators of the income-position study. `population` is the residents in the position (optional raw
-- table population_positions, the rows of the build's classification, summed onto the vintage and the areas;
-- position `all` is the sum of the positions, the classified residents); `population_total` is every resident
-- (dim_municipality_year). A municipality-year without any row of the classification has NULL populations,
-- and so has every area that holds it: a sum with a part missing would be wrong.
{%- set classification = var('income_position_classification') %}

with

years as (
    select year_from as year from {{ ref('int_position_spans') }} where n_years = 1
),

positions as (
    select position, position_order from {{ ref('dim_income_position') }}
),

membership as (
    select nis_code, area_level, area_code from {{ ref('int_area_membership') }}
),

counts as (
    select nis_code, year, position, population
    from {{ ref('int_population_positions_vintage') }}
    where classification = {{ sql_string(classification) }}
),

-- the municipality-years of which the extract gives the classification's positions
covered as (
    select distinct nis_code, year from counts
),

municipality_positions as (
    select
        municipalities.nis_code,
        years.year,
        positions.position,
        case when covered.nis_code is not null then coalesce(counts.population, 0) end as population
    from (select distinct nis_code from membership) as municipalities
    cross join years
    cross join positions
    left join covered
        on covered.nis_code = municipalities.nis_code
        and covered.year = years.year
    left join counts
        on counts.nis_code = municipalities.nis_code
        and counts.year = years.year
        and counts.position = positions.position
),

with_all as (
    select nis_code, year, position, population from municipality_positions
    union all
    select
        nis_code,
        year,
        'all' as position,
        case when count(population) = count(*) then sum(population) end as population
    from municipality_positions
    group by nis_code, year
),

totals as (
    select nis_code, year, population as population_total from {{ ref('dim_municipality_year') }}
),

by_area as (
    select
        membership.area_level,
        membership.area_code,
        with_all.year,
        with_all.position,
        case when count(with_all.population) = count(*) then sum(with_all.population) end as population,
        case when count(totals.population_total) = count(*) then sum(totals.population_total) end as population_total
    from with_all
    inner join membership using (nis_code)
    left join totals using (nis_code, year)
    group by all
),

final as (
    select
        cast(by_area.area_level as varchar) as area_level,
        cast(by_area.area_code as varchar) as area_code,
        cast(by_area.year as integer) as year,
        cast(by_area.position as varchar) as position,
        cast(coalesce(positions.position_order, 0) as integer) as position_order,
        cast(by_area.population as bigint) as population,
        cast(by_area.population_total as bigint) as population_total
    from by_area
    left join positions using (position)
)

select * from final
