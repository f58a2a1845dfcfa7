{#- Fails when the model holds no row although the raw table `source_table` of the contract (source
    register) has rows: a mart of an optional table is empty exactly when the extract lacks the table. -#}
{% test not_empty_unless_source_empty(model, source_table) %}
    select 'no rows although raw table ' || {{ sql_string(source_table) }} || ' has rows' as problem
    where not exists (select 1 from {{ model }})
        and exists (select 1 from {{ source('register', source_table) }})
{% endtest %}
