"""`mignet publish`: export the certified marts of the warehouse to two tiers of releases and switch each
tier's analysts to the new one (docs/release.md).

    secure tier (inside the secure environment; microdata)
    <secure>/releases/<release_id>/*.parquet   every certified mart as it is, + results.model_estimates and
                                               results.model_gof when current, release_info.parquet, release.json
    <secure>/releases/current -> <release_id>
    <secure>/analytics.duckdb                  views over <secure>/releases/current/*.parquet, + `tier`

    public tier (aggregates only, under the disclosure rule)
    <releases_dir>/<release_id>/*.parquet      the tables of the public catalogue (disclosure.PUBLIC_TABLES)
    <releases_dir>/current -> <release_id>
    <analytics_db>                             views over <releases_dir>/current/*.parquet, + `tier`

`<secure>` is `data/secure` (env MIGNET_SECURE_DIR): one folder holds every copy of the microdata, so one
permission guards it, and `data/releases` can be copied out as a whole without carrying any.

Guarantees:
- Only certified data leaves the warehouse: every mart is verified (status and content hash) and every
  results table is verified current before anything is written; if any is not, nothing is written and the
  previous releases stay current.
- The public release shows aggregates only: the tables and columns of the catalogue; flow counts under the
  disclosure rule of the build (vars disclosure_round_to, disclosure_suppress_below, as recorded in the
  warehouse), with secondary suppression so that no hidden count can be recovered from the others.
- An independent check (`release_check`) reads the written public files back and refuses the publication if
  any cell breaks the rule; then nothing is switched, and both previous releases stay current, unchanged.
- Each tier's release is written into a hidden temporary folder and renamed into place when complete;
  `current` is switched only after that, in one atomic rename. A publish that fails half-way leaves the
  previous releases current, complete and unchanged.
- Analysts' sessions never block a publish: the views read through `current`, so an analysts' database needs
  no rewrite when its set of tables is unchanged. When it must be (re)created, a new file is written beside it
  and renamed over it; a session holding the old file open keeps working (on the new data, through `current`)
  and is named in the progress messages.
- One publish at a time (a lock file in the public releases folder); the newest `keep` releases of each tier
  are kept.
- A secure table whose certified content hash is the one the current secure release recorded is hard-linked
  from there rather than written again.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from mignet import db
from mignet.quality import disclosure as dc
from mignet.quality import position_disclosure
from mignet.quality.release_check import check_public_release
from mignet.settings import Settings
from mignet.warehouse import MART_SCHEMA, RESULTS_SCHEMA, NotCertifiedError, StaleResultsError, Warehouse

CURRENT = "current"
KEEP_RELEASES = 3
RESULTS_TABLES = ("model_estimates", "model_gof", "count_estimates", "period_change_tests")
RELEASE_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-z]+(-\d+)?$")
SECURE, PUBLIC = "secure", "public"
DYADS, SHARES = "mart_network_dyads", "mart_destination_shares"


class PublishError(RuntimeError):
    """Publishing refused or failed; the previous releases (if any) are still current."""


@dataclass(frozen=True)
class Tier:
    name: str
    releases_dir: Path
    analytics_db: Path
    description: str


def tiers(settings: Settings) -> tuple[Tier, Tier]:
    """(secure, public) tiers of `settings`."""
    secure_root = settings.secure_dir
    return (
        Tier(SECURE, secure_root / "releases", secure_root / "analytics.duckdb",
             "secure tier: the certified marts as they are (exact counts, person-level tables), for analysts "
             "inside the secure environment only"),
        Tier(PUBLIC, settings.releases_dir, settings.analytics_db,
             "public tier: aggregates only, flow counts under the disclosure rule (see release.json)"),
    )


def _refuse_overlapping_tiers(secure: Tier, public: Tier) -> None:
    """The public folder is what may leave the secure environment: no secure file may live in or above it."""
    s, p = secure.releases_dir.resolve(), public.releases_dir.resolve()
    if s == p or p in s.parents or s in p.parents:
        raise PublishError(f"the secure releases ({s}) and the public releases ({p}) overlap; set MIGNET_SECURE_DIR "
                           "to a folder outside the public releases folder (default: data/secure)")
    if secure.analytics_db.resolve() == public.analytics_db.resolve():
        raise PublishError(f"the secure and the public analysts' database are the same file ({public.analytics_db})")


# ---- releases and the current link ---------------------------------------------------------------------------

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


def _current_of(releases_dir: Path) -> str | None:
    link = releases_dir / CURRENT
    if not link.is_symlink():
        return None
    return Path(os.readlink(link)).name


def _nothing_published(releases_dir: Path) -> str:
    previous = _current_of(releases_dir)
    return "nothing published, " + (f"release {previous} stays current" if previous else "no release exists yet")


def current_release(settings: Settings, tier: str = PUBLIC) -> str | None:
    """The current release id of a tier (default: public), or None."""
    secure, public = tiers(settings)
    return _current_of((secure if tier == SECURE else public).releases_dir)


# ---- temporary files: named once here, each with its writer's pid, so the cleanup after a killed process
# (mignet.locking) removes exactly these, and only when their writer is gone
_TEMPORARY = re.compile(r"^\.tmp-.+-(?P<staging>\d+)$|^\." + CURRENT + r"\.(?P<link>\d+)\.tmp$")


def _staging_folder(releases_dir: Path, release_id: str) -> Path:
    """Where a release is written before it is renamed into place."""
    return releases_dir / f".tmp-{release_id}-{os.getpid()}"


def _link_temporary(releases_dir: Path) -> Path:
    return releases_dir / f".{CURRENT}.{os.getpid()}.tmp"


def _analytics_temporary(analytics: Path) -> Path:
    return analytics.with_name(f".{analytics.name}.{os.getpid()}.tmp")


def leftovers(settings: Settings) -> list[tuple[Path, int]]:
    """The temporary files and folders of publish in every tier, with the pid of the process that writes them."""
    found = []
    for tier in tiers(settings):
        if tier.releases_dir.is_dir():
            for path in tier.releases_dir.iterdir():
                match = _TEMPORARY.match(path.name)
                if match:
                    found.append((path, int(match.group("staging") or match.group("link"))))
        analytics = re.compile(r"^\." + re.escape(tier.analytics_db.name) + r"\.(\d+)\.tmp(?:\.wal)?$")
        if tier.analytics_db.parent.is_dir():
            for path in tier.analytics_db.parent.iterdir():
                match = analytics.match(path.name)
                if match:
                    found.append((path, int(match.group(1))))
    return found


def switch_current(releases_dir: Path, release_id: str) -> None:
    """Point `current` at release_id in one atomic rename (readers see the old or the new, never neither)."""
    link = releases_dir / CURRENT
    if link.exists() and not link.is_symlink():
        raise PublishError(f"{link} exists and is not a symlink; move it away so releases can be switched")
    tmp = _link_temporary(releases_dir)
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(release_id, tmp)  # relative, so the releases folder can be moved as a whole
    os.replace(tmp, link)


def _prune(releases_dir: Path, keep: int, current: str) -> list[str]:
    releases = sorted(p.name for p in releases_dir.iterdir() if p.is_dir() and not p.is_symlink() and RELEASE_ID.match(p.name))
    old = [r for r in releases[:-keep] if r != current] if keep > 0 else []
    for r in old:
        shutil.rmtree(releases_dir / r, ignore_errors=True)
    for stale in releases_dir.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return old


def _remove_untiered_public_releases(releases_dir: Path, current: str) -> list[str]:
    """Releases in the public folder written before the tiers existed held every mart, microdata included;
    they must not stay where public data lives."""
    removed = []
    for folder in releases_dir.iterdir():
        if folder.name == current or folder.is_symlink() or not folder.is_dir() or not RELEASE_ID.match(folder.name):
            continue
        try:
            tier = json.loads((folder / "release.json").read_text()).get("tier")
        except (OSError, json.JSONDecodeError):
            tier = None
        if tier != PUBLIC:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


# ---- analysts' databases -----------------------------------------------------------------------------------

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


def _views_sql(tier: Tier, tables: list[str]) -> list[str]:
    current = tier.releases_dir.resolve() / CURRENT
    out = [f"create or replace view tier as select {db.sql_literal(tier.name)} as tier, "
           f"{db.sql_literal(tier.description)} as description"]
    for table in tables:
        out.append(f"create or replace view {db.quote_ident(table)} as select * from "
                   f"read_parquet({db.sql_path(current / (table + '.parquet'))})")
    return out


def ensure_analytics_db(tier: Tier, tables: list[str], say) -> str:
    """Make the tier's analysts' database hold one view per published table (and `tier`); rewrite it only
    when needed."""
    analytics = tier.analytics_db
    state_path = analytics.with_name(analytics.name + ".views.json")
    wanted = {"tier": tier.name, "tables": sorted(tables), "current": str(tier.releases_dir.resolve() / CURRENT)}
    if analytics.exists() and state_path.exists():
        try:
            if json.loads(state_path.read_text()) == wanted:
                return "unchanged"
        except json.JSONDecodeError:
            pass
    analytics.parent.mkdir(parents=True, exist_ok=True)
    tmp = _analytics_temporary(analytics)
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        if leftover.exists():
            leftover.unlink()
    con = db.connect(str(tmp))
    try:
        for sql in _views_sql(tier, tables):
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
            f"{tier.releases_dir / CURRENT}."
        )
        return f"replaced while open in {holder}"
    return "written"


# ---- export --------------------------------------------------------------------------------------------------

def _export_table(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> int:
    con.execute(f"copy ({sql}) to {db.sql_path(path)} (format parquet, compression zstd)")
    return con.execute(f"select count(*) from read_parquet({db.sql_path(path)})").fetchall()[0][0]


def _mart_columns(con, schema: str, table: str) -> list[str]:
    return [c for c, _ in db.columns(con, schema, table)]


def _previous_tables(tier: Tier) -> tuple[Path | None, dict]:
    """The current release of a tier and its manifest's tables ({} when there is none or it is unreadable)."""
    current = _current_of(tier.releases_dir)
    if current is None:
        return None, {}
    folder = tier.releases_dir / current
    try:
        return folder, json.loads((folder / "release.json").read_text()).get("tables") or {}
    except (OSError, json.JSONDecodeError):
        return None, {}


