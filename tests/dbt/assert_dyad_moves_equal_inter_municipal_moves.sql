-- The dyads count every inter-municipal move of fct_moves in each network it belongs to: per network of
-- dim_network, the sum of n_moves equals the inter-municipal moves of fct_moves of that period and mover
-- group. Movers of age band 'other' or 'unknown' and of income group 'unknown' belong to no network of their
-- group type, so they count in the network of all movers only. Fails on every network whose sums differ.
with

moves as (
    select period_label, age_band, income_group
    from {{ ref('fct_moves') }}
    where is_inter_municipal
),

moves_per_group as (
    select period_label, 'all' as group_type, 'all' as group_value, count(*) as n_moves from moves group by all
    union all
    select period_label, 'age_band', age_band, count(*) from moves group by all
    union all
    select period_label, 'income_group', income_group, count(*) from moves group by all
),

expected as (
    select networks.network_id, coalesce(moves_per_group.n_moves, 0) as n_moves_fct_moves
    from {{ ref('dim_network') }} as networks
    left join moves_per_group using (period_label, group_type, group_value)
),

dyads as (
    select network_id, sum(n_moves) as n_moves_dyads
    from {{ ref('mart_network_dyads') }}
    group by network_id
)

select
    coalesce(expected.network_id, dyads.network_id) as network_id,
    coalesce(expected.n_moves_fct_moves, 0) as n_moves_fct_moves,
    coalesce(dyads.n_moves_dyads, 0) as n_moves_dyads
from expected
full outer join dyads on dyads.network_id = expected.network_id
where coalesce(expected.n_moves_fct_moves, 0) <> coalesce(dyads.n_moves_dyads, 0)
