-- Belgium has 581 municipalities from 1-1-2019 and 565 from 1-1-2025 (var expected_municipalities). A
-- different count means the extract's municipalities table or the nis_code_changes seed is incomplete;
-- warn only, since an extract of another geography may legitimately differ.
{{ config(severity='warn') }}

{%- set expected = var('expected_municipalities').get(var('target_vintage') | string) %}

select count(*) as n_municipalities, {{ expected if expected is not none else 'null' }} as expected
from {{ ref('dim_municipality') }}
having count(*) is distinct from {{ expected if expected is not none else 'null' }}
