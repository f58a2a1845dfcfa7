-- Every raw persons row with the first quarantine rule it breaks (NULL = clean) and a readable reason.
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

flagged as (
    select
        *,
        person_id is null or trim(person_id) = '' as is_id_missing,
        sex is null or sex not in ('M', 'F') as is_sex_invalid,
        birth_date_unparsed is not null as is_birth_unreadable,
        birth_date > date '{{ var("data_end_date") }}' as is_birth_future,
        birth_date < date '{{ var("birth_date_min") }}' as is_birth_too_early,
        {% for column in ['country_of_birth', 'nationality_at_birth', 'current_nationality'] -%}
        ({{ column }} is not null and not regexp_full_match({{ column }}, '[A-Z]{2}')) as is_{{ column }}_invalid{{ ',' if not loop.last }}
        {% endfor %}
    from ranked
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
            when is_duplicate and not is_id_missing then 'person_duplicate'
            when is_id_missing or is_sex_invalid or is_birth_unreadable or coalesce(is_birth_future, false)
                or coalesce(is_birth_too_early, false)
                or is_country_of_birth_invalid or is_nationality_at_birth_invalid
                or is_current_nationality_invalid then 'person_value_invalid'
        end as rule,
        case
            when is_duplicate and not is_id_missing
                then 'person_id ''' || person_id || ''' already on an earlier row'
            when is_id_missing then 'person_id is empty'
            when is_sex_invalid then 'sex ''' || coalesce(sex, '') || ''' is not M or F'
            when is_birth_unreadable then 'birth_date ''' || birth_date_unparsed || ''' is not a date'
            when coalesce(is_birth_future, false)
                then 'birth_date ' || cast(birth_date as varchar) || ' lies after the data period'
            when coalesce(is_birth_too_early, false)
                then 'birth_date ' || cast(birth_date as varchar) || ' lies before {{ var("birth_date_min") }}'
            when is_country_of_birth_invalid
                then 'country_of_birth ''' || country_of_birth || ''' is not an ISO alpha-2 code'
            when is_nationality_at_birth_invalid
                then 'nationality_at_birth ''' || nationality_at_birth || ''' is not an ISO alpha-2 code'
            when is_current_nationality_invalid
                then 'current_nationality ''' || current_nationality || ''' is not an ISO alpha-2 code'
        end as reason
    from flagged
)

select * from checked
