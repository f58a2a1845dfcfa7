-- dim_area is a hierarchy over the municipalities: its municipalities are exactly those of dim_municipality;
-- one whole territory; every other area's parent is an area of the next level up, of the same area type (but
-- the territory); and every area holds as many municipalities as its children together. So every municipality
-- is in exactly one named area and one area type. Fails on every problem found.
with

areas as (
    select * from {{ ref('dim_area') }}
),

expected_parent as (
    select * from (values ('municipality', 'area'), ('area', 'area_type'), ('area_type', 'territory')) as t (child_level, parent_level)
),

problems as (
    select 'municipality ' || coalesce(m.nis_code, a.area_code) || ' is '
        || case when m.nis_code is null then 'not in dim_municipality' else 'not in dim_area' end as problem
    from (select nis_code from {{ ref('dim_municipality') }}) as m
    full outer join (select area_code from areas where area_level = 'municipality') as a on a.area_code = m.nis_code
    where m.nis_code is null or a.area_code is null
    union all
    select cast(count(*) as varchar) || ' whole territories' from areas where area_level = 'territory' having count(*) <> 1
    union all
    select 'area ' || child.area_level || ' ' || child.area_code || ' has parent ' || coalesce(child.parent_level, '?')
        || ' ' || coalesce(child.parent_code, '?') || ', which is not an area of the next level of the same area type'
    from areas as child
    inner join expected_parent on expected_parent.child_level = child.area_level
    left join areas as parent
        on parent.area_level = child.parent_level
        and parent.area_code = child.parent_code
    where parent.area_code is null
        or child.parent_level is distinct from expected_parent.parent_level
        or (parent.area_level <> 'territory' and parent.area_type is distinct from child.area_type)
    union all
    select 'area ' || parent.area_level || ' ' || parent.area_code || ' holds ' || cast(parent.n_municipalities as varchar)
        || ' municipalities, its children ' || cast(coalesce(sum(child.n_municipalities), 0) as varchar)
    from areas as parent
    left join areas as child
        on child.parent_level = parent.area_level
        and child.parent_code = parent.area_code
    where parent.area_level <> 'municipality'
    group by parent.area_level, parent.area_code, parent.n_municipalities
    having parent.n_municipalities <> coalesce(sum(child.n_municipalities), 0)
)

select * from problems
