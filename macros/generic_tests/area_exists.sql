{#- Every area of an arrival mart is an area of its level: a municipality of dim_municipality (area_level
    'municipality', area_code its NIS code) or a sector of dim_sector lying in the row's municipality
    (area_level 'sector'). Fails on every other combination of area_level, area_code and nis_code. -#}
{% test area_exists(model) %}
    with

    areas as (
        select distinct area_level, area_code, nis_code from {{ model }}
    ),

    known as (
        select 'municipality' as area_level, nis_code as area_code, nis_code from {{ ref('dim_municipality') }}
        union all
        select 'sector', sector_code, nis_code from {{ ref('dim_sector') }}
    )

    select areas.*
    from areas
    where not exists (
        select 1 from known
        where known.area_level = areas.area_level and known.area_code = areas.area_code
            and known.nis_code = areas.nis_code
    )
{% endtest %}
