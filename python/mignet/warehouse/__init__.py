"""The dbt warehouse: `build_warehouse` runs `dbt build` into a fresh DuckDB file and swaps it in."""
