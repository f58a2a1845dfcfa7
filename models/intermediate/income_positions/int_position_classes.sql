-- The income positions of both classifications of the income-position study, and which one the build uses
-- (var income_position_classification): social_minimum, the positions of seed income_positions (bands of the
-- household's equivalised income as a percentage of the social minimum, and the student position); and
-- income_group, the Belgian study's income groups of seed income_groups (quantiles of the year's disposable
-- incomes, fct_incomes.income_group).
with

positions as (
    select
        'social_minimum' as classification,
        position,
        position_order,
        min_ratio_pct,
        max_ratio_pct,
        coalesce(is_student_position, false) as is_student_position,
        description
    from {{ ref('income_positions') }}
),

income_groups as (
    select
        'income_group' as classification,
        income_group as position,
        group_order as position_order,
        cast(null as double) as min_ratio_pct,
        cast(null as double) as max_ratio_pct,
        false as is_student_position,
        'disposable income from quantile ' || cast(lower_quantile as varchar) || ' to ' || cast(upper_quantile as varchar)
            || ' of the year''s incomes (seed income_groups)' as description
    from {{ ref('income_groups') }}
),

classes as (
    select * from positions
    union all
    select * from income_groups
),

final as (
    select
        cast(classification as varchar) as classification,
        cast(position as varchar) as position,
        cast(position_order as integer) as position_order,
        cast(min_ratio_pct as double) as min_ratio_pct,
        cast(max_ratio_pct as double) as max_ratio_pct,
        cast(is_student_position as boolean) as is_student_position,
        cast(description as varchar) as description,
        classification = {{ sql_string(var('income_position_classification')) }} as is_selected
    from classes
)

select * from final