def _write_secure(con, folder: Path, marts, certs: dict, results: dict, previous: tuple[Path | None, dict], say) -> dict:
    """Every certified mart and results table as it is. A table whose content hash is the one the current
    secure release recorded is the same file: it is hard-linked from there instead of written again (a
    re-publish after a new fit rewrites only the results)."""
    previous_folder, previous_tables = previous
    tables = {}

    def export(name: str, source: str, content_hash: str) -> int:
        path = folder / f"{name}.parquet"
        before = previous_tables.get(name) or {}
        if previous_folder is not None and before.get("content_hash") == content_hash and before.get("source") == source:
            try:
                os.link(previous_folder / path.name, path)
                say(f"secure: {name} unchanged (content hash {content_hash[:12]}), linked from {previous_folder.name}")
                return int(before["rows"])
            except (OSError, KeyError, ValueError):
                pass  # another file system, or the file is gone: write it
        say(f"secure: export {source}")
        schema, table = source.split(".", 1)
        return _export_table(con, f"select * from {db.qualified(schema, table)}", path)

    for mart in marts:
        cert = certs[mart]
        source = f"{MART_SCHEMA}.{mart}"
        tables[mart] = {"rows": export(mart, source, cert.content_hash), "source": source,
                        "certification_id": cert.certification_id, "content_hash": cert.content_hash,
                        "build_id": cert.build_id}
    for table, record in results.items():
        source = f"{RESULTS_SCHEMA}.{table}"
        tables[table] = {"rows": export(table, source, record["content_hash"]), "source": source,
                         "content_hash": record["content_hash"]}
    return tables


