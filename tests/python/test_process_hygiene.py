"""Process hygiene: children die with mignet, one process per data folder, leftovers of killed runs removed,
and a failed build names a log that exists.

The slow test at the end kills `mignet run` at a random moment inside every stage (SIGKILL of the mignet
process only: whatever it started must end by itself) and checks that nothing of it survives, that the
release analysts read is untouched, and that the next run cleans up and finishes. Its moments come from a
seeded RNG: the seed is printed, and MIGNET_KILL_SEED=<seed> replays them; MIGNET_KILL_STAGES=build,validate
kills in those stages only.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

import mignet
from mignet import locking
from mignet.cli import COMMANDS, READ_ONLY, WRITES_DATA_FOLDER, main
from mignet.locking import DataFolderBusyError, hold_data_folder, remove_leftovers
from mignet.pipeline import STAGES
from mignet.settings import Settings, find_project_root
from mignet.warehouse import build as build_module

# processes are found through /proc, and children die with their parent through Linux's prctl
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux process semantics")

PROJECT_ROOT = find_project_root(Path(mignet.__file__).parent)
MARKER = "MIGNET_HYGIENE_TEST"  # set in the environment of every process a test starts, inherited by theirs


def _settings(root: Path) -> Settings:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MIGNET_")}
    environ.update(MIGNET_DATA_DIR=str(root / "data"), MIGNET_REPORTS_DIR=str(root / "reports"))
    return Settings.from_env(project_root=PROJECT_ROOT, environ=environ)


def _marked_processes(token: str) -> dict[int, str]:
    """pid -> command line of every live process whose environment carries MARKER=token."""
    needle = f"{MARKER}={token}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            stat = (entry / "stat").read_text()
            if stat[stat.rindex(")") + 2:].split()[0] in ("Z", "X"):
                continue
            found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
    return found


def _wait_until_gone(token: str, timeout_s: float = 15.0) -> dict[int, str]:
    deadline = time.monotonic() + timeout_s
    while (left := _marked_processes(token)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _python(code: str, token: str, **env) -> subprocess.Popen:
    """A Python child (marked with token) running `code`; it prints lines the test waits for."""
    environ = dict(os.environ, **{MARKER: token}, **env)
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=environ, cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, text=True)


def _read_line(process: subprocess.Popen, prefix: str, timeout_s: float = 60.0) -> str:
    result: list[str] = []

    def read():
        for line in process.stdout:
            if line.startswith(prefix):
                result.append(line.strip())
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    assert result, f"the child never printed {prefix!r}"
    return result[0]


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# ---- children die with their parent ----------------------------------------------------------------------

# dbt starts multiprocessing's resource tracker (a grandchild of mignet) the moment it creates a lock: the
# child below does the same, so the test covers the tree mignet really has during a build.
_DBT_LIKE = ("import multiprocessing, time; multiprocessing.get_context('spawn').Lock(); print('ready', flush=True); "
             "time.sleep(600)")


def test_a_child_and_its_own_children_die_when_mignet_is_sigkilled():
    token = uuid.uuid4().hex
    parent = _python(f"""
        import sys, time
        from mignet.processes import ChildProcess, group_members
        child = ChildProcess([sys.executable, "-c", {_DBT_LIKE!r}], stdout=sys.stdout)
        while len(group_members(child.pid)) < 2:  # dbt-like child and its resource tracker
            time.sleep(0.05)
        print("started", child.pid, flush=True)
        time.sleep(600)
    """, token)
    try:
        _read_line(parent, "started")
        tree = _marked_processes(token)
        assert len(tree) == 3, tree  # parent, child, resource tracker
    finally:
        parent.kill()
        parent.wait()
    assert _wait_until_gone(token) == {}


def test_leaving_the_block_stops_the_whole_group_also_what_ignores_sigterm(monkeypatch):
    from mignet import processes
    from mignet.processes import ChildProcess, group_members

    monkeypatch.setattr(processes, "STOP_GRACE_S", 0.5)

    stubborn = ("import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "subprocess.Popen([sys.executable, '-c', 'import signal, time; signal.signal(signal.SIGTERM, "
                "signal.SIG_IGN); time.sleep(600)']); print('ready', flush=True); time.sleep(600)")
    child = ChildProcess([sys.executable, "-c", stubborn], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    assert len(group_members(child.pid)) == 2
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with child:
            raise KeyboardInterrupt  # what Ctrl-C does in the middle of a build
    assert group_members(child.pid) == []
    assert child.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 5


def test_a_child_that_ends_leaves_no_straggler_of_its_group():
    from mignet.processes import ChildProcess, group_members

    leaves_one = ("import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])")
    with ChildProcess([sys.executable, "-c", leaves_one]) as child:
        assert child.wait() == 0
    assert group_members(child.pid) == []


def test_pool_workers_die_when_their_parent_is_sigkilled():
    token = uuid.uuid4().hex
    parent = _python("""
        import time
        from mignet import parallel
        pool = parallel.process_pool(2)
        print("workers", *sorted(pool._processes), flush=True)
        time.sleep(600)
    """, token)
    try:
        workers = [int(pid) for pid in _read_line(parent, "workers").split()[1:]]
        assert len(workers) == 2
        assert set(workers) <= set(_marked_processes(token))
    finally:
        parent.kill()
        parent.wait()
    assert _wait_until_gone(token, timeout_s=5) == {}


def _pid(_):
    return os.getpid()


def test_the_pool_still_computes():
    from mignet import parallel

    pool = parallel.process_pool(2)
    try:
        pids = set(pool.map(_pid, range(8)))
    finally:
        pool.shutdown()
    assert pids and os.getpid() not in pids


# ---- one process per data folder -------------------------------------------------------------------------

_HOLDER = """
    import time
    from mignet.locking import hold_data_folder
    from mignet.settings import Settings
    with hold_data_folder(Settings.from_env()):
        print("holding", flush=True)
        time.sleep(600)
