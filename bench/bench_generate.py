"""Benchmark `mignet generate`: stage timings, total wall time and peak memory at a given scale.

    .venv/bin/python bench/bench_generate.py                 # scale 1.0 (target: < 60 s, < 8 GB on 2 cores)
    .venv/bin/python bench/bench_generate.py --scale 0.1 --faults 0.01 --format csv
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from mignet.generate import generate_register

TARGET_SECONDS = 60.0
TARGET_PEAK_GB = 8.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=20180101)
    parser.add_argument("--faults", type=float, default=0.0)
    parser.add_argument("--format", dest="fmt", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--out", type=Path, default=None, help="default: a temporary folder, removed afterwards")
    args = parser.parse_args(argv)

    proc = psutil.Process()
    peak_rss = [proc.memory_info().rss]
    stop = threading.Event()

    def sample():
        while not stop.wait(0.05):
            peak_rss[0] = max(peak_rss[0], proc.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = args.out or Path(tempfile.mkdtemp(prefix="mignet_bench_"))
    start = time.perf_counter()
    try:
        manifest = generate_register(out, scale=args.scale, seed=args.seed, faults=args.faults, fmt=args.fmt,
                                     progress=lambda m: print(f"[{time.perf_counter() - start:6.1f}s] {m}", flush=True))
        total = time.perf_counter() - start
        sizes = {p.name: p.stat().st_size for p in out.iterdir()}
    finally:
        stop.set()
        sampler.join()
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    # ru_maxrss is in kilobytes on Linux
    peak_gb = max(peak_rss[0], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 1e9

    print(f"\nmignet generate: scale {args.scale}, format {args.fmt}, faults {args.faults}, "
          f"{psutil.cpu_count()} cpus")
    print("stage timings (s):")
    for stage, seconds in manifest["timings_s"].items():
        print(f"  {stage:<22} {seconds:8.2f}")
    print("rows:")
    for table, n in manifest["row_counts"].items():
        print(f"  {table:<22} {n:>12,}   {sizes.get(f'{table}.{args.fmt}', 0) / 1e6:8.1f} MB")
    sim = manifest["simulation"]
    print(f"moves between municipalities: {sim['inter']:,}; intra {sim['intra']:,}; "
          f"immigration {sim['immigration']:,}; emigration {sim['emigration']:,}")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    print(f"total wall time: {total:.1f} s (target at scale 1: < {TARGET_SECONDS:.0f} s)")
    print(f"process CPU time (user + system): {cpu:.1f} s; load average now {psutil.getloadavg()[0]:.1f} "
          f"on {psutil.cpu_count()} cpus (wall time above CPU time means the cpus were shared)")
    print(f"peak memory (RSS): {peak_gb:.2f} GB (target: < {TARGET_PEAK_GB:.0f} GB)")
    if args.scale == 1.0:
        ok = total < TARGET_SECONDS and peak_gb < TARGET_PEAK_GB
        print("meets the speed bar" if ok else "MISSES the speed bar")
    return 0


if __name__ == "__main__":
    sys.exit(main())
