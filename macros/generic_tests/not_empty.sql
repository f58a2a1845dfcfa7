{#- Fails when the model holds no row at all (every other test passes on an empty table). -#}
{% test not_empty(model) %}
    select 'no rows' as problem
    where not exists (select 1 from {{ model }})
{% endtest %}
