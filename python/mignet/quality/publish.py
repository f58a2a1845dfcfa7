"""`mignet publish`: export the certified marts to a release of Parquet files and switch analysts to it.

    <releases_dir>/<release_id>/*.parquet     one file per certified mart (+ model_estimates when fitted)
    <releases_dir>/current -> <release_id>    symlink, switched atomically (os.replace of a new link)
    <analytics_db>                            DuckDB file holding only VIEWS over <releases_dir>/current/*.parquet

Guarantees:
- Only certified data leaves the warehouse: every mart is verified (status and content hash) first; if any
  is not certified, nothing is written and the previous release stays current.
- A release is written into a hidden temporary folder and renamed into place when complete; `current` is
  switched only after that, in one atomic rename. A publish that fails half-way leaves the previous
  release current, complete and unchanged.
- Analysts' sessions never block a publish: the views in analytics.duckdb read through `current`, so the
  file needs no rewrite when the set of tables is unchanged. When it must be (re)created, a new file is
  written beside it and renamed over it; a session holding the old file open keeps working (on the new
  data, through `current`) and is told about in the progress messages.
- Published flow counts follow the disclosure rule (dbt vars `disclosure_round_to`, default 10, and
  `disclosure_suppress_below`, default 5): counts are rounded to the nearest multiple, non-zero counts
  below the threshold are NULL with `<column>_suppressed = true`. The warehouse keeps exact counts.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from mignet import db
from mignet.db import table_exists
from mignet.settings import Settings
from mignet.warehouse import MART_SCHEMA, NotCertifiedError, StaleResultsError, Warehouse
from mignet.warehouse.build_settings import BuildSettings

CURRENT = "current"
KEEP_RELEASES = 3
# mart -> count columns the disclosure rule applies to
FLOW_COUNTS: dict[str, tuple[str, ...]] = {
    "mart_network_dyads": ("n_moves",),
    "mart_destination_shares": ("movers_in", "movers_in_all_groups"),
}
EXTRA_TABLES = (("results", "model_estimates"), ("results", "model_gof"))
RELEASE_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-z]+(-\d+)?$")


class PublishError(RuntimeError):
    """Publishing refused or failed; the previous release (if any) is still current."""


def disclosure_expr(column: str, round_to: int, suppress_below: int) -> str:
    c = f'"{column}"'
    rounded = f"greatest(cast(round({c} / {round_to}) * {round_to} as bigint), {round_to})" if round_to > 1 else c
    return (
        f"case when {c} is null then null when {c} = 0 then 0 when {c} < {suppress_below} then null "
        f"else {rounded} end as {c}, "
        f"coalesce({c} > 0 and {c} < {suppress_below}, false) as \"{column}_suppressed\""
    )


def export_sql(con: duckdb.DuckDBPyConnection, mart: str, params: BuildSettings) -> str:
    """The select that produces the published form of a mart."""
    columns = [r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position", [MART_SCHEMA, mart]).fetchall()]
    counts = FLOW_COUNTS.get(mart, ())
    select = []
    for col in columns:
        if col in counts:
            select.append(disclosure_expr(col, params.disclosure_round_to, params.disclosure_suppress_below))
        elif mart == "mart_destination_shares" and col == "share":
            continue  # recomputed below from the published counts, so the exact counts cannot be recovered
        else:
            select.append(f'"{col}"')
    inner = f'select {", ".join(select)} from {db.qualified(MART_SCHEMA, mart)}'
    if mart == "mart_destination_shares" and "share" in columns:
        return (
            f"select * exclude (share_published), share_published as share from ("
            f"select *, case when movers_in_all_groups > 0 then movers_in / movers_in_all_groups end as share_published "
            f"from ({inner}))"
        )
    return inner


def _export_table(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> int:
    con.execute(f"copy ({sql}) to {db.sql_literal(str(path))} (format parquet, compression zstd)")
    return con.execute(f"select count(*) from read_parquet({db.sql_path(path)})").fetchall()[0][0]


@contextmanager
def _publish_lock(releases_dir: Path):
    releases_dir.mkdir(parents=True, exist_ok=True)
    with open(releases_dir / ".publish.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PublishError(f"another `mignet publish` is running on {releases_dir}") from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def current_release(settings: Settings) -> str | None:
    link = settings.releases_dir / CURRENT
    if not link.is_symlink():
        return None
    return Path(os.readlink(link)).name


def switch_current(releases_dir: Path, release_id: str) -> None:
    """Point `current` at release_id in one atomic rename (readers see the old or the new, never neither)."""
    link = releases_dir / CURRENT
    if link.exists() and not link.is_symlink():
        raise PublishError(f"{link} exists and is not a symlink; move it away so releases can be switched")
    tmp = releases_dir / f".{CURRENT}.{os.getpid()}.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(release_id, tmp)  # relative, so the releases folder can be moved as a whole
    os.replace(tmp, link)


def _holder_of(database: Path) -> str | None:
    """None when nobody holds `database` open; otherwise DuckDB's description of the lock holder."""
    try:
        con = db.connect(str(database))
    except duckdb.Error as exc:
        text = str(exc)
        if "lock" in text.lower():
            pid = re.search(r"PID (\d+)", text)
            return f"process {pid.group(1)}" if pid else "another process"
        raise
    con.close()
    return None


