-- Every raw sectors row with the first quarantine rule it breaks (NULL = clean) and a readable reason.
-- The value checks are the raw data contract's (macro contract_breaks); a sector code that does not start
-- with its municipality's code, a validity interval that ends before it starts, and a municipality that is
-- not a clean code valid over the sector's whole validity are this model's (a sector of a municipality that
-- maps to no municipality of the target vintage, such as a code of 2025 at vintage 2019, is clean: it maps
-- to no sector of the vintage, int_sector_code_vintage_map). A duplicate is a row whose sector_code is on an earlier row of the file:
-- the first row stays. Harmonisation and the sector look-ups of the moves and of population_by_origin read
-- only the clean rows.
with

sectors as (
    select * from {{ ref('stg_register__sectors') }}
),

municipalities as (
    select nis_code, valid_from, valid_to from {{ ref('int_municipalities_checked') }} where rule is null
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
        select source_row, row_number() over (partition by sector_code order by source_row) as code_rank
        from sectors
    )
    where code_rank > 1
),

looked_up as (
    select
        sectors.*,
        coalesce(duplicates.is_duplicate, false) as is_duplicate,
        municipalities.nis_code is not null as municipality_known,
        -- the sector's validity lies within its municipality's (an open end is the latest day)
        coalesce(
            sectors.valid_from >= municipalities.valid_from
            and coalesce(sectors.valid_to, date '9999-12-31') <= coalesce(municipalities.valid_to, date '9999-12-31'),
            false
        ) as within_municipality_validity,
        vintage_municipalities.nis_code as vintage_nis
    from sectors
    left join duplicates using (source_row)
    left join municipalities on municipalities.nis_code = sectors.nis_code
    left join vintage_map on vintage_map.nis_code = sectors.nis_code
    left join vintage_municipalities on vintage_municipalities.nis_code = vintage_map.vintage_nis
),

checked as (
    select
        source_row,
        sector_code,
        nis_code,
        name_nl,
        name_fr,
        valid_from,
        valid_to,
        area_km2,
        centroid_x,
        centroid_y,
        boundary_wkt,
        vintage_nis,
        case
            when is_duplicate then 'sector_duplicate'
            when {{ contract_breaks('sectors', 'sector_value_invalid') }}
                or coalesce(left(sector_code, 5) <> nis_code, false)
                or coalesce(valid_to < valid_from, false) then 'sector_value_invalid'
            when not municipality_known or not within_municipality_validity then 'sector_municipality_invalid'
        end as rule,
        case
            when is_duplicate then 'sector_code ''' || sector_code || ''' already on an earlier row'
            when {{ contract_breaks('sectors', 'sector_value_invalid') }}
                then {{ contract_reason('sectors', 'sector_value_invalid') }}
            when coalesce(left(sector_code, 5) <> nis_code, false)
                then 'sector_code ' || sector_code || ' does not start with its nis_code ' || nis_code
            when coalesce(valid_to < valid_from, false)
                then 'valid_to ' || cast(valid_to as varchar) || ' lies before valid_from ' || cast(valid_from as varchar)
            when not municipality_known
                then 'nis_code ' || nis_code || ' is not in municipalities (or its row there is quarantined)'
            when not within_municipality_validity
                then 'sector_code ' || sector_code || ' is valid ' || cast(valid_from as varchar) || '..'
                    || coalesce(cast(valid_to as varchar), '') || ', beyond the validity of municipality ' || nis_code
        end as reason
    from looked_up
)

select * from checked
