-- Each inter-municipal move of the income-position study has exactly one of a position and an exclusion
-- (int_moves_income_positions). Both NULL is a household the classification could not place (no amount of
-- seed social_minimum for its year, household type and age; assert_social_minimum_covers_every_household names
-- those); both set cannot happen by construction. Fails on each such move, with what was known of it.
select move_id, move_year, position_year, origin_address_class, position, exclusion
from {{ ref('int_moves_income_positions') }}
where (position is null) = (exclusion is null)
