"""Benchmark: the arrival-neighbourhood study at scale (issue 14, part 7).

A synthetic register at scale 1.0 on the synthetic country has about 20,000 statistical sectors (the generator
gives a unit of population p about 0.01393 * p ** 0.8 of them, whatever the scale: python/mignet/generate/
sectors.py). This script generates it, builds and validates it (`mignet run --until validate --force`, one
process, dbt its child), then writes the arrival report (`write_arrivals_report`, a second process), everything
under a fresh folder (default bench/out/arrivals-<scale>/), never into data/. It prints per stage the wall time
and the peak resident set size of the process tree (sampled every 50 ms, as bench/bench_pipeline.py does, whose
sampler it reuses), the sectors and the certification of the arrival marts, and the row count of every arrival
mart against sectors^2: no mart may hold sector x sector pairs densely.

    .venv/bin/python bench/bench_arrivals.py            # scale 1.0: several minutes, about 5 GB
    .venv/bin/python bench/bench_arrivals.py 0.05 --keep
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import duckdb
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import TARGET_BYTES, run_pipeline, stage_env  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARRIVAL_MARTS = ("dim_sector", "fct_move_sectors", "mart_area_population_groups", "mart_area_group_change",
                 "mart_area_inflow", "mart_area_net_migration", "mart_area_turnover", "mart_arrival_neighbourhoods",
                 "mart_onward_migration", "mart_onward_destinations")
REPORT = ("from mignet.report.arrivals import write_arrivals_report; from mignet.settings import Settings; "
          "print(write_arrivals_report(Settings.from_env()))")


def warehouse_figures(warehouse: Path) -> dict:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        n_sectors, n_known = con.execute(
            "select count(*), count(*) filter (where not is_unknown_sector) from marts.dim_sector").fetchall()[0]
        rows = {m: con.execute(f'select count(*) from marts."{m}"').fetchall()[0][0] for m in ARRIVAL_MARTS}
        status = dict(con.execute(
            "select mart, status from quality.certifications "
            "qualify row_number() over (partition by mart order by checked_at desc) = 1").fetchall())
        n_moves = con.execute("select count(*) from marts.fct_moves").fetchall()[0][0]
    finally:
        con.close()
    return {"sectors": n_sectors, "known_sectors": n_known, "moves": n_moves, "rows": rows,
            "certified": {m: status.get(m) for m in ARRIVAL_MARTS}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scale", type=float, nargs="?", default=1.0, help="generator scale (1.0 = Belgian volumes)")
    parser.add_argument("--seed", type=int, default=20180101)
    parser.add_argument("--out", type=Path, help="work folder (default bench/out/arrivals-<scale>)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder afterwards")
    args = parser.parse_args()

    out = (args.out or ROOT / "bench" / "out" / f"arrivals-{args.scale:g}").resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = stage_env(out)
    python = sys.executable
    mignet = str(Path(python).parent / "mignet")
    command = [mignet, "run", "--scale", f"{args.scale:g}", "--seed", str(args.seed), "--until", "validate", "--force"]
    print(f"mignet arrival benchmark: {' '.join(['mignet', *command[1:]])}, then the arrival report")
    print(f"cpus: {os.cpu_count()} logical, load average {os.getloadavg()[0]:.2f}; "
          f"memory {psutil.virtual_memory().total / 1024**3:.1f} GB; work folder {out}", flush=True)
    run = run_pipeline(command, env, out / "run.log")
    stages = dict(run["stages"])
    if run["exit_code"] == 0:
        started = time.perf_counter()
        report = run_pipeline([python, "-c", REPORT], env, out / "report.log")
        stages["report"] = {"seconds": time.perf_counter() - started, "peak_rss_bytes": report["peak_rss_bytes"]}
        report_ok = report["exit_code"] == 0
    else:
        report, report_ok = None, False

    print(f"\n{'stage':<10} {'wall s':>8} {'peak RSS':>10}")
    for stage, entry in stages.items():
        seconds = entry["seconds"]
        shown = f"{seconds:8.1f}" if seconds is not None else "       -"
        print(f"{str(stage):<10} {shown} {entry['peak_rss_bytes'] / 1024**3:9.2f}G")
    total = run["total_seconds"] + (stages.get("report", {}).get("seconds") or 0.0)
    peak = max(e["peak_rss_bytes"] for e in stages.values())
    print(f"{'total':<10} {total:8.1f} {peak / 1024**3:9.2f}G (peak of the process tree; target under "
          f"{TARGET_BYTES / 1024**3:.0f} GB: {'meets' if peak <= TARGET_BYTES else 'misses'})")
    if run["exit_code"] != 0:
        print(f"mignet run FAILED with exit code {run['exit_code']}; see {out / 'run.log'}")
        print((out / "run.log").read_text()[-3000:])
        return 1

    figures = warehouse_figures(out / "data" / "warehouse.duckdb")
    n = figures["sectors"]
    print(f"\n{n:,} sectors in dim_sector ({figures['known_sectors']:,} with a place, the rest the unknown sectors "
          f"<nis>ZZZZ); {figures['moves']:,} moves; sectors^2 = {n * n:,}")
    print(f"{'mart':<30} {'rows':>12} {'rows / sectors^2':>17} {'certified':>10}")
    for mart, rows in figures["rows"].items():
        print(f"{mart:<30} {rows:12,} {rows / (n * n) if n else float('nan'):17.2e} {str(figures['certified'][mart]):>10}")
    dense = [m for m, rows in figures["rows"].items() if n and rows >= n * n]
    print("no arrival mart holds sector x sector pairs densely" if not dense
          else f"DENSE: {', '.join(dense)} hold at least sectors^2 rows")
    page = out / "reports" / "arrivals" / "index.html"
    if report_ok and page.is_file():
        print(f"arrival report: {page.stat().st_size / 1e6:.2f} MB ({page})")
    else:
        print(f"the arrival report FAILED; see {out / 'report.log'}")
    summary = {"scale": args.scale, "command": command[1:], "stages": stages, "total_seconds": total,
               "peak_rss_bytes": peak, **figures,
               "report_bytes": page.stat().st_size if page.is_file() else None}
    (out / "bench_arrivals.json").write_text(json.dumps(summary, indent=2, default=str))
    if not args.keep:
        for child in out.iterdir():
            if child.name not in ("bench_arrivals.json", "run.log", "report.log"):
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()
    not_certified = [m for m, s in figures["certified"].items() if s != "certified"]
    return 1 if dense or not_certified or not report_ok else 0


if __name__ == "__main__":
    sys.exit(main())
