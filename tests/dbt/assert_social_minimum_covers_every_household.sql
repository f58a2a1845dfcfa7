-- Seed social_minimum has an amount for every household the social_minimum classification must place: every
-- clean household-year that is not institutional, whose main earner is no student (when seed income_positions
-- has a student position) and whose equivalised income, household type and main earner's age are known.
-- Fails on every (year, household type, age) that has no amount, with how many households lack it; an edited
-- seed that leaves a gap (or a new year of data) is named here rather than silently excluded.
{%- if var('income_position_classification') == 'social_minimum' %}
select income_year, household_type, main_earner_age, count(*) as n_households
from {{ ref('int_household_positions') }}
where is_main_earner and position is null and exclusion is null
group by all
{%- else %}
-- (the build classifies by income group: the social minimum is not used)
select 1 as unused where false
{%- endif %}
