"""One mignet process per data folder at a time, and the leftovers of killed ones removed.

`hold_data_folder(settings)` takes an exclusive lock on `<data_dir>/.mignet.lock` (`fcntl.flock`: the
kernel releases it when the process ends, however it ends, so a kill never leaves a stale lock) and writes
the holder (pid, command line, start time, host) into the file, so a second process is refused with a
message naming it. The lock is re-entrant within a process: the stages of one `mignet run` work under the
run's lock. Every command that writes the data folder or the warehouse takes it (`mignet.cli` wraps them;
`mignet.pipeline.run_pipeline` takes it for Python callers); read-only commands do not.

Leftovers. Whoever takes the lock first in a process removes what killed processes left behind
(`remove_leftovers`): temporary warehouses and work folders of builds, half-written releases, temporary
analytics databases and run-state files, build artifacts beyond the last few, a Great Expectations project
that a killed validation may have left half-written. A leftover that names the process that made it is
removed only when that process is gone; one that does not is removed only when it is older than
`UNNAMED_TEMP_GRACE_S`. So even a Python caller working without the lock never loses a temporary file it
is writing.

The holder record stays in the lock file until its holder releases the lock; finding one when taking the
lock means the previous holder was killed before it finished, which the next holder reports.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import shutil
import socket
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import click

from mignet.processes import pid_alive
from mignet.settings import Settings

LOCK_FILE = ".mignet.lock"
# Exit status of a command refused because another process holds the data folder (EX_TEMPFAIL of
# sysexits.h: try again later).
BUSY_EXIT_CODE = 75
# A temporary file whose name does not say which process writes it lives for milliseconds (it is
# written and renamed at once); one older than this was left by a killed process.
UNNAMED_TEMP_GRACE_S = 60.0

Say = Callable[[str], None]


class DataFolderBusyError(click.ClickException):
    """Another process holds the data folder's lock; the message names it."""

    exit_code = BUSY_EXIT_CODE

    def __init__(self, data_dir: Path, holder: "Holder | None"):
        who = holder.describe() if holder else "its pid was not readable from the lock file"
        super().__init__(f"another mignet process ({who}) is working on data folder {data_dir}; "
                         "wait for it or stop it")
        self.data_dir = data_dir
        self.holder = holder


@dataclass(frozen=True)
class Holder:
    pid: int
    command: str
    started_at: str  # ISO 8601, UTC
    host: str

    @classmethod
    def of_this_process(cls, command: str | None = None) -> "Holder":
        return cls(pid=os.getpid(), command=command or command_line(),
                   started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), host=socket.gethostname())

    @classmethod
    def parse(cls, text: str) -> "Holder | None":
        try:
            data = json.loads(text)
            return cls(pid=int(data["pid"]), command=str(data["command"]), started_at=str(data["started_at"]),
                       host=str(data.get("host", "")))
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        try:
            started = datetime.fromisoformat(self.started_at).astimezone(timezone.utc)
        except ValueError:
            since = self.started_at
        else:
            today = datetime.now(timezone.utc).date()
            since = f"{started:%H:%M:%S} UTC" if started.date() == today else f"{started:%Y-%m-%d %H:%M:%S} UTC"
        host = "" if not self.host or self.host == socket.gethostname() else f" on {self.host}"
        return f"pid {self.pid}{host}, `{self.command}`, since {since}"

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "command": self.command, "started_at": self.started_at,
                           "host": self.host}) + "\n"


def command_line() -> str:
    """This process's command line as the user typed it (`mignet run --scale 0.1`)."""
    argv = list(sys.argv) or [sys.executable]
    program = Path(argv[0])
    if program.name == "mignet" or program.parts[-2:] == ("mignet", "cli.py"):
        argv[0] = "mignet"
    elif argv[0] in ("-c", "-m", ""):  # python -c ..., an interactive session
        argv = [Path(sys.executable).name, *argv] if argv[0] else [Path(sys.executable).name]
    else:
        argv[0] = program.name
    return shlex.join(argv)


# ---- the lock ---------------------------------------------------------------------------------------------

@dataclass
class _Held:
    fd: int
    depth: int


_held: dict[str, _Held] = {}  # lock file (resolved) -> this process's hold on it
_held_guard = threading.Lock()


def _forget_in_child() -> None:
    # A forked child (a pool worker) is another process: it holds nothing, and closing its copies of the
    # descriptors means a worker that outlived us by a moment cannot keep the folder locked.
    for held in _held.values():
        try:
            os.close(held.fd)
        except OSError:
            pass
    _held.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def lock_path(settings: Settings) -> Path:
    return settings.data_dir / LOCK_FILE


def read_holder(path: Path) -> Holder | None:
    """The holder recorded in lock file `path` (None when it records none)."""
    try:
        return Holder.parse(path.read_text(encoding="utf-8"))
    except OSError:
        return None


def _current_holder(path: Path, attempts: int = 20) -> Holder | None:
    # The holder writes its record just after it took the lock: until then the file is empty or still
    # names a killed predecessor, so look again for a moment.
    for _ in range(attempts):
        holder = read_holder(path)
        if holder is not None and pid_alive(holder.pid):
            return holder
        time.sleep(0.025)
    return read_holder(path)


def _write_holder(fd: int, holder: Holder | None) -> None:
    os.ftruncate(fd, 0)
    if holder is not None:
        os.pwrite(fd, holder.to_json().encode("utf-8"), 0)
        os.fsync(fd)


