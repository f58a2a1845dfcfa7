"""dbt's own verdict on a build: read `run_results.json` and `manifest.json` of the build and turn every
model run, data test and unit test into a `CheckResult` of the mart(s) it concerns.

A test belongs to the mart it is attached to (`attached_node`), or else to every mart it depends on.
The mart's own model run is a check too (`model_build`): with an enforced contract, a model whose columns
or types break the contract fails to build. A skipped error-severity test did not pass, so it blocks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mignet.quality.store import CheckResult
from mignet.settings import Settings
from mignet.warehouse import MART_SCHEMA


@dataclass
class DbtBuild:
    build_id: str
    generated_at: str | None
    dbt_version: str | None
    artifacts_dir: Path | None
    checks: dict[str, list[CheckResult]] = field(default_factory=dict)
    contracts: dict[str, bool] = field(default_factory=dict)  # mart -> contract enforced
    problem: str | None = None  # why dbt results could not be read


def _invocation_id(folder: Path) -> str | None:
    try:
        meta = json.loads((folder / "run_results.json").read_text(encoding="utf-8")).get("metadata") or {}
    except (OSError, json.JSONDecodeError):
        return None
    return meta.get("invocation_id")


def dbt_target_dir(settings: Settings) -> Path:
    """Where a hand-run `dbt build` writes its artifacts: $DBT_TARGET_PATH, else target-path of
    dbt_project.yml (relative to the project), else target/."""
    with (settings.project_root / "dbt_project.yml").open(encoding="utf-8") as fh:
        project = yaml.safe_load(fh) or {}
    path = Path(settings.env.get("DBT_TARGET_PATH") or project.get("target-path") or "target")
    return path if path.is_absolute() else settings.project_root / path


def artifacts_of_build(settings: Settings, build_id: str) -> tuple[Path | None, list[Path]]:
    """The folder holding the run_results.json of dbt invocation `build_id`: <data_dir>/build/<build_id>/
    (`mignet build`), or the dbt target folder when its run_results.json is of that build (a hand-run
    `dbt build`). Returns (folder or None, the folders looked in)."""
    looked = [settings.data_dir / "build" / build_id, dbt_target_dir(settings), settings.data_dir / "build"]
    for folder in looked:
        if _invocation_id(folder) == build_id:
            return folder, looked
    return None, looked


def _mart_of(uid: str, nodes: dict) -> str | None:
    """The mart a manifest node is, when it is a model of schema marts."""
    node = nodes.get(uid) or {}
    if uid.startswith("model.") and node.get("schema") == MART_SCHEMA:
        return node.get("alias") or node.get("name")
    return None


def load_dbt_build(artifacts_dir: Path | None) -> DbtBuild:
    if artifacts_dir is None or not (artifacts_dir / "run_results.json").exists():
        where = str(artifacts_dir) if artifacts_dir else "<data_dir>/build/ (run `mignet build`, or pass --artifacts)"
        return DbtBuild("unknown", None, None, artifacts_dir, problem=f"no dbt run_results.json found in {where}")
    run_results = json.loads((artifacts_dir / "run_results.json").read_text(encoding="utf-8"))
    meta = run_results.get("metadata", {})
    build = DbtBuild(
        build_id=meta.get("invocation_id") or "unknown",
        generated_at=meta.get("generated_at"),
        dbt_version=meta.get("dbt_version"),
        artifacts_dir=artifacts_dir,
    )
    manifest_path = artifacts_dir / "manifest.json"
    if not manifest_path.exists():
        build.problem = f"{manifest_path} is missing, so dbt tests cannot be mapped to marts"
        return build
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    nodes = {**manifest.get("nodes", {}), **manifest.get("unit_tests", {})}
    models = manifest.get("nodes", {})
    for uid, node in models.items():
        mart = _mart_of(uid, models)
        if mart:
            build.contracts[mart] = bool(((node.get("config") or {}).get("contract") or {}).get("enforced"))
    for result in run_results.get("results", []):
        uid = result.get("unique_id", "")
        node = nodes.get(uid, {})
        kind = uid.split(".")[0]
        status = (result.get("status") or "").lower()
        message = result.get("message") or ""
        if kind == "model":
            mart = _mart_of(uid, models)
            if mart:
                ok = status == "success"
                build.checks.setdefault(mart, []).append(
                    CheckResult(
                        "dbt", "model_build", "error", "pass" if ok else ("skipped" if status == "skipped" else "error"),
                        failing_count=None, detail=("" if ok else message or status),
                    )
                )
            continue
        if kind not in ("test", "unit_test"):
            continue
        attached = node.get("attached_node")
        depends = (node.get("depends_on") or {}).get("nodes", [])
        targets = [_mart_of(attached, models)] if attached and _mart_of(attached, models) else \
            [_mart_of(d, models) for d in depends]
        if kind == "unit_test" and not any(targets):
            targets = [_mart_of(d, models) for d in depends]
        targets = [t for t in dict.fromkeys(targets) if t]
        if not targets:
            continue
        severity = str((node.get("config") or {}).get("severity", "error")).lower()
        failures = result.get("failures")
        if status == "pass":
            check_status, failing = "pass", 0
        elif status == "warn":
            check_status, failing, severity = "fail", failures, "warn"
        elif status == "fail":
            check_status, failing = "fail", failures
        elif status == "skipped":
            check_status, failing = "skipped", None
        else:
            check_status, failing = "error", failures
        name = node.get("name") or uid.split(".")[-2 if kind == "test" else -1]
        for mart in targets:
            build.checks.setdefault(mart, []).append(
                CheckResult(
                    "dbt",
                    ("unit_test:" if kind == "unit_test" else "") + name,
                    severity if severity in ("error", "warn") else "error",
                    check_status,
                    failing_count=failing,
                    column_name=node.get("column_name"),
                    detail="" if check_status == "pass" else message,
                )
            )
    return build
