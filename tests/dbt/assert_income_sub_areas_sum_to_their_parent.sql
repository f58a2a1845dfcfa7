-- Sub-areas sum to their parent (dim_area: municipalities to named areas, named areas to area types, area
-- types to the whole territory). In mart_migration_balance the children's nets add up to the parent's net, and
-- the children's movers in minus the parent's equal the children's movers out minus the parent's (both are the
-- moves between children inside the parent), never below 0; in mart_position_population the children's
-- residents add up to the parent's, of each position and in total. Fails on every parent, span or year and
-- position that does not add up.
with

areas as (
    select area_level, area_code, parent_level, parent_code from {{ ref('dim_area') }} where parent_level is not null
),

balance_children as (
    select
        areas.parent_level as area_level, areas.parent_code as area_code, b.year_from, b.year_to, b.position,
        sum(b.movers_in) as child_in, sum(b.movers_out) as child_out, sum(b.net_movers) as child_net
    from {{ ref('mart_migration_balance') }} as b
    inner join areas using (area_level, area_code)
    group by all
),

balance_problems as (
    select
        'balance' as mart, p.area_level, p.area_code,
        cast(p.year_from as varchar) || '-' || cast(p.year_to as varchar) as span, p.position,
        p.net_movers as parent_value, c.child_net as children_value,
        (c.child_in - p.movers_in) as internal_by_in, (c.child_out - p.movers_out) as internal_by_out
    from {{ ref('mart_migration_balance') }} as p
    inner join balance_children as c using (area_level, area_code, year_from, year_to, position)
    where p.net_movers <> c.child_net
        or c.child_in - p.movers_in <> c.child_out - p.movers_out
        or c.child_in < p.movers_in
),

population_children as (
    select
        areas.parent_level as area_level, areas.parent_code as area_code, pp.year, pp.position,
        case when count(pp.population) = count(*) then sum(pp.population) end as child_population,
        case when count(pp.population_total) = count(*) then sum(pp.population_total) end as child_total
    from {{ ref('mart_position_population') }} as pp
    inner join areas using (area_level, area_code)
    group by all
),

population_problems as (
    select
        'population', p.area_level, p.area_code, cast(p.year as varchar), p.position,
        p.population, c.child_population, p.population_total, c.child_total
    from {{ ref('mart_position_population') }} as p
    inner join population_children as c using (area_level, area_code, year, position)
    where p.population is distinct from c.child_population or p.population_total is distinct from c.child_total
)

select * from balance_problems
union all
select * from population_problems
