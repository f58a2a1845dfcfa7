-- Every raw area_types row (the income-position study; an optional table) with the first quarantine rule it
-- breaks (NULL = clean), a readable reason, and the municipality of the target vintage its code lands on.
-- The value checks are the raw data contract's (macro contract_breaks); the code look-up and the conflicts are
-- this model's. A duplicate is a row whose nis_code is on an earlier row of the file: the first row stays.
-- Several codes may land on one municipality of the vintage (the parts of a merger): the first of their rows in
-- file order sets its area type and area, and a later row that says otherwise is a conflict.
with

-- the contract's checks of single values, on the staging model's own columns
area_types as (
    select
        *,
        {{ contract_breaks('area_types', 'area_type_value_invalid') }} as is_value_invalid,
        {{ contract_reason('area_types', 'area_type_value_invalid') }} as value_reason
    from {{ ref('stg_register__area_types') }}
),

municipalities as (
    select nis_code from {{ ref('int_municipalities_checked') }} where rule is null
),

vintage_map as (
    select nis_code, vintage_nis from {{ ref('int_nis_code_vintage_map') }}
),

vintage_municipalities as (
    select nis_code from {{ ref('int_municipalities_vintage') }}
),

duplicates as (
    select source_row, true as is_duplicate
    from (
        select source_row, row_number() over (partition by nis_code order by source_row) as code_rank
        from area_types
    )
    where code_rank > 1
),

looked_up as (
    select
        area_types.*,
        coalesce(duplicates.is_duplicate, false) as is_duplicate,
        municipalities.nis_code is not null as is_known,
        vintage_map.vintage_nis,
        vintage_municipalities.nis_code is not null as lands_in_vintage
    from area_types
    left join duplicates using (source_row)
    left join municipalities on municipalities.nis_code = area_types.nis_code
    left join vintage_map on vintage_map.nis_code = area_types.nis_code
    left join vintage_municipalities on vintage_municipalities.nis_code = vintage_map.vintage_nis
),

-- the area of each vintage municipality: that of its first row in file order among the rows that break no
-- earlier rule
first_areas as (
    select
        vintage_nis,
        arg_min(area_type, source_row) as first_area_type,
        arg_min(area_name, source_row) as first_area_name,
        min(source_row) as first_row
    from looked_up
    where not is_duplicate and not is_value_invalid and is_known and lands_in_vintage
    group by vintage_nis
),

checked as (
    select
        looked_up.source_row,
        looked_up.nis_code,
        looked_up.area_type,
        looked_up.area_name,
        looked_up.vintage_nis,
        case
            when is_duplicate then 'area_type_duplicate'
            when is_value_invalid then 'area_type_value_invalid'
            when not is_known or not lands_in_vintage then 'area_type_nis_invalid'
            when looked_up.area_type <> first_areas.first_area_type
                or looked_up.area_name <> first_areas.first_area_name then 'area_type_conflict'
        end as rule,
        case
            when is_duplicate then 'nis_code ''' || looked_up.nis_code || ''' already on an earlier row'
            when is_value_invalid then value_reason
            when not is_known
                then 'nis_code ' || looked_up.nis_code || ' is not in municipalities (or its row there is quarantined)'
            when not lands_in_vintage
                then 'nis_code ' || looked_up.nis_code || ' maps to no single municipality of vintage '
                    || {{ sql_string(var('target_vintage')) }}
            when looked_up.area_type <> first_areas.first_area_type
                or looked_up.area_name <> first_areas.first_area_name
                then 'nis_code ' || looked_up.nis_code || ' is in ' || looked_up.area_type || ' / '
                    || looked_up.area_name || ', but row ' || cast(first_areas.first_row as varchar)
                    || ' puts municipality ' || looked_up.vintage_nis || ' of vintage '
                    || {{ sql_string(var('target_vintage')) }} || ' in ' || first_areas.first_area_type || ' / '
                    || first_areas.first_area_name
        end as reason
    from looked_up
    left join first_areas using (vintage_nis)
)

select * from checked
