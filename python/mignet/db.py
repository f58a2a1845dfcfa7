"""The one way mignet's Python code talks SQL to DuckDB: connections, the quoting helpers, and the SQL
macros that the dbt build and the Python stages share.

- `connect` opens DuckDB without its terminal progress bar (hundreds of redraws in logs otherwise) and
  installs mignet's macros on the connection; `cursor` does the same for a cursor (DuckDB's cursors are
  connections of their own and do not see the parent's temporary macros).
- Values never go into SQL text by pasting. Bind them (`con.execute(sql, [value])`) wherever DuckDB takes
  a parameter; where it does not (a view's definition, COPY's target, a table function inside DDL),
  `sql_literal` and `sql_path` are the only quoting helpers, and `quote_ident` quotes names.
- `mignet_content_hash(schema, table)` is a DuckDB table macro: the row count and content hash of a
  table, independent of row order. The dbt build records the hash of every mart and seed it wrote with it
  (through the dbt-duckdb plugin `mignet.warehouse.dbt_plugin`, which installs these macros on dbt's
  connections), and the Python stages recompute it with the same macro, so one formula binds a
  certification to content.
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path

import duckdb

# Characters DuckDB's file readers treat as glob patterns; escaped so a path names exactly one file.
_GLOB_ESCAPES = {"[": "[[]", "*": "[*]", "?": "[?]"}

MACROS = (
    # The content hash: column names and types, row count, and the xor and the sum (mod 2^64) of DuckDB's
    # 64-bit hash of every row, hashed together. A changed value, an added, removed or duplicated row, or a
    # changed column type all change it; row order does not.
    """
    create or replace temp macro mignet_content_hash(relation_schema, relation_name) as table
    with signature as (
        select coalesce(string_agg(column_name || ' ' || data_type, ', ' order by ordinal_position), '') as columns
        from information_schema.columns
        where table_schema = relation_schema and table_name = relation_name
    ),
    hashed as (
        select count(*) as n_rows, coalesce(bit_xor(h), 0) as xor_hash,
               coalesce(sum(h::hugeint), 0) % 18446744073709551616 as sum_hash
        from (
            select hash(t) as h
            from query_table('"' || replace(relation_schema, '"', '""') || '"."'
                             || replace(relation_name, '"', '""') || '"') as t
        )
    )
    select
        hashed.n_rows,
        md5(signature.columns || '|' || hashed.n_rows || '|' || hashed.xor_hash || '|' || hashed.sum_hash)
            as content_hash
    from hashed, signature
    """,
)


def install_macros(con) -> None:
    """Create mignet's SQL macros on `con` (temporary: they live with the connection, so a read-only
    warehouse connection can have them too)."""
    for sql in MACROS:
        con.execute(sql)


def connect(database: str | Path = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(database), read_only=read_only)
    con.execute("set enable_progress_bar = false")  # a session option: it cannot go into connect()'s config
    install_macros(con)
    return con


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor of `con` (for another thread) with mignet's macros."""
    cur = con.cursor()
    cur.execute("set enable_progress_bar = false")
    install_macros(cur)
    return cur


# ---- quoting -------------------------------------------------------------------------------------------

def quote_ident(name: str) -> str:
    """A SQL identifier, double-quoted with embedded quotes doubled."""
    return '"' + str(name).replace('"', '""') + '"'


def qualified(schema: str, table: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}"


def sql_literal(value) -> str:
    """A SQL literal of a Python value, for the few places DuckDB takes no bound parameter."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"'{value}'::double"
        return repr(value)
    if isinstance(value, _dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, _dt.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def sql_path(path: str | Path) -> str:
    """A quoted SQL literal naming exactly the file `path`: quotes doubled and DuckDB's glob characters
    escaped, so `reg?/moves.parquet` is that folder and not also `regA/moves.parquet`."""
    text = "".join(_GLOB_ESCAPES.get(ch, ch) for ch in str(path))
    return sql_literal(text)


# ---- catalogue and content ---------------------------------------------------------------------------

def table_exists(con, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
    )


def columns(con, schema: str, table: str) -> list[tuple[str, str]]:
    """(column name, DuckDB type) of `schema.table`, in table order; empty when it does not exist."""
    return [
        (r[0], r[1])
        for r in con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
    ]


def content_hash(con, schema: str, table: str) -> tuple[int, str]:
    """(row count, content hash) of `schema.table`, computed inside DuckDB in one pass."""
    if not table_exists(con, schema, table):
        raise LookupError(f"table {schema}.{table} does not exist in the warehouse")
    install_macros(con)  # a connection not opened through `connect` has not got them yet
    n, digest = con.execute("select n_rows, content_hash from mignet_content_hash(?, ?)", [schema, table]).fetchall()[0]
    return int(n), str(digest)


def duplicate_rows_sql(relation: str, keys: list[str] | tuple[str, ...]) -> str:
    """A scalar subquery: the rows of `relation` beyond the first of each value of `keys` (NULLs compare
    equal, as in DISTINCT). Exact, but hash first: only rows whose 64-bit hash of the key occurs more than
    once are grouped on the key values themselves (a key with a unique hash is unique), which is several
    times cheaper than a DISTINCT over millions of string keys. `relation` and `keys` are SQL text built by
    the caller from quoted names (`qualified`, `quote_ident`, `sql_path`)."""
    key = ", ".join(keys)
    return (
        f"(select cast(coalesce(sum(n - 1), 0) as bigint) from (select count(*) as n from {relation} where hash({key}) in "
        f"(select hash({key}) as h from {relation} group by h having count(*) > 1) group by {key}))"
    )
