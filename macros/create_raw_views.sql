{#-
  on-run-start: expose each raw table of the extract folder (var raw_dir) as a view in schema `raw`.
  A table may be a Parquet or a CSV file; CSV is read with every column as text, so a bad cell never stops
  the build: staging casts with try_cast and the intermediate checks quarantine what does not parse.
  Every view carries `source_row`, the 1-based data row of the file (header not counted), so quarantine
  reports can name the row.
-#}
{% macro create_raw_views() %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set raw_dir = var('raw_dir') | string -%}
    {%- set raw_dir = raw_dir.rstrip('/') -%}
    {%- set statements = ["create schema if not exists raw"] -%}
    {%- for table in var('raw_tables') -%}
        {%- set found = run_query(
            "select file from glob('" ~ raw_dir ~ "/" ~ table ~ ".parquet') "
            ~ "union all select file from glob('" ~ raw_dir ~ "/" ~ table ~ ".csv') order by file desc"
        ) -%}
        {%- set files = found.columns[0].values() -%}
        {%- if files | length == 0 -%}
            {{ exceptions.raise_compiler_error(
                "raw table '" ~ table ~ "' not found: expected " ~ raw_dir ~ "/" ~ table ~ ".parquet or "
                ~ raw_dir ~ "/" ~ table ~ ".csv (set MIGNET_RAW_DIR or --vars '{raw_dir: ...}' to the extract folder)"
            ) }}
        {%- endif -%}
        {%- set path = files[0] -%}
        {%- if path.endswith('.parquet') -%}
            {%- set relation_sql = "select * exclude (file_row_number), file_row_number + 1 as source_row "
                ~ "from read_parquet('" ~ path ~ "', file_row_number = true)" -%}
        {%- else -%}
            {#- insertion order is preserved by DuckDB, so row_number() over () follows the file -#}
            {%- set relation_sql = "select *, row_number() over () as source_row "
                ~ "from read_csv('" ~ path ~ "', header = true, all_varchar = true, auto_detect = true)" -%}
        {%- endif -%}
        {%- do statements.append("create or replace view raw." ~ table ~ " as " ~ relation_sql) -%}
    {%- endfor -%}
    {%- for statement in statements -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}
    {%- do log("raw views over " ~ raw_dir ~ " created", info=true) -%}
{% endmacro %}
