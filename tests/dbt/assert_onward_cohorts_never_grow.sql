-- A cohort of immigrants never grows and its movers on never fall: per area and arrival year, every
-- horizon has the same immigrants, the movers on never exceed them, and a longer horizon never has fewer
-- movers on. Fails on every area, year and horizon that breaks it.
with

cohorts as (
    select
        *,
        lag(n_moved_on) over w as n_moved_on_before,
        lag(n_immigrants) over w as n_immigrants_before
    from {{ ref('mart_onward_migration') }}
    window w as (partition by area_level, area_code, arrival_year order by horizon_years)
)

select *
from cohorts
where n_moved_on > n_immigrants
    or n_moved_on < 0
    or n_moved_on < n_moved_on_before
    or n_immigrants <> n_immigrants_before
