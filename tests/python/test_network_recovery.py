"""Parameter recovery on simulated 581-node networks: exact draws from a known ERGM, refitted; the 95 %
intervals must cover the true values at about the nominal rate and the z-scores must have unit spread."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mignet.network import ErgmModel
from mignet.network.simulate import TRUE_PARAMS, draw_network, dyads_from_nodes, municipalities

REPLICATIONS = 50


@pytest.mark.slow
def test_true_values_inside_95_percent_intervals_at_nominal_rate():
    dyads = draw_network(dyads_from_nodes(municipalities(581, seed=11)), TRUE_PARAMS, seed=0)
    model = ErgmModel(dyads, list(TRUE_PARAMS))
    truth = np.array(list(TRUE_PARAMS.values()))
    draws = model.simulate(truth, n_sim=REPLICATIONS, seed=12345)
    z = np.empty((REPLICATIONS, len(truth)))
    for r in range(REPLICATIONS):
        res = model.with_pair_states(draws[r]).fit()
        assert res.mle_exists and res.converged
        z[r] = (res.params.to_numpy() - truth) / res.bse.to_numpy()
    covered = (np.abs(z) <= stats.norm.ppf(0.975)).sum(axis=0)
    # Binomial(50, 0.95): fewer than this many covered happens with probability < 0.001 per term.
    lowest = stats.binom.ppf(0.001, REPLICATIONS, 0.95)
    assert (covered >= lowest).all(), dict(zip(TRUE_PARAMS, covered))
    # Unbiased, with standard errors of the right size: mean z near 0, sd near 1 (sampling sd ~0.14 and ~0.1).
    assert (np.abs(z.mean(axis=0)) < 0.5).all(), z.mean(axis=0)
    assert ((z.std(axis=0, ddof=1) > 0.7) & (z.std(axis=0, ddof=1) < 1.35)).all(), z.std(axis=0, ddof=1)


@pytest.mark.slow
def test_mple_understates_the_uncertainty_of_mutual():
    """ergm's MPLE standard errors ignore the dependence within pairs; the exact ones do not."""
    dyads = draw_network(dyads_from_nodes(municipalities(250, seed=5)), dict(TRUE_PARAMS, mutual=2.5), seed=0)
    model = ErgmModel(dyads, list(TRUE_PARAMS))
    truth = np.array(list(dict(TRUE_PARAMS, mutual=2.5).values()))
    draws = model.simulate(truth, n_sim=20, seed=7)
    mle_est, mple_est, mle_se, mple_se = [], [], [], []
    for r in range(20):
        m = model.with_pair_states(draws[r])
        a, b = m.fit("mle"), m.fit("mple")
        mle_est.append(a.params["mutual"]); mle_se.append(a.bse["mutual"])
        mple_est.append(b.params["mutual"]); mple_se.append(b.bse["mutual"])
    # the exact standard error matches the spread of the estimates; the MPLE's is clearly below it
    spread = np.std(mle_est, ddof=1)
    assert 0.7 < np.mean(mle_se) / spread < 1.4
    assert np.mean(mple_se) < 0.85 * np.mean(mle_se)