@dataclass
class PublicPlan:
    """What secondary suppression decided, registered on the connection as `withheld_dyads` and
    `withheld_margins` for the export queries."""

    protection: dc.Protection | None
    seconds: float

    def as_dict(self) -> dict:
        if self.protection is None:
            return {"applied": False}
        p = self.protection
        return {"applied": True, "dyad_counts_withheld": p.cells_withheld, "margins_withheld": p.margins_withheld,
                "suppressed_counts_withheld_instead": p.upgraded, "audits": p.rounds, "seconds": round(self.seconds, 2)}


def plan_secondary_suppression(con, rule: dc.DisclosureRule, say, protect=dc.protect) -> PublicPlan:
    """Read the non-zero flow counts of the warehouse, decide which to withhold (`disclosure.protect`) and
    register the decision on `con` for the export queries."""
    start = time.perf_counter()
    design = dc.NetworkDesign.from_rows(con.execute(
        "select network_id, period_label, group_type, group_value from marts.dim_network").fetchall())
    codes = [nis for (nis,) in con.execute("select nis_code from marts.dim_municipality order by nis_code").fetchall()]
    numbered = ("with codes as (select nis_code, cast(row_number() over (order by nis_code) - 1 as bigint) as code "
                "from marts.dim_municipality) ")
    cells = con.execute(numbered + """
        select d.network_id, o.code as origin, de.code as destination, d.n_moves
        from marts.mart_network_dyads d
        join codes o on o.nis_code = d.origin_nis
        join codes de on de.nis_code = d.destination_nis
        where d.n_moves > 0""").fetchnumpy()
    margins = con.execute(numbered + """
        select n.network_id, de.code as destination, s.movers_in
        from marts.mart_destination_shares s
        join marts.dim_network n using (period_label, group_type, group_value)
        join codes de on de.nis_code = s.destination_nis
        where s.movers_in > 0""").fetchnumpy()
    protection = protect(design, cells["network_id"], cells["origin"], cells["destination"], cells["n_moves"],
                         margins["network_id"], margins["destination"], margins["movers_in"], rule, progress=say)
    codes_array = np.array(codes, dtype=object)
    w = protection.cell_state == dc.WITHHELD
    con.register("withheld_dyads", pa.table({
        "network_id": pa.array(cells["network_id"][w].astype(np.int32)),
        "origin_nis": pa.array(codes_array[cells["origin"][w].astype(np.int64)].tolist(), pa.string()),
        "destination_nis": pa.array(codes_array[cells["destination"][w].astype(np.int64)].tolist(), pa.string()),
    }))
    wm = protection.margin_state == dc.WITHHELD
    labels = [design.labels[int(n)] for n in margins["network_id"][wm]]
    con.register("withheld_margins", pa.table({
        "period_label": pa.array([lab[0] for lab in labels], pa.string()),
        "group_type": pa.array([lab[1] for lab in labels], pa.string()),
        "group_value": pa.array([lab[2] for lab in labels], pa.string()),
        "destination_nis": pa.array(codes_array[margins["destination"][wm].astype(np.int64)].tolist(), pa.string()),
    }))
    return PublicPlan(protection, time.perf_counter() - start)


