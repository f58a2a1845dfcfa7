-- Every raw persons row with the first quarantine rule it breaks (NULL = clean) and a readable reason.
-- The value checks are the raw data contract's (macro contract_breaks); a birth date after the data period is
-- this model's. A duplicate is a row whose person_id is on an earlier row of the file: the first row stays.
{%- set end_date = "cast(" ~ sql_string(var('data_end_date')) ~ " as date)" %}

with

persons as not materialized (
    select * from {{ ref('stg_register__persons') }}
),

-- duplicates: the ids seen twice (one aggregation), then those few ranked in file order
duplicate_ids as (
    select person_id from persons where person_id is not null group by person_id having count(*) > 1
),

duplicates as (
    select source_row, true as is_duplicate
    from (
        select source_row, row_number() over (partition by person_id order by source_row) as person_rank
        from persons
        where person_id in (select person_id from duplicate_ids)
    )
    where person_rank > 1
),

ranked as (
    select
        persons.*,
        coalesce(duplicates.is_duplicate, false) as is_duplicate
    from persons
    left join duplicates using (source_row)
),

checked as (
    select
        source_row,
        person_id,
        sex,
        birth_date,
        country_of_birth,
        nationality_at_birth,
        current_nationality,
        case
            when is_duplicate then 'person_duplicate'
            when {{ contract_breaks('persons', 'person_value_invalid') }}
                or coalesce(birth_date > {{ end_date }}, false) then 'person_value_invalid'
        end as rule,
        case
            when is_duplicate then 'person_id ''' || person_id || ''' already on an earlier row'
            when {{ contract_breaks('persons', 'person_value_invalid') }}
                then {{ contract_reason('persons', 'person_value_invalid') }}
            when coalesce(birth_date > {{ end_date }}, false)
                then 'birth_date ' || cast(birth_date as varchar) || ' lies after the data period'
        end as reason
    from ranked
)

select * from checked
