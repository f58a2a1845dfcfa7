{#- Relationships on several columns at once: fails on every distinct combination of `columns` in the model
    that is no row of `to` (compared on `to_columns`, by default the same names). A NULL in any column is a
    combination of no row, so it fails too. -#}
{% test combination_exists_in(model, columns, to, to_columns=none) %}
    {%- set targets = to_columns or columns %}
    with

    combinations as (
        select distinct {{ columns | join(', ') }}
        from {{ model }}
    )

    select combinations.*
    from combinations
    where not exists (
        select 1
        from {{ to }} as parent
        where {% for column in columns -%}
            parent.{{ targets[loop.index0] }} = combinations.{{ column }}{{ ' and ' if not loop.last }}
        {%- endfor %}
    )
{% endtest %}
