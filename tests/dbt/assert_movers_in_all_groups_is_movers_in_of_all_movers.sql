-- movers_in_all_groups is the movers_in of the group of all movers, same period and destination. Fails on
-- every row where it is not (or where the all-movers row is missing).
with

shares as (
    select period_label, group_type, group_value, destination_nis, movers_in, movers_in_all_groups
    from {{ ref('mart_destination_shares') }}
)

select
    shares.period_label,
    shares.group_type,
    shares.group_value,
    shares.destination_nis,
    shares.movers_in_all_groups,
    all_movers.movers_in as movers_in_of_all_movers
from shares
left join shares as all_movers
    on all_movers.group_type = 'all'
    and all_movers.period_label = shares.period_label
    and all_movers.destination_nis = shares.destination_nis
where shares.movers_in_all_groups is distinct from all_movers.movers_in
