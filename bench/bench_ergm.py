"""Benchmark: exact ERGM fits of the 24 study networks at 581 municipalities.

Target (issue 5): all 24 networks in under 30 s in total on 2 cores. Reference: statnet's ergm fits one
581-municipality network with edges + mutual + 2 edgecovs by MCMC in about 90 s on a 2-core machine,
i.e. about 36 minutes for the 24.

    .venv/bin/python bench/bench_ergm.py                  # 24 simulated networks, real 2019 geography if found
    .venv/bin/python bench/bench_ergm.py --warehouse      # the certified mart_network_dyads of MIGNET_WAREHOUSE
    .venv/bin/python bench/bench_ergm.py --method mple
"""

from __future__ import annotations

import argparse
import os
import sys
import time

STATNET_SECONDS_PER_NETWORK = 90.0
TARGET_TOTAL_SECONDS = 30.0


def simulated_networks(seed: int):
    import numpy as np

    from mignet.network.simulate import TRUE_PARAMS, draw_network, dyads_from_nodes, municipalities
    from mignet.settings import Settings

    reference = Settings.from_env().reference_dir / "municipalities_2019.csv"
    nodes = municipalities(581, seed=seed, reference_csv=reference if reference.is_file() else None)
    print(f"geography: {'Belgian municipalities 2019 (' + str(reference) + ')' if reference.is_file() else 'synthetic'}, "
          f"{len(nodes)} nodes")
    dyads = dyads_from_nodes(nodes)
    rng = np.random.default_rng(seed)
    networks = {}
    # the study's size: 3 periods x 8 groups (all movers, then subgroups), labelled by position
    for p, period in enumerate(("period_1", "period_2", "period_3")):
        for g, (group_type, group_value) in enumerate([("all", "all")] + [("group", f"group_{k}") for k in range(1, 8)]):
            params = dict(TRUE_PARAMS)
            # subgroups move less: fewer ties, as in the real networks
            params["edges"] += (0.0 if group_type == "all" else -1.5 - rng.uniform(0, 1)) + 0.1 * p
            params["mutual"] += rng.normal(0, 0.3)
            networks[(period, group_type, group_value)] = draw_network(dyads, params, seed=seed * 1000 + p * 10 + g)
    return networks, None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", action="store_true", help="fit the certified networks of the built warehouse")
    parser.add_argument("--method", choices=["mle", "mple"], default="mle")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from mignet.network.fit import certified_networks, fit_networks
    from mignet.settings import Settings

    import psutil

    print(f"cpus: {os.cpu_count()} logical, load average {os.getloadavg()[0]:.2f}; python {sys.version.split()[0]}")
    start = time.perf_counter()
    if args.warehouse:
        certified = certified_networks(Settings.from_env())
        networks = certified.frames
        print(f"read certified mart ({certified.dyads.row_count} rows, {len(networks)} networks) "
              f"in {time.perf_counter() - start:.1f} s")
    else:
        networks, _ = simulated_networks(args.seed)
        print(f"simulated {len(networks)} networks in {time.perf_counter() - start:.1f} s")

    lines = []
    fit_start, cpu_start = time.perf_counter(), time.process_time()
    estimates = fit_networks(networks, method=args.method, progress=lines.append)
    total = time.perf_counter() - fit_start
    cpu = time.process_time() - cpu_start
    for line in lines:
        print("  " + line)
    per_model = total / len(networks)
    mutual = estimates[estimates.term == "mutual"]
    print(f"\nmethod {args.method}: {len(networks)} networks fitted in {total:.2f} s "
          f"({per_model:.2f} s per network; target < {TARGET_TOTAL_SECONDS:.0f} s total: "
          f"{'MET' if total < TARGET_TOTAL_SECONDS else 'NOT MET'}); CPU time {cpu:.2f} s, "
          f"load average now {os.getloadavg()[0]:.2f}")
    print(f"statnet reference: {STATNET_SECONDS_PER_NETWORK:.0f} s per network -> {STATNET_SECONDS_PER_NETWORK * len(networks):.0f} s "
          f"for {len(networks)}; speed-up x{STATNET_SECONDS_PER_NETWORK / per_model:.0f} per network")
    print(f"MLE exists in {int(estimates.drop_duplicates(['period_label', 'group_type', 'group_value']).mle_exists.sum())} "
          f"of {len(networks)} networks; mutual estimates {mutual.estimate.min():.3f} .. {mutual.estimate.max():.3f}")
    print(f"peak resident memory: {psutil.Process().memory_info().rss / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
