-- Every raw population_positions row (the income-position study; an optional table) with the first quarantine
-- rule it breaks (NULL = clean), a readable reason and the municipality of the target vintage it is summed
-- onto. The value checks are the raw data contract's (macro contract_breaks); a reference date that is not a
-- 1 January, a code that is not a clean municipality valid that day or that lands on no single municipality of
-- the vintage, and a position that is not one of its classification's seed are this model's. A duplicate is a
-- row whose (nis_code, reference_date, classification, position) is on an earlier row: the first row stays.
with

population as (
    select * from {{ ref('stg_register__population_positions') }}
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

classes as (
    select classification, position from {{ ref('int_position_classes') }}
),

duplicates as (
    select source_row, true as is_duplicate
    from (
        select
            source_row,
            row_number() over (
                partition by nis_code, reference_date, classification, position order by source_row
            ) as key_rank
        from population
    )
    where key_rank > 1
),

looked_up as (
    select
        population.*,
        coalesce(duplicates.is_duplicate, false) as is_duplicate,
        municipalities.nis_code is not null as is_known,
        coalesce(population.reference_date between municipalities.valid_from
            and coalesce(municipalities.valid_to, population.reference_date), false) as is_valid_on_date,
        vintage_map.vintage_nis,
        vintage_municipalities.nis_code is not null as lands_in_vintage,
        classes.position is not null as is_known_position
    from population
    left join duplicates using (source_row)
    left join municipalities on municipalities.nis_code = population.nis_code
    left join vintage_map on vintage_map.nis_code = population.nis_code
    left join vintage_municipalities on vintage_municipalities.nis_code = vintage_map.vintage_nis
    left join classes
        on classes.classification = population.classification
        and classes.position = population.position
),

checked as (
    select
        source_row,
        nis_code,
        reference_date,
        classification,
        position,
        population,
        vintage_nis,
        case
            when is_duplicate then 'population_position_duplicate'
            when {{ contract_breaks('population_positions', 'population_position_value_invalid') }}
                or coalesce(strftime(reference_date, '%m-%d') <> '01-01', false)
                then 'population_position_value_invalid'
            when not is_known or not is_valid_on_date or not lands_in_vintage then 'population_position_nis_invalid'
            when not is_known_position then 'population_position_unknown'
        end as rule,
        case
            when is_duplicate
                then 'nis_code ' || nis_code || ' already has a row for ' || cast(reference_date as varchar) || ', '
                    || classification || ' ' || position
            when {{ contract_breaks('population_positions', 'population_position_value_invalid') }}
                then {{ contract_reason('population_positions', 'population_position_value_invalid') }}
            when coalesce(strftime(reference_date, '%m-%d') <> '01-01', false)
                then 'reference_date ' || cast(reference_date as varchar) || ' is not a 1 January'
            when not is_known
                then 'nis_code ' || nis_code || ' is not in municipalities (or its row there is quarantined)'
            when not is_valid_on_date
                then 'nis_code ' || nis_code || ' is not valid on ' || cast(reference_date as varchar)
            when not lands_in_vintage
                then 'nis_code ' || nis_code || ' maps to no single municipality of vintage '
                    || {{ sql_string(var('target_vintage')) }}
            when not is_known_position
                then 'classification ''' || classification || ''' has no position ''' || position
                    || ''' (seed income_positions for social_minimum, seed income_groups for income_group)'
        end as reason
    from looked_up
)

select * from checked