@contextmanager
def hold_data_folder(settings: Settings, command: str | None = None, progress: Say | None = None) -> Iterator[None]:
    """Hold the data folder of `settings` exclusively for the block; re-entrant within this process.

    Raises DataFolderBusyError (a click error, exit status 75) naming the holder when another process has
    it. The first hold in this process removes the leftovers of killed processes and reports them through
    `progress`."""
    say = progress or (lambda message: None)
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = str(path.resolve())
    with _held_guard:  # one thread at a time decides whether this process holds the folder already
        held = _held.get(key)
        if held is not None:
            held.depth += 1
        else:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                busy = True
            else:
                busy = False
                try:
                    previous = Holder.parse(os.pread(fd, 4096, 0).decode("utf-8", errors="replace"))
                    _write_holder(fd, Holder.of_this_process(command))
                except BaseException:
                    os.close(fd)
                    raise
                _held[key] = _Held(fd=fd, depth=1)
    if held is not None:
        try:
            yield
        finally:
            with _held_guard:
                held.depth -= 1
        return
    if busy:
        raise DataFolderBusyError(settings.data_dir, _current_holder(path))

    owner = os.getpid()
    try:
        killed = previous if previous is not None and previous.pid != os.getpid() else None
        if killed is not None:
            say(f"note: the last mignet process on this data folder ({killed.describe()}) was stopped before "
                "it finished")
        cleanup = remove_leftovers(settings, previous_holder_killed=killed is not None)
        if cleanup.removed:
            say("removed what interrupted runs left behind: " + ", ".join(cleanup.removed))
        for problem in cleanup.problems:
            say(f"warning: {problem}")
        yield
    finally:
        # a forked child that ran on into this block has closed its copy of fd already (_forget_in_child)
        if os.getpid() == owner:
            with _held_guard:
                _held.pop(key, None)
            try:
                _write_holder(fd, None)  # an empty record: this holder finished
            finally:
                os.close(fd)  # releases the flock


# ---- leftovers ----------------------------------------------------------------------------------------------

def _size(path: Path) -> int:
    if path.is_symlink() or not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _human(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.lstat().st_mtime > seconds
    except OSError:
        return False


# Temporary files whose names do not carry their writer's pid: (folder, glob), written and renamed at once by
# runstate.RunState.save, quality.report.write_quality_report and report.models.write_model_report.
def _unnamed_temporaries(settings: Settings) -> list[tuple[Path, str]]:
    """(folder, glob) of the temporary files that carry no pid, as their writers name them."""
    from mignet.quality import report as quality_report
    from mignet.quality.validate import quality_paths
    from mignet.report import PAGES
    from mignet.report import TEMPORARY_GLOB as REPORT_TEMPORARY
    from mignet.runstate import TEMPORARY_GLOB as RUN_STATE_TEMPORARY

    page = quality_paths(settings)["report"]
    return [(settings.data_dir, RUN_STATE_TEMPORARY),
            (page.parent, page.name + quality_report.TEMPORARY_SUFFIX),
            *((settings.reports_dir / name, REPORT_TEMPORARY) for name in PAGES)]


def _gx_project(settings: Settings) -> Path:
    from mignet.quality.validate import quality_paths

    return quality_paths(settings)["gx_root"] / "gx"  # GX names its project folder "gx" under its root


def _gx_project_unreadable(project: Path) -> bool:
    import yaml

    config = project / "great_expectations.yml"
    if not config.is_file():
        return False
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return True
    return not isinstance(data, dict) or "config_version" not in data


@dataclass(frozen=True)
class Cleanup:
    removed: tuple[str, ...]
    """each item removed, with its size"""
    problems: tuple[str, ...] = ()
    """what could not be checked or removed, and why"""


def remove_leftovers(settings: Settings, previous_holder_killed: bool = False) -> Cleanup:
    """Remove what killed mignet processes left in the data folder; say what went and what could not.

    Call it only while holding the data folder (`hold_data_folder` does). Never removes the artifacts of
    the last `build.KEEP_BUILDS` successful builds (the current warehouse's among them), nor a file that a
    live process may still be writing."""
    from mignet.warehouse.build import build_leftovers

    problems = []  # a broken publish or quality package must not stop the other commands: say, go on
    doomed: list[Path] = list(build_leftovers(settings))
    try:
        from mignet.quality.publish import leftovers as publish_leftovers

        doomed += [path for path, pid in publish_leftovers(settings) if not pid_alive(pid)]
    except Exception as exc:
        problems.append(f"temporary files of publish were not looked for ({type(exc).__name__}: {exc})")
    for folder, pattern in _unnamed_temporaries(settings):
        doomed += [p for p in folder.glob(pattern) if _older_than(p, UNNAMED_TEMP_GRACE_S)]
    # GX writes its project files in place (open, truncate, write): a validation killed meanwhile can leave
    # them empty or cut short, and the project is only a cache that the next validation rebuilds.
    try:
        gx = _gx_project(settings)
    except Exception as exc:
        problems.append(f"the Great Expectations project was not checked ({type(exc).__name__}: {exc})")
    else:
        if gx.is_dir() and (previous_holder_killed or _gx_project_unreadable(gx)):
            doomed.append(gx)
    removed = []
    for path in doomed:
        if not (path.exists() or path.is_symlink()):
            continue
        try:
            size = _size(path)
            _remove(path)
        except OSError as exc:
            problems.append(f"could not remove {path}: {exc}")
            continue
        removed.append(f"{path} ({_human(size)})" if size else str(path))
    return Cleanup(removed=tuple(removed), problems=tuple(problems))


__all__ = ["BUSY_EXIT_CODE", "Cleanup", "DataFolderBusyError", "Holder", "LOCK_FILE", "command_line",
           "hold_data_folder", "lock_path", "read_holder", "remove_leftovers"]
