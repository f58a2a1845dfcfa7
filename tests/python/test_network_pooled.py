"""Models pooled over periods and the Wald tests of change: the ERGM sandwich against the exact information,
a planted change that the tests must find, no change that they must not find (rejection rate within a
binomial band of 5 % under pair effects that persist across periods), the stacked ERGM with a shared term,
and `run_counts` on a small certified warehouse (results bound to their inputs, refused on uncertified ones)."""

from __future__ import annotations

import warnings

import duckdb
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fake_build import certify
from mignet.cli import main
from mignet.network import STUDY_TERMS, ErgmExistenceWarning, fit_ergm
from mignet.network.counts import COUNT_SPECS, CountData, CountModel
from mignet.network.pooled import (
    CHANGE_TEST_COLUMNS, COUNT_EFFECTS, COUNT_ESTIMATE_COLUMNS, ERGM_EFFECTS, change_tests, ergm_influence,
    run_counts, stack_ergm, stack_results,
)
from mignet.network.simulate import draw_network, dyads_from_nodes
from mignet.quality.store import CheckResult, write_certification
from mignet.settings import Settings
from mignet.warehouse import NotCertifiedError, Warehouse
from test_network_counts import TRUE, binomial_band, draw_counts, dyads, nodes, pair_effects

PERIODS = ["pre_covid", "covid", "post_covid"]
DENSITY = "edgecov:density_diff_per_1000"
DISTANCE = "edgecov:distance_10km"


def ergm_nodes(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"nis_code": [f"{10001 + i}" for i in range(n)], "x_km": rng.uniform(0, 100, n),
                         "y_km": rng.uniform(0, 100, n), "density_per_km2": rng.lognormal(np.log(800), 0.9, n)})


def ergm_periods(seed: int, density=(-0.3, -0.3, -0.3), pair_sd: float = 1.0, n: int = 30) -> dict[str, pd.DataFrame]:
    """Three periods' networks on the same municipalities, each pair with an effect on both its ties that
    persists over the periods (what the model's covariates miss about the pair)."""
    base = dyads_from_nodes(ergm_nodes(n))
    rng = np.random.default_rng(seed)
    frame = base.rename(columns={"origin": "origin_nis", "destination": "destination_nis"})
    base["pair_effect"] = pair_effects(frame, pair_sd, rng)
    out = {}
    for period, dens in zip(PERIODS, density):
        params = {"edges": 0.5, "mutual": 1.0, DENSITY: dens, DISTANCE: -0.4, "edgecov:pair_effect": 1.0}
        out[period] = draw_network(base, params, seed=int(rng.integers(1 << 31))).drop(columns="pair_effect")
    return out


