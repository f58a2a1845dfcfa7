"""The data-quality layer: checks on the marts (dbt tests, pandera frame contracts, Great Expectations
suites), certification records in the warehouse, the quality report and publishing of certified marts.

Entry points: `validate.validate`, `publish.publish` (see docs/quality.md); certified reads go through
`mignet.warehouse.Warehouse.read_certified`.
"""
