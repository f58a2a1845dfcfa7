{#-
  The one quoting helper of the dbt project (Python's is mignet.db.sql_literal / sql_path): a value never
  goes into SQL text unquoted.
  - sql_string(value): a SQL string literal, embedded quotes doubled.
  - sql_path(path): a string literal naming exactly the file `path`: quotes doubled and DuckDB's glob
    characters ([, *, ?) escaped, so a folder named `reg?` is that folder and not also `regA`.
  - sql_value(value): a literal of a var's value (number, boolean, or string).
-#}
{% macro sql_string(value) -%}
    '{{ (value | string).replace("'", "''") }}'
{%- endmacro %}

{% macro sql_path(path) -%}
    {%- set escaped = (path | string).replace('[', '[[]').replace('*', '[*]').replace('?', '[?]') -%}
    {{ sql_string(escaped) }}
{%- endmacro %}

{% macro sql_value(value) -%}
    {%- if value is none -%} null
    {%- elif value is boolean -%} {{ 'true' if value else 'false' }}
    {%- elif value is number -%} {{ value }}
    {%- else -%} {{ sql_string(value) }}
    {%- endif -%}
{%- endmacro %}
