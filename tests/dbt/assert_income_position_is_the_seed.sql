-- dim_income_position is exactly the seed of the build's classification (var income_position_classification):
-- seed income_positions for social_minimum, seed income_groups for income_group, with their orders. Fails on
-- every position that only one side has or whose order differs.
{%- if var('income_position_classification') == 'income_group' %}
{%- set seed_sql = "select income_group as position, group_order as position_order from " ~ ref('income_groups') %}
{%- else %}
{%- set seed_sql = "select position, position_order from " ~ ref('income_positions') %}
{%- endif %}
with

seeded as (
    {{ seed_sql }}
),

dim as (
    select position, position_order from {{ ref('dim_income_position') }}
)

select
    coalesce(seeded.position, dim.position) as position,
    seeded.position_order as seed_order,
    dim.position_order as dim_order
from seeded
full outer join dim using (position)
where seeded.position_order is distinct from dim.position_order
