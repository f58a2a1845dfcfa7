-- The area type and named area of every municipality of the target vintage (the income-position study), from the
-- clean rows of the optional raw table area_types (int_area_types_checked: harmonised to the vintage, a conflict
-- between the parts of one municipality quarantined). A municipality without a clean row, and every
-- municipality of an extract without the table, is of area type and area `unclassified`, flagged: so every
-- municipality is in exactly one area type, and dim_area says which ones the extract did not classify.
with

municipalities as (
    select nis_code from {{ ref('int_municipalities_vintage') }}
),

classified as (
    select
        vintage_nis as nis_code,
        any_value(area_type) as area_type,
        any_value(area_name) as area_name,
        count(*) as n_source_rows
    from {{ ref('int_area_types_checked') }}
    where rule is null
    group by vintage_nis
),

final as (
    select
        municipalities.nis_code,
        coalesce(classified.area_type, 'unclassified') as area_type,
        coalesce(classified.area_name, 'unclassified') as area_name,
        classified.nis_code is null as is_unclassified,
        coalesce(classified.n_source_rows, 0) as n_source_rows
    from municipalities
    left join classified using (nis_code)
)

select * from final
