-- Inter-municipal moves per move year, ordered pair of municipalities (of the target vintage) and income
-- position (the classified moves of int_moves_income_positions; non-zero pairs only): what the balance and OD
-- marts of the income-position study aggregate to their areas.
with

moves as (
    select move_year, origin_nis, destination_nis, position
    from {{ ref('int_moves_income_positions') }}
    where position is not null
),

final as (
    select
        cast(move_year as integer) as move_year,
        origin_nis,
        destination_nis,
        position,
        count(*) as n_moves
    from moves
    group by all
)

select * from final
