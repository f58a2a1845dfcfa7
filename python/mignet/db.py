"""One way to open DuckDB from mignet's Python code: without DuckDB's terminal progress bar, which would
otherwise write hundreds of redraws into logs and `mignet run`'s own progress display."""

from __future__ import annotations

from pathlib import Path

import duckdb


def connect(database: str | Path = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(database), read_only=read_only)
    con.execute("set enable_progress_bar = false")  # a session option: it cannot go into connect()'s config
    return con
