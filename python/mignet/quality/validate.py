"""`mignet validate`: collect dbt's test results, run the pandera row rules and the GX suites on every
certified mart, write one certification record per mart into the warehouse, and write the quality report.

A mart is certified only when every error-severity check passed: its dbt model built, every dbt test and
unit test of it passed, every pandera rule and every GX expectation of severity error passed. The record
holds the row count and the content hash at validation time, so a later change is detected by readers.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from mignet import db

from mignet.quality import CERTIFIED_MARTS, MART_SCHEMA
from mignet.quality.dbt_results import DbtBuild, current_build_artifacts, load_dbt_build
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
) -> ValidationResult:
    say = progress or (lambda message: None)
    if not settings.warehouse.exists():
        raise FileNotFoundError(f"warehouse {settings.warehouse} does not exist; run `mignet build` first")
    params = load_params(settings)
    if artifacts_dir is None:
        artifacts_dir = current_build_artifacts(settings)
    dbt = load_dbt_build(artifacts_dir)
    say(f"dbt build {dbt.build_id} ({artifacts_dir or 'no run_results.json'})")
    paths = quality_paths(settings)
    started = datetime.now(timezone.utc)

    try:
        con = db.connect(str(settings.warehouse))
    except duckdb.Error as exc:
        if "lock" not in str(exc).lower():
            raise
        raise WarehouseBusyError(
            f"cannot write certification records: the warehouse {settings.warehouse} is open in another process "
            f"({exc}). Close that session; analysts query {settings.analytics_db} instead, which never blocks."
        ) from None
    try:
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

        from mignet.quality.schemas import mart_models, validate_mart

        models = mart_models(params)
        for mart in CERTIFIED_MARTS:
            if mart not in present:
                continue
            say(f"pandera {mart} ({sizes[mart][0]:,} rows)")
            try:
                checks[mart].extend(validate_mart(con, mart, models[mart], sizes[mart][0] or 0))
            except Exception as exc:  # a rule that crashes is a failed check, never a silent pass
                checks[mart].append(
                    CheckResult("pandera", "validation_run", "error", "error",
                                detail=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
                )
        gx_docs = None
        if run_gx:
            from mignet.quality.expectations import run_expectations

            gx_results, gx_docs = run_expectations(con, params, present, paths["gx_root"], paths["gx_docs"], say)
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
    finally:
        con.close()
    say(f"quality report: {report}")
    return ValidationResult(
        build_id=dbt.build_id,
        certified={m: c.certified for m, c in certifications.items()},
        report_path=report,
        certifications=certifications,
    )


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
