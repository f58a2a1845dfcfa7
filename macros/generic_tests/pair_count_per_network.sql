{#- Every network of `network_model` is in the model with exactly N(N-1) rows, N being the number of rows of
    `node_model`: with a unique (network, origin, destination) key and no self-loops, that is every ordered
    pair of distinct nodes exactly once. Fails on every network with another number of rows, and on every
    network of `network_model` that has no row at all. -#}
{% test pair_count_per_network(model, network_column, network_model, node_model) %}
    with

    nodes as (
        select count(*) as n_nodes from {{ node_model }}
    ),

    per_network as (
        select {{ network_column }} as network, count(*) as n_pairs
        from {{ model }}
        group by {{ network_column }}
    ),

    networks as (
        select {{ network_column }} as network from {{ network_model }}
    )

    select
        coalesce(networks.network, per_network.network) as network,
        coalesce(per_network.n_pairs, 0) as n_pairs,
        nodes.n_nodes * (nodes.n_nodes - 1) as expected_pairs
    from networks
    full outer join per_network on per_network.network = networks.network
    cross join nodes
    where coalesce(per_network.n_pairs, 0) <> nodes.n_nodes * (nodes.n_nodes - 1)
{% endtest %}
