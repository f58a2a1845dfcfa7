{#-
  on-run-start: expose each table of the raw data contract (the source `register`, read through graph.sources)
  as a view in schema `raw` over its file in the extract folder (var raw_dir), and refuse an extract that
  breaks the contract's structure, naming file, column, row, rule and value as `mignet check-raw` does.

  - The file is found by its exact name: `<table>.parquet` or `<table>.csv` in raw_dir, through DuckDB's
    glob() of the path with its glob characters escaped (macro sql_path), so a folder `reg?` is that folder
    and not also `regA`. Neither or both is an error, except that an optional table (table meta
    `optional: true`) may be absent: its view is then empty, with the contract's columns.
  - An optional column (column meta `optional: true`, always nullable) may be absent from its file: the view
    has it as NULL in every row.
  - The view selects the contract's columns by name (other columns of the file are ignored) and the 1-based
    data row of the file as `_mignet_source_row` (raw_row_column()). A file column carrying the reserved
    prefix `_mignet_` (or named file_row_number in Parquet, DuckDB's row-number column) is refused, so user
    columns can never collide with the warehouse's own.
  - CSV is read with the contract's dialect (comma, '"' quote and escape, header), the header's names given
    to DuckDB and every column as text: nothing is sniffed, a malformed line stops the build naming its line,
    and staging casts with try_cast so that the int_*_checked models quarantine what the contract says.
  - Structure (in `dbt build`, `run` and `test`; not again in `docs generate`): a table without data rows,
    a NULL in a NOT NULL column, a value that cannot be read as its column's type where the contract names
    no quarantine rule for it, a number with a decimal comma. The build then stops before any model runs.
  Nothing is pasted into SQL: paths go through sql_path, values through sql_string, names through
  adapter.quote. python/mignet/raw.py reads files the same way (a test runs both on hostile folder names).
-#}

{#- The fields of a CSV header line: split on `delimiter` outside double quotes, quotes removed ("" is ").
    mignet.raw.split_header applies the same expression. -#}
{% macro csv_header_fields(line, delimiter=',') %}
    {%- if not line -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set d = modules.re.escape(delimiter) -%}
    {%- set fields = [] -%}
    {%- for field in modules.re.findall('(?:^|' ~ d ~ ')("(?:[^"]|"")*"|[^' ~ d ~ ']*)', line) -%}
        {%- if field | length >= 2 and field.startswith('"') and field.endswith('"') -%}
            {%- do fields.append(field[1:-1].replace('""', '"')) -%}
        {%- else -%}
            {%- do fields.append(field) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(fields) }}
{% endmacro %}

{#- The one file of `table` in `raw_dir` ({'path': ...}), or {'problem': ...}. -#}
{% macro raw_table_file(raw_dir, table) %}
    {%- set candidates = [] -%}
    {%- set formats = raw_contract_tables()[0].source_meta.formats -%}
    {%- for format in formats -%}
        {%- do candidates.append("select file from glob(" ~ sql_path(raw_dir ~ '/' ~ table ~ '.' ~ format) ~ ")") -%}
    {%- endfor -%}
    {%- set files = run_query(candidates | join(' union all ') ~ " order by file").columns[0].values() | list -%}
    {%- if files | length == 0 -%}
        {%- set names = [] -%}
        {%- for format in formats -%}{%- do names.append(table ~ '.' ~ format) -%}{%- endfor -%}
        {{ return({'missing': true, 'problem': raw_dir ~ '/' ~ names[0] ~ ": rule file_missing: table " ~ table ~ " not found: expected "
            ~ (names | join(' or ')) ~ " in " ~ raw_dir
            ~ " (set MIGNET_RAW_DIR or --vars '{raw_dir: ...}' to the extract folder)"}) }}
    {%- elif files | length > 1 -%}
        {{ return({'problem': raw_dir ~ '/' ~ table ~ ": rule file_ambiguous: " ~ (files | join(' and '))
            ~ " both exist; keep one"}) }}
    {%- endif -%}
    {{ return({'path': files[0]}) }}
{% endmacro %}

{#- {'names': [...], 'types': {name: type}, 'header': the CSV header line or none} of a raw file. -#}
{% macro raw_file_columns(path) %}
    {%- if path.endswith('.parquet') -%}
        {%- set described = run_query("describe select * from read_parquet(" ~ sql_path(path) ~ ")") -%}
        {%- set names = described.columns[0].values() | list -%}
        {%- set types = {} -%}
        {%- for row in described.rows -%}{%- do types.update({row[0]: row[1]}) -%}{%- endfor -%}
        {{ return({'names': names, 'types': types, 'header': none}) }}
    {%- endif -%}
    {#- the first line whole: the delimiter NUL never occurs in a header, quotes are not interpreted -#}
    {%- set first = run_query("select line from read_csv(" ~ sql_path(path) ~ ", header = false, auto_detect = false, "
        ~ "columns = {'line': 'VARCHAR'}, delim = '\\0', quote = '', escape = '', strict_mode = false) limit 1") -%}
    {%- set line = (first.columns[0].values() | list | first) if first.rows | length else '' -%}
    {%- set names = csv_header_fields(line or '') -%}
    {%- set types = {} -%}
    {%- for name in names -%}{%- do types.update({name: 'VARCHAR'}) -%}{%- endfor -%}
    {{ return({'names': names, 'types': types, 'header': line or ''}) }}
{% endmacro %}

{#- The SQL of the raw view of `table` over `path`: its contract columns by name and the data row. -#}
{% macro raw_relation_sql(table, path, file_columns) %}
    {%- set selected = [] -%}
    {%- for column in table.columns.values() -%}
        {%- if column.name in file_columns -%}
            {%- do selected.append(adapter.quote(column.name)) -%}
        {%- else -%}
            {#- an optional column the file lacks (a required one was refused before): NULL in every row, as
                text in a CSV (whose columns are all read as text) and of its type in Parquet -#}
            {%- do selected.append("cast(null as " ~ ("VARCHAR" if path.endswith('.csv') else column.data_type | upper)
                ~ ") as " ~ adapter.quote(column.name)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if path.endswith('.parquet') -%}
        {{ return("select " ~ (selected | join(', ')) ~ ", file_row_number + 1 as " ~ raw_row_column()
            ~ " from read_parquet(" ~ sql_path(path) ~ ", file_row_number = true)") }}
    {%- endif -%}
    {%- set spec = [] -%}
    {%- for name in file_columns -%}{%- do spec.append(sql_string(name) ~ ": 'VARCHAR'") -%}{%- endfor -%}
    {#- insertion order is preserved by DuckDB, so row_number() over () follows the file -#}
    {%- set dialect = "delim = ',', quote = '\"', escape = '\"'" -%}
    {{ return("select " ~ (selected | join(', ')) ~ ", row_number() over () as " ~ raw_row_column()
        ~ " from read_csv(" ~ sql_path(path) ~ ", header = true, auto_detect = false, " ~ dialect
        ~ ", columns = {" ~ (spec | join(', ')) ~ "})") }}
{% endmacro %}

{#- Problems with the columns of a raw file: reserved, repeated, missing (a CSV whose header splits on
    another delimiter is said to be not comma-separated). -#}
{% macro raw_column_problems(table, path, files) %}
    {%- set problems = [] -%}
    {%- set names = files.names -%}
    {%- set prefix = raw_reserved_prefix() -%}
    {%- for name in names -%}
        {%- if name.lower().startswith(prefix) or (path.endswith('.parquet') and name.lower() == 'file_row_number') -%}
            {%- do problems.append(path ~ ", column " ~ name ~ ": rule column_reserved: column '" ~ name
                ~ "' uses a name reserved for the warehouse's own columns (prefix " ~ prefix
                ~ ", or file_row_number in Parquet): rename or drop it") -%}
        {%- endif -%}
        {%- if names.count(name) > 1 and names.index(name) == loop.index0 -%}
            {%- do problems.append(path ~ ", column " ~ name ~ ": rule column_duplicated: column '" ~ name
                ~ "' appears " ~ names.count(name) ~ " times") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set missing = [] -%}
    {%- for column in table.columns.values() -%}
        {%- if column.name not in names and not column.meta.get('optional') -%}{%- do missing.append(column) -%}{%- endif -%}
    {%- endfor -%}
    {%- if missing and files.header is not none -%}
        {%- for delimiter in [';', '\t', '|'] -%}
            {%- set other = csv_header_fields(files.header, delimiter) -%}
            {%- set ns = namespace(all=true) -%}
            {%- for column in table.columns.values() -%}
                {%- if column.name not in other and not column.meta.get('optional') -%}{%- set ns.all = false -%}{%- endif -%}
            {%- endfor -%}
            {%- if ns.all and missing -%}
                {%- do problems.append(path ~ ": rule csv_delimiter: the header is separated by " ~ tojson(delimiter)
                    ~ ", not by commas: the contract's CSV is UTF-8 text, comma-separated, '\"' as quote, a decimal "
                    ~ "point (export the table again as comma-separated UTF-8, or convert it)") -%}
                {{ return(problems) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for column in missing -%}
        {%- do problems.append(path ~ ", column " ~ column.name ~ ": rule column_missing: column " ~ column.name
            ~ " (" ~ (column.data_type | upper) ~ ") is missing") -%}
    {%- endfor -%}
    {{ return(problems) }}
{% endmacro %}

{#- Structural problems of the rows (one pass over the file): no data row, a NULL in a NOT NULL column, a value
    that cannot be read as its type where the contract names no quarantine rule for it, a decimal comma. -#}
{% macro raw_structure_problems(table, path, relation_sql, types) %}
    {%- set row_column = raw_row_column() -%}
    {#- a Parquet file states its NULLs per column in its metadata: a column it says has none needs no scan -#}
    {%- set no_nulls = [] -%}
    {%- if path.endswith('.parquet') -%}
        {%- set stats = run_query("select path_in_schema from parquet_metadata(" ~ sql_path(path) ~ ") group by all "
            ~ "having count(*) = count(stats_null_count) and sum(stats_null_count) = 0") -%}
        {%- set no_nulls = stats.columns[0].values() | list -%}
    {%- endif -%}
    {%- set checks = [] -%}
    {%- for column in table.columns.values() if column.name in types -%}
        {%- set meta = column.meta -%}
        {%- set quarantine = meta.get('quarantine') or {} -%}
        {%- set name = adapter.quote(column.name) -%}
        {%- set data_type = column.data_type | upper -%}
        {%- if (types.get(column.name) | upper) != data_type -%}
            {%- set unreadable = name ~ " is not null and try_cast(" ~ name ~ " as " ~ data_type ~ ") is null" -%}
            {%- if data_type == 'DOUBLE' and (types.get(column.name) | upper) == 'VARCHAR' -%}
                {%- set comma = "regexp_full_match(" ~ name ~ ", '^[+-]?[0-9]*,[0-9]+$')" -%}
                {%- do checks.append({'column': column.name, 'rule': 'decimal_comma', 'condition': unreadable ~ " and " ~ comma,
                    'message': "is written with a decimal comma: the contract's numbers take a decimal point (its CSV is UTF-8 text, comma-separated, '\"' as quote, a decimal point)"}) -%}
                {%- set unreadable = unreadable ~ " and not " ~ comma -%}
            {%- endif -%}
            {%- if not quarantine.get('unreadable') -%}
                {%- do checks.append({'column': column.name, 'rule': 'type', 'condition': unreadable,
                    'message': 'cannot be read as ' ~ data_type}) -%}
            {%- endif -%}
        {%- endif -%}
        {%- if not meta.get('nullable') and not quarantine.get('missing') and column.name not in no_nulls -%}
            {%- do checks.append({'column': column.name, 'rule': 'not_null', 'condition': name ~ " is null",
                'message': 'NULL in a NOT NULL column'}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set selects = ['count(*)'] -%}
    {%- if path.endswith('.csv') -%}
        {#- DuckDB checks that CSV text is UTF-8 only in the columns a query reads: read every contract column -#}
        {%- for column in table.columns.values() if column.name in types -%}
            {%- do selects.append("count(" ~ adapter.quote(column.name) ~ ")") -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set base = selects | length -%}
    {%- for check in checks -%}
        {%- do selects.append("count(*) filter (where " ~ check.condition ~ ")") -%}
        {%- do selects.append("min(" ~ row_column ~ ") filter (where " ~ check.condition ~ ")") -%}
    {%- endfor -%}
    {%- set result = run_query("select " ~ (selects | join(', ')) ~ " from (" ~ relation_sql ~ ")").rows[0] -%}
    {%- set problems = [] -%}
    {%- if result[0] == 0 -%}
        {%- do problems.append(path ~ ": rule empty: " ~ ("has a header but no data rows" if path.endswith('.csv') else "has no rows")) -%}
        {{ return(problems) }}
    {%- endif -%}
    {%- for check in checks -%}
        {%- set count = result[base + 2 * loop.index0] -%}
        {%- set first = result[base + 1 + 2 * loop.index0] -%}
        {%- if count -%}
            {%- set value = run_query("select cast(" ~ adapter.quote(check.column) ~ " as varchar) from (" ~ relation_sql
                ~ ") where " ~ row_column ~ " = " ~ sql_value(first | int)).columns[0].values() | first -%}
            {%- do problems.append(path ~ ", column " ~ check.column ~ ", row " ~ (first | int) ~ ": rule " ~ check.rule ~ ": "
                ~ check.message ~ (" (value " ~ tojson(value) ~ ")" if value is not none else "")
                ~ ("; " ~ count ~ " rows in all" if count > 1 else "")) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(problems) }}
{% endmacro %}

{% macro create_raw_views() %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set raw_dir = (var('raw_dir') | string).rstrip('/') -%}
    {%- set problems = [] -%}
    {%- set views = [] -%}
    {%- for table in raw_contract_tables() -%}
        {%- set found = raw_table_file(raw_dir, table.name) -%}
        {%- if found.problem and found.missing and table.meta.get('optional') -%}
            {#- an optional table the extract does not have: an empty view with the contract's columns -#}
            {%- set columns = [] -%}
            {%- for column in table.columns.values() -%}
                {%- do columns.append("cast(null as " ~ (column.data_type | upper) ~ ") as " ~ adapter.quote(column.name)) -%}
            {%- endfor -%}
            {%- do views.append("create or replace view raw." ~ adapter.quote(table.name) ~ " as select "
                ~ (columns | join(', ')) ~ ", cast(null as BIGINT) as " ~ raw_row_column() ~ " where false") -%}
        {%- elif found.problem -%}
            {%- do problems.append(found.problem) -%}
        {%- else -%}
            {%- set files = raw_file_columns(found.path) -%}
            {%- set column_problems = raw_column_problems(table, found.path, files) -%}
            {%- do problems.extend(column_problems) -%}
            {%- if not column_problems -%}
                {%- set relation_sql = raw_relation_sql(table, found.path, files.names) -%}
                {%- if flags.WHICH in ['build', 'run', 'test'] -%}
                    {%- do problems.extend(raw_structure_problems(table, found.path, relation_sql, files.types)) -%}
                {%- endif -%}
                {%- do views.append("create or replace view raw." ~ adapter.quote(table.name) ~ " as " ~ relation_sql) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if problems -%}
        {{ exceptions.raise_compiler_error("raw extract " ~ raw_dir ~ " breaks the raw data contract ("
            ~ problems | length ~ " structural problem" ~ ("s" if problems | length != 1 else "")
            ~ "; run `mignet check-raw` for the full report, see docs/raw_contract.md):\n  - " ~ (problems | join("\n  - "))) }}
    {%- endif -%}
    {%- do run_query("create schema if not exists raw") -%}
    {%- for statement in views -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}
    {%- do log("raw views over " ~ raw_dir ~ " created", info=true) -%}
{% endmacro %}
