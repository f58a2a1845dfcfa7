-- The income positions of the classification the build uses (var income_position_classification): the rows
-- of seed income_positions (social_minimum) or seed income_groups (income_group), in their order. The marts of
-- the income-position study carry these positions and `all` (every classified mover or resident).
with

classes as (
    select * from {{ ref('int_position_classes') }} where is_selected
),

final as (
    select
        cast(position as varchar) as position,
        cast(position_order as integer) as position_order,
        cast(classification as varchar) as classification,
        cast(min_ratio_pct as double) as min_ratio_pct,
        cast(max_ratio_pct as double) as max_ratio_pct,
        cast(is_student_position as boolean) as is_student_position,
        cast(description as varchar) as description
    from classes
)

select * from final
