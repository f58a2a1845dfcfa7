"""`mignet validate`: collect dbt's test results of the build that wrote the warehouse, run the pandera frame
contracts and the GX suites, write one certification record per mart into the warehouse, and write the
quality report.

Each rule has one engine (docs/quality.md): dbt tests own keys, relationships, allowed values, row rules
and rules between marts (run by the build, read here from its run_results.json); pandera owns the types and
nullability of the frames the Python stages read; GX owns distributions and plausibility. A mart is
certified only when every error-severity check passed: its content is what the build wrote (the build
recorded its content hash, so dbt's results describe exactly these rows), its dbt model built, every dbt
test and unit test of it passed, and every pandera and GX check of severity error passed. The record holds
the row count and the content hash at validation time, so a later change is detected by readers. The
settings the checks need (years, income groups, plausibility bands) are those the build recorded.
"""

from __future__ import annotations

import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from mignet import db
from mignet.quality.dbt_results import DbtBuild, artifacts_of_build, load_dbt_build
from mignet.quality.store import Certification, CheckResult, ensure_schema, write_certification
from mignet.settings import Settings
from mignet.warehouse import MART_SCHEMA, BuildSettingsError, Warehouse, WarehouseBusyError  # noqa: F401


@dataclass
class ValidationResult:
    build_id: str
    certified: dict[str, bool]
    report_path: Path
    certifications: dict[str, Certification] = field(default_factory=dict, repr=False)

    @property
    def all_certified(self) -> bool:
        return bool(self.certified) and all(self.certified.values())

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
    batch_rows: int | None = None,
) -> ValidationResult:
    """Validate and certify every mart. The pandera frame contracts stream each frame in batches of
    `batch_rows` rows (default schemas.BATCH_ROWS), while the GX suites run in a second thread."""
    say = progress or (lambda message: None)
    warehouse = Warehouse(settings)
    warehouse.require()
    with warehouse.connect() as con:
        try:
            build, build_problem = warehouse.build_settings(con), None
        except BuildSettingsError as exc:
            build, build_problem = None, str(exc)
        present = {t for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [MART_SCHEMA]).fetchall()}
    build_id = build.build_id if build else "unknown"
    dbt = _dbt_results(settings, build.build_id if build else None, artifacts_dir)
    say(f"dbt build {dbt.build_id} ({dbt.artifacts_dir or 'no run_results.json'})")
    # every mart the project defines (the build's manifest), wrote (its content record) or the warehouse holds
    marts = sorted(set(dbt.contracts) | set(build.marts if build else ()) | present)
    paths = quality_paths(settings)
    started = datetime.now(timezone.utc)
    with warehouse.connect(read_only=False) as con:
        return _validate_open(con, settings, build, build_problem, build_id, marts, present, dbt, paths,
                              started, say, run_gx, batch_rows)


def _validate_open(con, settings, build, build_problem, build_id, marts, present, dbt, paths, started, say, run_gx,
                   batch_rows) -> ValidationResult:
    """The body of `validate` on an open read-write connection."""
    ensure_schema(con)
    checks: dict[str, list[CheckResult]] = {m: [] for m in marts}
    sizes: dict[str, tuple[int | None, str | None]] = {}
    for mart in marts:
        if mart not in present:
            checks[mart].append(
                CheckResult("warehouse", "mart_exists", "error", "fail", detail=f"table {MART_SCHEMA}.{mart} is missing")
            )
            sizes[mart] = (None, None)
            continue
        sizes[mart] = db.content_hash(con, MART_SCHEMA, mart)
        if build is None:
            checks[mart].append(CheckResult("warehouse", "build_settings", "error", "error", detail=build_problem))
            continue
        checks[mart].append(_content_matches_build(build, mart, *sizes[mart]))
    _collect_dbt(dbt, checks)

    gx_docs = None
    if build is not None:
        gx_docs = _run_checks(con, build, marts, present, sizes, checks, paths, say, run_gx, batch_rows)

    certifications: dict[str, Certification] = {}
    checked_at = datetime.now(timezone.utc)
    for mart in marts:
        n, hash_ = sizes[mart]
        certifications[mart] = write_certification(
            con, build_id=dbt.build_id if dbt.build_id != "unknown" else build_id, mart=mart, row_count=n, hash_=hash_,
            checks=checks[mart], checked_at=checked_at,
        )
        cert = certifications[mart]
        say(f"{mart}: {cert.status}" + (f" ({', '.join(cert.failed_checks)})" if cert.failed_checks else ""))

    from mignet.quality.report import write_quality_report

    raw_dir = str(build.var("raw_dir")) if build is not None else f"unknown ({build_problem})"
    report = write_quality_report(
        con, settings, dbt=dbt, certifications=certifications, raw_dir=raw_dir, started=started, gx_docs=gx_docs,
        out=paths["report"],
    )
    say(f"quality report: {report}")
    return ValidationResult(
        build_id=dbt.build_id,
        certified={m: c.certified for m, c in certifications.items()},
        report_path=report,
        certifications=certifications,
    )