def test_ergm_sandwich_bread_is_the_exact_information():
    frames = ergm_periods(1)
    res = fit_ergm(frames["covid"], STUDY_TERMS)
    influence, info, finite = ergm_influence(res)
    assert finite == STUDY_TERMS and influence.shape == (30 * 29 // 2, 4)
    np.testing.assert_allclose(np.linalg.inv(info), res.cov_params().to_numpy(), rtol=1e-6)
    # no mutual pair: mutual -> -inf, the other terms from the limiting model, their bread its information
    net = frames["pre_covid"].copy()
    tie = dict(zip(zip(net.origin, net.destination), net.tie))
    net["tie"] = [int(t and not (tie[(d, o)] and o > d)) for o, d, t in zip(net.origin, net.destination, net.tie)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ErgmExistenceWarning)
        limit = fit_ergm(net, STUDY_TERMS)
    assert not limit.mle_exists and limit.params["mutual"] == -np.inf
    influence, info, finite = ergm_influence(limit)
    assert finite == ["edges", DENSITY, DISTANCE] and np.isnan(influence[:, 1]).all()
    np.testing.assert_allclose(np.linalg.inv(info), limit.cov_params().loc[finite, finite].to_numpy(), rtol=1e-6)
    # the stacked covariance keeps such a period's finite terms
    stacked = stack_results("ergm", {"pre_covid": limit, "covid": res}, [DENSITY, DISTANCE])
    assert np.isfinite(stacked.cov.to_numpy()).all() and "does not exist" in stacked.notes["pre_covid"]


def test_pooled_ergm_test_finds_a_planted_change_in_the_density_effect():
    tests = change_tests(stack_ergm(ergm_periods(2, density=(-0.3, 0.3, 0.3))), ERGM_EFFECTS).set_index(
        ["effect", "contrast"])
    up = tests.loc[("density", "covid - pre_covid")]
    assert up.difference == pytest.approx(0.6, abs=0.25) and up.p_value < 1e-4 and up.stars == "***"
    assert tests.loc[("density", "all periods equal"), "p_value"] < 1e-4
    assert tests.loc[("density", "all periods equal"), "df"] == 2


@pytest.mark.slow
def test_pooled_ergm_test_holds_its_size_when_nothing_changed():
    """200 simulated studies without any change, with pair effects persisting over the periods: the pooled
    test rejects "no change" in about 5 % of them; the persistent pair effects correlate the periods'
    distance estimates, which the pooled covariance measures."""
    n_rep = 200
    rejected = {"density": 0, "distance": 0}
    correlation = []
    for rep in range(n_rep):
        tests = change_tests(stack_ergm(ergm_periods(100 + rep)), ERGM_EFFECTS)
        first = tests[tests.contrast == "covid - pre_covid"].set_index("effect")
        for effect in rejected:
            rejected[effect] += bool(first.loc[effect, "p_value"] < 0.05)
        correlation.append(first.loc["distance", "correlation"])
    low, high = binomial_band(n_rep, 0.05, level=0.99)
    assert all(low <= k <= high for k in rejected.values()), (rejected, (low, high))
    assert np.mean(correlation) > 0.1


def count_periods(frame: pd.DataFrame, rng, density=(0.25, 0.25, 0.25), pair_sd: float = 0.5) -> dict:
    """Three periods' flows on the same pairs with a pair effect that persists over the periods."""
    pair = pair_effects(frame, pair_sd, rng)
    data = {}
    for period, dens in zip(PERIODS, density):
        data[period] = draw_counts(frame, {**TRUE, "density_diff_per_1000": dens}, rng, pair=pair)
    return data


@pytest.mark.slow
def test_pooled_count_tests_find_a_planted_change_and_hold_their_size():
    frame = dyads(nodes(50, seed=4))
    spec = COUNT_SPECS["ppml_origin_fe"]
    rng = np.random.default_rng(3)

    prepared = {p: CountData(frame) for p in PERIODS}  # the pairs are the same; only the flows change

    def tests_of(samples):
        fits = {}
        for p, sample in samples.items():
            prepared[p].endog = sample["n_moves"].to_numpy(dtype=float)
            fits[p] = CountModel(prepared[p], spec).fit()
        return change_tests(stack_results(spec.name, fits, list(COUNT_EFFECTS.values())), COUNT_EFFECTS)

    planted = tests_of(count_periods(frame, rng, density=(0.25, 0.05, 0.05))).set_index(["effect", "contrast"])
    assert planted.loc[("density", "covid - pre_covid"), "p_value"] < 1e-4
    assert planted.loc[("density", "covid - pre_covid"), "difference"] == pytest.approx(-0.2, abs=0.08)
    n_rep = 200
    rejected = {"density": 0, "distance": 0}
    rejected_naive = 0
    ratio = []
    for _ in range(n_rep):
        first = tests_of(count_periods(frame, rng)).query("contrast == 'covid - pre_covid'").set_index("effect")
        for effect in rejected:
            rejected[effect] += bool(first.loc[effect, "p_value"] < 0.05)
        rejected_naive += bool(first.loc["distance", "p_value_independent"] < 0.05)
        ratio.append(first.loc["distance", "std_error"] / first.loc["distance", "std_error_independent"])
    low, high = binomial_band(n_rep, 0.05, level=0.99)
    assert all(low <= k <= high for k in rejected.values()), (rejected, (low, high))
    # the same pairs in every period: the distance estimates move together, so their difference is far more
    # precise than the naive comparison assumes, which then almost never finds a change
    assert np.mean(ratio) < 0.7 and rejected_naive < low, (np.mean(ratio), rejected_naive)


def test_stacked_ergm_with_a_shared_term_maximises_the_sum_of_the_periods_likelihoods():
    frames = ergm_periods(5)
    stacked = stack_ergm(frames, STUDY_TERMS, shared=[DISTANCE])
    assert stacked.params.index[0] == ("shared", DISTANCE) and len(stacked.params) == 1 + 3 * 3
    total, score = 0.0, np.zeros(len(stacked.params))
    for k, (period, frame) in enumerate(frames.items()):
        res = fit_ergm(frame, STUDY_TERMS)
        theta = [stacked.params[("shared", t)] if t == DISTANCE else stacked.params[(period, t)] for t in STUDY_TERMS]
        total += res.model.loglike(np.array(theta))
        g = res.model.score(np.array(theta))
        score[0] += g[STUDY_TERMS.index(DISTANCE)]
        score[1 + 3 * k: 4 + 3 * k] = [g[i] for i, t in enumerate(STUDY_TERMS) if t != DISTANCE]
    assert stacked.llf == pytest.approx(total, rel=1e-9)
    assert np.abs(score).max() < 1e-6
    assert np.isfinite(stacked.bse()).all()
    with pytest.raises(ValueError, match="not among the terms"):
        stack_ergm(frames, STUDY_TERMS, shared=["edgecov:elsewhere"])


# ---- run_counts on a certified warehouse -------------------------------------------------------------------

GROUPS = [("all", "all"), ("age_band", "18-30")]


def small_warehouse(path, seed: int = 9) -> None:
    rng = np.random.default_rng(seed)
    places = nodes(25, seed=seed)
    frame = dyads(places)
    catalogue, parts = [], []
    starts = {"pre_covid": "2018-01-01", "covid": "2020-01-01", "post_covid": "2022-01-01"}
    pair = pair_effects(frame, 0.4, rng)
    for p, period in enumerate(PERIODS):
        for g, (gt, gv) in enumerate(GROUPS):
            network_id = p * len(GROUPS) + g + 1
            start = pd.Timestamp(starts[period])
            catalogue.append({"network_id": network_id, "period_label": period, "period_start": start,
                              "period_end": start + pd.DateOffset(years=2) - pd.Timedelta(days=1),
                              "density_year": start.year, "group_type": gt, "group_value": gv, "group_order": g})
            # during covid the density effect falls (more moves toward the densest places)
            flows = draw_counts(frame, {**TRUE, "density_diff_per_1000": 0.25 - 0.5 * (period == "covid")}, rng,
                                pair=pair, base=3.0 - g)
            tie = flows.set_index(["origin_nis", "destination_nis"])["n_moves"] >= 1
            reverse = tie.reindex(pd.MultiIndex.from_arrays([flows.destination_nis, flows.origin_nis])).to_numpy()
            parts.append(pd.DataFrame({
                "network_id": network_id, "period_label": period, "group_type": gt, "group_value": gv,
                "origin_nis": flows.origin_nis, "destination_nis": flows.destination_nis, "n_moves": flows.n_moves,
                "tie": flows.n_moves >= 1, "reverse_tie": reverse, "density_diff_per_1000": flows.density_diff_per_1000,
                "distance_km": flows.distance_km, "distance_10km": flows.distance_km / 10}))
    years = pd.DataFrame([(c, y, int(pop), 50.0, pop / 50.0) for c, pop in zip(places.nis_code, places.population)
                          for y in range(2018, 2024)],
                         columns=["nis_code", "year", "population", "area_km2", "density_per_km2"])
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    for name, table in (("dim_network", pd.DataFrame(catalogue)), ("mart_network_dyads", pd.concat(parts)),
                        ("dim_municipality_year", years)):
        con.register("t", table)
        con.execute(f"create table marts.{name} as select * from t")
        con.unregister("t")
    certify(con)
    con.close()


@pytest.fixture(scope="module")
def certified(tmp_path_factory):
    root = tmp_path_factory.mktemp("counts")
    env = {"MIGNET_WAREHOUSE": str(root / "warehouse.duckdb"), "MIGNET_REPORTS_DIR": str(root / "reports"),
           "MIGNET_DATA_DIR": str(root / "data")}
    small_warehouse(env["MIGNET_WAREHOUSE"])
    return Settings.from_env(environ=env), env


def test_run_counts_writes_count_estimates_and_change_tests_bound_to_their_inputs(certified):
    settings, env = certified
    messages = []
    run = run_counts(settings, progress=messages.append)
    warehouse = Warehouse(settings)
    estimates = warehouse.read_results("count_estimates")
    tests = warehouse.read_results("period_change_tests")
    assert list(estimates.frame.columns) == COUNT_ESTIMATE_COLUMNS and list(tests.frame.columns) == CHANGE_TEST_COLUMNS
    assert set(estimates.inputs) == {"dim_network", "mart_network_dyads", "dim_municipality_year"}
    # 6 networks x (3 + 4 + 4 terms); 2 groups x 4 models x 2 effects x (2 consecutive + 1 joint)
    assert len(estimates.frame) == 6 * 11 and len(tests.frame) == 2 * 4 * 2 * 3
    assert estimates.frame["vcov"].eq("CR3 by unordered pair").all()
    # one network's count model, refitted by hand from its dyads
    con = duckdb.connect(env["MIGNET_WAREHOUSE"], read_only=True)
    one = con.execute("select * from marts.mart_network_dyads where period_label = 'covid' and group_type = 'all'").df()
    pop = con.execute("select nis_code, population from marts.dim_municipality_year where year = 2020").df()
    con.close()
    from mignet.network.counts import count_design, fit_count_model

    direct = fit_count_model(count_design(one, pop.set_index("nis_code")["population"]), "ppml_origin_fe")
    stored = estimates.frame.query("period_label == 'covid' and group_type == 'all' and model == 'ppml_origin_fe'")
    np.testing.assert_allclose(stored.set_index("term").loc[list(direct.params.index), "estimate"], direct.params, rtol=1e-10)
    np.testing.assert_allclose(stored.set_index("term").loc[list(direct.params.index), "std_error"], direct.bse, rtol=1e-8)
    # the planted fall of the density effect during covid, found by the count models' pooled tests
    up = tests.frame.query("group_type == 'all' and effect == 'density' and contrast == 'covid - pre_covid'")
    up = up.set_index("model")
    assert (up.loc[["ppml_origin_fe", "ppml_node_covariates", "negbin_node_covariates"], "p_value"] < 0.01).all()
    assert (up.loc[["ppml_origin_fe", "ppml_node_covariates"], "difference"] < -0.3).all()
    assert np.isfinite(up.loc["ergm", "p_value"])
    assert any("pooled tests of 2 groups" in m for m in messages)
    assert run.seconds["ergm"] > 0 and run.seconds["ppml_origin_fe"] > 0
    # the CLI does the same
    result = CliRunner().invoke(main, ["fit", "--counts-only"], env=env)
    assert result.exit_code == 0, result.output
    assert "wrote results.count_estimates (66 rows) and results.period_change_tests (48 rows)" in result.output


def test_run_counts_refuses_an_uncertified_population_mart(certified, tmp_path):
    _, env = certified
    env = dict(env, MIGNET_WAREHOUSE=str(tmp_path / "refused.duckdb"))
    small_warehouse(env["MIGNET_WAREHOUSE"])
    from mignet.db import content_hash

    con = duckdb.connect(env["MIGNET_WAREHOUSE"])
    n, digest = content_hash(con, "marts", "dim_municipality_year")
    write_certification(con, build_id="fake-build", mart="dim_municipality_year", row_count=n, hash_=digest,
                        checks=[CheckResult("pandera", "population_positive", "error", "fail", failing_count=2)])
    con.close()
    with pytest.raises(NotCertifiedError, match="dim_municipality_year is not certified.*population_positive"):
        run_counts(Settings.from_env(environ=env))
    result = CliRunner().invoke(main, ["fit", "--counts-only"], env=env)
    assert result.exit_code != 0 and "pandera:population_positive" in result.output
    with duckdb.connect(env["MIGNET_WAREHOUSE"], read_only=True) as con:
        assert not con.execute("select count(*) from information_schema.tables where table_schema = 'results'").fetchone()[0]
