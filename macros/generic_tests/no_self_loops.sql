{#- Fails on every row whose origin equals its destination (a network has no self-loops). -#}
{% test no_self_loops(model, origin_column, destination_column) %}
    select {{ origin_column }}, {{ destination_column }}
    from {{ model }}
    where {{ origin_column }} = {{ destination_column }}
{% endtest %}
