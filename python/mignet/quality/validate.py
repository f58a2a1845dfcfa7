"""`mignet validate`: collect dbt's test results, run the pandera row rules and the GX suites on every
certified mart, write one certification record per mart into the warehouse, and write the quality report.

A mart is certified only when every error-severity check passed: its dbt model built, every dbt test and
unit test of it passed, every pandera rule and every GX expectation of severity error passed. The record
holds the row count and the content hash at validation time, so a later change is detected by readers.
"""

from __future__ import annotations

import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from mignet import db, parallel
from mignet.quality import CERTIFIED_MARTS, MART_SCHEMA
from mignet.quality.dbt_results import DbtBuild, artifacts_of_build, current_build_artifacts, load_dbt_build
from mignet.quality.params import load_params
from mignet.quality.store import (
    Certification,
    CheckResult,
    content_hash,
    ensure_schema,
    table_exists,
    write_certification,
)
from mignet.settings import Settings


# below this many mart rows in all, starting pandera worker processes costs more than it saves
PARALLEL_PANDERA_ROWS = 2_000_000


class WarehouseBusyError(RuntimeError):
    """The warehouse is held open by another process, so certification records cannot be written."""


@dataclass
class ValidationResult:
    build_id: str
    certified: dict[str, bool]
    report_path: Path
    certifications: dict[str, Certification] = field(default_factory=dict, repr=False)

    @property
    def all_certified(self) -> bool:
        return all(self.certified.values())

    def failed_checks(self) -> dict[str, tuple[str, ...]]:
        return {m: c.failed_checks for m, c in self.certifications.items() if not c.certified}


def quality_paths(settings: Settings) -> dict[str, Path]:
    report_dir = settings.reports_dir / "quality"
    return {
        "report_dir": report_dir,
        "report": report_dir / "index.html",
        "gx_docs": report_dir / "gx",
        "gx_root": settings.data_dir,  # GX creates <data_dir>/gx
    }


def validate(
    settings: Settings,
    progress=None,
    artifacts_dir: Path | None = None,
    run_gx: bool = True,
    workers: int | None = None,
    batch_rows: int | None = None,
) -> ValidationResult:
    """Validate and certify every mart. `workers` processes validate the pandera rules of large marts (default:
    one per core when the marts hold at least PARALLEL_PANDERA_ROWS rows, else none), in batches of
    `batch_rows` rows (default schemas.BATCH_ROWS)."""
    say = progress or (lambda message: None)
    if not settings.warehouse.exists():
        raise FileNotFoundError(f"warehouse {settings.warehouse} does not exist; run `mignet build` first")
    params = load_params(settings)
    warehouse_build, total_rows = _warehouse_facts(settings)
    dbt = _dbt_results(settings, warehouse_build, artifacts_dir)
    say(f"dbt build {dbt.build_id} ({dbt.artifacts_dir or 'no run_results.json'})")
    paths = quality_paths(settings)
    started = datetime.now(timezone.utc)

    # pandera is single-threaded Python: with a large warehouse, the batches of every mart larger than one
    # batch go to worker processes, started (forked) now, before DuckDB is opened and the GX thread starts.
    # A small warehouse is validated in this process: starting workers would cost more than it saves.
    if workers is None:
        workers = parallel.default_workers() if total_rows >= PARALLEL_PANDERA_ROWS else 0
    process_pool = parallel.process_pool(workers) if workers > 0 else None
    try:
        con = _connect(settings)
        try:
            return _validate_open(con, settings, dbt, params, paths, started, say, run_gx, process_pool, batch_rows)
        finally:
            con.close()
    finally:
        if process_pool is not None:
            process_pool.shutdown(wait=True, cancel_futures=True)


