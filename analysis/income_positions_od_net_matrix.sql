-- Example query of the income-position study (docs/income_positions.md): the OD net matrix over the whole
-- study period, one row per income position and area type and one column per partner area type. A cell is
-- the net gain of the row's area type from the column's (moves from the partner minus moves to it), so the
-- matrix of each position is antisymmetric and its diagonal 0; a row's sum is the area type's net in
-- mart_migration_balance. The columns are the area types of dim_area, whatever the extract calls them.
with

od as (
    select * from {{ ref('mart_od_net') }}
),

whole_period as (
    select position_order, position, area_type, partner_area_type, net_movers
    from od
    where year_from = (select min(year_from) from od)
        and year_to = (select max(year_to) from od)
)

pivot whole_period
on partner_area_type
using cast(sum(net_movers) as bigint)
group by position_order, position, area_type
order by position_order, area_type
