"""The warehouse: one owner for the DuckDB file that the dbt build writes and every later stage reads.

    from mignet.warehouse import Warehouse
    wh = Warehouse(settings)
    build = wh.build_settings()                       # the settings the build used (BuildSettings)
    dyads = wh.read_certified("mart_network_dyads", columns=[...])   # refused unless certified, as is
    wh.write_results("model_estimates", frame, inputs={"mart_network_dyads": dyads.certification_id})
    estimates = wh.read_results("model_estimates")    # refused when changed or fitted on other data

Connections are read-only wherever the stage only reads; a writer that finds the file open elsewhere gets
`WarehouseBusyError` naming the holder. A certified read checks the newest certification of the mart (status
`certified`) and recomputes the content hash on the connection that reads; a results read checks the
results table against the hash recorded when it was written and checks that the certified inputs it was
computed from are still the certified ones. `mignet.warehouse.build.build_warehouse` writes the warehouse.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator

import duckdb
import pandas as pd

from mignet import db
from mignet.settings import Settings
from mignet.warehouse.build_settings import BuildSettings, BuildSettingsError

MART_SCHEMA = "marts"
RESULTS_SCHEMA = "results"
RESULT_RECORDS = "result_records"

RESULT_RECORDS_DDL = f"""
create schema if not exists {RESULTS_SCHEMA};
create table if not exists {RESULTS_SCHEMA}.{RESULT_RECORDS} (
    table_name varchar primary key,
    row_count bigint not null,
    content_hash varchar not null,
    inputs varchar not null,        -- JSON {{mart: certification_id}} of the certified marts it was computed from
    build_id varchar,
    written_at timestamp with time zone not null
);
"""

__all__ = [
    "Warehouse", "WarehouseError", "WarehouseMissingError", "WarehouseBusyError", "NotCertifiedError",
    "StaleResultsError", "CertifiedFrame", "ResultsFrame", "BuildSettings", "BuildSettingsError",
    "MART_SCHEMA", "RESULTS_SCHEMA",
]


class WarehouseError(RuntimeError):
    """The warehouse cannot be used as asked; the message says why and what to run."""


class WarehouseMissingError(WarehouseError, FileNotFoundError):
    pass


class WarehouseBusyError(WarehouseError):
    """The warehouse is held open by another process, so it cannot be written now."""


class NotCertifiedError(WarehouseError):
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


class StaleResultsError(WarehouseError):
    """A results table changed after it was written, or was computed from marts that are no longer the
    certified ones."""

    def __init__(self, table: str, reason: str, check: str):
        self.table = table
        self.check = check
        super().__init__(f"{RESULTS_SCHEMA}.{table} cannot be used ({check}): {reason}")


@dataclass
class CertifiedFrame:
    frame: pd.DataFrame
    certification_id: str
    mart: str
    row_count: int
    content_hash: str


@dataclass
class ResultsFrame:
    frame: pd.DataFrame
    table: str
    content_hash: str
    inputs: dict
    written_at: datetime


# The last certified frames read in this process: fit and gof (two stages of one `mignet run`) read the same
# 8 million dyads. A frame is served again only after the content hash recomputed on the reading connection
# equals the certified one, for the same warehouse file, certification and columns.
_FRAME_CACHE: dict[tuple, CertifiedFrame] = {}
_FRAME_CACHE_SIZE = 2


class Warehouse:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.path = settings.warehouse

    # ---- connections -------------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.path.is_file()

    def require(self) -> None:
        if not self.exists():
            raise WarehouseMissingError(f"warehouse {self.path} does not exist; run `mignet build` first")

    @contextmanager
    def connect(self, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the warehouse, closed on exit. Read-write only when asked."""
        self.require()
        try:
            con = db.connect(self.path, read_only=read_only)
        except duckdb.Error as exc:
            if "lock" not in str(exc).lower():
                raise
            holder = re.search(r"PID (\d+)", str(exc))
            raise WarehouseBusyError(
                f"the warehouse {self.path} is open in {'process ' + holder.group(1) if holder else 'another process'}, "
                f"so it cannot be {'read' if read_only else 'written'} now ({str(exc).splitlines()[0]}). Close that "
                f"session; analysts query {self.settings.analytics_db} instead, which never blocks."
            ) from None
        try:
            yield con
        finally:
            con.close()

    # ---- the build's settings ----------------------------------------------------------------------------
    def build_settings(self, con: duckdb.DuckDBPyConnection | None = None) -> BuildSettings:
        """The settings recorded by the build that wrote this warehouse."""
        if con is not None:
            return BuildSettings.load(con)
        with self.connect() as own:
            return BuildSettings.load(own)

    # ---- certified marts ---------------------------------------------------------------------------------
    def certification(self, con: duckdb.DuckDBPyConnection, mart: str):
        """The certification of `mart` after checking its status and recomputing its content hash on `con`;
        raises NotCertifiedError naming what failed."""
        from mignet.quality.store import latest_certification

        cert = latest_certification(con, mart)
        if cert is None:
            raise NotCertifiedError(mart, "no certification record in this warehouse; run `mignet validate` after `mignet build`")
        if not cert.certified:
            raise NotCertifiedError(mart, f"certification {cert.certification_id} (build {cert.build_id}) refused it",
                                    cert.failed_checks, cert.certification_id)
        if not db.table_exists(con, MART_SCHEMA, mart):
            raise NotCertifiedError(mart, "the table no longer exists", ("warehouse:mart_exists",), cert.certification_id)
        n, now_hash = db.content_hash(con, MART_SCHEMA, mart)
        if now_hash != cert.content_hash:
            raise NotCertifiedError(
                mart,
                f"its content changed after certification {cert.certification_id}: {cert.row_count} rows with hash "
                f"{cert.content_hash} were certified, the table now holds {n} rows with hash {now_hash}; "
                "run `mignet validate` again",
                ("warehouse:content_hash",), cert.certification_id,
            )
        return cert

    @contextmanager
    def reading(self, marts=(), results=()) -> Iterator[tuple[duckdb.DuckDBPyConnection, dict]]:
        """A read-only connection on which `marts` are verified certified and `results` verified current,
        for aggregate queries over them: (connection, {name: certification or results record}). Nothing can
        change the file while this read-only connection is open."""
        with self.connect() as con:
            verified: dict = {}
            for mart in marts:
                verified[mart] = self.certification(con, mart)
            for table in results:
                verified[f"{RESULTS_SCHEMA}.{table}"] = self.verify_results(con, table)
            yield con, verified

    def read_certified(self, mart: str, columns: list[str] | None = None, where: str | None = None,
                       params: list | None = None, categorical: bool = False) -> CertifiedFrame:
        """A certified mart as pandas (only `columns`, only rows matching `where` with bound `params`);
        refused with NotCertifiedError when it is not certified as it is now. With `categorical`, strings
        come as pandas categoricals (much faster for millions of repeated codes); whole-table reads of that
        kind are kept for the next reader in this process."""
        with self.connect() as con:
            cert = self.certification(con, mart)
            known = [c for c, _ in db.columns(con, MART_SCHEMA, mart)]
            unknown = [c for c in (columns or []) if c not in known]
            if unknown:
                raise KeyError(f"{MART_SCHEMA}.{mart} has no column(s) {', '.join(unknown)}")
            chosen = list(columns or known)
            key = (str(self.path.resolve()), mart, cert.certification_id, cert.content_hash, tuple(chosen), categorical)
            if where is None and key in _FRAME_CACHE:
                return _FRAME_CACHE[key]
            sql = f"select {', '.join(db.quote_ident(c) for c in chosen)} from {db.qualified(MART_SCHEMA, mart)}"
            if where:
                sql += f" where {where}"
            table = con.sql(sql, params=params or None).to_arrow_table()
        frame = table.to_pandas(strings_to_categorical=categorical, date_as_object=False)
        result = CertifiedFrame(frame=frame, certification_id=cert.certification_id, mart=mart, row_count=len(frame),
                                content_hash=cert.content_hash)
        if where is None:
            while len(_FRAME_CACHE) >= _FRAME_CACHE_SIZE:
                _FRAME_CACHE.pop(next(iter(_FRAME_CACHE)))
            _FRAME_CACHE[key] = result
        return result

    # ---- results of the Python stages --------------------------------------------------------------------
    def write_results(self, table: str, frame: pd.DataFrame, inputs: dict[str, str]) -> str:
        """Replace `results.<table>` by `frame` and record its content hash and the certifications of the
        marts it was computed from (`inputs`: mart -> certification id), in one transaction. Returns the hash."""
        with self.connect(read_only=False) as con:
            build_id = None
            if db.table_exists(con, "audit", "rpt_build_info"):
                rows = con.execute("select build_id from audit.rpt_build_info").fetchall()
                build_id = rows[0][0] if len(rows) == 1 else None
            con.execute(RESULT_RECORDS_DDL)
            con.register("new_rows", frame)
            con.execute("begin transaction")
            try:
                con.execute(f"create or replace table {db.qualified(RESULTS_SCHEMA, table)} as select * from new_rows")
                n, digest = db.content_hash(con, RESULTS_SCHEMA, table)
                con.execute(f"delete from {RESULTS_SCHEMA}.{RESULT_RECORDS} where table_name = ?", [table])
                con.execute(f"insert into {RESULTS_SCHEMA}.{RESULT_RECORDS} values (?, ?, ?, ?, ?, ?)",
                            [table, n, digest, json.dumps(inputs, sort_keys=True), build_id, datetime.now(timezone.utc)])
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
            finally:
                con.unregister("new_rows")
        return digest

    def has_results(self, table: str) -> bool:
        if not self.exists():
            return False
        with self.connect() as con:
            return db.table_exists(con, RESULTS_SCHEMA, table)

    def verify_results(self, con: duckdb.DuckDBPyConnection, table: str) -> dict:
        """The record of `results.<table>` after checking that its content is what was written and that its
        inputs are still the certified marts; raises StaleResultsError otherwise."""
        if not db.table_exists(con, RESULTS_SCHEMA, table):
            raise StaleResultsError(table, "the table does not exist; run the stage that writes it "
                                    "(`mignet fit` for model_estimates, `mignet gof` for model_gof)", "results:exists")
        record = None
        if db.table_exists(con, RESULTS_SCHEMA, RESULT_RECORDS):
            rows = con.execute(f"select row_count, content_hash, inputs, written_at from {RESULTS_SCHEMA}.{RESULT_RECORDS} "
                               "where table_name = ?", [table]).fetchall()
            record = rows[0] if rows else None
        if record is None:
            raise StaleResultsError(table, "no record of how it was written (results.result_records); run its stage again",
                                    "results:record")
        n_written, written_hash, inputs_json, written_at = record
        n, digest = db.content_hash(con, RESULTS_SCHEMA, table)
        if digest != written_hash:
            raise StaleResultsError(table, f"its content changed after it was written ({n_written} rows with hash "
                                    f"{written_hash} were written, it now holds {n} rows with hash {digest}); run its "
                                    "stage again", "results:content_hash")
        inputs = json.loads(inputs_json)
        for mart, certification_id in inputs.items():
            if mart.startswith(f"{RESULTS_SCHEMA}."):
                # computed from another results table (e.g. goodness of fit from the estimates): that table
                # must still be current and hold the content it was computed from
                source = mart.split(".", 1)[1]
                upstream = self.verify_results(con, source)
                if upstream["content_hash"] != certification_id:
                    raise StaleResultsError(table, f"it was computed from {mart} with hash {certification_id}, which "
                                            f"now holds hash {upstream['content_hash']}; run its stage again",
                                            "results:inputs_current")
                continue
            try:
                current = self.certification(con, mart)
            except NotCertifiedError as exc:
                raise StaleResultsError(table, f"it was computed from {MART_SCHEMA}.{mart}, which is not certified now: "
                                        f"{exc.reason}", "results:inputs_certified") from None
            if current.certification_id != certification_id:
                raise StaleResultsError(table, f"it was computed from certification {certification_id} of "
                                        f"{MART_SCHEMA}.{mart}, but the current certification is "
                                        f"{current.certification_id}; run its stage again", "results:inputs_current")
        return {"row_count": n, "content_hash": digest, "inputs": inputs, "written_at": written_at}

    def read_results(self, table: str, con: duckdb.DuckDBPyConnection | None = None) -> ResultsFrame:
        """`results.<table>` as pandas, verified (see `verify_results`)."""
        if con is None:
            with self.connect() as own:
                return self.read_results(table, own)
        record = self.verify_results(con, table)
        frame = con.execute(f"select * from {db.qualified(RESULTS_SCHEMA, table)}").df()
        return ResultsFrame(frame=frame, table=table, content_hash=record["content_hash"], inputs=record["inputs"],
                            written_at=record["written_at"])
