{#- Fails on every value (NULL aside) that does not match the regular expression `pattern` as a whole
    (DuckDB's regexp_full_match). One row per offending value, counted. -#}
{% test matches_pattern(model, column_name, pattern) %}
    select {{ column_name }} as value, count(*) as n_rows
    from {{ model }}
    where {{ column_name }} is not null
      and not regexp_full_match({{ column_name }}, {{ sql_string(pattern) }})
    group by {{ column_name }}
{% endtest %}
