-- One row per dbt var of the build with its effective value (dbt_project.yml, overridden by --vars), as
-- JSON. The vars and what each accepts are declared once, in the meta of this model
-- (_audit__models.yml); on-run-start has already refused a value that breaks its declaration.
{%- set definitions = build_var_definitions() %}
{%- set rows = [] %}
{%- for name, definition in definitions.items() %}
    {%- set value = var(name, none) %}
    {%- set value_json = tojson(value | string) if definition.type == 'date' else tojson(value) %}
    {%- do rows.append("(" ~ sql_string(name) ~ ", " ~ sql_string(definition.type) ~ ", " ~ sql_string(value_json)
        ~ ", " ~ sql_string(definition.description) ~ ")") %}
{%- endfor %}

with

declared (var_name, value_type, value_json, description) as (
    {%- if rows %}
    values {{ rows | join(',\n        ') }}
    {%- else %}
    select null, null, null, null where false
    {%- endif %}
),

final as (
    select
        cast({{ sql_string(invocation_id) }} as varchar) as build_id,
        cast(var_name as varchar) as var_name,
        cast(value_type as varchar) as value_type,
        cast(value_json as varchar) as value_json,
        cast(description as varchar) as description
    from declared
)

select * from final