def _no_secondary_suppression(con) -> None:
    empty_dyads = pa.table({"network_id": pa.array([], pa.int32()), "origin_nis": pa.array([], pa.string()),
                            "destination_nis": pa.array([], pa.string())})
    empty_margins = pa.table({c: pa.array([], pa.string()) for c in
                              ("period_label", "group_type", "group_value", "destination_nis")})
    con.register("withheld_dyads", empty_dyads)
    con.register("withheld_margins", empty_margins)


def public_dyads_sql(columns: list[str], rule: dc.DisclosureRule) -> str:
    """The published form of mart_network_dyads; `columns` are the mart's columns the catalogue lists."""
    entry = dc.PUBLIC_TABLES[DYADS]
    withheld = "d.mignet_withheld"
    select = []
    for column in columns:
        if column == "n_moves":
            select += [f"{rule.sql_value('d.n_moves', withheld)} as n_moves",
                       f"{rule.sql_suppressed('d.n_moves', withheld)} as n_moves_suppressed",
                       f"{withheld} as n_moves_withheld"]
        elif column == "tie":
            select.append(_derived_tie_sql("d", rule) + " as tie")
        elif column == "reverse_tie":
            if rule.min_moves <= 1:
                # with min_moves 1 a tie is "n_moves > 0", and a published count is 0 exactly when the count
                # is: the exact reverse tie is the one the published reverse count determines (the check
                # verifies it against the published counts)
                select.append("d.reverse_tie")
            else:
                select.append(_derived_tie_sql("r", rule) + " as reverse_tie")
        elif entry.column_class(column) in (dc.KEY, dc.REFERENCE, dc.STATISTIC):
            select.append(f"d.{db.quote_ident(column)}")
    marked = (f"select m.*, w.network_id is not null as mignet_withheld from {db.qualified(MART_SCHEMA, DYADS)} m "
              "left join withheld_dyads w using (network_id, origin_nis, destination_nis)")
    reverse = ""
    if "reverse_tie" in columns and rule.min_moves > 1:
        reverse = (" join marked r on r.network_id = d.network_id and r.origin_nis = d.destination_nis "
                   "and r.destination_nis = d.origin_nis")
    return f"with marked as ({marked}) select {', '.join(select)} from marked d{reverse}"


