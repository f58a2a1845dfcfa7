"""Synthetic dyad tables with realistic covariates, and exact draws of networks from a given ERGM.

Used by the tests (parameter recovery) and the benchmark. Covariates come from the Belgian municipality
reference list (Lambert 72 centroids, 2019 densities) when it is available, otherwise from a synthetic
geography of the same size and shape (a 280 x 230 km box, log-normal densities).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mignet.network.model import ErgmModel

# Plausible values for a two-year network of municipality-to-municipality moves (log odds).
TRUE_PARAMS = {"edges": -0.5, "mutual": 1.5, "edgecov:density_diff_per_1000": -0.05, "edgecov:distance_10km": -0.6}


def municipalities(n_nodes: int = 581, seed: int = 0, reference_csv: Path | None = None) -> pd.DataFrame:
    """Nodes with nis_code, x_km, y_km, density_per_km2."""
    if reference_csv is not None and Path(reference_csv).is_file():
        ref = pd.read_csv(reference_csv, dtype={"nis_code": str})
        ref = ref.head(n_nodes)
        return pd.DataFrame({
            "nis_code": ref["nis_code"].to_numpy(),
            "x_km": ref["centroid_x_l72"].to_numpy() / 1000,
            "y_km": ref["centroid_y_l72"].to_numpy() / 1000,
            "density_per_km2": ref["density_2019_per_km2"].to_numpy(),
        })
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "nis_code": [f"{10000 + i:05d}" for i in range(n_nodes)],
        "x_km": rng.uniform(0, 280, n_nodes),
        "y_km": rng.uniform(0, 230, n_nodes),
        "density_per_km2": np.exp(rng.normal(np.log(200), 1.0, n_nodes)),
    })


def dyads_from_nodes(nodes: pd.DataFrame) -> pd.DataFrame:
    """All ordered pairs with density difference (origin minus destination, per 1000 inhabitants/km², as
    in marts.mart_network_dyads) and centroid distance (km and units of 10 km); tie = 0."""
    n = len(nodes)
    oi, di = np.nonzero(~np.eye(n, dtype=bool))
    x, y, dens = nodes["x_km"].to_numpy(), nodes["y_km"].to_numpy(), nodes["density_per_km2"].to_numpy()
    distance = np.hypot(x[oi] - x[di], y[oi] - y[di])
    codes = nodes["nis_code"].to_numpy()
    return pd.DataFrame({
        "origin": codes[oi], "destination": codes[di], "tie": np.zeros(len(oi), dtype=np.int8),
        "density_diff_per_1000": (dens[oi] - dens[di]) / 1000, "distance_km": distance,
        "distance_10km": distance / 10,
    })


def draw_network(dyads: pd.DataFrame, params: dict, seed=None) -> pd.DataFrame:
    """A copy of `dyads` whose `tie` column is an exact draw from the ERGM with these parameters (the first
    network `ErgmModel.simulate` draws with this seed)."""
    model = ErgmModel(dyads.assign(tie=0), list(params))
    state = model.simulate(list(params.values()), n_sim=1, seed=seed)[0]
    return dyads.assign(tie=model.with_pair_states(state).tie)
