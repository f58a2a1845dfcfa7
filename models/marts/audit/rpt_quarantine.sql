-- One row per quarantined raw row: which table, key and file row, the first rule it breaks and why.
-- Every table of the raw data contract has its int_*_checked model; a row with a rule is quarantined.
with

moves as (
    select
        'moves' as source_table,
        coalesce(cast(move_id as varchar), '') as source_key,
        source_row,
        rule,
        reason,
        person_id
    from {{ ref('int_moves_checked') }}
    where rule is not null
),

persons as (
    select
        'persons' as source_table,
        coalesce(person_id, '') as source_key,
        source_row,
        rule,
        reason,
        person_id
    from {{ ref('int_persons_checked') }}
    where rule is not null
),

incomes as (
    select
        'incomes' as source_table,
        coalesce(person_id, '') || '|' || coalesce(cast(income_year as varchar), '') as source_key,
        source_row,
        rule,
        reason,
        person_id
    from {{ ref('int_incomes_checked') }}
    where rule is not null
),

municipalities as (
    select
        'municipalities' as source_table,
        coalesce(nis_code, '') as source_key,
        source_row,
        rule,
        reason,
        cast(null as varchar) as person_id
    from {{ ref('int_municipalities_checked') }}
    where rule is not null
),

population as (
    select
        'population' as source_table,
        coalesce(nis_code, '') || '|' || coalesce(cast(reference_date as varchar), '') as source_key,
        source_row,
        rule,
        reason,
        cast(null as varchar) as person_id
    from {{ ref('int_population_checked') }}
    where rule is not null
),

area_types as (
    select
        'area_types' as source_table,
        coalesce(nis_code, '') as source_key,
        source_row,
        rule,
        reason,
        cast(null as varchar) as person_id
    from {{ ref('int_area_types_checked') }}
    where rule is not null
),

population_positions as (
    select
        'population_positions' as source_table,
        coalesce(nis_code, '') || '|' || coalesce(cast(reference_date as varchar), '') || '|'
            || coalesce(classification, '') || '|' || coalesce(position, '') as source_key,
        source_row,
        rule,
        reason,
        cast(null as varchar) as person_id
    from {{ ref('int_population_positions_checked') }}
    where rule is not null
),

sectors as (
    select
        'sectors' as source_table,
        coalesce(sector_code, '') as source_key,
        source_row,
        rule,
        reason,
        cast(null as varchar) as person_id
    from {{ ref('int_sectors_checked') }}
    where rule is not null
),

population_by_origin as (
    select
        'population_by_origin' as source_table,
        coalesce(area_code, '') || '|' || coalesce(cast(reference_date as varchar), '') || '|'
            || coalesce(country, '') as source_key,
        source_row,
        rule,
        reason,
        cast(null as varchar) as person_id
    from {{ ref('int_population_by_origin_checked') }}
    where rule is not null
),

quarantined as (
    select * from moves
    union all
    select * from persons
    union all
    select * from incomes
    union all
    select * from municipalities
    union all
    select * from population
    union all
    select * from area_types
    union all
    select * from population_positions
    union all
    select * from sectors
    union all
    select * from population_by_origin
),

final as (
    select
        cast(source_table as varchar) as source_table,
        cast(source_key as varchar) as source_key,
        cast(source_row as bigint) as source_row,
        cast(rule as varchar) as rule,
        cast(reason as varchar) as reason,
        cast(person_id as varchar) as person_id
    from quarantined
)

select * from final