def _views_sql(settings: Settings, tables: list[str]) -> list[str]:
    current = settings.releases_dir.resolve() / CURRENT
    out = []
    for table in tables:
        out.append(f"create or replace view {db.quote_ident(table)} as select * from "
                   f"read_parquet({db.sql_path(current / (table + '.parquet'))})")
    return out


def ensure_analytics_db(settings: Settings, tables: list[str], say) -> str:
    """Make analytics.duckdb hold one view per published table; rewrite it only when needed."""
    analytics = settings.analytics_db
    state_path = analytics.with_name(analytics.name + ".views.json")
    wanted = {"tables": sorted(tables), "current": str(settings.releases_dir.resolve() / CURRENT)}
    if analytics.exists() and state_path.exists():
        try:
            if json.loads(state_path.read_text()) == wanted:
                return "unchanged"
        except json.JSONDecodeError:
            pass
    analytics.parent.mkdir(parents=True, exist_ok=True)
    tmp = analytics.with_name(f".{analytics.name}.{os.getpid()}.tmp")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        if leftover.exists():
            leftover.unlink()
    con = db.connect(str(tmp))
    try:
        for sql in _views_sql(settings, tables):
            con.execute(sql)
        con.execute("checkpoint")
    finally:
        con.close()
    holder = _holder_of(analytics) if analytics.exists() else None
    if holder is None:
        wal = analytics.with_name(analytics.name + ".wal")
        if wal.exists():
            wal.unlink()  # belongs to the file being replaced; it must not be replayed onto the new one
    os.replace(tmp, analytics)
    state_path.write_text(json.dumps(wanted))
    if holder:
        say(
            f"note: {analytics} was open in {holder}; a new file with the views of {len(tables)} tables replaced it. "
            "That session keeps its old view list until it reconnects; the data already switched through "
            f"{settings.releases_dir / CURRENT}."
        )
        return f"replaced while open in {holder}"
    return "written"


def _prune(releases_dir: Path, keep: int, current: str) -> list[str]:
    releases = sorted(p.name for p in releases_dir.iterdir() if p.is_dir() and not p.is_symlink() and RELEASE_ID.match(p.name))
    old = [r for r in releases[:-keep] if r != current] if keep > 0 else []
    for r in old:
        shutil.rmtree(releases_dir / r, ignore_errors=True)
    for stale in releases_dir.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return old


