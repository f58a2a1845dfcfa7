-- Every raw moves row with the first quarantine rule it breaks (NULL = clean), a readable reason, and both
-- NIS codes harmonised to the target vintage. A code used after its end date whose successor is
-- unambiguous is mapped and flagged (code_remapped) instead of quarantined.
-- The checks of single values (pattern, allowed values, range, missing or unreadable) are the raw data
-- contract's (macro contract_breaks: models/staging/register/_register__sources.yml), the rules across columns
-- and tables are this model's; the CASE below applies them in the order of seeds/quarantine_rules.csv.
-- Duplicates: of the rows that share a move_id, or all values but move_id, or person, date, type and codes,
-- the first in file order is kept (docs/raw_contract.md).
{%- set start_date = "cast(" ~ sql_string(var('data_start_date')) ~ " as date)" %}
{%- set end_date = "cast(" ~ sql_string(var('data_end_date')) ~ " as date)" %}
{%- set exact_columns = [
    'person_id', 'move_date', 'move_date_unparsed', 'move_type', 'origin_nis', 'destination_nis', 'origin_country',
    'destination_country', 'origin_x', 'origin_y', 'destination_x', 'destination_y', 'origin_x_unparsed',
    'origin_y_unparsed', 'destination_x_unparsed', 'destination_y_unparsed', 'origin_address_class', 'origin_sector',
    'destination_sector'] %}
{%- set near_columns = ['person_id', 'move_date', 'move_type', 'origin_nis', 'destination_nis'] %}

with

-- read once per use rather than materialised: each use needs only a few columns
moves as not materialized (
    select * from {{ ref('stg_register__moves') }}
),

-- the clean municipality rows: a code whose row is quarantined is unknown to the moves
municipalities as (
    select nis_code, valid_from, valid_to from {{ ref('int_municipalities_checked') }} where rule is null
),

vintage_map as (
    select nis_code, vintage_nis from {{ ref('int_nis_code_vintage_map') }}
),

