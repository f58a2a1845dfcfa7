"""Worker processes for pandera, the CPU-bound Python part of validation.

pandera holds the GIL most of the time, so threads do not use a second core; processes do. Where the
platform has it (Linux), the workers are forked: they start at once and do not import the caller's main
module again, so a user's script without an `if __name__ == "__main__":` guard still works. Forking is
safe only while no other thread and no DuckDB database is open in this process, so `process_pool` starts
every worker immediately, and callers create the pool before they open DuckDB or start threads. Elsewhere
(macOS, Windows) the workers are spawned."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor


def _ready() -> int:
    return os.getpid()


def default_workers() -> int:
    return os.cpu_count() or 1


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` processes, all started before this returns (forked where possible)."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))
    # one no-op per worker, waited for: the processes exist now, before the caller opens DuckDB or threads
    for future in [pool.submit(_ready) for _ in range(workers)]:
        future.result()
    return pool