def _validate_open(con, settings, dbt, params, paths, started, say, run_gx, process_pool, batch_rows) -> ValidationResult:
    """The body of `validate` on an open read-write connection (and an optional worker pool)."""
    ensure_schema(con)
    present = {m for m in CERTIFIED_MARTS if table_exists(con, MART_SCHEMA, m)}
    checks: dict[str, list[CheckResult]] = {m: [] for m in CERTIFIED_MARTS}
    sizes: dict[str, tuple[int | None, str | None]] = {}
    for mart in CERTIFIED_MARTS:
        if mart not in present:
            checks[mart].append(
                CheckResult("warehouse", "mart_exists", "error", "fail", detail=f"table {MART_SCHEMA}.{mart} is missing")
            )
            sizes[mart] = (None, None)
        else:
            sizes[mart] = content_hash(con, mart)
    _collect_dbt(dbt, checks)

    from mignet.quality.schemas import BATCH_ROWS, mart_models, validate_mart

    batch_rows = batch_rows or BATCH_ROWS

    # The GX suites (aggregate queries in DuckDB, then GX on small pandas frames) run in a second thread on
    # their own cursor while pandera validates the marts batch by batch here: the two use different cores.
    gx_job = gx_thread = None
    if run_gx:
        from mignet.quality.expectations import run_expectations

        gx_thread = ThreadPoolExecutor(max_workers=1)
        gx_job = gx_thread.submit(run_expectations, con.cursor(), params, present, paths["gx_root"], paths["gx_docs"], say)
    try:
        models = mart_models(params)
        for mart in CERTIFIED_MARTS:
            if mart not in present:
                continue
            say(f"pandera {mart} ({sizes[mart][0]:,} rows)")
            try:
                n_rows = sizes[mart][0] or 0
                pool = process_pool if n_rows > batch_rows else None
                checks[mart].extend(validate_mart(con, mart, models[mart], n_rows, batch_rows=batch_rows,
                                                  pool=pool, params=params))
            except Exception as exc:  # a rule that crashes is a failed check, never a silent pass
                checks[mart].append(
                    CheckResult("pandera", "validation_run", "error", "error",
                                detail=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
                )
    finally:
        if gx_thread is not None:
            gx_thread.shutdown(wait=True, cancel_futures=True)
    gx_docs = None
    if gx_job is not None:
        gx_results, gx_docs = gx_job.result()
        for mart, results in gx_results.items():
            checks[mart].extend(results)
    else:
        # table-level rules (unique keys, sums between marts) were not checked: not certifiable
        for mart in present:
            checks[mart].append(CheckResult("gx", "suites_run", "error", "skipped", detail="GX suites skipped (--no-gx)"))

    certifications: dict[str, Certification] = {}
    checked_at = datetime.now(timezone.utc)
    for mart in CERTIFIED_MARTS:
        n, hash_ = sizes[mart]
        certifications[mart] = write_certification(
            con, build_id=dbt.build_id, mart=mart, row_count=n, hash_=hash_, checks=checks[mart], checked_at=checked_at
        )
        cert = certifications[mart]
        say(f"{mart}: {cert.status}" + (f" ({', '.join(cert.failed_checks)})" if cert.failed_checks else ""))

    from mignet.quality.report import write_quality_report

    report = write_quality_report(
        con, settings, dbt=dbt, certifications=certifications, started=started, gx_docs=gx_docs,
        out=paths["report"],
    )
    say(f"quality report: {report}")
    return ValidationResult(
        build_id=dbt.build_id,
        certified={m: c.certified for m, c in certifications.items()},
        report_path=report,
        certifications=certifications,
    )


def _connect(settings: Settings, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    try:
        return db.connect(str(settings.warehouse), read_only=read_only)
    except duckdb.Error as exc:
        if "lock" not in str(exc).lower():
            raise
        raise WarehouseBusyError(
            f"cannot write certification records: the warehouse {settings.warehouse} is open in another process "
            f"({exc}). Close that session; analysts query {settings.analytics_db} instead, which never blocks."
        ) from None


def _warehouse_facts(settings: Settings) -> tuple[str | None, int]:
    """(the build id in audit.rpt_build_info, or None for a warehouse without it; rows of all certified marts
    present), read without scanning: DuckDB keeps the row counts."""
    con = _connect(settings, read_only=True)
    try:
        build_id = None
        if table_exists(con, "audit", "rpt_build_info"):
            rows = con.sql("select distinct build_id from audit.rpt_build_info").fetchall()
            build_id = rows[0][0] if len(rows) == 1 else None
        total = sum(
            con.sql(f'select count(*) from "{MART_SCHEMA}"."{mart}"').fetchall()[0][0]
            for mart in CERTIFIED_MARTS if table_exists(con, MART_SCHEMA, mart)
        )
        return build_id, total
    finally:
        con.close()


def _dbt_results(settings: Settings, warehouse_build: str | None, artifacts_dir: Path | None) -> DbtBuild:
    """dbt's results of the build that wrote this warehouse. The warehouse names its build
    (audit.rpt_build_info), and only that build's run_results.json is taken: found in data/build/<id>/ or the
    dbt target folder, or the one given, which must be of that build. A warehouse without the table (older
    builds) falls back to the newest successful build under data/build/."""
    if warehouse_build is None:
        return load_dbt_build(artifacts_dir if artifacts_dir is not None else current_build_artifacts(settings))
    if artifacts_dir is None:
        artifacts_dir, looked = artifacts_of_build(settings, warehouse_build)
        if artifacts_dir is None:
            return DbtBuild(warehouse_build, None, None, None, problem=(
                f"no run_results.json of build {warehouse_build}, which wrote this warehouse, in "
                f"{', '.join(str(p) for p in looked)}; pass the folder with `mignet validate --artifacts`"))
    dbt = load_dbt_build(artifacts_dir)
    if dbt.problem is None and dbt.build_id != warehouse_build:
        dbt.problem = (f"the dbt results in {artifacts_dir} are of build {dbt.build_id}, but build "
                       f"{warehouse_build} wrote this warehouse (audit.rpt_build_info)")
    return dbt


def _collect_dbt(dbt: DbtBuild, checks: dict[str, list[CheckResult]]) -> None:
    for mart in CERTIFIED_MARTS:
        if dbt.problem:
            checks[mart].append(CheckResult("dbt", "run_results", "error", "error", detail=dbt.problem))
            continue
        mart_checks = dbt.checks.get(mart, [])
        checks[mart].extend(mart_checks)
        if not any(c.check_name == "model_build" for c in mart_checks):
            checks[mart].append(
                CheckResult("dbt", "model_build", "error", "error",
                            detail=f"the build {dbt.build_id} did not run model {mart}")
            )
        if not any(c.check_name != "model_build" for c in mart_checks):
            checks[mart].append(
                CheckResult("dbt", "tests_ran", "error", "fail",
                            detail=f"no dbt test of {mart} in run_results.json of build {dbt.build_id}")
            )
