"""Benchmark: `dbt build` of the warehouse on a generated register (target: scale 1.0 in under 3 minutes on
2 cores). Generates the register once (or reuses it), runs build_warehouse, prints the wall time, the ten
slowest nodes from run_results.json and the peak memory of the dbt process tree.

    .venv/bin/python bench/bench_dbt_build.py --scale 1.0 [--faults 0.01] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path

import psutil

from mignet.settings import Settings


def _peak_rss(stop: threading.Event, peak: list[int]) -> None:
    me = psutil.Process()
    while not stop.is_set():
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        peak[0] = max(peak[0], total)
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--faults", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=20180101)
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    args = parser.parse_args()

    raw = (args.out / f"raw_scale{args.scale}_faults{args.faults}_seed{args.seed}").resolve()
    if not (raw / "manifest.json").is_file():
        from mignet.generate import generate_register

        started = time.perf_counter()
        generate_register(raw, scale=args.scale, seed=args.seed, faults=args.faults, progress=print)
        print(f"generated {raw} in {time.perf_counter() - started:.1f}s")
    else:
        print(f"reusing {raw}")
    manifest = json.loads((raw / "manifest.json").read_text())
    print("raw rows:", manifest["row_counts"])

    data = (args.out / "data").resolve()
    environ = dict(os.environ, MIGNET_DATA_DIR=str(data), MIGNET_RAW_DIR=str(raw),
                   MIGNET_WAREHOUSE=str(data / "warehouse.duckdb"))
    settings = Settings.from_env(environ=environ)

    from mignet.warehouse.build import build_warehouse

    stop, peak = threading.Event(), [0]
    watcher = threading.Thread(target=_peak_rss, args=(stop, peak), daemon=True)
    watcher.start()
    result = build_warehouse(settings, progress=None)
    stop.set()
    watcher.join()

    print(f"\ndbt build {'ok' if result.ok else 'FAILED'} in {result.elapsed_s:.1f}s "
          f"(target < 180 s at scale 1.0); peak memory {peak[0] / 2**30:.2f} GiB; cpus {os.cpu_count()}")
    for failure in result.failures:
        print("  failure:", failure)
    if result.run_results_path:
        results = json.loads(result.run_results_path.read_text())["results"]
        results.sort(key=lambda r: r.get("execution_time") or 0, reverse=True)
        print("slowest nodes:")
        for r in results[:10]:
            print(f"  {r['execution_time']:7.2f}s  {r['status']:<7} {r['unique_id']}")
        print(f"  total node time {sum(r.get('execution_time') or 0 for r in results):.1f}s over {len(results)} nodes")


if __name__ == "__main__":
    main()