def _derived_tie_sql(alias: str, rule: dc.DisclosureRule) -> str:
    """The tie that the published n_moves of row `alias` of `marked` determines."""
    count, withheld = f"{alias}.n_moves", f"{alias}.mignet_withheld"
    return rule.sql_tie(value=f"({rule.sql_value(count, 'false')})", suppressed=rule.sql_suppressed(count, withheld),
                        withheld=withheld)


def public_shares_sql(columns: list[str], rule: dc.DisclosureRule) -> str:
    """The published form of mart_destination_shares: movers_in under the rule, movers_in_all_groups the
    published all-movers movers_in, share the ratio of the two."""
    entry = dc.PUBLIC_TABLES[SHARES]
    withheld = "mignet_withheld"
    keys = [c for c in columns if entry.column_class(c) == dc.KEY]
    marked = (f"select m.*, w.destination_nis is not null as {withheld} from {db.qualified(MART_SCHEMA, SHARES)} m "
              "left join withheld_margins w using (period_label, group_type, group_value, destination_nis)")
    published = (f"select {', '.join(db.quote_ident(k) for k in keys)}, "
                 f"{rule.sql_value('movers_in', withheld)} as movers_in, "
                 f"{rule.sql_suppressed('movers_in', withheld)} as movers_in_suppressed, {withheld} as movers_in_withheld "
                 "from marked")
    all_movers = ("select period_label, destination_nis, movers_in as movers_in_all_groups, "
                  "movers_in_suppressed as movers_in_all_groups_suppressed, "
                  "movers_in_withheld as movers_in_all_groups_withheld "
                  f"from published where group_type = {db.sql_literal(dc.ALL_GROUP)}")
    select = []
    for column in columns:
        if column == "movers_in":
            select += ["p.movers_in", "p.movers_in_suppressed", "p.movers_in_withheld"]
        elif column == "movers_in_all_groups":
            select += ["a.movers_in_all_groups", "a.movers_in_all_groups_suppressed", "a.movers_in_all_groups_withheld"]
        elif column == "share":
            select.append("case when p.movers_in is not null and a.movers_in_all_groups > 0 "
                          "then p.movers_in::double / a.movers_in_all_groups end as share")
        elif column in keys:
            select.append(f"p.{db.quote_ident(column)}")
    return (f"with marked as ({marked}), published as ({published}), all_movers as ({all_movers}) "
            f"select {', '.join(select)} from published p left join all_movers a using (period_label, destination_nis)")


