"""Run `dbt build` into a fresh warehouse file and swap it in only when dbt succeeded.

An analyst who holds the current warehouse open never makes a build fail, and a failed build leaves the
previous warehouse untouched: dbt writes `data/build/warehouse-<pid>-<attempt>.duckdb`, and only a successful
run is `os.replace`d onto `settings.warehouse`.

Every build, failed ones included, leaves one complete folder `data/build/<build_id>/` (build_id is dbt's
invocation id, or the attempt id when dbt wrote no run_results.json): `build.json` (what was run, when, and
whether it succeeded), dbt's `run_results.json` and `manifest.json` when dbt wrote them, `dbt.log` (dbt's own
log file, or dbt's console output when dbt stopped before it wrote one) and, for a successful build, the dbt
documentation (`index.html`, `catalog.json`). The folder is assembled in the build's work folder and renamed
into place, so it is never half there.

dbt runs as a `mignet.processes.ChildProcess`: in a process group of its own, stopped with its children when
the build ends in any way, and killed by the kernel if mignet is. What a killed build leaves (its temporary
warehouse and work folder, both named after the pid that made them) is removed by `build_leftovers`, called
when the next mignet process takes the data folder (`mignet.locking`), which also keeps only the last
`KEEP_BUILDS` successful and `KEEP_FAILED_BUILDS` failed build folders.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from mignet.processes import ChildProcess, pid_alive
from mignet.settings import Settings

Progress = Callable[[str], None] | None

BUILD_DIR = "build"  # under settings.data_dir
BUILD_RECORD = "build.json"
DBT_LOG = "dbt.log"
# Build folders kept in data/build: the newest successful one is the current warehouse's; the ones before it
# are those of the previous warehouses (a validation may still name them); failed ones hold their logs.
KEEP_BUILDS = 5
KEEP_FAILED_BUILDS = 5
# warehouse-<pid>-<attempt>.duckdb(.wal) and work-<pid>-<attempt>/ (also the older names without a pid)
_TEMPORARY = re.compile(r"^(?:warehouse-(?:(?P<pid>\d+)-)?[0-9a-f]{12}\.duckdb(?:\.wal)?"
                        r"|work-(?:(?P<work_pid>\d+)-)?[0-9a-f]{12})$")

# dbt log lines worth showing on a terminal (model and test results, totals, errors)
_SHOWN_MARKERS = (" OK ", "ERROR", "FAIL", "WARN", "PASS=", "Finished running", "Completed", "Compilation Error",
                  "Runtime Error", "Database Error", "raw views over", "Encountered an error", "Done.")


@dataclass(frozen=True)
class BuildResult:
    build_id: str
    ok: bool
    run_results_path: Path | None
    """dbt's run_results.json of this build, None when dbt stopped before writing one"""
    elapsed_s: float
    warehouse: Path | None = None
    failures: tuple[str, ...] = field(default_factory=tuple)
    """unique_id and message of every model, seed or test that ended in error or fail"""
    warnings: tuple[str, ...] = field(default_factory=tuple)
    log_path: Path | None = None
    """dbt's log of this build (`data/build/<build_id>/dbt.log`); it exists for failed builds too"""
    artifacts_dir: Path | None = None
    """`data/build/<build_id>/`"""


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


# a failed test whose message is the refusal itself (its error says why, in words for the user)
_SELF_EXPLAINING_TESTS = ("quarantine_share_within_limit",)


