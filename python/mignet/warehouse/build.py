"""Run `dbt build` into a fresh warehouse file and swap it in only when dbt succeeded.

An analyst who holds the current warehouse open never makes a build fail, and a failed build leaves the
previous warehouse untouched: dbt writes `data/build/warehouse-<tmp>.duckdb`, and only a successful run is
`os.replace`d onto `settings.warehouse`. dbt's run_results.json and manifest.json are kept in
`data/build/<build_id>/`, where build_id is dbt's invocation id.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mignet.settings import Settings

Progress = Callable[[str], None] | None

# dbt log lines worth showing on a terminal (model and test results, totals, errors)
_SHOWN_MARKERS = (" OK ", "ERROR", "FAIL", "WARN", "PASS=", "Finished running", "Completed", "Compilation Error",
                  "Runtime Error", "Database Error", "raw views over", "Encountered an error", "Done.")


@dataclass(frozen=True)
class BuildResult:
    build_id: str
    ok: bool
    run_results_path: Path | None
    elapsed_s: float
    warehouse: Path | None = None
    failures: tuple[str, ...] = field(default_factory=tuple)
    """unique_id and message of every model, seed or test that ended in error or fail"""
    warnings: tuple[str, ...] = field(default_factory=tuple)


class BuildError(RuntimeError):
    """dbt could not be started at all (not installed, project missing)."""


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's virtualenv), else the one on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    if beside.is_file():
        return str(beside)
    found = shutil.which("dbt")
    if found is None:
        raise BuildError("dbt not found beside the Python interpreter nor on PATH: run `make install`")
    return found


def _summarise(run_results: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    failures, warnings = [], []
    for result in run_results.get("results", []):
        status = result.get("status")
        line = f"{result.get('unique_id')}: {status}: {(result.get('message') or '').strip()}"
        if status in ("error", "fail", "runtime error"):
            failures.append(line)
        elif status == "warn":
            warnings.append(line)
    return tuple(failures), tuple(warnings)


def _generate_docs(dbt: list[str], dbt_vars: dict | None, settings: Settings, env: dict, work: Path,
                   artifacts: Path, say) -> None:
    """`dbt docs generate --static` on the fresh warehouse: the documentation of every model and column, with
    the catalog of this build, as one file that opens without a server (`<artifacts>/index.html`, linked
    from the quality report). Documentation is a by-product: if it fails, the build still stands."""
    # --no-compile: the build has just written the compiled manifest into the same target folder
    command = [*dbt, "docs", "generate", "--static", "--no-compile", "--project-dir", str(settings.project_root),
               "--profiles-dir", str(settings.project_root)]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    done = subprocess.run(command, cwd=settings.project_root, env=env, capture_output=True, text=True)
    static = work / "target" / "static_index.html"
    if done.returncode != 0 or not static.is_file():
        say("dbt docs generate failed; the build stands without its documentation:\n"
            + "\n".join((done.stdout or "").splitlines()[-10:]))
        return
    shutil.copy2(static, artifacts / "index.html")
    if (work / "target" / "catalog.json").is_file():
        shutil.copy2(work / "target" / "catalog.json", artifacts / "catalog.json")
    say(f"dbt docs: {artifacts / 'index.html'}")


def build_warehouse(settings: Settings, dbt_vars: dict | None = None, progress: Progress = None,
                    select: str | None = None, docs: bool = True) -> BuildResult:
    """Run `dbt build` (seeds, models, tests) on `settings.raw_dir` into a fresh file, then swap it in.

    dbt_vars override the vars of dbt_project.yml (e.g. {"target_vintage": 2025}). `select` passes a dbt
    selection (for partial builds in development; the swap still only happens when dbt succeeded). With
    `docs`, a successful build also writes its dbt documentation (`dbt docs generate --static`) beside its
    artifacts.
    Returns a BuildResult; ok is False when dbt failed, and then the previous warehouse is untouched.
    """
    say = progress or (lambda message: None)
    started = time.perf_counter()
    build_root = settings.data_dir / "build"
    build_root.mkdir(parents=True, exist_ok=True)
    attempt = uuid.uuid4().hex[:12]
    fresh = build_root / f"warehouse-{attempt}.duckdb"
    work = build_root / f"work-{attempt}"
    work.mkdir()

    env = settings.dbt_env()
    env["MIGNET_WAREHOUSE"] = str(fresh)
    env["DBT_TARGET_PATH"] = str(work / "target")
    env["DBT_LOG_PATH"] = str(work / "logs")
    command = [dbt_executable(), "build", "--project-dir", str(settings.project_root),
               "--profiles-dir", str(settings.project_root)]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    if select:
        command += ["--select", select]
    say(f"dbt build: raw {settings.raw_dir} -> {fresh.name}")
    process = subprocess.Popen(command, cwd=settings.project_root, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1)
    tail: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        line = line.rstrip()
        tail = (tail + [line])[-40:]
        if any(marker in line for marker in _SHOWN_MARKERS):
            say(line)
    returncode = process.wait()

    run_results_file = work / "target" / "run_results.json"
    build_id = attempt
    failures: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    run_results_path = None
    if run_results_file.is_file():
        run_results = json.loads(run_results_file.read_text())
        build_id = run_results.get("metadata", {}).get("invocation_id") or attempt
        failures, warnings = _summarise(run_results)
        artifacts = build_root / build_id
        artifacts.mkdir(parents=True, exist_ok=True)
        for name in ("run_results.json", "manifest.json"):
            if (work / "target" / name).is_file():
                shutil.copy2(work / "target" / name, artifacts / name)
        run_results_path = artifacts / "run_results.json"
    if returncode != 0 and not failures:
        failures = ("dbt exited with code " + str(returncode) + ":\n" + "\n".join(tail),)

    ok = returncode == 0
    if ok and docs and run_results_path is not None:
        _generate_docs(command[:1], dbt_vars, settings, env, work, run_results_path.parent, say)
    warehouse = None
    if ok:
        settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
        # a write-ahead log left by the previous file must not be replayed onto the new one
        stale_wal = Path(str(settings.warehouse) + ".wal")
        if stale_wal.exists():
            stale_wal.unlink()
        fresh_wal = Path(str(fresh) + ".wal")
        if fresh_wal.exists():
            os.replace(fresh_wal, stale_wal)
        os.replace(fresh, settings.warehouse)
        warehouse = settings.warehouse
        say(f"warehouse {settings.warehouse} replaced (build {build_id})")
    else:
        for leftover in (fresh, Path(str(fresh) + ".wal")):
            if leftover.exists():
                leftover.unlink()
        say(f"dbt build failed (build {build_id}); the previous warehouse is untouched")
        for failure in failures[:20]:
            say("  " + failure)
    shutil.rmtree(work, ignore_errors=True)
    return BuildResult(build_id=build_id, ok=ok, run_results_path=run_results_path,
                       elapsed_s=time.perf_counter() - started, warehouse=warehouse, failures=failures,
                       warnings=warnings)
