{#- Fails on every raw table whose raw rows differ from clean + quarantined rows, or whose outcome lines do
    not add up to its raw rows: a row was lost or counted twice between the raw file and the marts. -#}
{% test reconciliation_balances(model) %}
    select
        source_table,
        any_value(raw_rows) as raw_rows,
        any_value(clean_rows) as clean_rows,
        any_value(quarantined_rows) as quarantined_rows,
        sum(n_rows) as outcome_rows
    from {{ model }}
    group by source_table
    having any_value(raw_rows) <> any_value(clean_rows) + any_value(quarantined_rows)
        or sum(n_rows) <> any_value(raw_rows)
        or bool_or(not is_balanced)
{% endtest %}
