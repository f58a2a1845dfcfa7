"""Worker processes for pandera, the CPU-bound Python part of validation.

pandera holds the GIL most of the time, so threads do not use a second core; processes do. Where the
platform has it (Linux), the workers are forked: they start at once and do not import the caller's main
module again, so a user's script without an `if __name__ == "__main__":` guard still works. Forking is
safe only while no other thread and no DuckDB database is open in this process, so `process_pool` starts
every worker immediately, and callers create the pool before they open DuckDB or start threads. Elsewhere
(macOS, Windows) the workers are spawned.

Workers never outlive the process that made the pool: each asks, first thing, to be killed when its parent
dies (`mignet.processes.die_with_parent`), so a SIGKILLed `mignet validate` leaves no worker waiting for
tasks that will never come. Linux ties that request to the thread that forked the worker, so every worker is
forked by the thread calling `process_pool` (which must outlive the pool, as the thread that shuts it down
does)."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from mignet.processes import die_with_parent

# how long process_pool waits for all its workers to have started before it gives up
START_TIMEOUT_S = 120.0

_started = None  # in a worker: the barrier all workers of its pool pass once every one of them runs


def _start_worker(parent_pid: int, started) -> None:
    global _started
    die_with_parent(parent_pid)
    _started = started


def _ready() -> int:
    # Nobody passes before every worker runs this, so no worker is idle while the pool still starts
    # workers: the pool forks all of them now, from the caller's thread, instead of later from another.
    _started.wait(START_TIMEOUT_S)
    return os.getpid()


def default_workers() -> int:
    return os.cpu_count() or 1


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` processes, all started before this returns (forked where possible), each of
    which dies with this process."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    started = context.Barrier(workers)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker,
                               initargs=(os.getpid(), started))
    try:
        # one task per worker, waited for: the processes exist now, before the caller opens DuckDB or threads
        for future in [pool.submit(_ready) for _ in range(workers)]:
            future.result()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    return pool
