"""Child processes that never outlive mignet.

Two kinds of children run while mignet works: dbt (a subprocess, which starts a child of its own: the
resource tracker of Python's multiprocessing) and pandera's pool workers (forked, `mignet.parallel`). Both
must end when mignet ends, however it ends:

- Normal end, an exception or Ctrl-C: `ChildProcess` runs its command in a process group of its own and, when
  its `with` block is left, stops the whole group (SIGTERM, then SIGKILL after a grace period), so dbt's own
  children go with it. A group of its own also means a Ctrl-C on the terminal reaches mignet only, which then
  stops dbt deliberately instead of dbt and mignet racing each other.
- SIGKILL of mignet (or any death that runs no Python code): on Linux every child asks the kernel for SIGKILL
  when its parent dies (`prctl(PR_SET_PDEATHSIG)`), set before the child runs any of its own code, with a
  check that the parent did not die in between. dbt's resource tracker exits by itself when its pipe from dbt
  closes. Elsewhere a pool worker polls its parent (`die_with_parent` falls back to a watcher thread) and dbt
  ends on the broken pipe of its output, which mignet reads.

Linux delivers the parent-death signal when the *thread* that started the child ends; every caller here
starts its children from the thread that also waits for them, so that thread outlives them.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
STOP_GRACE_S = 5.0  # how long a stopped group may take to end on SIGTERM before it gets SIGKILL
STRAGGLER_GRACE_S = 2.0  # how long the rest of a group may take to end by itself once its leader exited


def _load_prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.restype = ctypes.c_int
    return prctl


# Resolved once at import: between fork and exec a child may only call what is already loaded.
_PRCTL = _load_prctl()


def _watch_parent(parent_pid: int, sig: int, interval_s: float = 0.5) -> None:
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval_s)
        os.kill(os.getpid(), sig)

    threading.Thread(target=watch, name="mignet-parent-watch", daemon=True).start()


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> None:
    """Make the calling process receive `sig` as soon as its parent `parent_pid` is gone.

    Call it first thing in a child (a pool initializer). On Linux the kernel delivers the signal
    (PR_SET_PDEATHSIG), also when the parent was SIGKILLed; if the parent died before the request took
    effect, the signal is sent at once. Elsewhere a daemon thread polls the parent id twice a second."""
    if _PRCTL is not None and _PRCTL(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0:
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), sig)
        return
    _watch_parent(parent_pid, sig)


def _before_exec(parent_pid: int) -> None:
    # Runs in the forked child before exec: only the already-resolved prctl, no imports, no threads.
    if _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0 or os.getppid() != parent_pid:
        os._exit(125)


def _process_table() -> list[tuple[int, int, int, str]] | None:
    """(pid, ppid, pgid, state) of every process, from /proc; None where there is no /proc."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    rows = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended while we looked
            continue
        # the command name (field 2) is in parentheses and may contain spaces or parentheses itself
        fields = stat[stat.rindex(")") + 2:].split()
        rows.append((int(entry.name), int(fields[1]), int(fields[2]), fields[0]))
    return rows


def group_members(pgid: int) -> list[int] | None:
    """Live (non-zombie) processes of process group `pgid`; None where that cannot be seen (no /proc)."""
    table = _process_table()
    if table is None:
        return None
    return [pid for pid, _, group, state in table if group == pgid and state not in ("Z", "X")]


class ChildProcess:
    """`subprocess.Popen(command, **popen_kwargs)` in a process group of its own that dies with this process.

    Use it as a context manager: leaving the block (normally, by an exception or by Ctrl-C) stops whatever
    of the group still runs, and `wait()` also ends what the leader left behind. The leader is reaped only
    after its group was dealt with, so its process-group id cannot have been reused by then."""

    def __init__(self, command: list[str], **popen_kwargs):
        if _PRCTL is not None:
            popen_kwargs["preexec_fn"] = functools.partial(_before_exec, os.getpid())
        self.process = subprocess.Popen(command, process_group=0, **popen_kwargs)
        self.pid = self.process.pid
        self.returncode: int | None = None

    def __enter__(self) -> "ChildProcess":
        return self

    def __exit__(self, *exc) -> None:
        if self.returncode is None:
            self.stop()

    @property
    def stdout(self):
        return self.process.stdout

    def _leader_exited(self, timeout_s: float | None) -> bool:
        """Whether the leader has exited, waiting up to timeout_s (None: for ever), without reaping it."""
        if not hasattr(os, "waitid"):  # macOS: reaping here is the best there is
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        flags = os.WEXITED | os.WNOWAIT | (0 if deadline is None else os.WNOHANG)
        while True:
            try:
                info = os.waitid(os.P_PID, self.pid, flags)
            except ChildProcessError:  # already reaped
                return True
            if info is not None:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _end_stragglers(self, grace_s: float) -> None:
        """With the leader exited (not yet reaped): give the rest of its group grace_s to end, then SIGKILL."""
        deadline = time.monotonic() + grace_s
        while True:
            members = group_members(self.pid)
            others = None if members is None else [pid for pid in members if pid != self.pid]
            if others == []:
                return
            if time.monotonic() >= deadline:
                self._signal_group(signal.SIGKILL)
                return
            time.sleep(0.05)

    def _reap(self) -> int:
        self.returncode = self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return self.returncode

    def wait(self) -> int:
        """Wait for the leader to exit, end what of its group is left, reap it and return its exit code."""
        self._leader_exited(None)
        self._end_stragglers(STRAGGLER_GRACE_S)
        return self._reap()

    def stop(self, grace_s: float | None = None) -> int:
        """SIGTERM to the whole group, SIGKILL to what is left after grace_s (default STOP_GRACE_S); returns
        the leader's exit code."""
        grace_s = STOP_GRACE_S if grace_s is None else grace_s
        if not self._leader_exited(0):
            self._signal_group(signal.SIGTERM)
            if not self._leader_exited(grace_s):
                self._signal_group(signal.SIGKILL)
                self._leader_exited(None)
        self._end_stragglers(grace_s)
        return self._reap()


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: kill(0) is all we know
    return stat[stat.rindex(")") + 2:].split()[0] not in ("Z", "X")


__all__ = ["ChildProcess", "die_with_parent", "group_members", "pid_alive"]
