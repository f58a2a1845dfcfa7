-- The spans of years the income-position marts report: each study year alone, and all of them together. A
-- study year is a move year of the data period (vars data_start_date, data_end_date) whose position year (var
-- income_position_year) lies in it too, so every counted mover has a position; with next_year the data's
-- last year is no study year (its movers are excluded as position_year_outside_data).
{%- set year_offset = 1 if var('income_position_year') == 'next_year' else 0 %}
{%- set first_year = "year(cast(" ~ sql_string(var('data_start_date')) ~ " as date))" %}
{%- set last_year = "year(cast(" ~ sql_string(var('data_end_date')) ~ " as date))" %}

with

years as (
    select cast(year as integer) as year
    from range({{ first_year }}, {{ last_year }} - {{ year_offset }} + 1) as study_years (year)
),

spans as (
    select year as year_from, year as year_to from years
    union
    select min(year), max(year) from years having count(*) > 0
),

final as (
    select
        cast(year_from as integer) as year_from,
        cast(year_to as integer) as year_to,
        cast(year_to - year_from + 1 as integer) as n_years
    from spans
)

select * from final
