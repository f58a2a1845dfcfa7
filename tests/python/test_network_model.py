"""Exact ERGM: agreement with brute-force enumeration of all graphs, MPLE vs MLE, refusals, existence."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.optimize import minimize
from scipy.stats import norm
from scipy.special import logsumexp

from mignet.network import DyadDataError, DyadDependentTermError, ErgmExistenceWarning, ErgmModel, ErgmResults, fit_ergm
from mignet.network.sampling import PairStateSampler
from mignet.network.simulate import dyads_from_nodes, draw_network, municipalities


def tiny_dyads(n, seed, ties):
    """All ordered pairs of n nodes with an edge covariate and a sender covariate; `ties` = set of (i, j)."""
    rng = np.random.default_rng(seed)
    node_x = rng.normal(size=n)
    rows = []
    for i, j in itertools.permutations(range(n), 2):
        rows.append({"origin": f"n{i}", "destination": f"n{j}", "tie": int((i, j) in ties),
                     "cov": float(rng.normal()), "size": node_x[i]})
    return pd.DataFrame(rows)


def brute_force(dyads, terms):
    """Sufficient statistics of every graph on these nodes (2^(n(n-1)) rows) and of the observed one."""
    pairs = list(zip(dyads.origin, dyads.destination))
    index = {p: k for k, p in enumerate(pairs)}
    m = len(pairs)
    graphs = ((np.arange(2 ** m)[:, None] >> np.arange(m)[None, :]) & 1).astype(float)
    reverse = np.array([index[(b, a)] for a, b in pairs])
    cols = []
    for term in terms:
        if term == "edges":
            cols.append(graphs.sum(axis=1))
        elif term == "mutual":
            cols.append((graphs * graphs[:, reverse]).sum(axis=1) / 2)
        elif term.startswith("edgecov:"):
            cols.append(graphs @ dyads[term.split(":")[1]].to_numpy())
        elif term.startswith("sender:"):
            cols.append(graphs @ dyads[term.split(":")[1]].to_numpy())
    g = np.column_stack(cols)
    observed = np.array([g_ for g_ in g[int((dyads.tie.to_numpy() * 2 ** np.arange(m)).sum())]])
    return g, observed


def brute_loglike(theta, g, observed):
    return float(observed @ theta - logsumexp(g @ theta))


def brute_mle(g, observed, start):
    res = minimize(lambda t: -brute_loglike(t, g, observed), start,
                   jac=lambda t: -(observed - np.exp(g @ t - logsumexp(g @ t)) @ g), method="BFGS",
                   options={"gtol": 1e-10, "maxiter": 1000})
    return res.x, -res.fun


TIES_4 = {(0, 1), (1, 0), (0, 2), (2, 3), (3, 0)}  # pairs: 1 mutual, 3 one-way, 2 empty


def test_exact_mle_equals_brute_force_on_4_nodes():
    dyads = tiny_dyads(4, seed=3, ties=TIES_4)
    terms = ["edges", "mutual", "edgecov:cov"]
    g, observed = brute_force(dyads, terms)
    assert len(g) == 2 ** 12
    res = fit_ergm(dyads, terms)
    assert res.mle_exists and res.converged
    theta_bf, ll_bf = brute_mle(g, observed, np.zeros(3))
    np.testing.assert_allclose(res.params.to_numpy(), theta_bf, atol=1e-5)
    assert res.llf == pytest.approx(ll_bf, abs=1e-8)
    # Normalising constant: closed-form product over pairs vs the sum over all 4096 graphs.
    model = ErgmModel(dyads, terms)
    for theta in (np.array([-0.7, 1.3, 0.4]), np.array([0.2, -2.0, -1.1])):
        assert model.log_normalizer(theta) == pytest.approx(logsumexp(g @ theta), rel=1e-12)
        assert model.loglike(theta) == pytest.approx(brute_loglike(theta, g, observed), rel=1e-12)
    # Exact standard errors: inverse of the covariance of g over all graphs at the MLE.
    w = np.exp(g @ theta_bf - logsumexp(g @ theta_bf))
    mean = w @ g
    cov_g = (g * w[:, None]).T @ g - np.outer(mean, mean)
    np.testing.assert_allclose(res.bse.to_numpy(), np.sqrt(np.diag(np.linalg.inv(cov_g))), rtol=1e-4)


@pytest.mark.slow
def test_exact_mle_equals_brute_force_on_5_nodes_with_sender_term():
    ties = {(0, 1), (1, 0), (0, 2), (2, 3), (3, 1), (1, 2), (3, 0), (4, 0), (2, 4), (4, 2), (1, 4), (3, 2)}
    dyads = tiny_dyads(5, seed=7, ties=ties)
    terms = ["edges", "mutual", "edgecov:cov", "sender:size"]
    g, observed = brute_force(dyads, terms)
    assert len(g) == 2 ** 20
    res = fit_ergm(dyads, terms)
    assert res.mle_exists
    theta_bf, ll_bf = brute_mle(g, observed, np.zeros(4))
    np.testing.assert_allclose(res.params.to_numpy(), theta_bf, atol=1e-5)
    assert res.llf == pytest.approx(ll_bf, abs=1e-7)


def test_no_mutual_pairs_mle_does_not_exist_and_limiting_model_matches_brute_force():
    ties = {(0, 1), (0, 2), (2, 3), (3, 0)}  # no reciprocated pair; 4 one-way, 2 empty
    dyads = tiny_dyads(4, seed=3, ties=ties)
    terms = ["edges", "mutual", "edgecov:cov"]
    with pytest.warns(ErgmExistenceWarning, match="mutual -> -inf"):
        res = fit_ergm(dyads, terms)
    assert not res.mle_exists
    assert res.params["mutual"] == -np.inf
    assert np.isnan(res.bse["mutual"])
    # The limit: graphs with a mutual pair get probability zero; brute-force over the others.
    g, observed = brute_force(dyads, terms)
    keep = g[:, 1] == 0
    theta_bf, ll_bf = brute_mle(g[keep][:, [0, 2]], observed[[0, 2]], np.zeros(2))
    np.testing.assert_allclose(res.params[["edges", "edgecov:cov"]].to_numpy(), theta_bf, atol=1e-5)
    assert res.llf == pytest.approx(ll_bf, abs=1e-8)
    assert np.isfinite(res.bse[["edges", "edgecov:cov"]]).all()


def test_empty_and_complete_networks_report_non_existence_without_huge_numbers():
    for ties in (set(), set(itertools.permutations(range(4), 2))):
        dyads = tiny_dyads(4, seed=1, ties=ties)
        with pytest.warns(ErgmExistenceWarning):
            res = fit_ergm(dyads, ["edges", "mutual"])
        assert not res.mle_exists
        finite = res.params[np.isfinite(res.params)]
        assert (finite.abs() < 50).all(), res.params
        assert not np.isfinite(res.params["edges"])


def test_without_mutual_mple_and_mle_are_identical():
    d = dyads_from_nodes(municipalities(80, seed=2))
    net = draw_network(d, {"edges": 0.5, "edgecov:density_diff_per_1000": 0.3, "edgecov:distance_10km": -0.4}, seed=5)
    terms = ["edges", "edgecov:density_diff_per_1000", "edgecov:distance_10km"]
    mle = fit_ergm(net, terms, method="mle")
    mple = fit_ergm(net, terms, method="mple")
    np.testing.assert_allclose(mple.params, mle.params, rtol=1e-7)  # both iterative, to ~1e-8
    np.testing.assert_allclose(mple.bse, mle.bse, rtol=1e-6)
    assert mple.llf == pytest.approx(mle.llf, rel=1e-10)
    # and both are plain logistic regression on the ordered pairs
    logit = sm.Logit(net.tie.to_numpy(float), sm.add_constant(net[["density_diff_per_1000", "distance_10km"]].to_numpy())).fit(disp=0)
    np.testing.assert_allclose(mle.params.to_numpy(), logit.params, rtol=1e-6)


def test_with_strong_reciprocity_mple_differs_from_mle_and_understates_its_error():
    d = dyads_from_nodes(municipalities(150, seed=4))
    net = draw_network(d, {"edges": 0.0, "mutual": 3.0, "edgecov:distance_10km": -0.5}, seed=9)
    terms = ["edges", "mutual", "edgecov:distance_10km"]
    mle = fit_ergm(net, terms, method="mle")
    mple = fit_ergm(net, terms, method="mple")
    assert mle.mle_exists and mple.mle_exists
    assert np.abs(mple.params - mle.params).max() > 1e-4
    # MPLE treats the 2 ordered pairs of a dyad as independent given each other: too-small errors for mutual.
    assert mple.bse["mutual"] < 0.9 * mle.bse["mutual"]
    # The MLE maximises the exact likelihood; the MPLE does not.
    assert mle.llf > mple.llf
    assert mple.pseudo_llf is not None


def test_score_is_zero_and_information_matches_finite_differences_at_the_mle():
    d = dyads_from_nodes(municipalities(60, seed=3))
    net = draw_network(d, {"edges": 0.0, "mutual": 1.0, "edgecov:distance_10km": -0.3}, seed=2)
    model = ErgmModel(net, ["edges", "mutual", "edgecov:distance_10km"])
    res = model.fit()
    # score in units of its standard deviation (the score of term k has variance I_kk)
    standardized = model.score(res.params) / np.sqrt(np.diag(model.information(res.params)))
    np.testing.assert_allclose(standardized, 0, atol=1e-7)
    theta = res.params.to_numpy() + 0.1
    h = 1e-5
    numeric = np.column_stack([(model.score(theta + h * e) - model.score(theta - h * e)) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(-numeric, model.information(theta), rtol=1e-5)


@pytest.mark.parametrize("term", ["gwesp", "triangle", "istar:2", "ostar", "gwesp(0.5, fixed=TRUE)", "mutual:same"])
def test_dyad_dependent_terms_are_refused(term):
    dyads = tiny_dyads(4, seed=1, ties=TIES_4)
    with pytest.raises(DyadDependentTermError, match="dyad-dependent"):
        fit_ergm(dyads, ["edges", term])


def test_unknown_terms_and_bad_methods_are_refused():
    dyads = tiny_dyads(4, seed=1, ties=TIES_4)
    with pytest.raises(ValueError, match="unknown model term 'nodematch:x'"):
        fit_ergm(dyads, ["edges", "nodematch:x"])
    with pytest.raises(DyadDataError, match="no column 'nope'"):
        fit_ergm(dyads, ["edges", "edgecov:nope"])
    with pytest.raises(ValueError, match="unknown method"):
        fit_ergm(dyads, ["edges"], method="mcmc")


def test_bad_dyad_tables_are_refused_with_row():
    good = tiny_dyads(4, seed=1, ties=TIES_4)
    with pytest.raises(DyadDataError, match="incomplete"):
        fit_ergm(good.iloc[1:], ["edges"])
    with pytest.raises(DyadDataError, match="more than once"):
        fit_ergm(pd.concat([good, good.iloc[[3]]], ignore_index=True), ["edges"])
    bad = good.copy()
    bad.loc[5, "tie"] = 2
    with pytest.raises(DyadDataError, match="row 5"):
        fit_ergm(bad, ["edges"])
    bad = good.copy()
    bad.loc[7, "cov"] = np.nan
    with pytest.raises(DyadDataError, match="'cov'.*row 7"):
        fit_ergm(bad, ["edges", "edgecov:cov"])
    bad = good.copy()
    bad.loc[2, "destination"] = bad.loc[2, "origin"]
    with pytest.raises(DyadDataError, match="self-loop"):
        fit_ergm(bad, ["edges"])
    with pytest.raises(DyadDataError, match="must be constant"):
        fit_ergm(good, ["edges", "sender:cov"])


def test_mart_column_names_are_accepted_and_results_have_statsmodels_shape():
    dyads = tiny_dyads(4, seed=3, ties=TIES_4)
    res_a = fit_ergm(dyads, ["edges", "mutual", "edgecov:cov"])
    res_b = fit_ergm(dyads.rename(columns={"origin": "origin_nis", "destination": "destination_nis"}),
                     ["edges", "mutual", "edgecov:cov"])
    pd.testing.assert_series_equal(res_a.params, res_b.params)
    assert list(res_a.params.index) == ["edges", "mutual", "edgecov:cov"]
    ci = res_a.conf_int()
    assert (ci[0] < res_a.params).all() and (res_a.params < ci[1]).all()
    np.testing.assert_allclose(res_a.odds_ratios, np.exp(res_a.params))
    assert res_a.aic == pytest.approx(-2 * res_a.llf + 6)
    assert res_a.bic == pytest.approx(-2 * res_a.llf + 3 * np.log(12))
    assert "mutual" in str(res_a.summary())


def test_receiver_term_without_mutual_equals_logistic_regression():
    d = dyads_from_nodes(municipalities(50, seed=8))
    nodes = municipalities(50, seed=8).set_index("nis_code")
    d["destination_logdens"] = np.log(nodes.loc[d.destination, "density_per_km2"].to_numpy())
    net = draw_network(d, {"edges": -1.0, "edgecov:distance_10km": -0.3}, seed=1)
    res = fit_ergm(net, ["edges", "edgecov:distance_10km", "receiver:logdens"])
    logit = sm.Logit(net.tie.to_numpy(float),
                     sm.add_constant(net[["distance_10km", "destination_logdens"]].to_numpy())).fit(disp=0)
    np.testing.assert_allclose(res.params.to_numpy(), logit.params, rtol=1e-6)


def test_simulation_reproduces_state_probabilities():
    d = dyads_from_nodes(municipalities(30, seed=1))
    net = draw_network(d, {"edges": 0.0, "mutual": 1.0, "edgecov:distance_10km": -0.2}, seed=3)
    model = ErgmModel(net, ["edges", "mutual", "edgecov:distance_10km"])
    theta = np.array([0.0, 1.0, -0.2])
    draws = model.simulate(theta, n_sim=4000, seed=11)
    freq = np.stack([(draws == s).mean(axis=0) for s in range(4)], axis=1)
    p = model.state_probabilities(theta)
    # 4000 draws: binomial standard error at most 0.008; allow 5 of them on a 435 x 4 grid
    assert np.abs(freq - p).max() < 0.04
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert abs(freq.mean(axis=0) - p.mean(axis=0)).max() < 0.005


def test_complete_separation_by_a_covariate_is_detected_as_a_combination():
    """Ties exactly between pairs closer than 60 km: the likelihood approaches 1 along
    edges - distance/6, a combination no single-term check finds (the linear program does)."""
    d = dyads_from_nodes(municipalities(60, seed=1))
    d["tie"] = (d.distance_10km < 6).astype(int)
    with pytest.warns(ErgmExistenceWarning, match="combination"):
        res = fit_ergm(d, ["edges", "edgecov:distance_10km"])
    assert not res.mle_exists
    assert res.params.isna().all() and res.bse.isna().all()
    assert res.llf == pytest.approx(0.0, abs=1e-9)
    direction = res.directions.iloc[0]
    assert direction["edgecov:distance_10km"] / direction["edges"] == pytest.approx(-1 / 6, rel=0.05)
    # one-sided overlap: the MLE exists
    rng = np.random.default_rng(0)
    d["tie"] = ((d.distance_10km < 6) | (rng.random(len(d)) < 0.05)).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ErgmExistenceWarning)
        assert fit_ergm(d, ["edges", "mutual", "edgecov:distance_10km"]).mle_exists


# ---- results in statsmodels' shape ------------------------------------------------------------------------

def no_mutual_model():
    """A 4-node network without mutual pairs: the MLE of mutual is -inf, the other terms are estimable."""
    return ErgmModel(tiny_dyads(4, seed=3, ties={(0, 1), (0, 2), (2, 3), (3, 0)}), ["edges", "mutual", "edgecov:cov"])


def test_results_store_the_fit_and_derive_every_value_lazily_and_read_only():
    model = ErgmModel(tiny_dyads(4, seed=3, ties=TIES_4), ["edges", "mutual", "edgecov:cov"])
    fitted = model.fit()
    res = ErgmResults(model, fitted.clogit, "mle")
    assert set(vars(res)) == {"model", "clogit", "method", "statsmodels_result", "_cache"}
    assert res._cache == {}
    params = res.params
    assert res.params is params and set(res._cache) >= {"params", "_limits"}
    np.testing.assert_array_equal(params.to_numpy(), fitted.clogit.theta)
    for name in ("params", "bse", "tvalues", "llf", "mle_exists", "message", "df_model"):
        with pytest.raises(AttributeError, match="cannot be set"):
            setattr(res, name, 0)
    # cov_params() hands out a copy: the cached covariance cannot be changed through it
    handed_out = res.cov_params()
    handed_out.iloc[0, 0] = 99.0
    assert res.cov_params().iloc[0, 0] == pytest.approx(res.bse.iloc[0] ** 2, rel=1e-12)


@pytest.mark.parametrize("method", ["mle", "mple"])
def test_existence_warning_comes_once_from_fit_and_never_from_the_results(method):
    model = no_mutual_model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.fit(method)
        assert [w.category for w in caught] == [ErgmExistenceWarning]
        assert str(caught[0].message) == res.message and "mutual -> -inf" in res.message
        again = ErgmResults(model, res.clogit, method)
        for r in (res, again):
            r.params, r.bse, r.pvalues, r.conf_int(), r.llf, r.aic, r.bic, r.message, str(r.summary())
        assert len(caught) == 1
    assert not res.mle_exists and res.params["mutual"] == -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ErgmModel(tiny_dyads(4, seed=3, ties=TIES_4), ["edges", "mutual"]).fit(method).mle_exists


def test_derived_values_follow_their_one_formula_also_without_an_mle():
    with pytest.warns(ErgmExistenceWarning):
        res = no_mutual_model().fit()
    estimated = res.bse.notna()
    assert list(estimated) == [True, False, True] and res.df_model == 2
    np.testing.assert_allclose(res.tvalues, res.params / res.bse)
    np.testing.assert_allclose(res.pvalues[estimated], 2 * norm.sf(np.abs(res.tvalues[estimated])))
    ci = res.conf_int(0.1)
    np.testing.assert_allclose(ci[1] - res.params, 1.6448536269514722 * res.bse)
    np.testing.assert_allclose(np.sqrt(np.diag(res.cov_params()))[estimated.to_numpy()], res.bse[estimated])
    assert res.cov_params().loc["mutual"].isna().all() and res.cov_params()["mutual"].isna().all()
    assert res.aic == pytest.approx(-2 * res.llf + 2 * 2)
    assert res.bic == pytest.approx(-2 * res.llf + 2 * np.log(12))
    assert res.odds_ratios["mutual"] == 0.0
    assert res.pseudo_llf is None and "mutual -> -inf" in str(res.summary())


# ---- the one source of pair-state weights and its limits -------------------------------------------------

def integer_covariate_model(terms):
    """A 12-node network with an integer edge covariate, so that a parameter of +-60 is, to 1e-20, its limit."""
    d = tiny_dyads(12, seed=2, ties={(i, j) for i in range(12) for j in range(12) if i != j and (i * 7 + j * 3) % 5 < 2})
    d["c"] = np.random.default_rng(4).integers(-1, 3, size=len(d)).astype(float)
    return ErgmModel(d, terms)


@pytest.mark.parametrize("term, value", [("mutual", -np.inf), ("edges", np.inf), ("edges", -np.inf),
                                         ("edgecov:c", -np.inf), ("edgecov:c", np.inf)])
def test_infinite_parameters_give_the_limit_of_the_state_probabilities(term, value):
    terms = ["edges", "mutual", "edgecov:c"]
    model = integer_covariate_model(terms)
    theta = pd.Series([-0.4, 0.8, 0.3], index=terms)
    limit, far = theta.copy(), theta.copy()
    limit[term], far[term] = value, np.sign(value) * 60
    p = model.state_probabilities(limit)
    np.testing.assert_allclose(p, model.state_probabilities(far), atol=1e-20)
    assert np.isfinite(p).all() and ((p == 0) | (p > 1e-30)).all()
    draws = model.simulate(limit, n_sim=50, seed=1)
    assert (p[np.arange(p.shape[0]), draws] > 0).all()  # a state of probability zero is never drawn
    if term == "edges" and value > 0:
        assert (draws == 3).all()


def test_loglike_at_an_infinite_estimate_is_the_limiting_models_likelihood():
    model = no_mutual_model()
    with pytest.warns(ErgmExistenceWarning):
        res = model.fit()
    assert model.loglike(res.params) == pytest.approx(res.llf, rel=1e-12)
    np.testing.assert_allclose(model.state_probabilities(res.params), res.state_probabilities(), rtol=1e-12, atol=1e-300)
    # mutual = +inf makes the observed one-way pairs impossible
    assert model.loglike(res.params.to_numpy() * [1, -1, 1]) == -np.inf


# ---- the one tie sampler ------------------------------------------------------------------------------------

def test_sampler_draws_depend_on_the_seed_only_and_are_shared_by_every_simulate():
    d = dyads_from_nodes(municipalities(25, seed=1))
    net = draw_network(d, {"edges": 0.0, "mutual": 1.0, "edgecov:distance_10km": -0.2}, seed=3)
    model = ErgmModel(net, ["edges", "mutual", "edgecov:distance_10km"])
    res = model.fit()
    sampler = model.sampler(res.params)
    states = sampler.states(23, seed=8)
    assert states.shape == (23, len(model.pair_i)) and states.dtype == np.int8
    for batch in (1, 7, 23, 100):
        ij, ji = (np.concatenate(parts) for parts in zip(*sampler.batches(23, seed=8, batch=batch)))
        np.testing.assert_array_equal(states, ij + 2 * ji.astype(np.int8))
    np.testing.assert_array_equal(model.simulate(res.params, n_sim=23, seed=8), states)
    np.testing.assert_array_equal(res.simulate(n_sim=23, seed=8), states)
    np.testing.assert_array_equal(draw_network(net, dict(res.params), seed=8).tie,
                                  model.with_pair_states(states[0]).tie)
    assert not np.array_equal(model.simulate(res.params, n_sim=23, seed=9), states)


def test_sampler_never_draws_a_state_of_probability_zero_and_always_one_of_probability_one():
    probabilities = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0.5, 0.5, 0],
                              [0.5, 0, 0, 0.5], [0.1, 0.2, 0.3, 0.4],
                              # rows that sum to 1 only up to rounding, with an impossible last state
                              [0.1, 0.7, 0.2, 0.0], [1 / 3, 1 / 3, 1 / 3, 0.0]])
    states = PairStateSampler(probabilities).states(20000, seed=5)
    assert (probabilities[np.arange(len(probabilities)), states] > 0).all()
    np.testing.assert_array_equal(states[:, :4], np.tile(np.arange(4), (20000, 1)))
    freq = np.stack([(states == s).mean(axis=0) for s in range(4)], axis=1)
    # 20000 draws: binomial standard error at most 0.0036; 5 of them
    assert np.abs(freq - probabilities).max() < 0.018
    # at the boundaries: u = 0 and u exactly at a threshold fall in the state above it
    sampler = PairStateSampler(probabilities[[1, 4, 6]])
    c = np.float32([0.1, 0.3, 0.6])
    u = np.array([[0.0, 0.0, 0.0], [0.0, 0.5, c[0]], [0.99, 0.9, c[1]], [0.5, 0.5, c[2]]], dtype=np.float32)
    ij, ji = sampler.indicators(u)
    np.testing.assert_array_equal(ij + 2 * ji.astype(np.int8), [[1, 1, 0], [1, 2, 1], [1, 2, 2], [1, 2, 3]])
    with pytest.raises(ValueError, match="sum to 1.*first pair 1"):
        PairStateSampler([[0.25] * 4, [0.5, 0.5, 0.5, 0.0]])
    with pytest.raises(ValueError, match="shape"):
        PairStateSampler(np.ones((3, 2)) / 2)


# ---- scenario probabilities derive from the model's state probabilities ---------------------------------------

def closed_form(params, fwd, rev):
    """Today's closed forms of the scenario probabilities, written out independently."""
    from scipy.special import expit, logsumexp

    def eta(row):
        return params["edges"] + sum(v * row[t.split(":")[1]] for t, v in params.items() if t.startswith("edgecov:"))

    a, b, m = eta(fwd), eta(rev), params.get("mutual", 0.0)
    return {"eta_forward": a, "eta_reverse": b, "p_given_no_reverse": expit(a), "p_given_reverse": expit(a + m),
            "p_marginal": float(np.exp(logsumexp([a, a + b + m]) - logsumexp([0.0, a, b, a + b + m])))}