def _write_public(con, folder: Path, marts, certs: dict, results: dict, rule: dc.DisclosureRule, say,
                  protect=dc.protect) -> tuple[dict, dict, PublicPlan]:
    """Write the public tables into `folder`; returns (tables, not published, secondary suppression)."""
    public_marts = [m for m in marts if m in dc.PUBLIC_TABLES and dc.PUBLIC_TABLES[m].source_schema == MART_SCHEMA]
    not_published = {"tables": {m: dc.SECURE_ONLY.get(m, "not in the public catalogue (disclosure.PUBLIC_TABLES)")
                                for m in marts if m not in public_marts},
                     "columns": {}}
    if DYADS in public_marts and SHARES in public_marts:
        try:
            plan = plan_secondary_suppression(con, rule, say, protect=protect)
        except dc.DisclosureModelError as exc:
            raise PublishError(f"{_nothing_published(folder.parent)}: the flow counts do not fit the attacker model "
                               f"of the disclosure check ({exc})") from None
        p = plan.protection
        say(f"public: secondary suppression withheld {p.cells_withheld:,} dyad counts and {p.margins_withheld:,} "
            f"margins ({p.upgraded:,} of them suppressed counts widened to 'at least 1'; {p.rounds} audits, "
            f"{plan.seconds:.1f} s)")
    else:
        _no_secondary_suppression(con)
        plan = PublicPlan(None, 0.0)
    position_plan = None
    if any(m in public_marts for m in position_disclosure.PUBLIC_MARTS):
        try:
            position_plan = position_disclosure.plan(con, rule, say)
        except dc.DisclosureModelError as exc:
            raise PublishError(f"{_nothing_published(folder.parent)}: the income-position counts do not fit the "
                               f"attacker model of the disclosure check ({exc})") from None
        levels = ", ".join(position_disclosure.PUBLIC_AREA_LEVELS)
        not_published["rows"] = {m: f"only the area levels {levels}: municipalities and named areas stay secure"
                                 for m in (position_disclosure.BALANCE, position_disclosure.POPULATION)}
    tables = {}
    for mart in public_marts:
        entry = dc.PUBLIC_TABLES[mart]
        present = _mart_columns(con, MART_SCHEMA, mart)
        columns = [c for c in present if entry.column_class(c) is not None]
        unlisted = [c for c in present if c not in columns]
        if unlisted:
            not_published["columns"][mart] = unlisted
            say(f"public: {mart}: columns not in the public catalogue, not published: {', '.join(unlisted)}")
        if mart == DYADS:
            sql = public_dyads_sql(columns, rule)
        elif mart == SHARES:
            sql = public_shares_sql(columns, rule)
        elif mart in position_disclosure.PUBLIC_MARTS:
            sql = position_disclosure.public_sql(mart, columns)
        else:
            sql = f"select {', '.join(db.quote_ident(c) for c in columns)} from {db.qualified(MART_SCHEMA, mart)}"
        say(f"public: export {mart}")
        rows = _export_table(con, sql, folder / f"{mart}.parquet")
        tables[mart] = {"rows": rows, "source": f"{MART_SCHEMA}.{mart}", "disclosure_class": entry.disclosure_class,
                        "certification_id": certs[mart].certification_id, "build_id": certs[mart].build_id,
                        "columns": {c: entry.column_class(c) for c in _written_columns(con, folder / f"{mart}.parquet")}}
        if mart in position_disclosure.PUBLIC_MARTS and position_plan is not None:
            tables[mart]["secondary_suppression"] = position_plan.summary
    for table in results:
        entry = dc.PUBLIC_TABLES.get(table)
        if entry is None or entry.source_schema != RESULTS_SCHEMA:
            not_published["tables"][table] = "not in the public catalogue (disclosure.PUBLIC_TABLES)"
            continue
        say(f"public: export {RESULTS_SCHEMA}.{table}")
        present = [c for c, _ in db.columns(con, RESULTS_SCHEMA, table)]
        # a catalogue entry that lists columns publishes those only (e.g. not a network's exact total of moves)
        chosen = [c for c in present if entry.column_class(c) is not None]
        if len(chosen) < len(present):
            not_published["columns"][table] = [c for c in present if c not in chosen]
        rows = _export_table(con, f"select {', '.join(db.quote_ident(c) for c in chosen)} from "
                                  f"{db.qualified(RESULTS_SCHEMA, table)}", folder / f"{table}.parquet")
        tables[table] = {"rows": rows, "source": f"{RESULTS_SCHEMA}.{table}", "disclosure_class": entry.disclosure_class}
    return tables, not_published, plan


def _written_columns(con, path: Path) -> list[str]:
    return [c for c, *_ in con.execute(f"describe select * from read_parquet({db.sql_path(path)})").fetchall()]


def _write_release_info(folder: Path, tier: str, release_id: str, build_id: str, tables: dict, now: datetime) -> None:
    info = db.connect()
    try:
        info.execute(
            "create table release_info (tier varchar, release_id varchar, build_id varchar, table_name varchar, "
            "row_count bigint, disclosure_class varchar, certification_id varchar, published_at timestamptz)")
        info.executemany("insert into release_info values (?, ?, ?, ?, ?, ?, ?, ?)", [
            [tier, release_id, build_id, t, d["rows"], d.get("disclosure_class", "exact"), d.get("certification_id"), now]
            for t, d in tables.items()])
        info.execute(f"copy release_info to {db.sql_path(folder / 'release_info.parquet')} (format parquet)")
    finally:
        info.close()


# ---- publish ---------------------------------------------------------------------------------------------------

def _verified_inputs(warehouse: Warehouse, con, marts) -> tuple[dict, dict]:
    certs, results, refused = {}, {}, []
    for mart in marts:
        try:
            certs[mart] = warehouse.certification(con, mart)
        except NotCertifiedError as exc:
            refused.append(str(exc))
    for table in RESULTS_TABLES:
        if db.table_exists(con, RESULTS_SCHEMA, table):
            try:
                results[table] = warehouse.verify_results(con, table)
            except StaleResultsError as exc:
                refused.append(str(exc))
    if refused:
        raise PublishError(f"{_nothing_published(warehouse.settings.releases_dir)}:\n  " + "\n  ".join(refused))
    return certs, results


