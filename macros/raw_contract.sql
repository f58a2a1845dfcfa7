{#-
  The raw data contract as dbt reads it: the source `register` of models/staging/register/_register__sources.yml
  (column meta: nullable, pattern, allowed, min, max, and the quarantine rule of each check), read through
  `graph.sources` at execute time. python/mignet/contract.py loads the same file for check-raw, so the build
  and check-raw apply one contract.

  - raw_contract_tables(): the source's tables (graph nodes), in the order of the file.
  - raw_contract_table(name): one of them.
  - raw_row_column() / raw_reserved_prefix(): the raw views' data-row column and the prefix no user column
    may carry.
  - raw_contract_bound(table, column, bound) / raw_contract_range(table, column): a column's `min` or `max`
    (a number, or a date as YYYY-MM-DD) and [min, max], for tests of the marts that follow the contract's
    bounds (the Lambert 72 box, the earliest birth date) rather than repeat them. Outside execution (while
    dbt parses) they return none.
  - contract_breaks(table, rule, columns=none): a SQL condition over the staging model of `table` that is
    true on a row breaking any check of the contract whose quarantine rule is `rule` (only those of
    `columns`, when given).
  - contract_reason(table, rule, columns=none): the readable reason of the first such check a row breaks.
  Staging carries `<column>_unparsed` (macro unparsed) for every column with an `unreadable` rule.
-#}

{% macro raw_contract_tables() %}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set tables = [] -%}
    {%- if not graph and model is mapping and model.get('resource_type') == 'unit_test' -%}
        {#- dbt compiles a unit test without the graph: there the contract's checks are off (contract_checks
            returns none) and the unit test exercises the rules across columns and tables -#}
        {{ return(tables) }}
    {%- endif -%}
    {%- for node in graph.sources.values() -%}
        {%- if node.package_name == project_name and node.source_name == 'register' -%}
            {%- do tables.append(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if tables | length == 0 -%}
        {{ exceptions.raise_compiler_error("the raw data contract (source register, models/staging/register/_register__sources.yml) declares no tables") }}
    {%- endif -%}
    {{ return(tables) }}
{% endmacro %}

{% macro raw_contract_table(name) %}
    {%- set tables = raw_contract_tables() -%}
    {%- for node in tables -%}
        {%- if node.name == name -%}
            {{ return(node) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if execute and tables -%}
        {{ exceptions.raise_compiler_error("the raw data contract has no table " ~ name) }}
    {%- endif -%}
    {{ return(none) }}
{% endmacro %}

{#- Outside execution (parsing) and in unit tests the graph is not there; the staging models compile to the
    column names of the contract then, so the names below only stand in for them. -#}
{% macro raw_row_column() -%}
    {%- set tables = raw_contract_tables() -%}
    {{ return(tables[0].source_meta.row_column if tables else 'raw_row_column_outside_execution') }}
{%- endmacro %}

{% macro raw_reserved_prefix() -%}
    {%- set tables = raw_contract_tables() -%}
    {{ return(tables[0].source_meta.reserved_prefix if tables else 'raw_reserved_prefix_outside_execution') }}
{%- endmacro %}

{% macro raw_contract_bound(table, column, bound) %}
    {%- set node = raw_contract_table(table) -%}
    {%- if node is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if column not in node.columns or bound not in ['min', 'max'] -%}
        {{ exceptions.raise_compiler_error("the raw data contract has no " ~ bound ~ " of " ~ table ~ "." ~ column) }}
    {%- endif -%}
    {{ return(node.columns[column].meta.get(bound)) }}
{% endmacro %}

{% macro raw_contract_range(table, column) %}
    {{ return([raw_contract_bound(table, column, 'min'), raw_contract_bound(table, column, 'max')]) }}
{% endmacro %}

{#- A literal of a bound of a column of `data_type` (a date bound is written YYYY-MM-DD). -#}
{% macro contract_bound(value, data_type) -%}
    {%- if data_type | lower == 'date' -%} cast({{ sql_string(value) }} as date)
    {%- else -%} {{ sql_value(value) }}
    {%- endif -%}
{%- endmacro %}

{#- [{column, kind, rule, condition, reason}] of every check of `table` whose rule is `rule`. -#}
{% macro contract_checks(table, rule, columns=none) %}
    {%- set checks = [] -%}
    {%- if not execute -%}
        {{ return(checks) }}
    {%- endif -%}
    {%- set node = raw_contract_table(table) -%}
    {%- if node is none -%}
        {{ return(checks) }}
    {%- endif -%}
    {%- set type_words = {'date': 'a date', 'double': 'a number', 'integer': 'a whole number',
                          'bigint': 'a whole number', 'boolean': 'true or false'} -%}
    {%- for column in node.columns.values() -%}
        {%- set meta = column.meta -%}
        {%- set quarantine = meta.get('quarantine') or {} -%}
        {%- set name = adapter.quote(column.name) -%}
        {%- set label = sql_string(column.name) -%}
        {%- if columns is none or column.name in columns -%}
            {%- if quarantine.get('missing') == rule -%}
                {%- set unparsed = ' and ' ~ adapter.quote(column.name ~ '_unparsed') ~ ' is null' if quarantine.get('unreadable') else '' -%}
                {%- do checks.append({'column': column.name, 'kind': 'missing',
                    'condition': name ~ ' is null' ~ unparsed,
                    'reason': label ~ " || ' is empty'"}) -%}
            {%- endif -%}
            {%- if quarantine.get('unreadable') == rule -%}
                {%- set unparsed = adapter.quote(column.name ~ '_unparsed') -%}
                {%- do checks.append({'column': column.name, 'kind': 'unreadable',
                    'condition': unparsed ~ ' is not null',
                    'reason': label ~ " || ' ''' || " ~ unparsed ~ " || ''' is not ' || "
                        ~ sql_string(type_words.get(column.data_type | lower, 'a ' ~ column.data_type))}) -%}
            {%- endif -%}
            {%- if meta.get('pattern') is not none and quarantine.get('pattern') == rule -%}
                {%- do checks.append({'column': column.name, 'kind': 'pattern',
                    'condition': name ~ ' is not null and not regexp_full_match(' ~ name ~ ', ' ~ sql_string(meta.pattern) ~ ')',
                    'reason': label ~ " || ' ''' || " ~ name ~ " || ''' does not match ' || " ~ sql_string(meta.pattern)}) -%}
            {%- endif -%}
            {%- if meta.get('allowed') is not none and quarantine.get('allowed') == rule -%}
                {%- set values = [] -%}
                {%- for value in meta.allowed -%}{%- do values.append(sql_string(value)) -%}{%- endfor -%}
                {%- do checks.append({'column': column.name, 'kind': 'allowed',
                    'condition': name ~ ' is not null and ' ~ name ~ ' not in (' ~ (values | join(', ')) ~ ')',
                    'reason': label ~ " || ' ''' || " ~ name ~ " || ''' is not one of ' || " ~ sql_string(meta.allowed | join(', '))}) -%}
            {%- endif -%}
            {%- if meta.get('min') is not none and quarantine.get('below_min') == rule -%}
                {%- do checks.append({'column': column.name, 'kind': 'below_min',
                    'condition': name ~ ' < ' ~ contract_bound(meta.min, column.data_type),
                    'reason': label ~ " || ' ' || cast(" ~ name ~ " as varchar) || ' is below ' || " ~ sql_string(meta.min)}) -%}
            {%- endif -%}
            {%- if meta.get('max') is not none and quarantine.get('above_max') == rule -%}
                {%- do checks.append({'column': column.name, 'kind': 'above_max',
                    'condition': name ~ ' > ' ~ contract_bound(meta.max, column.data_type),
                    'reason': label ~ " || ' ' || cast(" ~ name ~ " as varchar) || ' is above ' || " ~ sql_string(meta.max)}) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(checks) }}
{% endmacro %}

{% macro contract_breaks(table, rule, columns=none) -%}
    {%- set checks = contract_checks(table, rule, columns) -%}
    {%- if checks | length == 0 and execute and columns is none and raw_contract_tables() -%}
        {{ exceptions.raise_compiler_error("the raw data contract names no check of table " ~ table ~ " with quarantine rule " ~ rule) }}
    {%- endif -%}
    {%- set conditions = [] -%}
    {%- for check in checks -%}{%- do conditions.append('coalesce(' ~ check.condition ~ ', false)') -%}{%- endfor -%}
    ({{ conditions | join(' or ') if conditions else 'false' }})
{%- endmacro %}

{% macro contract_reason(table, rule, columns=none) -%}
    {%- set checks = contract_checks(table, rule, columns) -%}
    {%- if checks | length == 0 -%} cast(null as varchar)
    {%- else -%}
    case
        {%- for check in checks %}
        when coalesce({{ check.condition }}, false) then {{ check.reason }}
        {%- endfor %}
    end
    {%- endif -%}
{%- endmacro %}
