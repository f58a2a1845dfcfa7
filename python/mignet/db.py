"""One way to open DuckDB from mignet's Python code: without DuckDB's terminal progress bar, which would
otherwise write hundreds of redraws into logs and `mignet run`'s own progress display."""

from __future__ import annotations

from pathlib import Path

import duckdb


def connect(database: str | Path = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(database), read_only=read_only)
    con.execute("set enable_progress_bar = false")  # a session option: it cannot go into connect()'s config
    return con


def duplicate_rows_sql(relation: str, keys: list[str] | tuple[str, ...]) -> str:
    """A scalar subquery: the rows of `relation` beyond the first of each value of `keys` (NULLs compare
    equal, as in DISTINCT). Exact, but hash first: only rows whose 64-bit hash of the key occurs more than
    once are grouped on the key values themselves (a key with a unique hash is unique), which is several
    times cheaper than a DISTINCT over millions of string keys."""
    key = ", ".join(keys)
    return (
        f"(select cast(coalesce(sum(n - 1), 0) as bigint) from (select count(*) as n from {relation} where hash({key}) in "
        f"(select hash({key}) as h from {relation} group by h having count(*) > 1) group by {key}))"
    )