"""


@pytest.fixture
def held_folder(tmp_path):
    """A data folder held by another process: (settings, that process)."""
    settings = _settings(tmp_path)
    holder = _python(_HOLDER, uuid.uuid4().hex, MIGNET_DATA_DIR=str(settings.data_dir),
                     MIGNET_REPORTS_DIR=str(settings.reports_dir))
    _read_line(holder, "holding")
    yield settings, holder
    holder.kill()
    holder.wait()


def test_a_second_process_is_refused_with_the_holder_named(held_folder):
    settings, holder = held_folder
    with pytest.raises(DataFolderBusyError) as refused:
        with hold_data_folder(settings):
            pass
    message = refused.value.message
    assert re.search(rf"another mignet process \(pid {holder.pid}, `python[\d.]* -c`, since \d\d:\d\d:\d\d UTC\) "
                     rf"is working on data folder {re.escape(str(settings.data_dir))}; wait for it or stop it",
                     message, re.S), message
    assert refused.value.exit_code == locking.BUSY_EXIT_CODE


def test_a_killed_holder_leaves_no_stale_lock_and_is_reported(held_folder):
    settings, holder = held_folder
    holder.kill()
    holder.wait()
    said = []
    with hold_data_folder(settings, progress=said.append):
        record = json.loads(locking.lock_path(settings).read_text())
        assert record["pid"] == os.getpid()
    assert any(f"pid {holder.pid}" in m and "was stopped before it finished" in m for m in said), said
    assert locking.lock_path(settings).read_text() == ""  # released: no holder recorded


def test_the_lock_is_reentrant_within_a_process(tmp_path):
    settings = _settings(tmp_path)
    with hold_data_folder(settings):
        with hold_data_folder(settings):
            assert json.loads(locking.lock_path(settings).read_text())["pid"] == os.getpid()
        assert locking.lock_path(settings).read_text() != ""  # still held by the outer block
    assert locking.lock_path(settings).read_text() == ""


def test_every_command_is_either_a_writer_or_read_only():
    assert set(WRITES_DATA_FOLDER) | READ_ONLY == set(COMMANDS)
    assert not set(WRITES_DATA_FOLDER) & READ_ONLY


def test_writing_commands_are_refused_while_another_process_holds_the_folder(held_folder, tmp_path):
    settings, holder = held_folder
    env = {"MIGNET_DATA_DIR": str(settings.data_dir), "MIGNET_REPORTS_DIR": str(settings.reports_dir)}
    runner = CliRunner()
    for args in (["build"], ["validate"], ["publish"], ["fit"], ["gof"], ["report"], ["run"],
                 ["generate", "--scale", "0.01"], ["generate", "--out", str(settings.data_dir / "other")]):
        result = runner.invoke(main, args, env=env)
        assert result.exit_code == locking.BUSY_EXIT_CODE, (args, result.output)
        assert f"pid {holder.pid}" in result.output and "wait for it or stop it" in result.output, result.output
    # readers, and a register generated outside the data folder, do not wait for the writer
    elsewhere = tmp_path / "elsewhere"
    generated = runner.invoke(main, ["generate", "--out", str(elsewhere), "--scale", "0.01",
                                     "--geography", "synthetic-small"], env=env)
    assert generated.exit_code == 0, generated.output
    checked = runner.invoke(main, ["check-raw", str(elsewhere)], env=env)
    assert checked.exit_code == 0, checked.output
    scenario = runner.invoke(main, ["scenario", "1", "2"], env=env)
    assert "another mignet process" not in scenario.output


def test_run_pipeline_holds_the_folder_for_python_callers(held_folder):
    from mignet.pipeline import run_pipeline

    settings, holder = held_folder
    with pytest.raises(DataFolderBusyError, match=f"pid {holder.pid}"):
        run_pipeline(settings, generate=True, generator={"scale": 0.01, "seed": 1, "geography": "synthetic-small",
                                                         "faults": 0.0}, echo=lambda message: None)


# ---- leftovers -------------------------------------------------------------------------------------------

def _tiers(settings: Settings) -> list[tuple[Path, Path]]:
    """(releases folder, analytics database) of each tier publish writes."""
    from mignet.quality.publish import tiers

    return [(tier.releases_dir, tier.analytics_db) for tier in tiers(settings)]


def _build_folder(root: Path, name: str, ok: bool, finished_at: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "build.json").write_text(json.dumps({"build_id": name, "ok": ok, "finished_at": finished_at}))
    (folder / "dbt.log").write_text("log\n")
    return folder


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def test_leftovers_of_dead_processes_go_and_everything_else_stays(tmp_path):
    settings = _settings(tmp_path)
    build_root = settings.data_dir / "build"
    build_root.mkdir(parents=True)
    dead, alive = _dead_pid(), os.getpid()
    gone, kept = [], []

    def make(path: Path, keep: bool, folder: bool = False) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir() if folder else path.write_bytes(b"x" * 10)
        (kept if keep else gone).append(path)
        return path

    make(build_root / f"warehouse-{dead}-0123456789ab.duckdb", keep=False)
    make(build_root / f"warehouse-{dead}-0123456789ab.duckdb.wal", keep=False)
    make(build_root / f"work-{dead}-0123456789ab", keep=False, folder=True)
    make(build_root / "warehouse-fedcba987654.duckdb", keep=False)  # named before the pid was in the name
    make(build_root / f"warehouse-{alive}-aaaaaaaaaaaa.duckdb", keep=True)  # a build still running
    make(build_root / f"work-{alive}-aaaaaaaaaaaa", keep=True, folder=True)
    make(build_root / "notes", keep=True, folder=True)  # not mignet's: never touched
    for i in range(build_module.KEEP_BUILDS + 2):
        folder = _build_folder(build_root, f"ok-{i}", True, f"2026-01-01T00:00:{i:02d}+00:00")
        (gone if i < 2 else kept).append(folder)
    for i in range(build_module.KEEP_FAILED_BUILDS + 1):
        folder = _build_folder(build_root, f"failed-{i}", False, f"2026-02-01T00:00:{i:02d}+00:00")
        (gone if i < 1 else kept).append(folder)
    legacy = build_root / "legacy"
    legacy.mkdir()
    (legacy / "run_results.json").write_text("{}")
    _age(legacy / "run_results.json", 10 * 365 * 86400)  # the oldest of all: but successful builds count by 5
    gone.append(legacy)

    secure_releases, secure_analytics = _tiers(settings)[0]
    make(secure_releases / f".tmp-20260101T000000Z-abc-{dead}", keep=False, folder=True)
    make(secure_analytics.parent / f".{secure_analytics.name}.{dead}.tmp", keep=False)
    releases = settings.releases_dir
    make(releases / f".tmp-20260101T000000Z-abc-{dead}", keep=False, folder=True)
    make(releases / f".tmp-20260101T000000Z-abc-2-{alive}", keep=True, folder=True)
    os.symlink("20260101T000000Z-abc", releases / f".current.{dead}.tmp")
    gone.append(releases / f".current.{dead}.tmp")
    make(settings.data_dir / f".analytics.duckdb.{dead}.tmp", keep=False)
    make(settings.data_dir / f".analytics.duckdb.{dead}.tmp.wal", keep=False)
    make(settings.data_dir / f".analytics.duckdb.{alive}.tmp", keep=True)
    _age(make(settings.data_dir / ".run_state-old.json", keep=False), 3600)
    make(settings.data_dir / ".run_state-new.json", keep=True)  # may be being written right now
    _age(make(settings.reports_dir / "quality" / "index.html.tmp", keep=False), 3600)
    _age(make(settings.reports_dir / "models" / ".index-abc.html", keep=False), 3600)
    gx = settings.data_dir / "gx"
    make(gx / "great_expectations.yml", keep=False).write_text("")  # emptied by a killed GX write
    gone.append(gx)
    for path in (releases / "20260101T000000Z-abc", settings.data_dir / "warehouse.duckdb",
                 settings.data_dir / "run_state.json", settings.reports_dir / "quality" / "index.html"):
        make(path, keep=True, folder=path.suffix == "")

    with hold_data_folder(settings, progress=lambda m: None):
        pass  # the first hold cleans

    assert [p for p in gone if p.exists() or p.is_symlink()] == []
    assert [p for p in kept if not p.exists()] == []


def test_an_intact_gx_project_stays_unless_its_last_writer_was_killed(tmp_path):
    settings = _settings(tmp_path)
    gx = settings.data_dir / "gx"
    gx.mkdir(parents=True)
    (gx / "great_expectations.yml").write_text("config_version: 4.0\nstores: {}\n")
    assert remove_leftovers(settings).removed == ()
    assert gx.is_dir()
    cleanup = remove_leftovers(settings, previous_holder_killed=True)
    assert len(cleanup.removed) == 1 and cleanup.removed[0].startswith(str(gx)) and not cleanup.problems, cleanup
    assert not gx.exists()


# ---- a failed build names a log that exists ----------------------------------------------------------------

def _run_context(settings: Settings):
    from mignet.pipeline import RunContext
    from mignet.runstate import RunState

    return RunContext(settings=settings, state=RunState(settings.data_dir / "run_state.json"), generate=False,
                      generator={}, dbt_vars={}, force=True)


def test_the_failure_message_names_only_files_that_exist(tmp_path, monkeypatch):
    from mignet.pipeline import StageFailed, run_build

    settings = _settings(tmp_path)
    log = tmp_path / "dbt.log"
    log.write_text("log\n")
    results = tmp_path / "run_results.json"
    for run_results_path, named in ((None, [log]), (tmp_path / "missing.json", [log]), (results, [results, log])):
        if run_results_path is results:
            results.write_text("{}")
        result = build_module.BuildResult(build_id="b1", ok=False, run_results_path=run_results_path, elapsed_s=1.0,
                                          failures=("model.x: error: boom",), log_path=log)
        monkeypatch.setattr(build_module, "build_warehouse", lambda *args, _r=result, **kwargs: _r)
        with pytest.raises(StageFailed) as failed:
            run_build(_run_context(settings), lambda message: None)
        assert failed.value.message.endswith(f"See {' and '.join(map(str, named))}."), failed.value.message
    log.unlink()
    results.unlink()
    with pytest.raises(StageFailed) as failed:
        run_build(_run_context(settings), lambda message: None)
    assert "See " not in failed.value.message and "None" not in failed.value.message


@pytest.mark.slow
def test_a_failed_build_keeps_its_log_and_leaves_nothing_else(tmp_path):
    from mignet.pipeline import StageFailed, run_build

    settings = _settings(tmp_path)
    settings.raw_dir.mkdir(parents=True)  # an empty extract: dbt stops in on-run-start, before run_results.json
    with pytest.raises(StageFailed) as failed:
        run_build(_run_context(settings), lambda message: None)
    message = failed.value.message
    builds = list((settings.data_dir / "build").iterdir())
    assert len(builds) == 1, builds  # the build's folder, and no temporary warehouse or work folder
    folder = builds[0]
    record = json.loads((folder / "build.json").read_text())
    assert record["ok"] is False and record["returncode"] != 0 and folder.name == record["build_id"]
    log = folder / "dbt.log"
    assert "rule file_missing: table moves not found" in log.read_text()
    assert not (folder / "run_results.json").exists()
    assert message.endswith(f"See {log}."), message
    assert "rule file_missing: table moves not found" in message and "\x1b[" not in message
    assert not settings.warehouse.exists()


# ---- kill `mignet run` inside every stage ------------------------------------------------------------------

STAGE_ORDER = tuple(stage.name for stage in STAGES)  # every stage runs when the run generates its register
RUN_ARGS = ("run", "--scale", "0.01", "--gof-sims", "10", "--geography", "synthetic-small")


class _Run:
    """`mignet run` in a subprocess whose output lines are collected as they come."""

    def __init__(self, root: Path, token: str, *extra: str):
        script = Path(sys.executable).parent / "mignet"
        command = [str(script)] if script.is_file() else [sys.executable, "-m", "mignet.cli"]
        environ = {k: v for k, v in os.environ.items() if not k.startswith("MIGNET_")}
        environ.update({MARKER: token, "MIGNET_DATA_DIR": str(root / "data"),
                        "MIGNET_REPORTS_DIR": str(root / "reports")})
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.process = subprocess.Popen([*command, *RUN_ARGS, *extra], cwd=PROJECT_ROOT, env=environ,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.lines.append(None)  # end of output
            self.changed.notify_all()

    def wait_for(self, pattern: str, timeout_s: float, start: int = 0) -> int | None:
        """Index of the first line from `start` on matching `pattern`; None at the end of output or timeout."""
        deadline = time.monotonic() + timeout_s
        with self.changed:
            index = start
            while True:
                while index < len(self.lines):
                    line = self.lines[index]
                    if line is None:
                        return None
                    if re.search(pattern, line):
                        return index
                    index += 1
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.changed.wait(remaining)

    def output(self) -> str:
        return "\n".join(line for line in self.lines if line is not None)

    def finish(self, timeout_s: float) -> int:
        """Wait for the process to end and for all its output; return its exit status."""
        returncode = self.process.wait(timeout_s)
        self.reader.join(30)
        return returncode


def _release_files(releases: Path, release: str) -> dict[str, str]:
    folder = releases / release
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _release_snapshot(settings: Settings) -> dict[Path, tuple[str, dict[str, str]]]:
    """For each tier: the release `current` points to and the sha256 of each of its files."""
    snapshot = {}
    for releases, _ in _tiers(settings):
        current = os.readlink(releases / "current")
        snapshot[releases] = (current, _release_files(releases, current))
    return snapshot


def _leftovers(settings: Settings) -> list[Path]:
    """What only an interrupted run leaves (found without asking mignet's own cleanup)."""
    data, reports = settings.data_dir, settings.reports_dir
    build = data / "build"
    found = [*build.glob("warehouse-*"), *build.glob("work-*"), *data.glob(".run_state-*")]
    for releases, analytics in _tiers(settings):
        found += [*releases.glob(".tmp-*"), *releases.glob(".current.*"),
                  *analytics.parent.glob(f".{analytics.name}.*")]
    if build.is_dir():  # a build folder without its record is one whose assembly was cut short
        found += [p for p in build.iterdir() if p.is_dir() and not p.name.startswith("work-")
                  and not (p / "build.json").exists()]
    # temporary reports carry no pid: mignet removes them only once they are a minute old
    found += [p for p in [*reports.glob("quality/*.tmp"), *reports.glob("models/.index-*")]
              if time.time() - p.stat().st_mtime > locking.UNNAMED_TEMP_GRACE_S]
    return sorted(found)


def _check_releases_intact(settings: Settings, before: dict, published_in_this_run: bool, where: str) -> None:
    """Each tier's previous release is byte-identical; `current` still points to it, or (once this run
    published) to a complete new release; each analytics database answers through every view."""
    for (releases, analytics), (previous, files) in zip(_tiers(settings), before.values()):
        assert _release_files(releases, previous) == files, f"{where}: release {releases / previous} changed"
        current = os.readlink(releases / "current")
        if current != previous:
            assert published_in_this_run, f"{where}: {releases}/current moved to {current} before the run published"
            manifest = json.loads((releases / current / "release.json").read_text())
            for table in manifest["tables"]:
                parquet = releases / current / f"{table}.parquet"
                duckdb.execute("select count(*) from read_parquet(?)", [str(parquet)]).fetchall()
        con = duckdb.connect(str(analytics), read_only=True)
        try:
            views = [name for (name,) in con.execute(
                "select table_name from information_schema.tables where table_type = 'VIEW'").fetchall()]
            assert "release_info" in views, f"{where}: {analytics} has views {views}"
            for view in views:
                con.execute(f'select count(*) from "{view}"').fetchall()
        finally:
            con.close()


@pytest.mark.slow
def test_a_run_killed_inside_any_stage_leaves_nothing_running_nothing_broken_and_nothing_behind(tmp_path):
    seed = int(os.environ.get("MIGNET_KILL_SEED") or random.SystemRandom().randrange(10**6))
    print(f"kill moments from seed {seed} (replay: MIGNET_KILL_SEED={seed})")
    rng = random.Random(seed)
    settings = _settings(tmp_path)

    first = _Run(tmp_path, uuid.uuid4().hex)
    assert first.wait_for(r"^\[1/\d+\] ", 120) is not None, first.output()
    second = _Run(tmp_path, uuid.uuid4().hex)  # a second run on the same data folder meanwhile is refused
    assert second.finish(120) == locking.BUSY_EXIT_CODE, second.output()
    assert re.search(rf"another mignet process \(pid {first.process.pid}, `mignet run --scale 0\.01 .*`, since "
                     r"\d\d:\d\d:\d\d UTC\) is working on data folder .*; wait for it or stop it", second.output()), \
        second.output()
    assert first.finish(600) == 0, first.output()
    durations = {}
    for stage in STAGE_ORDER:
        header = first.wait_for(rf"^\[\d+/\d+\] {re.escape(stage)}: ", 0)
        done = first.wait_for(r"^    done in ([\d.]+)s", 0, start=header)
        durations[stage] = float(re.search(r"done in ([\d.]+)s", first.lines[done]).group(1))
    print("stage durations of the first run:", durations)

    # MIGNET_KILL_STAGES=build,validate kills only in those stages (a quicker look while working on them)
    chosen = [name for name in os.environ.get("MIGNET_KILL_STAGES", "").split(",") if name] or STAGE_ORDER
    assert set(chosen) <= set(STAGE_ORDER), chosen
    left_by_last_kill: list[Path] = []
    for number, stage in enumerate(STAGE_ORDER, 1):
        if stage not in chosen:
            continue
        before = _release_snapshot(settings)
        token = uuid.uuid4().hex
        # that stage and the later ones rerun; the earlier ones are up to date unless the last kill broke them
        run = _Run(tmp_path, token, "--from", stage)
        started = run.wait_for(r"^\[1/\d+\] ", 120)
        assert started is not None, run.output()
        # the new run has taken the data folder: what the last kill left is gone
        assert [p for p in left_by_last_kill if p.exists() or p.is_symlink()] == [], run.output()
        header = run.wait_for(rf"^\[{number}/\d+\] {re.escape(stage)}: .* runs", 300, start=started)
        assert header is not None, run.output()
        seen = time.monotonic()
        moment = rng.uniform(0, 0.9 * durations[stage])
        done = run.wait_for(r"^    done in ", moment, start=header)  # a quick stage may end before the moment
        run.process.send_signal(signal.SIGKILL)
        killed_after = time.monotonic() - seen
        run.finish(30)
        where = (f"seed {seed}, stage {stage}: killed {killed_after:.2f}s after its header (drawn: {moment:.2f}s"
                 + (", but the stage ended first)" if done is not None else ")"))
        print(where)
        left = _wait_until_gone(token)
        assert left == {}, f"{where}: processes of the run still alive: {left}"
        _check_releases_intact(settings, before, published_in_this_run=number > STAGE_ORDER.index("publish"),
                               where=where)
        left_by_last_kill = _leftovers(settings)
        print(f"  left behind: {[str(p.relative_to(tmp_path)) for p in left_by_last_kill]}")

    last = _Run(tmp_path, uuid.uuid4().hex)
    assert last.finish(600) == 0, last.output()
    assert [p for p in left_by_last_kill if p.exists() or p.is_symlink()] == []
    assert _leftovers(settings) == []
    assert locking.lock_path(settings).read_text() == ""
    assert "was stopped before it finished" in last.output()
