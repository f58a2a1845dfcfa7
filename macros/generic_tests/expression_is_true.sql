{#- Fails on every row for which the SQL expression is not true (optionally only where `where_clause`). -#}
{% test expression_is_true(model, expression, where_clause=none) %}
    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)
    {%- if where_clause %}
      and ({{ where_clause }})
    {%- endif %}
{% endtest %}
