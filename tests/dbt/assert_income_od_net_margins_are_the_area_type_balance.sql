-- The OD matrix and the balance count the same moves: for each area type, span and position, the movers from
-- the other area types (mart_od_net, off the diagonal) are its movers in (mart_migration_balance, level
-- area_type), the movers to them its movers out, and the nets add up to its net. Fails on every area type,
-- span and position whose counts differ or that only one mart holds.
with

od as (
    select
        area_type as area_code, year_from, year_to, position,
        sum(movers_from_partner) as movers_in, sum(movers_to_partner) as movers_out, sum(net_movers) as net_movers
    from {{ ref('mart_od_net') }}
    where area_type <> partner_area_type
    group by all
),

balance as (
    select area_code, year_from, year_to, position, movers_in, movers_out, net_movers
    from {{ ref('mart_migration_balance') }}
    where area_level = 'area_type'
)

select
    coalesce(balance.area_code, od.area_code) as area_type,
    coalesce(balance.year_from, od.year_from) as year_from,
    coalesce(balance.year_to, od.year_to) as year_to,
    coalesce(balance.position, od.position) as position,
    balance.movers_in, od.movers_in as od_movers_in,
    balance.movers_out, od.movers_out as od_movers_out,
    balance.net_movers, od.net_movers as od_net_movers
from balance
full outer join od using (area_code, year_from, year_to, position)
where balance.movers_in is distinct from coalesce(od.movers_in, 0)
    or balance.movers_out is distinct from coalesce(od.movers_out, 0)
    or balance.net_movers is distinct from coalesce(od.net_movers, 0)
