"""Goodness-of-fit statistics: the sparse-product implementation against a direct count on adjacency matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mignet.network import ErgmModel
from mignet.network.gof import DISTANCE_BIN_KM, PairIncidence, _pair_covariates, network_statistics
from mignet.network.simulate import TRUE_PARAMS, draw_network, dyads_from_nodes, municipalities


def direct_statistics(dyads: pd.DataFrame, model: ErgmModel, state: np.ndarray) -> dict:
    """The statistics of one network counted from its adjacency matrix, the slow obvious way."""
    n = model.n_nodes
    adj = np.zeros((n, n), dtype=int)
    adj[model.pair_i, model.pair_j] = state & 1
    adj[model.pair_j, model.pair_i] = state >> 1 & 1
    node = {code: k for k, code in enumerate(model.nodes)}
    dist = np.zeros((n, n))
    diff = np.zeros((n, n))
    for o, d, km, dd in zip(dyads.origin_nis, dyads.destination_nis, dyads.distance_km, dyads.density_diff_per_1000):
        dist[node[o], node[d]], diff[node[o], node[d]] = km, dd
    ties = np.argwhere(adj == 1)
    mutual_ties = sum(adj[j, i] for i, j in ties)
    one_way = [(i, j) for i, j in ties if not adj[j, i]]
    n_bins = int(np.floor(dist.max() / DISTANCE_BIN_KM)) + 1
    return {
        "reciprocity": mutual_ties / len(ties),
        "share_one_way_toward_denser": sum(diff[i, j] < 0 for i, j in one_way) / len(one_way),
        "mean_tie_distance_km": np.mean([dist[i, j] for i, j in ties]),
        "out_degree": adj.sum(axis=1),
        "in_degree": adj.sum(axis=0),
        "tie_distance_km": np.bincount(np.floor(np.array([dist[i, j] for i, j in ties]) / DISTANCE_BIN_KM).astype(int),
                                       minlength=n_bins),
    }


def test_statistics_equal_a_direct_count_on_the_adjacency_matrix():
    nodes = municipalities(40, seed=3)
    dyads = draw_network(dyads_from_nodes(nodes), {**TRUE_PARAMS, "edges": TRUE_PARAMS["edges"] + 2.5}, seed=3)
    dyads = dyads.rename(columns={"origin": "origin_nis", "destination": "destination_nis"})
    model = ErgmModel(dyads, ["edges", "mutual"])
    inc = PairIncidence(model, *_pair_covariates(model, dyads))
    rng = np.random.default_rng(5)
    # the observed network and three random ones, including a sparse and a dense one
    states = np.column_stack([model.obs_state,
                              rng.choice(4, size=len(model.pair_i), p=[0.9, 0.04, 0.04, 0.02]),
                              rng.choice(4, size=len(model.pair_i), p=[0.1, 0.2, 0.2, 0.5]),
                              rng.integers(0, 4, size=len(model.pair_i))]).astype(np.int8)
    got = network_statistics(inc, (states & 1) > 0, (states & 2) > 0)
    assert 0 < model.obs_state.astype(bool).mean() < 1
    for k in range(states.shape[1]):
        want = direct_statistics(dyads, model, states[:, k].astype(int))
        for name in ("reciprocity", "share_one_way_toward_denser", "mean_tie_distance_km"):
            assert np.isclose(got[name][k], want[name], rtol=1e-12), (name, k)
        for name in ("out_degree", "in_degree"):
            np.testing.assert_array_equal(got[name][k], want[name])
        np.testing.assert_array_equal(got["tie_distance_km"][k][: len(want["tie_distance_km"])], want["tie_distance_km"])
        assert got["tie_distance_km"][k][len(want["tie_distance_km"]):].sum() == 0


def test_draws_without_ties_give_missing_summaries_and_no_warnings():
    """Near-empty draws have no tie and no one-way tie: their scalar summaries are NaN, computed without a
    numpy warning (gof runs networks in threads, where warnings cannot be switched off per call)."""
    import warnings

    from mignet.network.gof import gof_network

    dyads = dyads_from_nodes(municipalities(12, seed=1))
    dyads.loc[0, "tie"] = 1
    params = pd.Series({**TRUE_PARAMS, "edges": -9.0, "mutual": 0.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = gof_network(dyads, params, n_sim=40, seed=3)
    scalar = rows[rows["value"].isna()].set_index("statistic")
    assert scalar["sim_mean"].isna().all() and scalar["p_value"].isna().all()
    assert scalar.loc["reciprocity", "observed"] == 0


def test_gof_summarises_the_networks_simulate_draws_counted_directly():
    """gof_network's simulated summaries equal those of the networks ErgmModel.simulate draws with the same
    seed, each counted on its adjacency matrix; the batch size changes nothing."""
    from mignet.network.gof import gof_network

    nodes = municipalities(30, seed=4)
    dyads = draw_network(dyads_from_nodes(nodes), {**TRUE_PARAMS, "edges": TRUE_PARAMS["edges"] + 2.0}, seed=2)
    dyads = dyads.rename(columns={"origin": "origin_nis", "destination": "destination_nis"})
    params = pd.Series({**TRUE_PARAMS, "edges": TRUE_PARAMS["edges"] + 2.2})
    rows = gof_network(dyads, params, n_sim=30, seed=4, batch=7)
    pd.testing.assert_frame_equal(rows, gof_network(dyads, params, n_sim=30, seed=4, batch=25))
    model = ErgmModel(dyads, list(params.index))
    draws = [direct_statistics(dyads, model, s.astype(int)) for s in model.simulate(params, n_sim=30, seed=4)]
    observed = direct_statistics(dyads, model, model.obs_state)
    scalar = rows[rows["value"].isna()].set_index("statistic")
    for name in ("reciprocity", "share_one_way_toward_denser", "mean_tie_distance_km"):
        sim = np.array([d[name] for d in draws])
        assert scalar.loc[name, "observed"] == pytest.approx(observed[name], rel=1e-12)
        assert scalar.loc[name, "sim_mean"] == pytest.approx(sim.mean(), rel=1e-12)
        assert scalar.loc[name, "sim_sd"] == pytest.approx(sim.std(ddof=1), rel=1e-9)
        assert scalar.loc[name, "sim_low"] == pytest.approx(np.quantile(sim, 0.025), rel=1e-12)
    for name in ("out_degree", "in_degree"):
        dist = rows[rows["statistic"] == name]
        for value, mean in zip(dist["value"].astype(int), dist["sim_mean"]):
            assert mean == pytest.approx(np.mean([(d[name] == value).sum() for d in draws]), rel=1e-12, abs=1e-12)
    dist = rows[rows["statistic"] == "tie_distance_km"]
    for value, mean in zip(dist["value"], dist["sim_mean"]):
        k = int(round(value / DISTANCE_BIN_KM))
        want = np.mean([d["tie_distance_km"][k] if k < len(d["tie_distance_km"]) else 0 for d in draws])
        assert mean == pytest.approx(want, rel=1e-12, abs=1e-12)
