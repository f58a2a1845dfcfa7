{#- Schemas are exactly the names the design fixes (staging, intermediate, marts, audit), not dbt's
    default <target_schema>_<custom>, so analysts and the Python layers find the same names everywhere. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
