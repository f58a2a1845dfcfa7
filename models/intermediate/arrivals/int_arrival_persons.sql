-- Every clean person with their origin by the build's definition (var origin_definition: nationality at
-- birth, current nationality or country of birth) and whether that origin is foreign (a known country other
-- than var home_country). A person of unknown origin is not counted as foreign.
with

persons as (
    select person_id, {{ adapter.quote(var('origin_definition')) }} as origin_country
    from {{ ref('int_persons_checked') }}
    where rule is null
)

select
    person_id,
    origin_country,
    coalesce(origin_country <> {{ sql_string(var('home_country')) }}, false) as is_foreign
from persons
