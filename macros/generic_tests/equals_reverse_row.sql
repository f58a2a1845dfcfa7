{#- The column equals `reverse_of` on the row of the reverse pair (origin and destination swapped) in the same
    group (`group_columns`): e.g. reverse_tie is the tie of destination -> origin in the same network. A row
    whose reverse pair is missing fails too. -#}
{% test equals_reverse_row(model, column_name, reverse_of, group_columns, origin_column, destination_column) %}
    select
        {% for column in group_columns %}pair.{{ column }}, {% endfor %}
        pair.{{ origin_column }},
        pair.{{ destination_column }},
        pair.{{ column_name }},
        reverse.{{ reverse_of }} as reverse_{{ reverse_of }}
    from {{ model }} as pair
    left join {{ model }} as reverse
        on {% for column in group_columns %}reverse.{{ column }} = pair.{{ column }} and {% endfor -%}
        reverse.{{ origin_column }} = pair.{{ destination_column }}
        and reverse.{{ destination_column }} = pair.{{ origin_column }}
    where pair.{{ column_name }} is distinct from reverse.{{ reverse_of }}
{% endtest %}
