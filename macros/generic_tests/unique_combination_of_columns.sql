{#- Fails on every combination of the columns that occurs more than once (a composite primary key).
    Two steps, so a big table is grouped on one 64-bit hash rather than on its key columns: first the hashes
    seen twice, then the exact combinations among those few suspect rows (a hash collision of distinct
    combinations is a suspect that the exact grouping clears; NULLs group together as in a plain group by). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set columns = combination_of_columns | join(', ') %}
    with

    repeated_hashes as (
        select hash({{ columns }}) as key_hash
        from {{ model }}
        group by key_hash
        having count(*) > 1
    )

    select {{ columns }}, count(*) as n_rows
    from {{ model }}
    where hash({{ columns }}) in (select key_hash from repeated_hashes)
    group by {{ columns }}
    having count(*) > 1
{% endtest %}
