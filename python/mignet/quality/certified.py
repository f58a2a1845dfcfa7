"""Readers of certified data. Everything downstream of `mignet validate` (the publisher, the network
models) reads marts through here: the latest certification record must say `certified` and the content
hash recomputed now must equal the certified one, otherwise `NotCertifiedError` names what failed."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from mignet import db
from mignet.quality import CERTIFIED_MARTS, MART_SCHEMA
from mignet.quality.store import Certification, content_hash, latest_certification, table_exists
from mignet.settings import Settings


class NotCertifiedError(RuntimeError):
    """A mart was read that is not certified: never validated, refused by a check, or changed since."""

    def __init__(self, mart: str, reason: str, failed_checks: tuple[str, ...] = (), certification_id: str | None = None):
        self.mart = mart
        self.reason = reason
        self.failed_checks = tuple(failed_checks)
        self.certification_id = certification_id
        message = f"{MART_SCHEMA}.{mart} is not certified: {reason}"
        if self.failed_checks:
            message += "; failed checks: " + ", ".join(self.failed_checks)
        super().__init__(message)


@dataclass
class CertifiedFrame:
    frame: pd.DataFrame
    certification_id: str
    mart: str
    row_count: int


def verify_certified(con: duckdb.DuckDBPyConnection, mart: str) -> Certification:
    """The certification of `mart` after checking its status and recomputing its content hash on `con`."""
    if mart not in CERTIFIED_MARTS:
        raise ValueError(f"{mart!r} is not a certified mart; certified marts: {', '.join(CERTIFIED_MARTS)}")
    cert = latest_certification(con, mart)
    if cert is None:
        raise NotCertifiedError(mart, "no certification record in this warehouse; run `mignet validate` after `mignet build`")
    if not cert.certified:
        raise NotCertifiedError(
            mart,
            f"certification {cert.certification_id} (build {cert.build_id}) refused it",
            cert.failed_checks,
            cert.certification_id,
        )
    if not table_exists(con, MART_SCHEMA, mart):
        raise NotCertifiedError(mart, "the table no longer exists", certification_id=cert.certification_id)
    n, now_hash = content_hash(con, mart)
    if now_hash != cert.content_hash:
        raise NotCertifiedError(
            mart,
            f"its content changed after certification {cert.certification_id}: {cert.row_count} rows with hash "
            f"{cert.content_hash} were certified, the table now holds {n} rows with hash {now_hash}; "
            "run `mignet validate` again",
            ("warehouse:content_hash",),
            cert.certification_id,
        )
    return cert


def read_certified(settings: Settings, mart: str, columns: list[str] | None = None) -> CertifiedFrame:
    """Read a certified mart into pandas; refuse with `NotCertifiedError` when it is not certified."""
    if not settings.warehouse.exists():
        raise FileNotFoundError(f"warehouse {settings.warehouse} does not exist; run `mignet build` first")
    con = db.connect(str(settings.warehouse), read_only=True)
    try:
        cert = verify_certified(con, mart)
        if columns:
            known = {r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
                [MART_SCHEMA, mart],
            ).fetchall()}
            unknown = [c for c in columns if c not in known]
            if unknown:
                raise KeyError(f"{MART_SCHEMA}.{mart} has no column(s) {', '.join(unknown)}")
            select = ", ".join(f'"{c}"' for c in columns)
        else:
            select = "*"
        frame = con.sql(f'select {select} from "{MART_SCHEMA}"."{mart}"').df()
    finally:
        con.close()
    return CertifiedFrame(frame=frame, certification_id=cert.certification_id, mart=mart, row_count=len(frame))
