-- The destination shares and the dyads count the same moves: for every network and destination, movers_in
-- equals the sum of n_moves of the dyads into that destination. Fails on every (network, destination) whose
-- counts differ or that only one of the two marts holds.
with

shares as (
    select period_label, group_type, group_value, destination_nis, movers_in
    from {{ ref('mart_destination_shares') }}
),

dyads as (
    select period_label, group_type, group_value, destination_nis, sum(n_moves) as n_moves_into
    from {{ ref('mart_network_dyads') }}
    group by all
)

select
    coalesce(shares.period_label, dyads.period_label) as period_label,
    coalesce(shares.group_type, dyads.group_type) as group_type,
    coalesce(shares.group_value, dyads.group_value) as group_value,
    coalesce(shares.destination_nis, dyads.destination_nis) as destination_nis,
    shares.movers_in,
    dyads.n_moves_into
from shares
full outer join dyads using (period_label, group_type, group_value, destination_nis)
where shares.movers_in is distinct from dyads.n_moves_into
