{#- The text of a raw value that is present but does not parse as `type`, else NULL. Only those few rows
    are converted to text, so a well-typed Parquet file pays nothing for it. -#}
{% macro unparsed(column, type) -%}
    case when {{ column }} is not null and try_cast({{ column }} as {{ type }}) is null
        then cast({{ column }} as varchar) end
{%- endmacro %}
