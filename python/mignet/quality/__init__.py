"""The data-quality layer: checks on the marts (dbt tests, pandera row rules, Great Expectations suites),
certification records in the warehouse, readers that only hand out certified data, the quality report
and publishing of certified marts for analysts.

Entry points: `validate.validate`, `certified.read_certified`, `publish.publish` (see docs/quality.md).
"""

CERTIFIED_MARTS = (
    "dim_municipality",
    "dim_municipality_year",
    "fct_moves",
    "fct_incomes",
    "mart_network_dyads",
    "mart_destination_shares",
)
MART_SCHEMA = "marts"
