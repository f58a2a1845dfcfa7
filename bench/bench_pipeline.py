"""Benchmark: the whole pipeline end to end, stage by stage, and the ERGM fit on a fixed reference network.

Target (issue 6): scale 1.0 end to end in under 5 minutes with under 8 GB peak memory on 2 cores.

Each stage runs in its own Python subprocess calling the stage's entry point (docs/design.md), so its peak
memory is its own: the resident set size of the process and all its children (dbt runs in a child) is
sampled every 50 ms with psutil and the peak of the sum is reported. Everything is written under a fresh
folder (default bench/out/pipeline-<scale>/), never into data/.

    .venv/bin/python bench/bench_pipeline.py 0.1
    .venv/bin/python bench/bench_pipeline.py 1.0 --gof-sims 200
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 300.0
TARGET_BYTES = 8 * 1024**3

STAGE_CODE = {
    "generate": "from mignet.generate import generate_register as f; f(s.raw_dir, scale={scale}, seed={seed}, progress=say)",
    "check-raw": "from mignet.raw import check_raw as f; r = f(s.raw_dir); say(str(r['warning_count']) + ' row warnings')",
    "build": ("from mignet.warehouse.build import build_warehouse as f; r = f(s); "
              "assert r.ok, 'dbt build failed: ' + str(r.run_results_path)"),
    "validate": ("from mignet.quality.validate import validate as f; r = f(s, progress=None); "
                 "assert r.all_certified, r.failed_checks()"),
    "publish": "from mignet.quality.publish import publish as f; say(f(s))",
    "fit": "from mignet.network.fit import fit_all as f; f(s, method='mle')",
    "gof": "from mignet.network.gof import run_gof as f; f(s, n_sim={gof_sims}, seed=1)",
    "report": "from mignet.report.models import write_model_report as f; say(str(f(s)))",
}


def stage_env(out: Path) -> dict:
    env = dict(os.environ)
    env.update(MIGNET_DATA_DIR=str(out / "data"), MIGNET_RAW_DIR=str(out / "data" / "raw"),
               MIGNET_WAREHOUSE=str(out / "data" / "warehouse.duckdb"), MIGNET_REPORTS_DIR=str(out / "reports"))
    for name in ("MIGNET_RELEASES_DIR", "MIGNET_ANALYTICS_DB"):
        env.pop(name, None)
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def run_measured(args: list[str], env: dict, log: Path) -> tuple[float, int, int]:
    """(wall seconds, peak RSS bytes of the process tree, exit code)."""
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
        parent = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            total = 0
            try:
                procs = [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                procs = []
            for p in procs:
                try:
                    total += p.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            peak = max(peak, total)
            time.sleep(0.05)
    return time.perf_counter() - start, peak, proc.returncode


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
    python = sys.executable
    print(f"mignet pipeline benchmark: scale {args.scale:g}, seed {args.seed}, gof {args.gof_sims} simulations")
    print(f"cpus: {os.cpu_count()} logical, load average {os.getloadavg()[0]:.2f}; "
          f"memory {psutil.virtual_memory().total / 1024**3:.1f} GB; work folder {out}")
    print(f"{'stage':<10} {'wall s':>8} {'peak RSS':>10}")
    results = {}
    failed = None
    for stage, code in STAGE_CODE.items():
        body = code.format(scale=args.scale, seed=args.seed, gof_sims=args.gof_sims)
        script = ("from mignet.settings import Settings\n"
                  "s = Settings.from_env()\n"
                  "say = lambda m: print(m, flush=True)\n" + body + "\n")
        log = out / f"{stage}.log"
        seconds, peak, rc = run_measured([python, "-c", script], env, log)
        results[stage] = {"seconds": round(seconds, 2), "peak_rss_bytes": peak, "exit_code": rc}
        print(f"{stage:<10} {seconds:8.1f} {peak / 1024**3:9.2f}G" + ("" if rc == 0 else f"  FAILED (see {log})"),
              flush=True)
        if rc != 0:
            failed = stage
            print(log.read_text()[-3000:])
            break
    total = sum(r["seconds"] for r in results.values())
    peak = max(r["peak_rss_bytes"] for r in results.values())
    print(f"{'total':<10} {total:8.1f} {peak / 1024**3:9.2f}G (peak of any stage)")
    if failed is None:
        verdict_time = "meets" if total <= TARGET_SECONDS else "misses"
        verdict_mem = "meets" if peak <= TARGET_BYTES else "misses"
        print(f"target at scale 1.0: under {TARGET_SECONDS:.0f} s ({verdict_time} at scale {args.scale:g}) and "
              f"under {TARGET_BYTES / 1024**3:.0f} GB ({verdict_mem})")

    seconds, ties, mutual = reference_fit_seconds()
    print(f"ERGM exact MLE on the fixed reference network (581 nodes, {ties:,} ties, {mutual:,} mutual pairs; "
          f"edges + mutual + density difference + distance): {seconds:.2f} s (best of 3)")
    results["reference_fit"] = {"seconds": round(seconds, 3), "ties": ties, "mutual_pairs": mutual}
    (out / "bench_pipeline.json").write_text(json.dumps({"scale": args.scale, "stages": results}, indent=2))
    if not args.keep:
        for child in out.iterdir():
            if child.name not in ("bench_pipeline.json",) and not child.name.endswith(".log"):
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
