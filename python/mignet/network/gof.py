"""Goodness of fit by exact simulation from the fitted models.

The fitted ERGM is a product of independent four-state distributions over unordered pairs, so a network
is drawn exactly by sampling each pair's state from its four probabilities (no MCMC, no burn-in; the one
sampler of `mignet.network.sampling`, so these are the networks `ErgmModel.simulate` draws). For
every study network we compare the observed network with `n_sim` draws on statistics the model does
not fix: reciprocity (share of ties that are reciprocated), the in- and out-degree distributions, the
share of one-way ties that point toward the denser municipality, and the distribution of tie distances.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from scipy import sparse

from mignet.network.fit import certified_networks
from mignet.network.model import ErgmModel
from mignet.parallel import default_workers
from mignet.settings import Settings
from mignet.warehouse import RESULTS_SCHEMA, Warehouse

DISTANCE_BIN_KM = 10.0
GOF_COLUMNS = ["period_label", "group_type", "group_value", "statistic", "value", "observed", "sim_mean", "sim_low",
               "sim_high", "sim_sd", "p_value", "n_sim", "seed", "method", "certification_id", "computed_at"]


class PairIncidence:
    """Sparse incidence matrices of the unordered pairs (i < j) of a model, so every statistic below is a
    matrix product over the pair-state indicators: no per-tie index arrays are built, and the cost does not
    grow with the density of the network."""

    def __init__(self, model: ErgmModel, toward_denser: np.ndarray, distance_bin: np.ndarray, n_bins: int,
                 pair_distance: np.ndarray):
        n_pairs, n = len(model.pair_i), model.n_nodes
        ones = np.ones(n_pairs, dtype=np.float32)
        cols = np.arange(n_pairs)
        self.node_i = sparse.csr_matrix((ones, (model.pair_i, cols)), shape=(n, n_pairs))
        self.node_j = sparse.csr_matrix((ones, (model.pair_j, cols)), shape=(n, n_pairs))
        self.bin = sparse.csr_matrix((ones, (distance_bin, cols)), shape=(n_bins, n_pairs))
        # toward_denser[p, 0]: i -> j points to the denser node; [p, 1]: j -> i does
        self.weights = np.vstack([ones, toward_denser[:, 0], toward_denser[:, 1]]).astype(np.float32)
        self.pair_distance = np.asarray(pair_distance, dtype=np.float64)


def network_statistics(inc: PairIncidence, ij: np.ndarray, ji: np.ndarray) -> dict:
    """Statistics of networks given by two indicator matrices over the unordered pairs (i < j) of the model
    (n_pairs x n_networks): `ij` "the pair holds i -> j", `ji` "the pair holds j -> i". Vectorised over the
    networks: counts are dense and sparse matrix products of the indicators (float32 sums of 0/1 are exact
    up to 2**24). Returns per-network scalars (n_networks,) and distributions (n_networks x nodes or bins)."""
    ij = np.asarray(ij, dtype=np.float32)
    ji = np.asarray(ji, dtype=np.float32)
    both = ij * ji
    # rows: number of pairs, of those where i -> j points to the denser node, of those where j -> i does
    n_ij, denser_ij, _ = (inc.weights @ ij).astype(np.float64)
    n_ji, _, denser_ji = (inc.weights @ ji).astype(np.float64)
    mutual, denser_both_ij, denser_both_ji = (inc.weights @ both).astype(np.float64)
    n_ties = n_ij + n_ji
    one_way = n_ties - 2 * mutual
    denser = (denser_ij - denser_both_ij) + (denser_ji - denser_both_ji)
    ties = ij + ji  # 0, 1 or 2 ties in the pair
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "reciprocity": 2 * mutual / n_ties,
            "share_one_way_toward_denser": denser / one_way,
            "mean_tie_distance_km": (inc.pair_distance @ ties.astype(np.float64)) / n_ties,
            "out_degree": np.rint(inc.node_i @ ij + inc.node_j @ ji).astype(np.int64).T,
            "in_degree": np.rint(inc.node_j @ ij + inc.node_i @ ji).astype(np.int64).T,
            "tie_distance_km": np.rint(inc.bin @ ties).astype(np.int64).T,
        }


def _pair_covariates(model: ErgmModel, dyads: pd.DataFrame):
    # density_diff_per_1000 is origin minus destination (the mart's definition): a tie points toward the
    # denser municipality when it is negative.
    diff = dyads["density_diff_per_1000"].to_numpy(dtype=float)
    toward_denser = np.column_stack([diff[model.row_ij] < 0, diff[model.row_ji] < 0])
    if "distance_km" in dyads.columns:
        dist = dyads["distance_km"].to_numpy(dtype=float)
    else:
        dist = dyads["distance_10km"].to_numpy(dtype=float) * 10
    pair_distance = dist[model.row_ij]
    distance_bin = np.floor(pair_distance / DISTANCE_BIN_KM).astype(np.int64)
    return toward_denser, distance_bin, int(distance_bin.max()) + 1, pair_distance


def gof_network(dyads: pd.DataFrame, params: pd.Series, n_sim: int = 200, seed: int = 1, batch: int = 25) -> pd.DataFrame:
    """Observed vs simulated statistics of one network: one row per scalar statistic (value NaN) and one per
    degree / distance-bin value of the distributions. The draws are `ErgmModel.simulate(params, n_sim, seed)`;
    `batch` only bounds how many are held in memory at once."""
    model = ErgmModel(dyads, list(params.index))
    toward_denser, distance_bin, n_bins, pair_distance = _pair_covariates(model, dyads)
    inc = PairIncidence(model, toward_denser, distance_bin, n_bins, pair_distance)
    observed = network_statistics(inc, (model.obs_state[:, None] & 1) > 0, (model.obs_state[:, None] & 2) > 0)
    # the sampler yields draws x pairs; network_statistics takes pairs x networks, fastest in C order
    sims = [network_statistics(inc, np.ascontiguousarray(ij.T), np.ascontiguousarray(ji.T))
            for ij, ji in model.sampler(params).batches(n_sim, seed, batch)]
    simulated = {k: np.concatenate([s[k] for s in sims]) for k in sims[0]}
    frames = []

    def add(statistic, values, obs, sim):
        """One row per column of `sim` (draws x values); NaN draws (e.g. no one-way tie) are left out."""
        sim = np.asarray(sim, dtype=float).reshape(len(sim), -1)
        obs = np.asarray(obs, dtype=float).reshape(-1)
        valid = np.isfinite(sim)
        n_valid = valid.sum(axis=0)
        # summaries only over columns with enough valid draws, so numpy never warns: this runs in several
        # threads at once, and warnings.catch_warnings is process-wide state, not safe to toggle per thread
        some, several = n_valid > 0, n_valid > 1
        mean, low, high, sd = (np.full(sim.shape[1], np.nan) for _ in range(4))
        if some.any():
            mean[some] = np.nanmean(sim[:, some], axis=0)
            quantiles = np.nanquantile(sim[:, some], [0.025, 0.975], axis=0)
            low[some], high[some] = quantiles[0], quantiles[1]
        if several.any():
            sd[several] = np.nanstd(sim[:, several], axis=0, ddof=1)
        # two-sided Monte Carlo p-value of the observed value among the draws
        below = ((sim <= obs) & valid).sum(axis=0) + 1
        above = ((sim >= obs) & valid).sum(axis=0) + 1
        p = np.where(some, np.minimum(1.0, 2 * np.minimum(below, above) / (n_valid + 1)), np.nan)
        frames.append(pd.DataFrame({"statistic": statistic, "value": values, "observed": obs, "sim_mean": mean,
                                    "sim_low": low, "sim_high": high, "sim_sd": sd, "p_value": p}))

    for statistic in ("reciprocity", "share_one_way_toward_denser", "mean_tie_distance_km"):
        add(statistic, [np.nan], observed[statistic][:1], simulated[statistic])
    for statistic in ("out_degree", "in_degree"):
        top = max(int(observed[statistic].max()), int(np.quantile(simulated[statistic], 0.999)))
        obs_counts = np.bincount(observed[statistic][0], minlength=top + 1)[: top + 1]
        sim_counts = np.stack([np.bincount(np.minimum(d, top + 1), minlength=top + 2)[: top + 1] for d in simulated[statistic]])
        add(statistic, np.arange(top + 1, dtype=float), obs_counts, sim_counts)
    add("tie_distance_km", np.arange(n_bins) * DISTANCE_BIN_KM, observed["tie_distance_km"][0], simulated["tie_distance_km"])
    return pd.concat(frames, ignore_index=True)


def run_gof(settings: Settings, n_sim: int = 200, seed: int = 1, progress=None, all_figures: bool = False,
            workers: int | None = None) -> pd.DataFrame:
    """Goodness of fit of the stored models (results.model_estimates) on the certified dyads; writes
    `results.model_gof` and figures under reports/models/figures/ (the distributions of the networks of
    all movers; of every network with `all_figures`). `workers` threads (default: one per
    core) simulate networks side by side. Returns the gof rows."""
    if n_sim < 2:
        raise ValueError("n_sim must be at least 2")
    warehouse = Warehouse(settings)
    stored = warehouse.read_results("model_estimates")
    estimates = stored.frame
    certified = certified_networks(settings)
    networks = certified.frames
    computed_at = datetime.now(timezone.utc).replace(tzinfo=None)
    jobs = []
    for index, (key, dyads) in enumerate(networks.items()):
        est = estimates[(estimates.period_label == key[0]) & (estimates.group_type == key[1]) & (estimates.group_value == key[2])]
        if est.empty:
            raise RuntimeError(f"no stored estimates for {'/'.join(key)}: run `mignet fit` again")
        params = pd.Series(est["estimate"].to_numpy(dtype=float), index=est["term"].to_list())
        if params.isna().any():
            if progress:
                progress(f"gof {'/'.join(key)}: skipped, terms not identified ({', '.join(params.index[params.isna()])})")
            continue
        jobs.append((index, key, dyads, params, str(est["method"].iloc[0])))

    def one(job):
        index, key, dyads, params, method = job
        start = time.perf_counter()
        rows = gof_network(dyads, params, n_sim=n_sim, seed=seed + index)
        return rows, time.perf_counter() - start

    # The networks are independent and each has its own seed, so they run on a thread per core (numpy and
    # scipy release the GIL in the array work) and the results do not depend on the number of threads.
    frames = []
    with ThreadPoolExecutor(max_workers=max(1, min(workers or default_workers(), len(jobs) or 1))) as pool:
        for (index, key, dyads, params, method), (rows, seconds) in zip(jobs, pool.map(one, jobs)):
            rows.insert(0, "group_value", key[2])
            rows.insert(0, "group_type", key[1])
            rows.insert(0, "period_label", key[0])
            rows["n_sim"] = n_sim
            rows["seed"] = seed + index
            rows["method"] = method
            rows["certification_id"] = certified.dyads.certification_id
            rows["computed_at"] = computed_at
            frames.append(rows[GOF_COLUMNS])
            if progress:
                scalar = rows[rows.value.isna()].set_index("statistic")
                progress(f"gof {'/'.join(key)}: reciprocity observed {scalar.loc['reciprocity', 'observed']:.3f}, simulated "
                         f"{scalar.loc['reciprocity', 'sim_mean']:.3f} [{scalar.loc['reciprocity', 'sim_low']:.3f}, "
                         f"{scalar.loc['reciprocity', 'sim_high']:.3f}] ({seconds:.1f} s)")
    gof = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=GOF_COLUMNS)
    warehouse.write_results("model_gof", gof, inputs={**certified.inputs,
                                                      f"{RESULTS_SCHEMA}.model_estimates": stored.content_hash})
    paths = plot_gof(gof, settings.reports_dir / "models" / "figures", all_networks=all_figures)
    if progress:
        progress(f"wrote results.model_gof ({len(gof)} rows) and {len(paths)} figures to {settings.reports_dir / 'models' / 'figures'}")
    return gof


def plot_gof(gof: pd.DataFrame, folder, all_networks: bool = False) -> list:
    """gof_<statistic>.png for the scalar statistics over all networks; gof_<period>_<group>.png with the
    degree and distance distributions of the networks of all movers (of every network with `all_networks`;
    matplotlib needs about a second per figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    scalar = gof[gof["value"].isna()]
    for statistic, rows in scalar.groupby("statistic", sort=True):
        rows = rows.reset_index(drop=True)
        fig, ax = plt.subplots(figsize=(11, 3.4))
        x = np.arange(len(rows))
        ax.vlines(x, rows["sim_low"], rows["sim_high"], color="#4c72b0", lw=6, alpha=0.4, label="simulated 95 %")
        ax.plot(x, rows["sim_mean"], "_", color="#4c72b0", ms=12, mew=2, label="simulated mean")
        ax.plot(x, rows["observed"], "x", color="black", ms=6, mew=1.5, label="observed")
        ax.set_xticks(x)
        ax.set_xticklabels([f"{p}\n{gv}" for p, gv in zip(rows["period_label"], rows["group_value"])], fontsize=6, rotation=90)
        ax.set_title(statistic.replace("_", " "))
        ax.legend(fontsize=7, frameon=False)
        fig.tight_layout()
        path = folder / f"gof_{statistic}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    dist = gof[gof["value"].notna()]
    if not all_networks:
        dist = dist[dist["group_type"] == "all"]
    for (period, group_type, group_value), rows in dist.groupby(["period_label", "group_type", "group_value"], sort=False):
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
        for ax, statistic in zip(axes, ("out_degree", "in_degree", "tie_distance_km")):
            sub = rows[rows["statistic"] == statistic].sort_values("value")
            ax.fill_between(sub["value"], sub["sim_low"], sub["sim_high"], step="mid", alpha=0.35, color="#4c72b0", label="simulated 95 %")
            ax.plot(sub["value"], sub["sim_mean"], drawstyle="steps-mid", color="#4c72b0", lw=1, label="simulated mean")
            ax.plot(sub["value"], sub["observed"], ".", color="black", ms=3, label="observed")
            ax.set_xlabel(statistic.replace("_", " "))
            ax.set_ylabel("municipalities" if "degree" in statistic else "ties")
        axes[0].legend(fontsize=7, frameon=False)
        fig.suptitle(f"{period} / {group_value}", fontsize=10)
        fig.tight_layout()
        path = folder / f"gof_{period}_{group_type}_{group_value}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths
