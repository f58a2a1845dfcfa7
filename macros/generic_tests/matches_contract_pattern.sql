{#- Fails on every value (NULL aside) that does not match, as a whole, the pattern the raw data contract
    (models/staging/register/_register__sources.yml) sets for `contract_table`.`contract_column`: a mart's codes
    are held to the same pattern as the raw codes they come from, written once, in the contract. The pattern
    is read from the source graph when the test runs. One row per offending value, counted. -#}
{% test matches_contract_pattern(model, column_name, contract_table, contract_column) %}
    {%- set node = raw_contract_table(contract_table) -%}
    {%- set pattern = node.columns[contract_column].meta.get('pattern') if node is not none else none -%}
    {%- if execute and pattern is none -%}
        {{ exceptions.raise_compiler_error("the raw data contract sets no pattern for " ~ contract_table ~ "." ~ contract_column) }}
    {%- endif -%}
    select {{ column_name }} as value, count(*) as n_rows
    from {{ model }}
    where {{ column_name }} is not null
      and not regexp_matches({{ column_name }}, {{ sql_string(pattern or '') }})
    group by {{ column_name }}
{% endtest %}
