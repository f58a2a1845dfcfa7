{#- Fails on every value of the column (NULL aside) that is neither a value of `seed_column` in `seed` nor one
    of `extra_values`: allowed values come from the seed itself, so an edited seed needs no edited test, and
    `extra_values` are the model's own codes outside the seed (e.g. 'unknown'). One row per offending value,
    with how many rows hold it. -#}
{% test values_in_seed(model, column_name, seed, seed_column, extra_values=[]) %}
    select {{ column_name }} as value, count(*) as n_rows
    from {{ model }}
    where {{ column_name }} is not null
      and {{ column_name }} not in (select {{ seed_column }} from {{ seed }} where {{ seed_column }} is not null)
      {%- if extra_values %}
      and {{ column_name }} not in ({% for value in extra_values %}{{ sql_value(value) }}{{ ', ' if not loop.last }}{% endfor %})
      {%- endif %}
    group by {{ column_name }}
{% endtest %}