def publish(settings: Settings, progress=None, keep: int = KEEP_RELEASES) -> str:
    """Export certified marts into a new release, switch `current` to it, return the release id."""
    say = progress or (lambda message: None)
    warehouse = Warehouse(settings)
    warehouse.require()
    releases_dir = settings.releases_dir
    with _publish_lock(releases_dir):
        con = db.connect(str(settings.warehouse), read_only=True)
        try:
            params = warehouse.build_settings(con)
            marts = params.marts
            certs, refused = {}, []
            for mart in marts:
                try:
                    certs[mart] = warehouse.certification(con, mart)
                except NotCertifiedError as exc:
                    refused.append(str(exc))
            results = {}
            for schema, table in EXTRA_TABLES:
                if table_exists(con, schema, table):
                    try:
                        results[table] = warehouse.verify_results(con, table)
                    except StaleResultsError as exc:
                        refused.append(str(exc))
            if refused:
                previous = current_release(settings)
                raise PublishError(
                    "nothing published, "
                    + (f"release {previous} stays current" if previous else "no release exists yet")
                    + ":\n  " + "\n  ".join(refused)
                )
            build_ids = {c.build_id for c in certs.values()}
            build_id = sorted(build_ids)[0] if len(build_ids) == 1 else "mixed"
            now = datetime.now(timezone.utc)
            base = f"{now:%Y%m%dT%H%M%SZ}-{re.sub(r'[^0-9a-z]', '', build_id.lower())[:8] or 'build'}"
            release_id, n = base, 2
            while (releases_dir / release_id).exists():
                release_id, n = f"{base}-{n}", n + 1
            tmp = releases_dir / f".tmp-{release_id}-{os.getpid()}"
            tables: dict[str, dict] = {}
            try:
                tmp.mkdir(parents=True)
                for mart in marts:
                    say(f"export {mart}")
                    rows = _export_table(con, export_sql(con, mart, params), tmp / f"{mart}.parquet")
                    cert = certs[mart]
                    tables[mart] = {
                        "rows": rows, "certification_id": cert.certification_id, "content_hash": cert.content_hash,
                        "build_id": cert.build_id, "disclosure_applied_to": list(FLOW_COUNTS.get(mart, ())),
                    }
                for schema, table in EXTRA_TABLES:
                    if table in results:
                        say(f"export {schema}.{table}")
                        rows = _export_table(con, f"select * from {db.qualified(schema, table)}", tmp / f"{table}.parquet")
                        tables[table] = {"rows": rows, "source": f"{schema}.{table}",
                                         "content_hash": results[table]["content_hash"]}
                manifest = {
                    "release_id": release_id,
                    "build_id": build_id,
                    "published_at": now.isoformat(),
                    "warehouse": str(settings.warehouse),
                    "disclosure": {
                        "round_to": params.disclosure_round_to,
                        "suppress_below": params.disclosure_suppress_below,
                        "columns": {m: list(c) for m, c in FLOW_COUNTS.items()},
                    },
                    "tables": tables,
                }
                (tmp / "release.json").write_text(json.dumps(manifest, indent=2))
                info = db.connect()
                try:
                    info.execute(
                        "create table release_info as select * from (values " + ", ".join(
                            "(?, ?, ?, ?, ?, ?::timestamptz)" for _ in tables) + ") t(release_id, build_id, table_name, "
                        "row_count, certification_id, published_at)",
                        [v for t, d in tables.items() for v in
                         (release_id, build_id, t, d["rows"], d.get("certification_id"), now)],
                    )
                    info.execute(f"copy release_info to {db.sql_literal(str(tmp / 'release_info.parquet'))} (format parquet)")
                finally:
                    info.close()
                os.rename(tmp, releases_dir / release_id)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        finally:
            con.close()
        previous = current_release(settings)
        switch_current(releases_dir, release_id)
        say(f"release {release_id} is current" + (f" (was {previous})" if previous else ""))
        state = ensure_analytics_db(settings, [*tables, "release_info"], say)
        say(f"{settings.analytics_db}: views {state}")
        removed = _prune(releases_dir, keep, release_id)
        if removed:
            say(f"removed old releases: {', '.join(removed)}")
    return release_id
