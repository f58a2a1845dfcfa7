{#- Fails on every network (combination of network_columns) whose number of rows is not N(N-1), N being the
    number of rows of node_model (every ordered pair of distinct nodes exactly once, together with
    unique_combination_of_columns and no_self_loops), and when there are not expected_networks networks. -#}
{% test pair_count_per_network(model, network_columns, node_model, expected_networks=none) %}
    with nodes as (
        select count(*) as n_nodes from {{ node_model }}
    ),
    per_network as (
        select {{ network_columns | join(', ') }}, count(*) as n_pairs
        from {{ model }}
        group by {{ network_columns | join(', ') }}
    ),
    wrong_size as (
        select 'network ' || concat_ws(' / ', {{ network_columns | join(', ') }}) || ' has '
            || cast(n_pairs as varchar) || ' pairs, expected ' || cast(n_nodes * (n_nodes - 1) as varchar) as problem
        from per_network cross join nodes
        where n_pairs <> n_nodes * (n_nodes - 1)
    )
    {%- if expected_networks is not none %},
    wrong_count as (
        select cast(count(*) as varchar) || ' networks, expected {{ expected_networks }}' as problem
        from per_network
        having count(*) <> {{ expected_networks }}
    )
    select problem from wrong_size
    union all
    select problem from wrong_count
    {%- else %}
    select problem from wrong_size
    {%- endif %}
{% endtest %}