def _summarise(run_results: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    failures, warnings = [], []
    for result in run_results.get("results", []):
        status = result.get("status")
        message = (result.get("message") or "").strip()
        uid = result.get("unique_id") or ""
        if any(name in uid for name in _SELF_EXPLAINING_TESTS) and "Invalid Input Error: " in message:
            # the test raises the explanation (which table and rule, and what it suggests): put it first
            message = message.split("Invalid Input Error: ", 1)[1].strip()
        line = f"{uid}: {status}: {message}"
        if status in ("error", "fail", "runtime error"):
            failures.append(line)
        elif status == "warn":
            warnings.append(line)
    return tuple(failures), tuple(warnings)


def _console_failure(returncode: int, output: list[str]) -> str:
    """What dbt said when it stopped without results (an on-run-start hook refused the extract, a
    compilation error): everything from its "Encountered an error" on, which may be many lines (every
    structural problem of the extract with DuckDB's whole message), else the last lines."""
    starts = [i for i, line in enumerate(output) if "Encountered an error" in line]
    shown = output[starts[0]:] if starts else output[-40:]
    return f"dbt exited with code {returncode}:\n" + "\n".join(shown)


def _run_dbt(command: list[str], settings: Settings, env: dict, show=None) -> tuple[int, list[str]]:
    """Run one dbt command to its end; return its exit code and its console output. Lines with a marker of
    _SHOWN_MARKERS go to `show` as they come."""
    output: list[str] = []
    with ChildProcess(command, cwd=settings.project_root, env=env, stdin=subprocess.DEVNULL,
                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as dbt:
        for line in dbt.stdout:
            line = line.rstrip()
            output.append(line)
            if show is not None and any(marker in line for marker in _SHOWN_MARKERS):
                show(line)
        return dbt.wait(), output


def _generate_docs(dbt: list[str], dbt_vars: dict | None, settings: Settings, env: dict, work: Path,
                   staging: Path, final: Path, say) -> None:
    """`dbt docs generate --static` on the fresh warehouse: the documentation of every model and column, with
    the catalog of this build, as one file that opens without a server (`index.html` of the build folder,
    linked from the quality report). Documentation is a by-product: if it fails, the build still stands."""
    # --no-compile: the build has just written the compiled manifest into the same target folder
    command = [*dbt, "docs", "generate", "--static", "--no-compile", "--project-dir", str(settings.project_root),
               "--profiles-dir", str(settings.project_root)]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    returncode, output = _run_dbt(command, settings, env)
    static = work / "target" / "static_index.html"
    if returncode != 0 or not static.is_file():
        say("dbt docs generate failed; the build stands without its documentation:\n" + "\n".join(output[-10:]))
        return
    shutil.copy2(static, staging / "index.html")
    if (work / "target" / "catalog.json").is_file():
        shutil.copy2(work / "target" / "catalog.json", staging / "catalog.json")
    say(f"dbt docs: {final / 'index.html'}")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def build_warehouse(settings: Settings, dbt_vars: dict | None = None, progress: Progress = None,
                    select: str | None = None, docs: bool = True) -> BuildResult:
    """Run `dbt build` (seeds, models, tests) on `settings.raw_dir` into a fresh file, then swap it in.

    dbt_vars override the vars of dbt_project.yml (e.g. {"target_vintage": 2025}). `select` passes a dbt
    selection (for partial builds in development; the swap still only happens when dbt succeeded). With
    `docs`, a successful build also writes its dbt documentation (`dbt docs generate --static`) beside its
    artifacts.
    Returns a BuildResult; ok is False when dbt failed, and then the previous warehouse is untouched. Either
    way `data/build/<build_id>/` holds the build's record, artifacts and log, and no temporary file is left;
    if this process is interrupted, dbt is stopped and the temporary files are removed before the exception
    leaves.
    """
    say = progress or (lambda message: None)
    started = time.perf_counter()
    started_at = _now()
    dbt = dbt_executable()
    build_root = settings.data_dir / BUILD_DIR
    build_root.mkdir(parents=True, exist_ok=True)
    attempt = uuid.uuid4().hex[:12]
    tag = f"{os.getpid()}-{attempt}"  # the pid tells the cleanup whether the writer still lives
    fresh = build_root / f"warehouse-{tag}.duckdb"
    work = build_root / f"work-{tag}"
    staging = work / "artifacts"
    staging.mkdir(parents=True)

    env = settings.dbt_env()
    env["MIGNET_WAREHOUSE"] = str(fresh)
    env["DBT_TARGET_PATH"] = str(work / "target")
    env["DBT_LOG_PATH"] = str(work / "logs")
    # dbt's console output is read here and quoted in failure messages and logs, never shown on a terminal
    # as is: colour codes would only garble it
    env.setdefault("DBT_USE_COLORS", "false")
    command = [dbt, "build", "--project-dir", str(settings.project_root),
               "--profiles-dir", str(settings.project_root)]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    if select:
        command += ["--select", select]
    swapped = False
    try:
        say(f"dbt build: raw {settings.raw_dir} -> {fresh.name}")
        returncode, output = _run_dbt(command, settings, env, show=say)

        target = work / "target"
        run_results = json.loads((target / "run_results.json").read_text()) \
            if (target / "run_results.json").is_file() else None
        build_id = (run_results or {}).get("metadata", {}).get("invocation_id") or attempt
        failures, warnings = _summarise(run_results) if run_results else ((), ())
        if returncode != 0 and not failures:
            failures = (_console_failure(returncode, output),)
        ok = returncode == 0
        artifacts = build_root / build_id
        if ok and docs and run_results is not None:
            _generate_docs(command[:1], dbt_vars, settings, env, work, staging, artifacts, say)
        for name in ("run_results.json", "manifest.json"):
            if (target / name).is_file():
                shutil.copy2(target / name, staging / name)
        dbt_log = work / "logs" / DBT_LOG
        if dbt_log.is_file():
            shutil.copy2(dbt_log, staging / DBT_LOG)
        else:  # dbt stopped before it set up its log file: its console output is all there is
            (staging / DBT_LOG).write_text("\n".join(output) + "\n", encoding="utf-8")
        record = {"build_id": build_id, "attempt": attempt, "ok": ok, "returncode": returncode,
                  "started_at": started_at, "finished_at": _now(),
                  "elapsed_s": round(time.perf_counter() - started, 3), "raw_dir": str(settings.raw_dir),
                  "warehouse": str(settings.warehouse), "dbt_vars": dbt_vars or {}, "select": select,
                  "failures": list(failures[:50])}
        (staging / BUILD_RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
        os.rename(staging, artifacts)  # before the swap: a swapped warehouse always has its artifacts
        log_path = artifacts / DBT_LOG
        run_results_path = artifacts / "run_results.json" if run_results is not None else None

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
            swapped = True
            warehouse = settings.warehouse
            say(f"warehouse {settings.warehouse} replaced (build {build_id})")
        else:
            say(f"dbt build failed (build {build_id}); the previous warehouse is untouched")
            for failure in failures[:20]:
                say("  " + failure)
            say(f"dbt log: {log_path}")
    finally:
        if not swapped:
            for leftover in (fresh, Path(str(fresh) + ".wal")):
                leftover.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    return BuildResult(build_id=build_id, ok=ok, run_results_path=run_results_path,
                       elapsed_s=time.perf_counter() - started, warehouse=warehouse, failures=failures,
                       warnings=warnings, log_path=log_path, artifacts_dir=artifacts)


# ---- what killed builds leave, and old build folders ---------------------------------------------------------

def _build_folder(path: Path) -> tuple[bool, str] | None:
    """(succeeded, finished_at) of a build folder; None when `path` is not one."""
    record = path / BUILD_RECORD
    if record.is_file():
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
            return bool(data.get("ok")), str(data.get("finished_at") or "")
        except (OSError, ValueError):
            pass
    results = path / "run_results.json"
    if results.is_file():
        # a folder written before build.json existed: kept like a successful build, by age
        finished = datetime.fromtimestamp(results.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
        return True, finished
    return None


def build_leftovers(settings: Settings) -> Iterator[Path]:
    """What may go from `data/build/`: temporary warehouses and work folders whose process is gone, and build
    folders older than the last KEEP_BUILDS successful and KEEP_FAILED_BUILDS failed ones. Folders that are not
    a build's (no build.json nor run_results.json) are never listed."""
    build_root = settings.data_dir / BUILD_DIR
    if not build_root.is_dir():
        return
    builds: dict[bool, list[tuple[str, Path]]] = {True: [], False: []}
    for path in sorted(build_root.iterdir()):
        temporary = _TEMPORARY.match(path.name)
        if temporary:
            pid = temporary.group("pid") or temporary.group("work_pid")
            if pid is None or not pid_alive(int(pid)):
                yield path
            continue
        if path.is_dir() and not path.is_symlink():
            folder = _build_folder(path)
            if folder is not None:
                builds[folder[0]].append((folder[1], path))
    for succeeded, keep in ((True, KEEP_BUILDS), (False, KEEP_FAILED_BUILDS)):
        ordered = sorted(builds[succeeded])
        yield from (path for _, path in ordered[:max(len(ordered) - keep, 0)])
