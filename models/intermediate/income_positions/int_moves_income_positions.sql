-- Every inter-municipal move of fct_moves (the population of the income-position study) with the income
-- position of the mover, or the one reason it is excluded (seed income_position_exclusions, first that applies):
-- a move from a reception-centre address (int_moves_checked.origin_address_class); a position year (the move's
-- year, or the next with var income_position_year = next_year) after the data period, when no income is
-- known; no clean income row of the person in the position year; and the household's own reasons
-- (int_household_positions: institutional household, unknown income). Each move has exactly one of position
-- and exclusion (tests assert_income_positions_every_mover_once, assert_income_position_exclusions_reconcile).
{%- set year_offset = 1 if var('income_position_year') == 'next_year' else 0 %}
{%- set last_year = "year(cast(" ~ sql_string(var('data_end_date')) ~ " as date))" %}

with

moves as (
    select move_id, person_id, move_year, origin_nis, destination_nis
    from {{ ref('fct_moves') }}
    where is_inter_municipal
),

addresses as (
    select move_id, origin_address_class from {{ ref('int_moves_checked') }} where rule is null
),

households as (
    select person_id, income_year, position, exclusion from {{ ref('int_household_positions') }}
),

located as (
    select
        moves.move_id,
        moves.person_id,
        moves.move_year,
        cast(moves.move_year + {{ year_offset }} as integer) as position_year,
        moves.origin_nis,
        moves.destination_nis,
        addresses.origin_address_class
    from moves
    left join addresses using (move_id)
),

joined as (
    select
        located.*,
        households.person_id is not null as has_income_record,
        households.position as household_position,
        households.exclusion as household_exclusion
    from located
    left join households
        on households.person_id = located.person_id
        and households.income_year = located.position_year
),

classified as (
    select
        *,
        case
            when coalesce(origin_address_class = 'reception_centre', false) then 'reception_centre'
            when position_year > {{ last_year }} then 'position_year_outside_data'
            when not has_income_record then 'no_income_record'
            else household_exclusion
        end as exclusion
    from joined
),

final as (
    select
        move_id,
        person_id,
        move_year,
        position_year,
        origin_nis,
        destination_nis,
        origin_address_class,
        case when exclusion is null then household_position end as position,
        exclusion
    from classified
)

select * from final