-- the clean sector codes: the vintage municipality each lies in and the sector of the vintage it maps to
-- (NULL when none: such a side is counted in the unknown sector of its municipality, fct_move_sectors)
sector_map as (
    select sector_code, vintage_nis, vintage_sector from {{ ref('int_sector_code_vintage_map') }}
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

-- duplicates, each kind found the same way: first the values whose 64-bit hash is seen twice (one cheap
-- aggregation over every row), then the exact values among those few suspects, ranked in file order (the
-- first row stays)
{%- for kind, columns in [('id', ['move_id']), ('exact', exact_columns), ('near', near_columns)] %}
{{ kind }}_hashes as (
    select hash({{ columns | join(', ') }}) as row_hash
    from moves
    {%- if kind == 'near' %}
    -- near duplicates: same person, date, type and codes as an earlier row that is not an exact duplicate
    where source_row not in (select source_row from exact_duplicates)
    {%- endif %}
    group by row_hash
    having count(*) > 1
),

{{ kind }}_duplicates as (
    select source_row, true as is_{{ kind }}_duplicate
    from (
        select
            source_row,
            row_number() over (partition by {{ columns | join(', ') }} order by source_row) as key_rank
        from moves
        where hash({{ columns | join(', ') }}) in (select row_hash from {{ kind }}_hashes)
            {%- if kind == 'near' %}
            and source_row not in (select source_row from exact_duplicates)
            {%- endif %}
    )
    where key_rank > 1
),
{%- endfor %}

with_duplicates as (
    select
        moves.*,
        coalesce(id_duplicates.is_id_duplicate, false) as is_id_duplicate,
        coalesce(exact_duplicates.is_exact_duplicate, false) as is_exact_duplicate,
        coalesce(near_duplicates.is_near_duplicate, false) as is_near_duplicate
    from moves
    left join id_duplicates using (source_row)
    left join exact_duplicates using (source_row)
    left join near_duplicates using (source_row)
),

sides as (
    select
        with_duplicates.*,
        -- origin
        origin_code.nis_code is not null as origin_known,
        origin_code.valid_from as origin_valid_from,
        origin_code.valid_to as origin_valid_to,
        origin_map.vintage_nis as origin_vintage_nis,
        -- destination
        destination_code.nis_code is not null as destination_known,
        destination_code.valid_from as destination_valid_from,
        destination_code.valid_to as destination_valid_to,
        destination_map.vintage_nis as destination_vintage_nis,
        -- sectors: known, in which vintage municipality, mapped to which sector of the vintage
        origin_sector_code.sector_code is not null as origin_sector_known,
        origin_sector_code.vintage_nis as origin_sector_vintage_nis,
        origin_sector_code.vintage_sector as origin_vintage_sector,
        destination_sector_code.sector_code is not null as destination_sector_known,
        destination_sector_code.vintage_nis as destination_sector_vintage_nis,
        destination_sector_code.vintage_sector as destination_vintage_sector,
        -- person
        persons.person_id is not null as person_known,
        persons.birth_date
    from with_duplicates
    left join municipalities as origin_code on origin_code.nis_code = with_duplicates.origin_nis
    left join vintage_map as origin_map on origin_map.nis_code = with_duplicates.origin_nis
    left join municipalities as destination_code on destination_code.nis_code = with_duplicates.destination_nis
    left join vintage_map as destination_map on destination_map.nis_code = with_duplicates.destination_nis
    left join persons on persons.person_id = with_duplicates.person_id
    left join sector_map as origin_sector_code on origin_sector_code.sector_code = with_duplicates.origin_sector
    left join sector_map as destination_sector_code
        on destination_sector_code.sector_code = with_duplicates.destination_sector
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
        -- which sides are Belgian (a NIS code) and which abroad (a country) must fit the move type: an
        -- internal move has both codes and no country, an immigration an origin country and a destination
        -- code only, an emigration an origin code and a destination country only
        coalesce(case move_type
            when 'internal' then origin_nis is null or destination_nis is null
                or origin_country is not null or destination_country is not null
            when 'immigration' then origin_nis is not null or origin_country is null
                or destination_nis is null or destination_country is not null
            when 'emigration' then origin_nis is null or origin_country is not null
                or destination_nis is not null or destination_country is null
        end, false) as sides_inconsistent,
        {%- for side in ['origin', 'destination'] %}
        -- {{ side }}_sector: not a clean sector, on a side abroad, or in another municipality than the side's
        coalesce({{ side }}_sector is not null and (
            not {{ side }}_sector_known
            or {{ side }}_nis is null
            or {{ side }}_sector_vintage_nis is distinct from {{ side }}_vintage_nis
        ), false) as {{ side }}_sector_unknown{{ ',' if not loop.last }}
        {%- endfor %}
    from sides
),

checked as (
    select
        source_row,
        move_id,
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
        origin_address_class,
        origin_sector,
        destination_sector,
        origin_vintage_sector,
        destination_vintage_sector,
        origin_vintage_nis,
        destination_vintage_nis,
        origin_remapped or destination_remapped as code_remapped,
        case
            when is_id_duplicate then 'move_id_duplicate'
            when is_exact_duplicate then 'move_duplicate_exact'
            when is_near_duplicate then 'move_duplicate_near'
            when {{ contract_breaks('moves', 'move_date_missing') }} then 'move_date_missing'
            when {{ contract_breaks('moves', 'move_date_invalid') }}
                or move_date not between {{ start_date }} and {{ end_date }} then 'move_date_invalid'
            when {{ contract_breaks('moves', 'nis_malformed') }} then 'nis_malformed'
            when {{ contract_breaks('moves', 'country_malformed') }} then 'country_malformed'
            when (origin_nis is not null and not origin_known)
                or (destination_nis is not null and not destination_known) then 'nis_unknown'
            when origin_invalid_on_date or destination_invalid_on_date then 'nis_not_valid_on_date'
            when {{ contract_breaks('moves', 'move_type_inconsistent') }} or sides_inconsistent
                then 'move_type_inconsistent'
            when not person_known then 'person_unknown'
            when birth_date > move_date then 'birth_after_move'
            when {{ contract_breaks('moves', 'coordinates_outside_belgium') }} then 'coordinates_outside_belgium'
            when {{ contract_breaks('moves', 'address_class_invalid') }} then 'address_class_invalid'
            when {{ contract_breaks('moves', 'sector_malformed') }} then 'sector_malformed'
            when origin_sector_unknown or destination_sector_unknown then 'sector_unknown'
        end as rule,
        case
            when is_id_duplicate then 'move_id ' || cast(move_id as varchar) || ' is on an earlier row'
            when is_exact_duplicate then 'same values as an earlier row (all columns but move_id)'
            when is_near_duplicate
                then 'same person, date, move type and codes as an earlier row; other values differ'
            when {{ contract_breaks('moves', 'move_date_missing') }}
                then {{ contract_reason('moves', 'move_date_missing') }}
            when {{ contract_breaks('moves', 'move_date_invalid') }}
                then {{ contract_reason('moves', 'move_date_invalid') }}
            when move_date not between {{ start_date }} and {{ end_date }}
                then 'move_date ' || cast(move_date as varchar) || ' lies outside the data period '
                    || {{ sql_string(var('data_start_date') ~ '..' ~ var('data_end_date')) }}
            when {{ contract_breaks('moves', 'nis_malformed') }} then {{ contract_reason('moves', 'nis_malformed') }}
            when {{ contract_breaks('moves', 'country_malformed') }}
                then {{ contract_reason('moves', 'country_malformed') }}
            when origin_nis is not null and not origin_known
                then 'origin_nis ' || origin_nis || ' is not in municipalities (or its row there is quarantined)'
            when destination_nis is not null and not destination_known
                then 'destination_nis ' || destination_nis || ' is not in municipalities (or its row there is quarantined)'
            {%- for side in ['origin', 'destination'] %}
            when {{ side }}_invalid_on_date
                then '{{ side }}_nis ' || {{ side }}_nis || ' is valid '
                    || cast({{ side }}_valid_from as varchar) || '..' || coalesce(cast({{ side }}_valid_to as varchar), '')
                    || ', not on ' || cast(move_date as varchar)
                    || case when {{ side }}_vintage_nis is null
                        then ', and maps to no single municipality of vintage '
                            || {{ sql_string(var('target_vintage')) }} else '' end
            {%- endfor %}
            when {{ contract_breaks('moves', 'move_type_inconsistent') }}
                then {{ contract_reason('moves', 'move_type_inconsistent') }}
            when sides_inconsistent
                then 'move_type ''' || move_type || ''' with origin_nis ' || coalesce(origin_nis, 'empty')
                    || ', origin_country ' || coalesce(origin_country, 'empty')
                    || ', destination_nis ' || coalesce(destination_nis, 'empty')
                    || ', destination_country ' || coalesce(destination_country, 'empty')
            when not person_known then 'person_id ''' || coalesce(person_id, '') || ''' is not in persons'
            when birth_date > move_date
                then 'birth_date ' || cast(birth_date as varchar) || ' after move_date ' || cast(move_date as varchar)
            when {{ contract_breaks('moves', 'coordinates_outside_belgium') }}
                then {{ contract_reason('moves', 'coordinates_outside_belgium') }}
            when {{ contract_breaks('moves', 'address_class_invalid') }}
                then {{ contract_reason('moves', 'address_class_invalid') }}
            when {{ contract_breaks('moves', 'sector_malformed') }} then {{ contract_reason('moves', 'sector_malformed') }}
            {%- for side in ['origin', 'destination'] %}
            when {{ side }}_sector_unknown
                then '{{ side }}_sector ' || {{ side }}_sector || case
                    when not {{ side }}_sector_known then ' is not in sectors (or its row there is quarantined)'
                    when {{ side }}_nis is null then ' is given for a side abroad'
                    else ' lies in municipality ' || coalesce({{ side }}_sector_vintage_nis, '?') || ', not in '
                        || coalesce({{ side }}_vintage_nis, {{ side }}_nis) || ' of {{ side }}_nis (vintage '
                        || {{ sql_string(var('target_vintage')) }} || ')' end
            {%- endfor %}
        end as reason
    from flagged
)

select * from checked
