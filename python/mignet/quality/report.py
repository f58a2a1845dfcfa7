"""The quality report, `reports/quality/index.html`: one self-contained page for a statistician who never
used dbt. It states which build was checked, whether every raw row is accounted for (raw = clean +
quarantined), and per mart which checks ran, what failed, how many rows, and whether the mart is certified.

Disclosure: the page holds no microdata. Failing-row samples show pseudonymised ids (or aggregate keys)
only, and every count from 1 to 9 is shown as "<10" (with its share hidden, which would reveal it).
"""

from __future__ import annotations

import html
import os
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import duckdb
import jinja2

from mignet.db import table_exists
from mignet.quality.dbt_results import dbt_target_dir
from mignet.quality.store import Certification
from mignet.settings import Settings

SMALL_COUNT = 10
# the page is written to <page>.tmp and renamed; a killed validation's leftover has this suffix
TEMPORARY_SUFFIX = ".tmp"
TEMPLATE = "quality_report.html.j2"


def fmt_count(n) -> str:
    if n is None:
        return "–"
    n = int(n)
    if 0 < abs(n) < SMALL_COUNT:
        return "<10"
    return f"{n:,}"


def fmt_share(share, count) -> str:
    if share is None:
        return "–"
    if count is not None and 0 < abs(int(count)) < SMALL_COUNT:
        return "–"
    return f"{100 * share:.3g}%"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions(dbt_version: str | None) -> dict[str, str]:
    return {
        "mignet": _version("mignet"),
        "dbt-core": dbt_version or _version("dbt-core"),
        "dbt-duckdb": _version("dbt-duckdb"),
        "duckdb": _version("duckdb"),
        "pandera": _version("pandera"),
        "great-expectations": _version("great-expectations"),
        "python": platform.python_version(),
    }


COUNT_COLUMN = ("n_", "_rows", "rows_", "count")


def _is_count(column: str) -> bool:
    return column.lower() == "rows" or any(part in column.lower() for part in COUNT_COLUMN)


def _masked_table(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[list[str]]]:
    rel = con.sql(sql)
    columns = rel.columns
    rows = []
    for row in rel.fetchall():
        out = []
        for value, column in zip(row, columns):
            if isinstance(value, int) and not isinstance(value, bool) and _is_count(column):
                out.append(fmt_count(value))
            else:
                out.append("" if value is None else str(value))
        rows.append(out)
    return columns, rows


def reconciliation(con: duckdb.DuckDBPyConnection) -> dict:
    """Per raw table: raw rows = clean rows + quarantined rows, and the rows per outcome and rule, from
    audit.rpt_reconciliation (one row per table and outcome/rule, with the table totals repeated)."""
    if not table_exists(con, "audit", "rpt_reconciliation"):
        return {"available": False, "columns": [], "rows": [], "balance": []}
    present = {r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_schema = 'audit' "
        "and table_name = 'rpt_reconciliation'").fetchall()}
    expected = {"source_table", "outcome", "rule", "n_rows", "raw_rows", "clean_rows", "quarantined_rows"}
    if not expected <= present:  # another layout: show it as it is, counts masked
        columns, rows = _masked_table(con, "select * from audit.rpt_reconciliation order by all")
        return {"available": True, "columns": columns, "rows": rows, "balance": []}
    order = "source_table, rule_order" if "rule_order" in present else "source_table, outcome, rule"
    columns, rows = _masked_table(
        con,
        f"select source_table as raw_table, outcome, coalesce(rule, '') as rule, n_rows as rows "
        f"from audit.rpt_reconciliation order by {order}",
    )
    balance = [
        {"table": t, "raw": fmt_count(r), "clean": fmt_count(c), "quarantined": fmt_count(q),
         "balanced": r == c + q}
        for t, r, c, q in con.sql(
            "select source_table, max(raw_rows), max(clean_rows), max(quarantined_rows) "
            "from audit.rpt_reconciliation group by 1 order by 1"
        ).fetchall()
    ]
    return {"available": True, "columns": columns, "rows": rows, "balance": balance}


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def write_quality_report(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    dbt,
    certifications: dict[str, Certification],
    raw_dir: str,
    started: datetime,
    gx_docs: Path | None,
    out: Path,
) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    # dbt docs kept with the build's artifacts, else those of a hand-run `dbt docs generate`
    docs = [dbt.artifacts_dir / "index.html"] if dbt.artifacts_dir else []
    docs.append(dbt_target_dir(settings) / "index.html")
    dbt_docs = next((p for p in docs if p.exists()), docs[-1])
    marts = []
    for mart, cert in certifications.items():
        by_source: dict[str, dict[str, int]] = {}
        for c in cert.checks:
            s = by_source.setdefault(c.source, {"pass": 0, "fail": 0, "warn": 0})
            if c.status == "pass":
                s["pass"] += 1
            elif c.blocks_certification:
                s["fail"] += 1
            else:
                s["warn"] += 1
        checks = sorted(
            cert.checks,
            key=lambda c: (0 if c.blocks_certification else 1 if c.status != "pass" else 2, c.source, c.check_name),
        )
        marts.append(
            {
                "name": mart,
                "cert": cert,
                "rows": fmt_count(cert.row_count),
                "contract": {True: "enforced", False: "not enforced"}.get(dbt.contracts.get(mart), "unknown"),
                "by_source": by_source,
                "checks": [
                    {
                        "source": c.source,
                        "name": c.check_name,
                        "column": c.column_name or "",
                        "severity": c.severity,
                        "status": c.status,
                        "blocking": c.blocks_certification,
                        "failing": fmt_count(c.failing_count),
                        "share": fmt_share(c.failing_share, c.failing_count),
                        "detail": c.detail,
                        "samples": ", ".join(c.sample_ids),
                    }
                    for c in checks
                ],
            }
        )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    page = env.get_template(TEMPLATE).render(
        build_id=dbt.build_id,
        dbt_generated_at=dbt.generated_at,
        dbt_problem=dbt.problem,
        artifacts_dir=str(dbt.artifacts_dir) if dbt.artifacts_dir else None,
        checked_at=started.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        written_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        raw_dir=raw_dir,
        warehouse=str(settings.warehouse),
        versions=versions(dbt.dbt_version),
        recon=reconciliation(con),
        marts=marts,
        n_certified=sum(1 for m in marts if m["cert"].certified),
        gx_docs=_relative(gx_docs, out.parent) if gx_docs and gx_docs.exists() else None,
        dbt_docs=_relative(dbt_docs, out.parent) if dbt_docs.exists() else None,
    )
    tmp = out.with_name(out.name + TEMPORARY_SUFFIX)
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out


__all__ = ["write_quality_report", "fmt_count", "fmt_share", "html"]
