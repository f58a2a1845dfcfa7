-- The OD matrix of the income-position study is antisymmetric: the movers from b into a are the movers from a
-- to b seen from b, so the net of (a, b) is minus that of (b, a), and the diagonal (moves between
-- municipalities of one area type) nets to 0. Fails on every pair whose reverse row is missing or disagrees.
select
    od.area_type, od.partner_area_type, od.year_from, od.year_to, od.position,
    od.movers_from_partner, reverse.movers_to_partner as reverse_movers_to_partner,
    od.net_movers, reverse.net_movers as reverse_net_movers
from {{ ref('mart_od_net') }} as od
left join {{ ref('mart_od_net') }} as reverse
    on reverse.area_type = od.partner_area_type
    and reverse.partner_area_type = od.area_type
    and reverse.year_from = od.year_from
    and reverse.year_to = od.year_to
    and reverse.position = od.position
where reverse.area_type is null
    or od.movers_from_partner <> reverse.movers_to_partner
    or od.net_movers <> -reverse.net_movers
    or (od.area_type = od.partner_area_type and od.net_movers <> 0)
