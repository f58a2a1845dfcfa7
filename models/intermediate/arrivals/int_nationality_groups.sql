-- The groups of each classification of seed nationality_groups, in order: `home` (var home_country) first,
-- the seed's groups by group_order, then `other` (a foreign country no group of the classification lists)
-- and `unknown` (no origin). They partition the residents of an area, so their shares sum to 1.
with

seed_groups as (
    select classification, group_label, min(group_order) as group_order
    from {{ ref('nationality_groups') }}
    group by all
),

bounds as (
    select classification, max(group_order) as last_order from seed_groups group by classification
),

groups as (
    select classification, 'home' as group_label, 0 as group_order, false as is_foreign_group from bounds
    union all
    select classification, group_label, group_order, true from seed_groups
    union all
    select classification, 'other', last_order + 1, true from bounds
    union all
    select classification, 'unknown', last_order + 2, false from bounds
)

select
    classification,
    group_label,
    cast(row_number() over (partition by classification order by group_order, group_label) as integer) as group_order,
    is_foreign_group
from groups
