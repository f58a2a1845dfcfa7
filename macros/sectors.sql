{#-
  The unknown statistical sector of a municipality: Statbel codes the residents (and moves) of a municipality
  whose sector is not known as the sector `<nis>ZZZZ`. The warehouse counts there every side of a move, and
  every resident of population_by_origin, whose sector is missing or maps to no sector of the target
  vintage, so the sectors of a municipality always sum to it.
  - unknown_sector_suffix(): the last four characters of such a code, as a SQL string.
  - unknown_sector_code(nis): the SQL of the unknown sector of the municipality `nis` (a SQL expression).
-#}
{% macro unknown_sector_suffix() -%}
    'ZZZZ'
{%- endmacro %}

{% macro unknown_sector_code(nis) -%}
    ({{ nis }} || {{ unknown_sector_suffix() }})
{%- endmacro %}
