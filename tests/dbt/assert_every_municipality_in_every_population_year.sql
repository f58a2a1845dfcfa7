-- dim_municipality_year holds every municipality of dim_municipality on 1 January of every year of the data
-- period (vars data_start_date, data_end_date) and of the year after it (the population at the end of the
-- period), and nothing else. Fails on every missing and every unexpected (municipality, year).
with

years as (
    select unnest(range(
        year(cast({{ sql_value(var('data_start_date')) }} as date)),
        year(cast({{ sql_value(var('data_end_date')) }} as date)) + 2
    )) as year
),

expected as (
    select municipalities.nis_code, cast(years.year as integer) as year
    from {{ ref('dim_municipality') }} as municipalities
    cross join years
),

actual as (
    select distinct nis_code, year from {{ ref('dim_municipality_year') }}
)

select
    coalesce(expected.nis_code, actual.nis_code) as nis_code,
    coalesce(expected.year, actual.year) as year,
    case when actual.nis_code is null then 'missing' else 'not a municipality and year of the study' end as problem
from expected
full outer join actual
    on actual.nis_code = expected.nis_code
    and actual.year = expected.year
where expected.nis_code is null or actual.nis_code is null
