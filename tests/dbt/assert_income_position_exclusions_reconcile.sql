-- Every inter-municipal move of fct_moves is counted once by the income-position study: per move year, the
-- moves of fct_moves equal the classified movers (mart_migration_balance: the municipalities' movers in, all
-- positions, the year alone; 0 in a year that is no study year) plus the excluded ones (mart_position_exclusions).
-- A mover with neither a position nor an exclusion (e.g. a household without a social minimum amount) or with
-- both breaks it. Fails on every year whose counts differ.
with

moves as (
    select move_year, count(*) as n_moves from {{ ref('fct_moves') }} where is_inter_municipal group by move_year
),

classified as (
    select year_from as move_year, sum(movers_in) as n_classified
    from {{ ref('mart_migration_balance') }}
    where area_level = 'municipality' and position = 'all' and n_years = 1
    group by year_from
),

excluded as (
    select move_year, sum(movers) as n_excluded from {{ ref('mart_position_exclusions') }} group by move_year
)

select
    coalesce(moves.move_year, classified.move_year, excluded.move_year) as move_year,
    coalesce(moves.n_moves, 0) as n_moves,
    coalesce(classified.n_classified, 0) as n_classified,
    coalesce(excluded.n_excluded, 0) as n_excluded
from moves
full outer join classified using (move_year)
full outer join excluded using (move_year)
where coalesce(moves.n_moves, 0) <> coalesce(classified.n_classified, 0) + coalesce(excluded.n_excluded, 0)
