"""Benchmark: the count models and the pooled tests of change of every network of a certified warehouse.

Target (issue 12): all count models and pooled tests of a scale-1.0 warehouse (24 networks of 581
municipalities, 336,980 ordered pairs each) in under 60 s on 2 cores. Prints the time per model, the ratio
to the binary ERGM fits (which the stage refits: their pair sandwich needs the fitted model), and the engine
comparison of issue 12 on the largest network: the closed-form profile against pyfixest's fepois.

    .venv/bin/python bench/bench_counts.py                    # the certified warehouse of MIGNET_WAREHOUSE
    .venv/bin/python bench/bench_counts.py --build 1.0        # generate, build and validate one at scale 1.0
                                                              # in a temporary folder first (about 5 minutes)

Speed and memory are printed, never asserted. Set OPENBLAS_NUM_THREADS=1 (done here before numpy loads): the
algebra is many small dense products, for which BLAS threads cost more than they give on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

TARGET_TOTAL_SECONDS = 60.0


def build(scale: float, folder: Path):
    """Settings of a freshly generated, built and validated warehouse at `scale` under `folder`."""
    from mignet.generate import generate_register
    from mignet.quality.validate import validate
    from mignet.settings import Settings
    from mignet.warehouse.build import build_warehouse

    raw = folder / "raw"
    env = dict(os.environ, MIGNET_DATA_DIR=str(folder / "data"), MIGNET_RAW_DIR=str(raw),
               MIGNET_WAREHOUSE=str(folder / "data" / "warehouse.duckdb"), MIGNET_REPORTS_DIR=str(folder / "reports"))
    settings = Settings.from_env(environ=env)
    start = time.perf_counter()
    generate_register(raw, scale=scale, seed=20180101)
    print(f"generated a register at scale {scale} in {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    result = build_warehouse(settings)
    if not result.ok:
        raise SystemExit("dbt build failed:\n" + "\n".join(result.failures))
    print(f"built the warehouse in {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    checked = validate(settings)
    if not checked.all_certified:
        raise SystemExit(f"validation refused marts: {checked.failed_checks()}")
    print(f"validated in {time.perf_counter() - start:.0f} s")
    return settings


def compare_engines(networks, population_by_year, years) -> None:
    """The main count model on the network with the most moves, by the closed-form profile and by pyfixest."""
    import numpy as np

    from mignet.network import counts as cm

    key = max(networks.frames, key=lambda k: float(networks.frames[k]["n_moves"].sum()))
    design = cm.count_design(networks.frames[key], population_by_year[years[key]], "/".join(key))
    spec = cm.COUNT_SPECS[cm.MAIN_SPEC]
    timings = {}
    for engine in ("profiled", "pyfixest"):
        start = time.perf_counter()
        res = cm.CountModel(design, spec).fit(engine=engine)
        timings[engine] = (time.perf_counter() - start, res)
    (t_prof, prof), (t_pf, pf) = timings["profiled"], timings["pyfixest"]
    print(f"\nengines on {'/'.join(key)} ({prof.nobs:,} pairs, {prof.n_moves:,.0f} moves, {prof.n_fixed_effects} "
          f"origin fixed effects), model construction and sandwich included:")
    print(f"  closed-form profile  {t_prof:6.2f} s, {prof.iterations} Newton steps")
    print(f"  pyfixest fepois      {t_pf:6.2f} s")
    print(f"  largest |difference|: estimates {np.abs(prof.params - pf.params).max():.2e}, "
          f"pair CR3 s.e. {np.abs(prof.bse - pf.bse).max():.2e} (the sandwich is computed the same way for both)")
    try:
        import pyfixest

        frame = design.assign(pair=cm.CountData(design).cluster)
        start = time.perf_counter()
        ref = pyfixest.fepois(spec.formula.replace("| origin", "| origin_nis"), frame, vcov={"CRV1": "pair"},
                              ssc=pyfixest.ssc(k_adj=False, G_adj=True))
        t_ref = time.perf_counter() - start
        print(f"  pyfixest with its own CRV1 {t_ref:.2f} s; largest |CRV1 s.e. difference| "
              f"{np.abs(prof.bse_cr1 - ref.se().reindex(prof.params.index)).max():.2e}")
    except ImportError:
        print("  (pyfixest is not installed)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=float, metavar="SCALE", help="generate, build and validate a warehouse first")
    parser.add_argument("--keep", action="store_true", help="keep the folder of --build")
    args = parser.parse_args()

    import psutil

    from mignet.network.fit import NETWORK_KEY, certified_networks
    from mignet.network.pooled import ERGM_MODEL, POPULATION_MART, run_counts
    from mignet.settings import Settings
    from mignet.warehouse import Warehouse

    print(f"cpus: {os.cpu_count()} logical, load average {os.getloadavg()[0]:.2f}; python {sys.version.split()[0]}")
    folder = None
    if args.build is not None:
        folder = Path(tempfile.mkdtemp(prefix="mignet-bench-counts-"))
        settings = build(args.build, folder)
    else:
        settings = Settings.from_env()
    try:
        lines = []
        cpu = time.process_time()
        run = run_counts(settings, progress=lines.append, write=False)
        cpu = time.process_time() - cpu
        for line in lines:
            print("  " + line)
        n_networks = run.estimates.groupby(["period_label", "group_type", "group_value"]).ngroups
        models = [m for m in run.seconds if m not in ("read", "pooled_tests", "total")]
        ergm = run.seconds[ERGM_MODEL]
        print(f"\n{n_networks} networks; summed time per model (threads run two networks at once):")
        for m in models:
            ratio = "" if m == ERGM_MODEL else f"   x{run.seconds[m] / ergm:.2f} of the ERGM fits"
            print(f"  {m:<24} {run.seconds[m]:7.1f} s   {run.seconds[m] / n_networks:5.2f} s per network{ratio}")
        counts_total = sum(run.seconds[m] for m in models if m != ERGM_MODEL)
        modelling = run.seconds["total"] - run.seconds["read"]
        print(f"  pooled Wald tests        {run.seconds['pooled_tests']:7.1f} s (all groups, models and contrasts)")
        print(f"count models {counts_total:.1f} s summed, x{counts_total / ergm:.2f} of the ERGM fits ({ergm:.1f} s summed)")
        print(f"wall: read {run.seconds['read']:.1f} s, fits and tests {modelling:.1f} s (target < {TARGET_TOTAL_SECONDS:.0f} s: "
              f"{'MET' if modelling < TARGET_TOTAL_SECONDS else 'NOT MET'}), total {run.seconds['total']:.1f} s; "
              f"CPU {cpu:.1f} s; load average now {os.getloadavg()[0]:.2f}")
        print(f"peak resident memory: {psutil.Process().memory_info().rss / 2**20:.0f} MiB")

        networks = certified_networks(settings)
        population = Warehouse(settings).read_certified(POPULATION_MART, columns=["nis_code", "year", "population"])
        by_year = {int(y): g.set_index(g["nis_code"].astype(str))["population"] for y, g in population.frame.groupby("year")}
        years = {tuple(str(r[c]) for c in NETWORK_KEY): int(r["density_year"]) for _, r in networks.catalogue.iterrows()}
        compare_engines(networks, by_year, years)
    finally:
        if folder is not None and not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        elif folder is not None:
            print(f"kept {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
