{#- The column is the label of the seed row whose range [lower_column, upper_column] (both inclusive) holds
    `value_column`: e.g. period_label the period of seed periods that covers move_date, age_band the band of
    seed age_bands that holds age_at_move. A value in no range must carry `outside_label` (NULL when not
    given), a NULL value `missing_label` (NULL when not given). Also fails on every pair of seed rows whose
    ranges overlap, since a value would then have two labels. Failing rows: the offending value and labels,
    counted. -#}
{% test label_matches_seed_range(model, column_name, value_column, seed, label_column, lower_column, upper_column,
                                 outside_label=none, missing_label=none) %}
    with

    ranges as (
        select {{ label_column }} as label, {{ lower_column }} as lower_bound, {{ upper_column }} as upper_bound
        from {{ seed }}
    ),

    overlapping as (
        select
            'seed rows ' || a.label || ' and ' || b.label || ' overlap' as problem,
            cast(null as varchar) as actual_label,
            cast(null as varchar) as expected_label,
            1 as n_rows
        from ranges as a
        inner join ranges as b
            on a.label < b.label
            and a.lower_bound <= b.upper_bound
            and b.lower_bound <= a.upper_bound
    ),

    labelled as (
        select
            rows_.{{ column_name }} as actual_label,
            case
                when rows_.{{ value_column }} is null then {{ sql_value(missing_label) }}
                else coalesce(ranges.label, {{ sql_value(outside_label) }})
            end as expected_label
        from {{ model }} as rows_
        left join ranges
            on rows_.{{ value_column }} between ranges.lower_bound and ranges.upper_bound
    ),

    mislabelled as (
        select
            '{{ column_name }} is not the label of the range holding {{ value_column }}' as problem,
            cast(actual_label as varchar) as actual_label,
            cast(expected_label as varchar) as expected_label,
            count(*) as n_rows
        from labelled
        where actual_label is distinct from expected_label
        group by all
    )

    select * from overlapping
    union all
    select * from mislabelled
{% endtest %}
