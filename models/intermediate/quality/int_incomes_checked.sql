-- Every raw incomes row with the first quarantine rule it breaks (NULL = clean) and a readable reason.
-- Rules apply in the design's order; a duplicate is a second row of a (person, year) among the rows that
-- passed the value rules, so a bad first copy never hides a good second one.
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

value_checked as not materialized (
    select
        *,
        case
            when disposable_income < 0 then 'income_negative'
            when disposable_income_unparsed is not null
                or isnan(disposable_income) or isinf(disposable_income)
                or disposable_income > {{ var('income_max_eur') }}
                or income_year is null
                or income_year not between 1990 and 2100 then 'income_absurd'
        end as value_rule,
        case
            when disposable_income < 0
                then 'disposable_income ' || cast(disposable_income as varchar) || ' is negative'
            when disposable_income_unparsed is not null
                then 'disposable_income ''' || disposable_income_unparsed || ''' is not a number'
            when isnan(disposable_income) or isinf(disposable_income)
                or disposable_income > {{ var('income_max_eur') }}
                then 'disposable_income ' || cast(disposable_income as varchar) || ' is above '
                    || cast({{ var('income_max_eur') }} as varchar)
            when income_year is null or income_year not between 1990 and 2100
                then 'income_year ''' || coalesce(income_year_unparsed, '') || ''' is not a year in 1990..2100'
        end as value_reason
    from incomes
),

-- duplicates: first the keys seen twice, by a 64-bit hash (one cheap aggregation over every row), then the
-- exact keys among those few suspects, ranked in file order
duplicate_hashes as (
    select hash(person_id, income_year) as key_hash
    from value_checked
    where value_rule is null
    group by key_hash
    having count(*) > 1
),

duplicates as (
    select source_row, true as is_duplicate
    from (
        select
            source_row,
            row_number() over (partition by person_id, income_year order by source_row) as key_rank
        from value_checked
        where value_rule is null
            and hash(person_id, income_year) in (select key_hash from duplicate_hashes)
    )
    where key_rank > 1
),

ranked as (
    select
        value_checked.*,
        coalesce(duplicates.is_duplicate, false) as is_duplicate
    from value_checked
    left join duplicates using (source_row)
),

checked as (
    select
        ranked.source_row,
        ranked.person_id,
        ranked.income_year,
        ranked.income_year_unparsed,
        ranked.disposable_income,
        -- the household fields stay in stg_register__incomes: no mart uses them, and carrying five more
        -- columns of 17 million rows through this table cost a third of its build time
        persons.birth_date,
        case
            when ranked.value_rule is not null then ranked.value_rule
            when ranked.is_duplicate then 'income_duplicate'
            when persons.person_id is null then 'income_person_unknown'
        end as rule,
        case
            when ranked.value_rule is not null then ranked.value_reason
            when ranked.is_duplicate
                then 'person ''' || ranked.person_id || ''' already has an income row for '
                    || cast(ranked.income_year as varchar)
            when persons.person_id is null
                then 'person_id ''' || coalesce(ranked.person_id, '') || ''' is not in persons'
        end as reason
    from ranked
    left join persons using (person_id)
)

select * from checked
