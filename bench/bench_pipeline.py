"""Benchmark: the whole pipeline end to end, as a user runs it, and the ERGM fit on a fixed reference network.

Target (issue 6): scale 1.0 end to end in under 5 minutes with under 8 GB peak memory on 2 cores.

What is timed is exactly the README's main command at the chosen scale, `mignet run --scale S --force`, in
one process (dbt runs as its child), writing everything under a fresh folder (default
bench/out/pipeline-<scale>/), never into data/. The resident set size of the process and all its children
is sampled every 50 ms with psutil. Each sample is attributed to the stage running at that moment (read
from the run's own "[n/8] stage: ..." lines), so every stage gets its wall time (the run's "done in"
figure) and its peak memory. "other" is start-up, input fingerprints and the closing summary; the total
is the wall time of the whole command.

    .venv/bin/python bench/bench_pipeline.py 0.1
    .venv/bin/python bench/bench_pipeline.py 1.0 --gof-sims 200
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 300.0
TARGET_BYTES = 8 * 1024**3
HEADER = re.compile(r"^\[(\d+)/(\d+)\] ([a-z-]+): ")
DONE = re.compile(r"^\s+done in ([0-9.]+)s")


def stage_env(out: Path) -> dict:
    env = dict(os.environ)
    env.update(MIGNET_DATA_DIR=str(out / "data"), MIGNET_RAW_DIR=str(out / "data" / "raw"),
               MIGNET_WAREHOUSE=str(out / "data" / "warehouse.duckdb"), MIGNET_REPORTS_DIR=str(out / "reports"))
    for name in ("MIGNET_RELEASES_DIR", "MIGNET_ANALYTICS_DB"):
        env.pop(name, None)
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    env["PYTHONUNBUFFERED"] = "1"  # stage lines must arrive when printed: they date the memory samples
    return env


def tree_rss(parent: psutil.Process) -> int:
    try:
        procs = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def run_pipeline(args: list[str], env: dict, log: Path) -> dict:
    """Run `mignet run`, echoing its output to `log`; returns stage timings, per-stage peak RSS, total wall
    time and exit code."""
    samples: list[tuple[float, int]] = []
    events: list[tuple[float, str]] = []  # (time, stage) when a stage header appears
    done: dict[str, float] = {}
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1)
    parent = psutil.Process(proc.pid)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append((time.perf_counter(), tree_rss(parent)))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    current = None
    assert proc.stdout is not None
    with open(log, "w") as fh:
        for line in proc.stdout:
            fh.write(line)
            header = HEADER.match(line)
            if header:
                current = header.group(3)
                events.append((time.perf_counter(), current))
                print(f"  {line.strip()}", flush=True)
            elif current and (m := DONE.match(line)):
                done[current] = float(m.group(1))
    rc = proc.wait()
    total = time.perf_counter() - start
    stop.set()
    sampler.join()
    bounds = [(t, name) for t, name in events] + [(start + total, None)]
    stages = {}
    for (t0, name), (t1, _) in zip(bounds, bounds[1:]):
        peak = max((rss for t, rss in samples if t0 <= t < t1), default=0)
        stages[name] = {"seconds": done.get(name), "peak_rss_bytes": peak}
    return {"stages": stages, "total_seconds": total, "peak_rss_bytes": max((r for _, r in samples), default=0),
            "exit_code": rc}


def reference_fit_seconds(repeats: int = 3) -> tuple[float, int, int]:
    """Best wall time of the exact MLE on a fixed reference network: 581 nodes (the real 2019 municipalities
    when ../shared/reference is there, else a seeded synthetic layout) drawn from the study's model with fixed
    parameters and seed. Returns (seconds, ties, mutual pairs)."""
    from mignet.network import fit_ergm
    from mignet.network.simulate import TRUE_PARAMS, draw_network, dyads_from_nodes, municipalities
    from mignet.settings import Settings

    reference = Settings.from_env().reference_dir / "municipalities_2019.csv"
    nodes = municipalities(581, seed=7, reference_csv=reference if reference.is_file() else None)
    dyads = draw_network(dyads_from_nodes(nodes), TRUE_PARAMS, seed=7)
    terms = list(TRUE_PARAMS)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fit_ergm(dyads, terms=terms, method="mle")
        times.append(time.perf_counter() - t0)
    ties = int(dyads["tie"].sum())
    both = dyads.merge(dyads, left_on=["origin", "destination"], right_on=["destination", "origin"])
    mutual = int(((both["tie_x"] == 1) & (both["tie_y"] == 1)).sum() // 2)
    assert all(abs(result.params[t] - TRUE_PARAMS[t]) < 1.0 for t in terms), result.params
    return min(times), ties, mutual


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scale", type=float, nargs="?", default=0.1, help="generator scale (1.0 = Belgian volumes)")
    parser.add_argument("--seed", type=int, default=20180101)
    parser.add_argument("--gof-sims", type=int, default=200, help="simulations per network in the gof stage")
    parser.add_argument("--out", type=Path, help="work folder (default bench/out/pipeline-<scale>)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder afterwards")
    args = parser.parse_args()

    out = (args.out or ROOT / "bench" / "out" / f"pipeline-{args.scale:g}").resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = stage_env(out)
    mignet = str(Path(sys.executable).parent / "mignet")
    command = [mignet, "run", "--scale", f"{args.scale:g}", "--seed", str(args.seed), "--gof-sims",
               str(args.gof_sims), "--force"]
    print(f"mignet pipeline benchmark: {' '.join(['mignet', *command[1:]])}")
    print(f"cpus: {os.cpu_count()} logical, load average {os.getloadavg()[0]:.2f}; "
          f"memory {psutil.virtual_memory().total / 1024**3:.1f} GB; work folder {out}", flush=True)
    result = run_pipeline(command, env, out / "run.log")
    print(f"{'stage':<10} {'wall s':>8} {'peak RSS':>10}")
    accounted = 0.0
    for stage, entry in result["stages"].items():
        seconds = entry["seconds"]
        accounted += seconds or 0.0
        shown = f"{seconds:8.1f}" if seconds is not None else "       -"
        print(f"{stage:<10} {shown} {entry['peak_rss_bytes'] / 1024**3:9.2f}G")
    total, peak = result["total_seconds"], result["peak_rss_bytes"]
    print(f"{'other':<10} {total - accounted:8.1f} {'':>10}  (start-up, fingerprints, summary)")
    print(f"{'total':<10} {total:8.1f} {peak / 1024**3:9.2f}G (whole command; peak of the process tree)")
    if result["exit_code"] != 0:
        print(f"mignet run FAILED with exit code {result['exit_code']}; see {out / 'run.log'}")
        print((out / "run.log").read_text()[-3000:])
    else:
        verdict_time = "meets" if total <= TARGET_SECONDS else "misses"
        verdict_mem = "meets" if peak <= TARGET_BYTES else "misses"
        print(f"target at scale 1.0: under {TARGET_SECONDS:.0f} s ({verdict_time} at scale {args.scale:g}) and "
              f"under {TARGET_BYTES / 1024**3:.0f} GB ({verdict_mem})")

    seconds, ties, mutual = reference_fit_seconds()
    print(f"ERGM exact MLE on the fixed reference network (581 nodes, {ties:,} ties, {mutual:,} mutual pairs; "
          f"edges + mutual + density difference + distance): {seconds:.2f} s (best of 3)")
    summary = {"scale": args.scale, "command": command[1:], **result,
               "reference_fit": {"seconds": round(seconds, 3), "ties": ties, "mutual_pairs": mutual}}
    (out / "bench_pipeline.json").write_text(json.dumps(summary, indent=2))
    if not args.keep:
        for child in out.iterdir():
            if child.name not in ("bench_pipeline.json", "run.log"):
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()
    return 1 if result["exit_code"] else 0


if __name__ == "__main__":
    sys.exit(main())
