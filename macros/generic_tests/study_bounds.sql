{#-
  Bounds of the mart tests derived from the raw data contract (models/staging/register/_register__sources.yml,
  read through raw_contract_bound), whose checks quarantine every raw row outside them, so a mart test never
  repeats a number the contract already says and follows it when it changes:
  - max_distance_km(): the diagonal, in km, of the Lambert 72 box that holds every address coordinate of a
    move (moves.origin_x, origin_y) and every municipality centroid (municipalities.centroid_x, centroid_y):
    no distance of a move or a dyad, between addresses or centroids, can be longer.
  - max_age_years(): the age on the last day of the data period (var data_end_date) of a person born on the
    contract's earliest birth date (persons.birth_date min).
  While dbt parses (no graph yet) the contract's bounds are unknown and these render as NULL; tests compile
  with the real bounds.
-#}
{% macro max_distance_km() -%}
    {%- set xs = raw_contract_range('moves', 'origin_x') + raw_contract_range('municipalities', 'centroid_x') -%}
    {%- set ys = raw_contract_range('moves', 'origin_y') + raw_contract_range('municipalities', 'centroid_y') -%}
    {%- if none in xs or none in ys -%}
        cast(null as double)
    {%- else -%}
        (sqrt(power({{ xs | max }} - {{ xs | min }}, 2) + power({{ ys | max }} - {{ ys | min }}, 2)) / 1000.0)
    {%- endif -%}
{%- endmacro %}

{% macro max_age_years() -%}
    {%- set earliest_birth = raw_contract_bound('persons', 'birth_date', 'min') -%}
    {%- if earliest_birth is none -%}
        cast(null as integer)
    {%- else -%}
        date_sub('year', cast({{ sql_string(earliest_birth) }} as date), cast({{ sql_value(var('data_end_date')) }} as date))
    {%- endif -%}
{%- endmacro %}
