"""The certification store: `quality.certifications` and `quality.check_results` in the warehouse. A
certification holds the content hash (`mignet.db.content_hash`) of the exact rows it certified."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import duckdb

from mignet import db

QUALITY_SCHEMA = "quality"

DDL = f"""
create schema if not exists {QUALITY_SCHEMA};
create table if not exists {QUALITY_SCHEMA}.certifications (
    certification_id varchar primary key,
    build_id varchar not null,
    mart varchar not null,
    row_count bigint,
    content_hash varchar,
    status varchar not null check (status in ('certified', 'refused')),
    failed_checks varchar,          -- JSON list of "source:check" names that failed with severity error
    checked_at timestamp with time zone not null
);
create table if not exists {QUALITY_SCHEMA}.check_results (
    certification_id varchar not null,
    build_id varchar not null,
    mart varchar not null,
    source varchar not null check (source in ('dbt', 'pandera', 'gx', 'warehouse')),
    check_name varchar not null,
    column_name varchar,
    severity varchar not null check (severity in ('error', 'warn')),
    status varchar not null check (status in ('pass', 'fail', 'error', 'skipped')),
    failing_count bigint,
    failing_share double,
    detail varchar,
    sample_ids varchar,             -- JSON list of pseudonymised ids / keys of a few failing rows
    checked_at timestamp with time zone not null
);
"""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one mart."""

    source: str  # dbt | pandera | gx | warehouse
    check_name: str
    severity: str  # error | warn
    status: str  # pass | fail | error | skipped
    failing_count: int | None = None
    failing_share: float | None = None
    column_name: str | None = None
    detail: str = ""
    sample_ids: tuple[str, ...] = ()

    @property
    def blocks_certification(self) -> bool:
        # a skipped error-severity check was not passed either
        return self.severity == "error" and self.status in ("fail", "error", "skipped")

    @property
    def label(self) -> str:
        return f"{self.source}:{self.check_name}"


@dataclass(frozen=True)
class Certification:
    certification_id: str
    build_id: str
    mart: str
    row_count: int | None
    content_hash: str | None
    status: str
    failed_checks: tuple[str, ...]
    checked_at: datetime
    checks: tuple[CheckResult, ...] = field(default=(), repr=False)

    @property
    def certified(self) -> bool:
        return self.status == "certified"


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)


def new_certification_id(build_id: str, mart: str) -> str:
    return f"{mart}-{(build_id or 'nobuild')[:8]}-{uuid.uuid4().hex[:8]}"


def write_certification(
    con: duckdb.DuckDBPyConnection,
    *,
    build_id: str,
    mart: str,
    row_count: int | None,
    hash_: str | None,
    checks: list[CheckResult],
    checked_at: datetime | None = None,
) -> Certification:
    """Write one certification record and its check rows (one transaction); certified only when no
    error-severity check failed and the mart exists."""
    checked_at = checked_at or datetime.now(timezone.utc)
    failed = tuple(dict.fromkeys(c.label for c in checks if c.blocks_certification))
    status = "certified" if not failed and hash_ is not None else "refused"
    cert_id = new_certification_id(build_id, mart)
    con.execute("begin transaction")
    try:
        con.execute(
            f"insert into {QUALITY_SCHEMA}.certifications values (?, ?, ?, ?, ?, ?, ?, ?)",
            [cert_id, build_id, mart, row_count, hash_, status, json.dumps(list(failed)), checked_at],
        )
        if checks:
            con.executemany(
                f"insert into {QUALITY_SCHEMA}.check_results values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [
                        cert_id, build_id, mart, c.source, c.check_name, c.column_name, c.severity, c.status,
                        c.failing_count, c.failing_share, c.detail, json.dumps(list(c.sample_ids)), checked_at,
                    ]
                    for c in checks
                ],
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return Certification(cert_id, build_id, mart, row_count, hash_, status, failed, checked_at, tuple(checks))


def latest_certification(con: duckdb.DuckDBPyConnection, mart: str) -> Certification | None:
    """The newest certification record of `mart`, or None when the mart was never validated in this
    warehouse (a fresh build starts without records)."""
    if not db.table_exists(con, QUALITY_SCHEMA, "certifications"):
        return None
    row = con.execute(
        f"select certification_id, build_id, mart, row_count, content_hash, status, failed_checks, checked_at "
        f"from {QUALITY_SCHEMA}.certifications where mart = ? order by checked_at desc limit 1",
        [mart],
    ).fetchall()
    if not row:
        return None
    row = row[0]
    checks = con.execute(
        f"select source, check_name, severity, status, failing_count, failing_share, column_name, detail, "
        f"sample_ids from {QUALITY_SCHEMA}.check_results where certification_id = ? order by source, check_name",
        [row[0]],
    ).fetchall()
    return Certification(
        certification_id=row[0],
        build_id=row[1],
        mart=row[2],
        row_count=row[3],
        content_hash=row[4],
        status=row[5],
        failed_checks=tuple(json.loads(row[6] or "[]")),
        checked_at=row[7],
        checks=tuple(
            CheckResult(
                source=c[0], check_name=c[1], severity=c[2], status=c[3], failing_count=c[4],
                failing_share=c[5], column_name=c[6], detail=c[7] or "", sample_ids=tuple(json.loads(c[8] or "[]")),
            )
            for c in checks
        ),
    )
