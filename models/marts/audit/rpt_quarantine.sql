-- One row per quarantined raw row: which table, key and file row, the first rule it breaks and why.
with

moves as (
    select
        'moves' as source_table,
        coalesce(move_key, '') as source_key,
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
        coalesce(person_id, '') || '|' || coalesce(cast(income_year as varchar), income_year_unparsed, '') as source_key,
        source_row,
        rule,
        reason,
        person_id
    from {{ ref('int_incomes_checked') }}
    where rule is not null
),

quarantined as (
    select * from moves
    union all
    select * from persons
    union all
    select * from incomes
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
