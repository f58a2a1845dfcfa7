-- The income position of every clean income row (person and year) of the income-position study: the position of
-- the person's household in that year, or why it has none (seed income_position_exclusions).
--
-- A household is the persons of the extract with one household_id in the year (a person without one is a
-- household of their own). Its main earner is the member with the highest disposable income (ties: the lowest
-- person_id); the household's equivalised income, household type, age (reached on 31 December) and student
-- status are the main earner's. With var income_position_classification:
-- - social_minimum (the study's): an institutional household is excluded; a household whose main earner is a
--   student is in the student position of seed income_positions (when it has one) whatever its income;
--   otherwise its equivalised income as a percentage of the social minimum of the year, the household type and
--   the main earner's age class (seed social_minimum, monthly amounts per equivalent adult, times 12) falls in
--   the band min_ratio_pct <= % < max_ratio_pct of seed income_positions. Incomes and amounts are compared in
--   exact decimals (cents), so an income of exactly 101 % is in the band that starts at 101. No amount for a
--   household that needs one leaves both position and exclusion NULL, which the tests name
--   (assert_social_minimum_covers_every_household).
-- - income_group (the Belgian study's): the person's own income group of the year (fct_incomes.income_group);
--   an institutional household is excluded as above, an unknown group is unknown_income.
{%- set classification = var('income_position_classification') %}

with

incomes as (
    select
        person_id,
        income_year,
        disposable_income,
        birth_date,
        household_type,
        household_equivalised_income,
        is_student,
        is_institutional_household,
        coalesce(household_id, 'person ' || person_id) as household_key
    from {{ ref('int_incomes_checked') }}
    where rule is null
),

ranked as (
    select
        *,
        row_number() over (
            partition by income_year, household_key order by disposable_income desc nulls last, person_id
        ) as earner_rank,
        -- a collective household is an institutional one, whichever of the two fields says so
        bool_or(coalesce(is_institutional_household, false) or coalesce(household_type = 'collective', false))
            over (partition by income_year, household_key) as is_institutional
    from incomes
),

main_earners as (
    select
        income_year,
        household_key,
        person_id as main_earner_id,
        household_type,
        household_equivalised_income,
        income_year - year(birth_date) as main_earner_age,
        coalesce(is_student, false) as main_earner_is_student,
        is_institutional
    from ranked
    where earner_rank = 1
),

amounts as (
    select year, household_type, min_age, max_age, monthly_amount_eur from {{ ref('social_minimum') }}
),

classes as (
    select position, min_ratio_pct, max_ratio_pct, is_student_position
    from {{ ref('int_position_classes') }}
    where classification = 'social_minimum'
),

households as (
    select
        main_earners.*,
        amounts.monthly_amount_eur,
        100 * main_earners.household_equivalised_income / (12 * amounts.monthly_amount_eur) as ratio_pct
    from main_earners
    left join amounts
        on amounts.year = main_earners.income_year
        and amounts.household_type = main_earners.household_type
        and main_earners.main_earner_age between amounts.min_age and amounts.max_age
),

banded as (
    select
        households.*,
        bands.position as ratio_position
    from households
    left join classes as bands
        on not bands.is_student_position
        -- in cents: income x 100 against pct x 12 x monthly amount, all exact decimals
        and cast(households.household_equivalised_income as decimal(18, 2)) * 100
            >= coalesce(cast(bands.min_ratio_pct as decimal(12, 4)), 0) * 12 * cast(households.monthly_amount_eur as decimal(18, 2))
        and (bands.max_ratio_pct is null
            or cast(households.household_equivalised_income as decimal(18, 2)) * 100
                < cast(bands.max_ratio_pct as decimal(12, 4)) * 12 * cast(households.monthly_amount_eur as decimal(18, 2)))
),

social_minimum_positions as (
    select
        banded.*,
        case
            when is_institutional then null
            when main_earner_is_student and (select count(*) from classes where is_student_position) > 0
                then (select min(position) from classes where is_student_position)
            when household_equivalised_income is null or household_type is null or main_earner_age is null then null
            else ratio_position
        end as social_minimum_position,
        case
            when is_institutional then 'institutional_household'
            when main_earner_is_student and (select count(*) from classes where is_student_position) > 0 then null
            when household_equivalised_income is null or household_type is null or main_earner_age is null
                then 'unknown_income'
        end as social_minimum_exclusion
    from banded
),

groups as (
    select person_id, income_year, income_group from {{ ref('fct_incomes') }}
),

final as (
    select
        incomes.person_id,
        incomes.income_year,
        incomes.household_key,
        households.main_earner_id,
        incomes.person_id = households.main_earner_id as is_main_earner,
        households.main_earner_age,
        households.household_type,
        households.household_equivalised_income,
        households.main_earner_is_student,
        households.is_institutional,
        households.monthly_amount_eur,
        households.ratio_pct,
        groups.income_group,
        {%- if classification == 'income_group' %}
        case
            when households.is_institutional then null
            when groups.income_group is null or groups.income_group = 'unknown' then null
            else groups.income_group
        end as position,
        case
            when households.is_institutional then 'institutional_household'
            when groups.income_group is null or groups.income_group = 'unknown' then 'unknown_income'
        end as exclusion
        {%- else %}
        households.social_minimum_position as position,
        households.social_minimum_exclusion as exclusion
        {%- endif %}
    from incomes
    inner join social_minimum_positions as households using (income_year, household_key)
    left join groups using (person_id, income_year)
)

select * from final
