-- Every raw moves row with the first quarantine rule it breaks (NULL = clean), a readable reason, and both
-- NIS codes harmonised to the target vintage. A code used after its end date whose successor is
-- unambiguous is mapped and flagged (code_remapped) instead of quarantined.
{%- set x_range = var('lambert72_x_range') %}
{%- set y_range = var('lambert72_y_range') %}
{%- set coordinates = [('origin_x', x_range), ('origin_y', y_range), ('destination_x', x_range), ('destination_y', y_range)] %}

with

-- read once per use rather than materialised: each use needs only a few columns
moves as not materialized (
    select * from {{ ref('stg_register__moves') }}
),

municipalities as (
    select nis_code, valid_from, valid_to from {{ ref('stg_register__municipalities') }}
),

vintage_map as (
    select nis_code, vintage_nis from {{ ref('int_nis_code_vintage_map') }}
),

-- every person id of the raw persons file (int_persons_checked keeps every row, so the raw file is not read
-- again) with the birth date of its clean row, if any: one join instead of two. A person id has at most one
-- clean row (later copies are duplicates), so max() only picks that row's date.
persons as (
    select person_id, max(birth_date) filter (where rule is null) as birth_date
    from {{ ref('int_persons_checked') }}
    where person_id is not null
    group by person_id
),

-- duplicates: first the rows whose 64-bit hash is seen twice (one cheap aggregation over every row), then the
-- exact values among those few suspects, ranked in file order (the first row stays)
exact_hashes as (
    select hash(
        person_id, move_date, move_date_unparsed, move_type, origin_nis, destination_nis, origin_country,
        destination_country, origin_x, origin_y, destination_x, destination_y, origin_x_unparsed,
        origin_y_unparsed, destination_x_unparsed, destination_y_unparsed
    ) as row_hash
    from moves
    group by row_hash
    having count(*) > 1
),

exact_duplicates as (
    select source_row, true as is_exact_duplicate
    from (
        select
            source_row,
            row_number() over (partition by
                person_id, move_date, move_date_unparsed, move_type, origin_nis, destination_nis, origin_country,
                destination_country, origin_x, origin_y, destination_x, destination_y, origin_x_unparsed,
                origin_y_unparsed, destination_x_unparsed, destination_y_unparsed
                order by source_row) as exact_rank
        from moves
        where hash(
            person_id, move_date, move_date_unparsed, move_type, origin_nis, destination_nis, origin_country,
            destination_country, origin_x, origin_y, destination_x, destination_y, origin_x_unparsed,
            origin_y_unparsed, destination_x_unparsed, destination_y_unparsed
        ) in (select row_hash from exact_hashes)
    )
    where exact_rank > 1
),

-- near duplicates: same person, date, type and codes as an earlier row that is not an exact duplicate
near_hashes as (
    select hash(person_id, move_date, move_type, origin_nis, destination_nis) as row_hash
    from moves
    where source_row not in (select source_row from exact_duplicates)
    group by row_hash
    having count(*) > 1
),

near_duplicates as (
    select source_row, true as is_near_duplicate
    from (
        select
            source_row,
            row_number() over (partition by person_id, move_date, move_type, origin_nis, destination_nis order by source_row) as near_rank
        from moves
        where hash(person_id, move_date, move_type, origin_nis, destination_nis) in (select row_hash from near_hashes)
            and source_row not in (select source_row from exact_duplicates)
    )
    where near_rank > 1
),

with_duplicates as (
    select
        moves.*,
        coalesce(exact_duplicates.is_exact_duplicate, false) as is_exact_duplicate,
        coalesce(near_duplicates.is_near_duplicate, false) as is_near_duplicate
    from moves
    left join exact_duplicates using (source_row)
    left join near_duplicates using (source_row)
),

sides as (
    select
        with_duplicates.*,
        -- origin
        -- known codes are well formed (municipalities are checked), so only unknown ones need the pattern
        with_duplicates.origin_nis is not null and origin_code.nis_code is null
            and not regexp_full_match(with_duplicates.origin_nis, '[0-9]{5}') as origin_malformed,
        origin_code.nis_code is not null as origin_known,
        origin_code.valid_from as origin_valid_from,
        origin_code.valid_to as origin_valid_to,
        origin_map.vintage_nis as origin_vintage_nis,
        -- destination
        with_duplicates.destination_nis is not null and destination_code.nis_code is null
            and not regexp_full_match(with_duplicates.destination_nis, '[0-9]{5}') as destination_malformed,
        destination_code.nis_code is not null as destination_known,
        destination_code.valid_from as destination_valid_from,
        destination_code.valid_to as destination_valid_to,
        destination_map.vintage_nis as destination_vintage_nis,
        -- person
        persons.person_id is not null as person_known,
        persons.birth_date
    from with_duplicates
    left join municipalities as origin_code on origin_code.nis_code = with_duplicates.origin_nis
    left join vintage_map as origin_map on origin_map.nis_code = with_duplicates.origin_nis
    left join municipalities as destination_code on destination_code.nis_code = with_duplicates.destination_nis
    left join vintage_map as destination_map on destination_map.nis_code = with_duplicates.destination_nis
    left join persons on persons.person_id = with_duplicates.person_id
),