def _content_matches_build(build, mart: str, n: int, digest: str) -> CheckResult:
    """dbt's results describe the rows the build wrote; they say nothing about a table changed since."""
    recorded = build.recorded_table(MART_SCHEMA, mart)
    if recorded is None:
        return CheckResult("warehouse", "content_matches_build", "error", "fail",
                           detail=f"build {build.build_id} recorded no content for {MART_SCHEMA}.{mart} "
                                  "(audit.rpt_build_content): it did not write this table")
    if recorded.content_hash != digest:
        return CheckResult("warehouse", "content_matches_build", "error", "fail",
                           detail=f"{MART_SCHEMA}.{mart} changed after build {build.build_id} wrote it: the build wrote "
                                  f"{recorded.n_rows:,} rows with hash {recorded.content_hash}, the table now holds "
                                  f"{n:,} rows with hash {digest}, so the build's dbt results do not describe it; "
                                  "rebuild the warehouse")
    return CheckResult("warehouse", "content_matches_build", "error", "pass", failing_count=0)


def _run_checks(con, build, marts, present, sizes, checks, paths, say, run_gx, batch_rows):
    from mignet.quality.schemas import BATCH_ROWS, FRAMES, validate_frame

    batch_rows = batch_rows or BATCH_ROWS
    # The GX suites (aggregate queries in DuckDB, then GX on small pandas frames) run in a second thread on
    # their own cursor while pandera validates the frames batch by batch here: the two use different cores.
    gx_job = gx_thread = None
    if run_gx:
        from mignet.quality.expectations import run_expectations

        try:
            bounds, bounds_problem = build.plausibility_bounds(con), None
        except BuildSettingsError as exc:
            bounds, bounds_problem = None, str(exc)
        gx_thread = ThreadPoolExecutor(max_workers=1)
        gx_job = gx_thread.submit(run_expectations, db.cursor(con), build, bounds, present, paths["gx_root"],
                                  paths["gx_docs"], say, bounds_problem)
    try:
        for mart in marts:
            if mart not in present or mart not in FRAMES:
                continue
            say(f"pandera {mart} ({sizes[mart][0]:,} rows)")
            try:
                checks[mart].extend(validate_frame(con, FRAMES[mart], sizes[mart][0] or 0, batch_rows=batch_rows))
            except Exception as exc:  # a contract that crashes is a failed check, never a silent pass
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
            checks.setdefault(mart, []).extend(results)
    else:
        # the distribution and plausibility checks were not run: not certifiable
        for mart in present & set(marts):
            checks[mart].append(CheckResult("gx", "suites_run", "error", "skipped", detail="GX suites skipped (--no-gx)"))
    return gx_docs


def _dbt_results(settings: Settings, warehouse_build: str | None, artifacts_dir: Path | None) -> DbtBuild:
    """dbt's results of the build that wrote this warehouse. The warehouse names its build
    (audit.rpt_build_info), and only that build's run_results.json is taken: found in data/build/<id>/ or the
    dbt target folder, or the one given, which must be of that build."""
    if warehouse_build is None:
        return DbtBuild("unknown", None, None, artifacts_dir, problem=(
            "the warehouse does not name the build that wrote it (audit.rpt_build_info), so no dbt results apply"))
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
    for mart in checks:
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
