{#- The statistical sectors of a municipality sum to it: per municipality (nis_code) and `key_columns`, the
    sum of each of `value_columns` over the rows of area_level 'sector' equals the value of the row of
    area_level 'municipality' (area_code = nis_code). Rows outside `where_clause` are not compared. When the
    model has no sector rows (an extract without sectors) there is nothing to compare. Fails on every
    municipality and key whose sums differ, a missing side counting as 0. -#}
{% test sectors_sum_to_municipality(model, value_columns, key_columns=[], where_clause=none) %}
    {%- set keys = ['nis_code'] + key_columns %}
    with

    rows_ as (
        select * from {{ model }}
        {%- if where_clause %}
        where {{ where_clause }}
        {%- endif %}
    ),

    sectors as (
        select {{ keys | join(', ') }},
            {%- for value in value_columns %} sum({{ value }}) as {{ value }}{{ ',' if not loop.last }}{% endfor %}
        from rows_
        where area_level = 'sector'
        group by {{ keys | join(', ') }}
    ),

    municipalities as (
        select {{ keys | join(', ') }},
            {%- for value in value_columns %} {{ value }}{{ ',' if not loop.last }}{% endfor %}
        from rows_
        where area_level = 'municipality'
            and exists (select 1 from rows_ where area_level = 'sector')
    )

    select
        {%- for key in keys %}
        coalesce(sectors.{{ key }}, municipalities.{{ key }}) as {{ key }},
        {%- endfor %}
        {%- for value in value_columns %}
        coalesce(sectors.{{ value }}, 0) as sectors_{{ value }},
        coalesce(municipalities.{{ value }}, 0) as municipality_{{ value }}{{ ',' if not loop.last }}
        {%- endfor %}
    from sectors
    full outer join municipalities using ({{ keys | join(', ') }})
    where false
        {%- for value in value_columns %}
        or coalesce(sectors.{{ value }}, 0) <> coalesce(municipalities.{{ value }}, 0)
        {%- endfor %}
{% endtest %}
