-- The foreign arrivals of every municipality and year in mart_area_inflow are the moves of fct_moves into it
-- by a foreign person (int_arrival_persons): immigrations and internal moves from another municipality,
-- counted here from fct_moves itself. Fails on every municipality and year whose counts differ.
{%- set first_year = modules.datetime.date.fromisoformat(var('data_start_date') | string).year %}

with

foreign_persons as (
    select person_id from {{ ref('int_arrival_persons') }} where is_foreign
),

expected as (
    select destination_nis as area_code, move_year as year, count(*) as n_arrivals
    from {{ ref('fct_moves') }}
    where person_id in (select person_id from foreign_persons)
        and (move_type = 'immigration' or (move_type = 'internal' and origin_nis <> destination_nis))
    group by all
),

mart as (
    select distinct area_code, year, n_arrivals_all_sources as n_arrivals
    from {{ ref('mart_area_inflow') }}
    where area_level = 'municipality'
)

select coalesce(expected.area_code, mart.area_code) as area_code, coalesce(expected.year, mart.year) as year,
    coalesce(expected.n_arrivals, 0) as n_fct_moves, coalesce(mart.n_arrivals, 0) as n_mart
from expected
full outer join mart using (area_code, year)
where coalesce(expected.n_arrivals, 0) <> coalesce(mart.n_arrivals, 0)
