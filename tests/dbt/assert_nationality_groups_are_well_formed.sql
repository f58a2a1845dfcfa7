-- Seed nationality_groups is usable: a country is in at most one group of a classification, a group has one
-- position, every code is an ISO 3166-1 alpha-2 code (the contract's pattern), the home country (var
-- home_country) is in no group (it is the group home of every classification), and no group takes a label
-- the warehouse gives itself (home, other, unknown). Fails on every offending row.
{%- set country_pattern = raw_contract_table('persons').columns['country_of_birth'].meta.get('pattern') if execute else '' %}

with

seed as (
    select * from {{ ref('nationality_groups') }}
),

problems as (
    select classification, country_code as value, 'country in two groups of one classification' as problem
    from seed group by classification, country_code having count(*) > 1
    union all
    select classification, group_label, 'group with two positions'
    from seed group by classification, group_label having count(distinct group_order) > 1
    union all
    select classification, country_code, 'not a country code'
    from seed where country_code is null or not regexp_full_match(country_code, {{ sql_string(country_pattern) }})
    union all
    select classification, country_code, 'the home country (var home_country) in a group'
    from seed where country_code = {{ sql_string(var('home_country')) }}
    union all
    select classification, group_label, 'a label the warehouse gives itself'
    from seed where group_label in ('home', 'other', 'unknown')
)

select * from problems
