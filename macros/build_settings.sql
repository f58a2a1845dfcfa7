{#-
  The build's settings: every dbt var is declared once, with its type, allowed values or bounds and meaning,
  in the meta of model rpt_build_vars (models/marts/audit/_audit__models.yml). on-run-start checks the
  effective value of each var against its declaration (validate_build_vars), so a bad value stops the build
  before anything runs with a message naming the var and the expected type; rpt_build_vars then records
  every effective value, and the Python stages read the settings of the build from there.
-#}

{% macro build_var_definitions() %}
    {%- if not execute -%}
        {{ return({}) }}
    {%- endif -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.rpt_build_vars') -%}
    {%- if node is none -%}
        {{ exceptions.raise_compiler_error("model rpt_build_vars is missing: it declares the build's vars") }}
    {%- endif -%}
    {{ return(node.config.meta.get('vars', {})) }}
{% endmacro %}

{#- A readable statement of what a declared var accepts, e.g. "an integer >= 1" or "one of mean, median, none". -#}
{% macro describe_build_var(definition) -%}
    {%- set kinds = {'integer': 'an integer', 'number': 'a number', 'string': 'a string',
                     'date': 'a date YYYY-MM-DD', 'json': 'a YAML/JSON list or mapping'} -%}
    {%- set parts = [kinds.get(definition.type, definition.type)] -%}
    {%- if definition.get('allowed') is not none -%}
        {%- do parts.append('one of ' ~ (definition.allowed | join(', '))) -%}
    {%- endif -%}
    {%- if definition.get('min') is not none -%}{%- do parts.append('>= ' ~ definition.min) -%}{%- endif -%}
    {%- if definition.get('max') is not none -%}{%- do parts.append('<= ' ~ definition.max) -%}{%- endif -%}
    {{ parts | join(', ') }}
{%- endmacro %}

{#- The problem with `value` as var `name` of `definition`, or '' when it is acceptable. -#}
{% macro build_var_problem(name, value, definition) -%}
    {%- set kind = definition.type -%}
    {%- set ok = true -%}
    {%- if kind == 'integer' -%}
        {%- set ok = value is number and value is not boolean and (value | int) == value -%}
    {%- elif kind == 'number' -%}
        {%- set ok = value is number and value is not boolean -%}
    {%- elif kind == 'string' -%}
        {%- set ok = value is string -%}
    {%- elif kind == 'date' -%}
        {%- set ok = modules.re.fullmatch('[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])', value | string) is not none -%}
    {%- elif kind == 'json' -%}
        {%- set ok = value is mapping or (value is iterable and value is not string) -%}
    {%- endif -%}
    {%- if ok and definition.get('allowed') is not none -%}
        {%- set ok = value in definition.allowed -%}
    {%- endif -%}
    {%- if ok and definition.get('min') is not none -%}
        {%- set ok = value >= definition.min -%}
    {%- endif -%}
    {%- if ok and definition.get('max') is not none -%}
        {%- set ok = value <= definition.max -%}
    {%- endif -%}
    {%- if not ok -%}
        dbt var {{ name }} must be {{ describe_build_var(definition) }} ({{ definition.description }}), got {{ tojson(value | string) }}
    {%- endif -%}
{%- endmacro %}

{% macro validate_build_vars() %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set definitions = build_var_definitions() -%}
    {%- set problems = [] -%}
    {%- for name, definition in definitions.items() -%}
        {%- set problem = build_var_problem(name, var(name, none), definition) | trim -%}
        {%- if var(name, none) is none -%}
            {%- do problems.append('dbt var ' ~ name ~ ' is not set (declared in models/marts/audit/_audit__models.yml; set it in dbt_project.yml)') -%}
        {%- elif problem -%}
            {%- do problems.append(problem) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if problems -%}
        {{ exceptions.raise_compiler_error(problems | join('; ')) }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}

{#- on-run-end: the row count and content hash (mignet_content_hash, installed by the dbt-duckdb plugin
    mignet.warehouse.dbt_plugin) of every seed and every mart this invocation wrote successfully, into
    audit.rpt_build_content (replaced as a whole, so a partial build names only what it wrote; an invocation
    that wrote nothing leaves it). `mignet validate` certifies a mart only while its content is what the build
    wrote, and the Python stages check the seeds they read the study's settings from against it. -#}
{% macro record_build_content(results) %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set rows = [] -%}
    {%- for result in results -%}
        {%- set node = result.node -%}
        {%- if result.status in ('success', 'pass') and node.resource_type in ('seed', 'model')
                and node.config.materialized in ('seed', 'table', 'incremental')
                and (node.resource_type == 'seed' or node.schema in ('marts', 'audit')) -%}
            {%- do rows.append(
                "select " ~ sql_string(invocation_id) ~ " as build_id, " ~ sql_string(node.resource_type) ~ " as resource_type, "
                ~ sql_string(node.schema) ~ " as table_schema, " ~ sql_string(node.alias or node.name) ~ " as table_name, "
                ~ "h.n_rows, h.content_hash from mignet_content_hash(" ~ sql_string(node.schema) ~ ", "
                ~ sql_string(node.alias or node.name) ~ ") as h"
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not rows -%}
        {#- an invocation that wrote no seed and no mart (`dbt test`, `dbt run-operation`) leaves the record of the
            build that did -#}
        {{ return('') }}
    {%- endif -%}
    {%- do run_query("create schema if not exists audit") -%}
    {%- do run_query("create or replace table audit.rpt_build_content as " ~ (rows | join(' union all '))) -%}
    {%- do log("recorded the content hash of " ~ (rows | length) ~ " seeds and marts in audit.rpt_build_content", info=true) -%}
    {{ return('') }}
{% endmacro %}
