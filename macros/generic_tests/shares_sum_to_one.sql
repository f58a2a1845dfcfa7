{#- Fails on every group (`group_columns`) whose shares (the column, NULL where the group's total is 0) do
    not sum to 1 within `tolerance`: groups whose every share is NULL have nothing to share and pass. One row
    per offending group with its sum. -#}
{% test shares_sum_to_one(model, column_name, group_columns, tolerance=1e-9) %}
    select {{ group_columns | join(', ') }}, sum({{ column_name }}) as share_sum
    from {{ model }}
    group by {{ group_columns | join(', ') }}
    having count({{ column_name }}) > 0 and abs(sum({{ column_name }}) - 1.0) > {{ tolerance }}
{% endtest %}
