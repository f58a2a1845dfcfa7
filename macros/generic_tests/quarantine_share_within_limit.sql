{#- Refuses the build when one quarantine rule takes more than `max_share` (var quarantine_share_max) of the
    raw rows of a table. So many rows breaking one rule rarely means bad data: it is mostly a file read the
    wrong way (a semicolon-separated or decimal-comma export, another encoding, another coordinate system).
    The test stops with one message naming every such table and rule (DuckDB's error(), raised in a filter
    so it runs whatever dbt selects from the test) rather than dbt's count of failing rows. -#}
{% test quarantine_share_within_limit(model, max_share) %}
{%- set max_share = max_share | float %}
with

shares as (
    select source_table, rule, n_rows, raw_rows, n_rows / raw_rows as share
    from {{ model }}
    where outcome = 'quarantined' and n_rows > 0 and raw_rows > 0
        and n_rows / raw_rows > {{ sql_value(max_share) }}
),

message as (
    select
        'the build refuses the extract: '
        || string_agg(
            printf('%.1f %% of the rows of raw table %s (%d of %d) are quarantined as %s', 100 * share,
                source_table, n_rows, raw_rows, rule),
            '; ' order by source_table, rule)
        || ', above the limit ' || {{ sql_string((max_share * 100) | round(2) ~ ' %') }}
        || ' (var quarantine_share_max). So many rows breaking one rule usually means a format problem rather '
        || 'than bad data: CSV files must be UTF-8, comma-separated, with " as quote and a decimal point (not a '
        || 'decimal comma), coordinates Belgian Lambert 72 metres. Run `mignet check-raw` on the extract; '
        || 'when the share is real, raise quarantine_share_max.' as text
    from shares
    having count(*) > 0
)

select text from message where error(text) is null
{% endtest %}