def test_scenario_probabilities_are_the_pair_state_probabilities_of_the_model():
    from mignet.network.scenario import ScenarioError, tie_probabilities

    d = dyads_from_nodes(municipalities(15, seed=6))
    terms = ["edges", "mutual", "edgecov:density_diff_per_1000", "edgecov:distance_10km"]
    rng = np.random.default_rng(2)
    for mutual in (1.3, -np.inf, 0.0):
        params = {"edges": rng.normal(), "mutual": mutual, "edgecov:density_diff_per_1000": rng.normal(),
                  "edgecov:distance_10km": -0.3}
        model = ErgmModel(d.assign(tie=0), terms)
        probs = model.state_probabilities(list(params.values()))
        for pair in rng.choice(len(model.pair_i), size=6, replace=False):
            fwd, rev = d.iloc[model.row_ij[pair]], d.iloc[model.row_ji[pair]]
            got = tie_probabilities(params, fwd, rev)
            assert got["p_marginal"] == pytest.approx(probs[pair, 1] + probs[pair, 3], rel=1e-12)
            for key, value in closed_form(params, fwd, rev).items():
                assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-300), key
            if mutual == -np.inf:
                assert got["p_given_reverse"] == 0.0 and 0 < got["p_marginal"] < 1
    with pytest.raises(ScenarioError, match="no column 'x'"):
        tie_probabilities({"edges": -1.0, "edgecov:x": 1.0}, {"y": 1.0}, {"y": 2.0})
    with pytest.raises(ScenarioError, match="unknown model term"):
        tie_probabilities({"edges": -1.0, "nodematch:x": 1.0}, {"x": 1.0}, {"x": 2.0})
