-- Every raw municipalities row with the first quarantine rule it breaks (NULL = clean) and a readable reason.
-- The value checks are the raw data contract's (macro contract_breaks); a validity interval that ends before
-- it starts is this model's. A duplicate is a row whose nis_code is on an earlier row of the file: the first
-- row stays. Harmonisation and the moves' code look-up read only the clean rows.
with

municipalities as (
    select * from {{ ref('stg_register__municipalities') }}
),

duplicates as (
    select source_row, true as is_duplicate
    from (
        select source_row, row_number() over (partition by nis_code order by source_row) as code_rank
        from municipalities
    )
    where code_rank > 1
),

ranked as (
    select
        municipalities.*,
        coalesce(duplicates.is_duplicate, false) as is_duplicate
    from municipalities
    left join duplicates using (source_row)
),

checked as (
    select
        source_row,
        nis_code,
        name_nl,
        name_fr,
        arrondissement_nis,
        province_nis,
        region_nis,
        valid_from,
        valid_to,
        area_km2,
        centroid_x,
        centroid_y,
        case
            when is_duplicate then 'municipality_duplicate'
            when {{ contract_breaks('municipalities', 'municipality_value_invalid') }}
                or coalesce(valid_to < valid_from, false) then 'municipality_value_invalid'
        end as rule,
        case
            when is_duplicate then 'nis_code ''' || nis_code || ''' already on an earlier row'
            when {{ contract_breaks('municipalities', 'municipality_value_invalid') }}
                then {{ contract_reason('municipalities', 'municipality_value_invalid') }}
            when coalesce(valid_to < valid_from, false)
                then 'valid_to ' || cast(valid_to as varchar) || ' lies before valid_from ' || cast(valid_from as varchar)
        end as reason
    from ranked
)

select * from checked
