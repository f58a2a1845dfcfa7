{#- The text of a raw value that is present but does not parse as `type`, else NULL. Only those few rows
    are converted to text, so a well-typed Parquet file pays nothing for it. Staging keeps it as
    `<column>_unparsed` for every column whose unreadable values the contract quarantines (quarantine.unreadable
    in models/staging/register/_register__sources.yml), so the checks can quote it. -#}
{% macro unparsed(column, type) -%}
    {%- set name = adapter.quote(column) -%}
    case when {{ name }} is not null and try_cast({{ name }} as {{ type }}) is null
        then cast({{ name }} as varchar) end
{%- endmacro %}
