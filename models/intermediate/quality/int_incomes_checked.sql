-- Every raw incomes row with the first quarantine rule it breaks (NULL = clean) and a readable reason.
-- The value checks are the raw data contract's (macro contract_breaks), the person look-up is this model's;
-- rules apply in the order of seeds/quarantine_rules.csv. A duplicate is a row whose (person, year) is on an
-- earlier row of the file: the first row stays.
with

incomes as (
    select * from {{ ref('stg_register__incomes') }}
),

-- every person id of the raw persons file (int_persons_checked keeps every row, so the raw file is not read
-- again) with the birth date of its clean row, if any, carried on for the age band of int_incomes_imputed
-- (one join of the incomes with the persons rather than two). A person id has at most one clean row (later
-- copies are duplicates), so max() only picks that row's date.
persons as (
    select person_id, max(birth_date) filter (where rule is null) as birth_date
    from {{ ref('int_persons_checked') }}
    where person_id is not null
    group by person_id
),

-- duplicates: first the keys seen twice, by a 64-bit hash (one cheap aggregation over every row), then the
-- exact keys among those few suspects, ranked in file order
duplicate_hashes as (
    select hash(person_id, income_year) as key_hash
    from incomes
    group by key_hash
    having count(*) > 1
),

duplicates as (
    select source_row, true as is_duplicate
    from (
        select
            source_row,
            row_number() over (partition by person_id, income_year order by source_row) as key_rank
        from incomes
        where hash(person_id, income_year) in (select key_hash from duplicate_hashes)
    )
    where key_rank > 1
),

ranked as (
    select
        incomes.*,
        coalesce(duplicates.is_duplicate, false) as is_duplicate
    from incomes
    left join duplicates using (source_row)
),

checked as (
    select
        ranked.source_row,
        ranked.person_id,
        ranked.income_year,
        ranked.disposable_income,
        -- the household fields set the income position of the income-position study
        -- (int_household_positions)
        ranked.household_id,
        ranked.household_type,
        ranked.household_equivalised_income,
        ranked.is_student,
        ranked.is_institutional_household,
        persons.birth_date,
        case
            when ranked.is_duplicate then 'income_duplicate'
            when {{ contract_breaks('incomes', 'income_negative') }} then 'income_negative'
            when {{ contract_breaks('incomes', 'income_absurd') }} then 'income_absurd'
            when {{ contract_breaks('incomes', 'household_value_invalid') }} then 'household_value_invalid'
            when persons.person_id is null then 'income_person_unknown'
        end as rule,
        case
            when ranked.is_duplicate
                then 'person ''' || ranked.person_id || ''' already has an income row for '
                    || cast(ranked.income_year as varchar) || ' on an earlier row'
            when {{ contract_breaks('incomes', 'income_negative') }}
                then {{ contract_reason('incomes', 'income_negative') }}
            when {{ contract_breaks('incomes', 'income_absurd') }}
                then {{ contract_reason('incomes', 'income_absurd') }}
            when {{ contract_breaks('incomes', 'household_value_invalid') }}
                then {{ contract_reason('incomes', 'household_value_invalid') }}
            when persons.person_id is null
                then 'person_id ''' || coalesce(ranked.person_id, '') || ''' is not in persons'
        end as reason
    from ranked
    left join persons using (person_id)
)

select * from checked
