{#- The column equals the SQL `expression` on every row, up to a relative tolerance (for doubles computed
    in another order): |column - expression| <= tolerance * max(1, |expression|). Both NULL is equal; one NULL
    is not. `where_clause` restricts the rows compared. -#}
{% test approximately_equal(model, column_name, expression, tolerance=1e-9, where_clause=none) %}
    select {{ column_name }} as actual, ({{ expression }}) as expected
    from {{ model }}
    where (
        ({{ column_name }} is null) <> (({{ expression }}) is null)
        or abs({{ column_name }} - ({{ expression }})) > {{ tolerance }} * greatest(1.0, abs({{ expression }}))
    )
    {%- if where_clause %}
      and ({{ where_clause }})
    {%- endif %}
{% endtest %}
