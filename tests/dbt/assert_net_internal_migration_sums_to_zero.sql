-- Internal migration moves people between areas: over every area of a level, arrivals equal departures and
-- net migration is 0, per year, group and counterpart all. Fails on every level, year and group that does
-- not balance.
select area_level, year, population_group, sum(arrivals) as arrivals, sum(departures) as departures
from {{ ref('mart_area_net_migration') }}
where counterpart = 'all'
group by all
having sum(arrivals) <> sum(departures) or sum(net) <> 0
