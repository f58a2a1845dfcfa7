{#- Fails on every group (`group_columns`) in which the column's sum is not the group's `total_column` (one
    value per group; a group whose rows disagree on it fails too). One row per offending group. -#}
{% test sums_to_total(model, column_name, total_column, group_columns, where_clause=none) %}
    select {{ group_columns | join(', ') }}, sum({{ column_name }}) as column_sum,
        min({{ total_column }}) as total_min, max({{ total_column }}) as total_max
    from {{ model }}
    {%- if where_clause %}
    where {{ where_clause }}
    {%- endif %}
    group by {{ group_columns | join(', ') }}
    having min({{ total_column }}) is distinct from max({{ total_column }})
        or sum({{ column_name }}) is distinct from min({{ total_column }})
{% endtest %}
