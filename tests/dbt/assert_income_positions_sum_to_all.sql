-- Positions sum to their total: in mart_migration_balance the movers in, out and net of the positions of an
-- area and span add up to those of position `all`, and in mart_position_population the residents of the
-- positions of an area and year to those of `all` (where the extract gives them). Fails on every area, span
-- or year and measure that does not add up.
with

balance as (
    select
        area_level, area_code, year_from, year_to,
        sum(movers_in) filter (where position <> 'all') as in_positions,
        sum(movers_in) filter (where position = 'all') as in_all,
        sum(movers_out) filter (where position <> 'all') as out_positions,
        sum(movers_out) filter (where position = 'all') as out_all,
        sum(net_movers) filter (where position <> 'all') as net_positions,
        sum(net_movers) filter (where position = 'all') as net_all
    from {{ ref('mart_migration_balance') }}
    group by all
),

population as (
    select
        area_level, area_code, year,
        sum(population) filter (where position <> 'all') as in_positions,
        sum(population) filter (where position = 'all') as in_all,
        count(population) filter (where position <> 'all') as n_known,
        count(*) filter (where position <> 'all') as n_positions
    from {{ ref('mart_position_population') }}
    group by all
)

select 'balance' as mart, area_level, area_code, cast(year_from as varchar) || '-' || cast(year_to as varchar) as span,
    'movers' as measure, in_positions, in_all, out_positions, out_all, net_positions, net_all
from balance
where coalesce(in_positions, 0) <> coalesce(in_all, 0) or coalesce(out_positions, 0) <> coalesce(out_all, 0)
    or coalesce(net_positions, 0) <> coalesce(net_all, 0)
union all
select 'population', area_level, area_code, cast(year as varchar), 'residents', in_positions, in_all, null, null, null, null
from population
where (n_known = n_positions) <> (in_all is not null)
    or (n_known = n_positions and in_positions <> in_all)