flagged as (
    select
        *,
        {%- for side in ['origin', 'destination'] %}
        -- {{ side }}: before its start, or after its end without an unambiguous successor, or not mappable
        coalesce(
            {{ side }}_known and (
                move_date < {{ side }}_valid_from
                or (move_date > {{ side }}_valid_to and {{ side }}_vintage_nis is null)
                or {{ side }}_vintage_nis is null
            ),
            false
        ) as {{ side }}_invalid_on_date,
        coalesce({{ side }}_known and move_date > {{ side }}_valid_to and {{ side }}_vintage_nis is not null, false)
            as {{ side }}_remapped,
        {%- endfor %}
        case
            when move_type = 'internal' then origin_nis is null or destination_nis is null
            when move_type = 'immigration' then origin_nis is not null or destination_nis is null
            when move_type = 'emigration' then origin_nis is null or destination_nis is not null
            else true
        end as type_inconsistent,
        {%- for column, bounds in coordinates %}
        ({{ column }}_unparsed is not null or coalesce(isnan({{ column }})
            or {{ column }} not between {{ bounds[0] }} and {{ bounds[1] }}, false)) as {{ column }}_outside{{ ',' if not loop.last }}
        {%- endfor %}
    from sides
),

checked as (
    select
        source_row,
        move_id,
        coalesce(cast(move_id as varchar), move_id_unparsed) as move_key,
        person_id,
        move_date,
        move_type,
        origin_nis,
        destination_nis,
        origin_country,
        destination_country,
        origin_x,
        origin_y,
        destination_x,
        destination_y,
        origin_vintage_nis,
        destination_vintage_nis,
        origin_remapped or destination_remapped as code_remapped,
        case
            when is_exact_duplicate then 'move_duplicate_exact'
            when is_near_duplicate then 'move_duplicate_near'
            when move_date is null and move_date_unparsed is null then 'move_date_missing'
            when move_date is null
                or move_date not between date '{{ var("data_start_date") }}' and date '{{ var("data_end_date") }}'
                then 'move_date_invalid'
            when origin_malformed or destination_malformed then 'nis_malformed'
            when (origin_nis is not null and not origin_known)
                or (destination_nis is not null and not destination_known) then 'nis_unknown'
            when origin_invalid_on_date or destination_invalid_on_date then 'nis_not_valid_on_date'
            when type_inconsistent then 'move_type_inconsistent'
            when not person_known then 'person_unknown'
            when birth_date > move_date then 'birth_after_move'
            when origin_x_outside or origin_y_outside or destination_x_outside or destination_y_outside
                then 'coordinates_outside_belgium'
        end as rule,
        case
            when is_exact_duplicate then 'same values as an earlier row (all columns but move_id)'
            when is_near_duplicate
                then 'same person, date, move type and codes as an earlier row; other values differ'
            when move_date is null and move_date_unparsed is null then 'move_date is empty'
            when move_date is null then 'move_date ''' || move_date_unparsed || ''' is not a date'
            when move_date not between date '{{ var("data_start_date") }}' and date '{{ var("data_end_date") }}'
                then 'move_date ' || cast(move_date as varchar) || ' lies outside the data period '
                    || '{{ var("data_start_date") }}..{{ var("data_end_date") }}'
            when origin_malformed then 'origin_nis ''' || origin_nis || ''' is not a 5-digit NIS code'
            when destination_malformed
                then 'destination_nis ''' || destination_nis || ''' is not a 5-digit NIS code'
            when origin_nis is not null and not origin_known
                then 'origin_nis ' || origin_nis || ' is not in municipalities'
            when destination_nis is not null and not destination_known
                then 'destination_nis ' || destination_nis || ' is not in municipalities'
            {%- for side in ['origin', 'destination'] %}
            when {{ side }}_invalid_on_date
                then '{{ side }}_nis ' || {{ side }}_nis || ' is valid '
                    || cast({{ side }}_valid_from as varchar) || '..' || coalesce(cast({{ side }}_valid_to as varchar), '')
                    || ', not on ' || cast(move_date as varchar)
                    || case when {{ side }}_vintage_nis is null
                        then ', and maps to no single municipality of vintage {{ var("target_vintage") }}' else '' end
            {%- endfor %}
            when type_inconsistent
                then 'move_type ''' || coalesce(move_type, '') || ''' with origin_nis '
                    || coalesce(origin_nis, 'empty') || ' and destination_nis ' || coalesce(destination_nis, 'empty')
            when not person_known then 'person_id ''' || coalesce(person_id, '') || ''' is not in persons'
            when birth_date > move_date
                then 'birth_date ' || cast(birth_date as varchar) || ' after move_date ' || cast(move_date as varchar)
            {%- for column, bounds in coordinates %}
            when {{ column }}_outside
                then '{{ column }} ' || coalesce('''' || {{ column }}_unparsed || '''', cast({{ column }} as varchar))
                    || ' is not a number in {{ bounds[0] }}..{{ bounds[1] }}'
            {%- endfor %}
        end as reason
    from flagged
)

select * from checked