def publish(settings: Settings, progress=None, keep: int = KEEP_RELEASES) -> str:
    """Export the certified marts into a new release of each tier, check the public one, switch both tiers'
    `current` to it; returns the release id (the same in both tiers)."""
    say = progress or (lambda message: None)
    warehouse = Warehouse(settings)
    warehouse.require()
    secure, public = tiers(settings)
    _refuse_overlapping_tiers(secure, public)
    with _publish_lock(public.releases_dir):
        if not secure.releases_dir.parent.exists():
            # the one folder of the microdata copies: owner and group only
            os.makedirs(secure.releases_dir.parent, mode=0o750)
        secure.releases_dir.mkdir(parents=True, exist_ok=True)
        with warehouse.connect() as con:
            build = warehouse.build_settings(con)
            rule = dc.DisclosureRule.of(build)
            marts = build.marts
            certs, results = _verified_inputs(warehouse, con, marts)
            build_ids = {c.build_id for c in certs.values()}
            build_id = sorted(build_ids)[0] if len(build_ids) == 1 else "mixed"
            now = datetime.now(timezone.utc)
            base = f"{now:%Y%m%dT%H%M%SZ}-{re.sub(r'[^0-9a-z]', '', build_id.lower())[:8] or 'build'}"
            release_id, n = base, 2
            while any((t.releases_dir / release_id).exists() for t in (secure, public)):
                release_id, n = f"{base}-{n}", n + 1
            staged: dict[str, Path] = {}
            placed: list[Path] = []
            try:
                for tier in (secure, public):
                    staged[tier.name] = _staging_folder(tier.releases_dir, release_id)
                    staged[tier.name].mkdir(parents=True)
                secure_tables = _write_secure(con, staged[SECURE], marts, certs, results, _previous_tables(secure), say)
                public_tables, not_published, plan = _write_public(con, staged[PUBLIC], marts, certs, results, rule, say)
                say("public: independent check of the written files")
                started = time.perf_counter()
                check = check_public_release(staged[PUBLIC], con, rule)
                if not check.ok:
                    raise PublishError(f"{_nothing_published(public.releases_dir)}: the public release breaks the "
                                       "disclosure rule:\n  " + "\n  ".join(str(v) for v in check.violations))
                say(f"public: check passed in {time.perf_counter() - started:.1f} s: {check.summary}")
                common = {"release_id": release_id, "build_id": build_id, "published_at": now.isoformat()}
                manifests = {
                    SECURE: {"tier": SECURE, **common, "description": secure.description,
                             "warehouse": str(settings.warehouse), "tables": secure_tables},
                    PUBLIC: {"tier": PUBLIC, **common, "description": public.description,
                             "disclosure": {"rule": rule.as_dict(), "secondary_suppression": plan.as_dict(),
                                            "check": check.summary},
                             "tables": public_tables, "not_published": not_published},
                }
                for tier, tables in ((SECURE, secure_tables), (PUBLIC, public_tables)):
                    (staged[tier] / "release.json").write_text(json.dumps(manifests[tier], indent=2))
                    _write_release_info(staged[tier], tier, release_id, build_id, tables, now)
                for tier in (secure, public):
                    os.rename(staged[tier.name], tier.releases_dir / release_id)
                    placed.append(tier.releases_dir / release_id)
            except BaseException:
                for folder in [*staged.values(), *placed]:
                    shutil.rmtree(folder, ignore_errors=True)
                raise
        for tier, tables in ((secure, secure_tables), (public, public_tables)):
            previous = _current_of(tier.releases_dir)
            switch_current(tier.releases_dir, release_id)
            say(f"{tier.name}: release {release_id} is current" + (f" (was {previous})" if previous else ""))
            state = ensure_analytics_db(tier, [*tables, "release_info"], say)
            say(f"{tier.name}: {tier.analytics_db}: views {state}")
            removed = _prune(tier.releases_dir, keep, release_id)
            if tier.name == PUBLIC:
                removed += _remove_untiered_public_releases(tier.releases_dir, release_id)
            if removed:
                say(f"{tier.name}: removed old releases: {', '.join(removed)}")
    return release_id
