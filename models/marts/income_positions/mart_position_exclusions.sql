-- The inter-municipal movers of each move year that the income-position study excludes, per reason (seed
-- income_position_exclusions, every reason of every year of the data period, zeros included). With the
-- classified movers (mart_migration_balance, municipality level) they are every inter-municipal move of
-- fct_moves (test assert_income_position_exclusions_reconcile).
{%- set first_year = "year(cast(" ~ sql_string(var('data_start_date')) ~ " as date))" %}
{%- set last_year = "year(cast(" ~ sql_string(var('data_end_date')) ~ " as date))" %}

with

years as (
    select cast(year as integer) as move_year from range({{ first_year }}, {{ last_year }} + 1) as data_years (year)
),

excluded as (
    select move_year, exclusion, count(*) as movers
    from {{ ref('int_moves_income_positions') }}
    where exclusion is not null
    group by all
),

exclusions as (
    select exclusion, exclusion_order from {{ ref('income_position_exclusions') }}
    -- a reason the models give but the seed does not list still shows (and fails its test)
    union
    select distinct exclusion, 999 from excluded
    where exclusion not in (select exclusion from {{ ref('income_position_exclusions') }})
),

final as (
    select
        cast(years.move_year as integer) as move_year,
        cast(exclusions.exclusion as varchar) as exclusion,
        cast(exclusions.exclusion_order as integer) as exclusion_order,
        cast(coalesce(excluded.movers, 0) as bigint) as movers
    from years
    cross join exclusions
    left join excluded using (move_year, exclusion)
)

select * from final
