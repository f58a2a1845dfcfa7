"""fit_all / scenario / run_gof and their CLI commands on a small certified warehouse built here."""

from __future__ import annotations

import warnings

import duckdb
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mignet.cli import main
from mignet.network import ErgmExistenceWarning, fit_ergm
from mignet.db import content_hash
from mignet.network.fit import STUDY_TERMS, fit_all
from mignet.network.gof import run_gof
from mignet.network.scenario import ScenarioError, scenario, tie_probabilities
from mignet.network.simulate import draw_network, dyads_from_nodes, municipalities
from mignet.quality.store import CheckResult, ensure_schema, write_certification
from mignet.settings import Settings
from mignet.warehouse import NotCertifiedError

N_NODES = 30
NO_MUTUAL = ("covid", "age_band", "56-75")
# the networks of this test warehouse (its own dim_network): three periods x eight groups
PERIODS = {"pre_covid": ("2018-01-01", "2019-12-31"), "covid": ("2020-01-01", "2021-12-31"),
           "post_covid": ("2022-01-01", "2023-12-31")}
NETWORK_GROUPS = (
    ("all", "all"),
    ("age_band", "18-30"), ("age_band", "31-55"), ("age_band", "56-75"),
    ("income_group", "low"), ("income_group", "lower_middle"), ("income_group", "upper_middle"), ("income_group", "high"),
)


def network_catalogue() -> pd.DataFrame:
    rows = []
    for p, (period, (start, end)) in enumerate(PERIODS.items()):
        for g, (group_type, group_value) in enumerate(NETWORK_GROUPS):
            order = 0 if group_type == "all" else [v for t, v in NETWORK_GROUPS if t == group_type].index(group_value) + 1
            rows.append({"network_id": p * len(NETWORK_GROUPS) + g + 1, "period_label": period,
                         "period_start": pd.Timestamp(start), "period_end": pd.Timestamp(end),
                         "density_year": int(start[:4]), "group_type": group_type, "group_value": group_value,
                         "group_order": order})
    return pd.DataFrame(rows)


def build_networks(seed=3):
    nodes = municipalities(N_NODES, seed=seed)
    base = dyads_from_nodes(nodes)
    frames = []
    rng = np.random.default_rng(seed)
    for p, period in enumerate(PERIODS):
        for g, (group_type, group_value) in enumerate(NETWORK_GROUPS):
            params = {"edges": 0.5 + 0.2 * p - 0.3 * (g > 0), "mutual": 1.2 + rng.normal(0, 0.2),
                      "edgecov:density_diff_per_1000": -0.2, "edgecov:distance_10km": -0.4}
            net = draw_network(base, params, seed=100 * p + g)
            if (period, group_type, group_value) == NO_MUTUAL:
                # drop the reverse tie of every mutual pair: the MLE of mutual cannot exist
                tie = dict(zip(zip(net.origin, net.destination), net.tie))
                net["tie"] = [int(t and not (tie[(d, o)] and o > d)) for o, d, t in zip(net.origin, net.destination, net.tie)]
            frames.append(net.assign(period_label=period, group_type=group_type, group_value=group_value))
    dyads = pd.concat(frames, ignore_index=True).rename(columns={"origin": "origin_nis", "destination": "destination_nis"})
    reverse = dyads.set_index(["period_label", "group_type", "group_value", "origin_nis", "destination_nis"])["tie"]
    dyads["reverse_tie"] = reverse.reindex(pd.MultiIndex.from_arrays(
        [dyads.period_label, dyads.group_type, dyads.group_value, dyads.destination_nis, dyads.origin_nis])).to_numpy()
    dyads["n_moves"] = dyads["tie"] * 3
    catalogue = network_catalogue()
    dyads = dyads.merge(catalogue[["network_id", "period_label", "group_type", "group_value"]],
                        on=["period_label", "group_type", "group_value"])
    dyads["tie"] = dyads["tie"].astype(bool)  # as in the mart
    dyads["reverse_tie"] = dyads["reverse_tie"].astype(bool)
    names = pd.DataFrame({"nis_code": nodes.nis_code, "name_nl": [f"Gemeente{i}" for i in range(N_NODES)],
                          "name_fr": [f"Commune{i}" for i in range(N_NODES)]})
    return dyads, names


def certify(con, mart, checks=()):
    n, h = content_hash(con, "marts", mart)
    return write_certification(con, build_id="testbuild", mart=mart, row_count=n, hash_=h, checks=list(checks))


def dyads_only_warehouse(path, dyads, checks=()):
    """A warehouse holding only the network marts, the dyads certified with these check results."""
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.register("d", dyads)
    con.register("c", network_catalogue())
    con.execute("create table marts.mart_network_dyads as select * from d")
    con.execute("create table marts.dim_network as select * from c")
    ensure_schema(con)
    certify(con, "mart_network_dyads", checks)
    certify(con, "dim_network")
    con.close()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("wh")
    env = {"MIGNET_WAREHOUSE": str(root / "warehouse.duckdb"), "MIGNET_REPORTS_DIR": str(root / "reports"),
           "MIGNET_DATA_DIR": str(root / "data")}
    settings = Settings.from_env(environ=env)
    dyads, names = build_networks()
    con = duckdb.connect(env["MIGNET_WAREHOUSE"])
    con.execute("create schema marts")
    con.register("d", dyads)
    con.register("m", names)
    con.register("c", network_catalogue())
    con.execute("create table marts.mart_network_dyads as select * from d")
    con.execute("create table marts.dim_municipality as select * from m")
    con.execute("create table marts.dim_network as select * from c")
    ensure_schema(con)
    for mart in ("mart_network_dyads", "dim_municipality", "dim_network"):
        certify(con, mart)
    con.close()
    return settings, env, dyads


def test_fit_all_writes_24_models_and_tables(warehouse):
    settings, _, dyads = warehouse
    messages = []
    estimates = fit_all(settings, progress=messages.append)
    assert len(estimates) == 24 * len(STUDY_TERMS)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    stored = con.execute("select * from results.model_estimates").df()
    con.close()
    assert len(stored) == 96
    assert stored.groupby(["period_label", "group_type", "group_value"]).ngroups == 24
    assert stored["certification_id"].str.startswith("mart_network_dyads-").all()
    # one network reproduced directly
    one = dyads[(dyads.period_label == "pre_covid") & (dyads.group_type == "income_group") & (dyads.group_value == "low")]
    direct = fit_ergm(one, STUDY_TERMS)
    row = stored[(stored.period_label == "pre_covid") & (stored.group_value == "low")].set_index("term")
    np.testing.assert_allclose(row.loc[STUDY_TERMS, "estimate"], direct.params, rtol=1e-10)
    np.testing.assert_allclose(row.loc[STUDY_TERMS, "std_error"], direct.bse, rtol=1e-10)
    np.testing.assert_allclose(row["loglik"], direct.llf, rtol=1e-10)
    # the network without mutual pairs: reported, not a huge number
    bad = stored[(stored.period_label == NO_MUTUAL[0]) & (stored.group_value == NO_MUTUAL[2])].set_index("term")
    assert not bad["mle_exists"].any()
    assert bad.loc["mutual", "estimate"] == -np.inf and np.isnan(bad.loc["mutual", "std_error"])
    assert np.isfinite(bad.loc["edgecov:distance_10km", "estimate"])
    assert any("does not exist" in m for m in messages)
    # stars follow the p-values
    ok = stored[stored.p_value.notna()]
    assert ((ok.p_value < 0.001) == (ok.stars == "***")).all()
    folder = settings.reports_dir / "models" / "tables"
    for stem in ("all", "age_band_18-30", "income_group_high"):
        for ext in ("md", "csv", "html"):
            assert (folder / f"{stem}.{ext}").is_file()
    md = (folder / "all.md").read_text()
    assert "Mutual (reciprocity)" in md and "pre_covid (2018-2019) log odds" in md
    table = pd.read_csv(folder / "age_band_56-75.csv")
    assert "-inf" in table.loc[table.term.str.startswith("Mutual"), "covid log odds"].iloc[0]
    assert "Mutual" in (folder / "appendix.html").read_text()


def test_scenario_by_name_and_code(warehouse):
    settings, env, dyads = warehouse
    fit_all(settings)
    s = scenario(settings, "Gemeente1", "commune2", "covid", "all")
    assert (s.origin_nis, s.destination_nis) == ("10001", "10002")
    net = dyads[(dyads.period_label == "covid") & (dyads.group_type == "all")]
    res = fit_ergm(net, STUDY_TERMS)
    fwd = net[(net.origin_nis == "10001") & (net.destination_nis == "10002")].iloc[0]
    rev = net[(net.origin_nis == "10002") & (net.destination_nis == "10001")].iloc[0]
    a = res.params["edges"] + res.params.iloc[2] * fwd.density_diff_per_1000 + res.params.iloc[3] * fwd.distance_10km
    b = res.params["edges"] + res.params.iloc[2] * rev.density_diff_per_1000 + res.params.iloc[3] * rev.distance_10km
    m = res.params["mutual"]
    assert s.p_given_no_reverse == pytest.approx(1 / (1 + np.exp(-a)))
    assert s.p_marginal == pytest.approx((np.exp(a) + np.exp(a + b + m)) / (1 + np.exp(a) + np.exp(b) + np.exp(a + b + m)))
    # the marginal probability is what the model's state probabilities give for this pair
    model = res.model
    i, j = model.nodes.get_loc("10001"), model.nodes.get_loc("10002")
    pair = np.flatnonzero((model.pair_i == i) & (model.pair_j == j))[0]
    probs = res.state_probabilities()[pair]
    assert s.p_marginal == pytest.approx(probs[1] + probs[3])
    assert scenario(settings, "10001", "10002", "covid", "all").p_marginal == pytest.approx(s.p_marginal)
    with pytest.raises(ScenarioError, match="no municipality"):
        scenario(settings, "Nowhere", "10002", "covid", "all")
    with pytest.raises(ScenarioError, match="unknown group"):
        scenario(settings, "10001", "10002", "covid", "elderly")
    # no mutual pairs: mutual = -inf gives probability 0 of the mutual state, not NaN
    s2 = scenario(settings, "10001", "10002", NO_MUTUAL[0], NO_MUTUAL[2])
    assert s2.p_given_reverse == 0.0 and 0 < s2.p_marginal < 1
    result = CliRunner().invoke(main, ["scenario", "Gemeente1", "Gemeente2", "--period", "covid", "--group", "all"], env=env)
    assert result.exit_code == 0, result.output
    assert "P(tie | no reverse tie)" in result.output and f"{s.p_given_no_reverse:.4f}" in result.output


def test_tie_probabilities_limits():
    params = {"edges": -1.0, "mutual": 2.0, "edgecov:x": 0.5}
    out = tie_probabilities(params, {"x": 1.0}, {"x": -1.0})
    a, b, m = -0.5, -1.5, 2.0  # eta of i->j and of j->i, and mutual
    assert out["p_given_no_reverse"] == pytest.approx(1 / (1 + np.exp(-a)))
    assert out["p_given_reverse"] == pytest.approx(1 / (1 + np.exp(-(a + m))))
    assert out["p_marginal"] == pytest.approx((np.exp(a) + np.exp(a + b + m)) / (1 + np.exp(a) + np.exp(b) + np.exp(a + b + m)))
    with pytest.raises(ScenarioError, match="non-identified"):
        tie_probabilities({"edges": np.nan}, {}, {})


def test_gof_by_exact_simulation(warehouse):
    settings, _, _ = warehouse
    fit_all(settings)
    gof = run_gof(settings, n_sim=40, seed=2)
    scalar = gof[gof.value.isna()]
    rec = scalar[scalar.statistic == "reciprocity"]
    assert len(rec) == 24
    # data were drawn from this model family: observed reciprocity inside the simulated 95 % band mostly
    inside = ((rec.observed >= rec.sim_low) & (rec.observed <= rec.sim_high)).sum()
    assert inside >= 20
    none = rec[(rec.period_label == NO_MUTUAL[0]) & (rec.group_value == NO_MUTUAL[2])].iloc[0]
    assert none.observed == 0 and none.sim_high == 0
    # observed statistics recomputed from the dyad rows
    settings_dyads = warehouse[2]
    net = settings_dyads[(settings_dyads.period_label == "post_covid") & (settings_dyads.group_type == "all")]
    one_way = net[net.tie & ~net.reverse_tie]
    row = scalar[(scalar.period_label == "post_covid") & (scalar.group_type == "all")].set_index("statistic")
    assert row.loc["share_one_way_toward_denser", "observed"] == pytest.approx((one_way.density_diff_per_1000 < 0).mean())
    assert row.loc["reciprocity", "observed"] == pytest.approx((net.tie & net.reverse_tie).sum() / net.tie.sum())
    assert row.loc["mean_tie_distance_km", "observed"] == pytest.approx(net.loc[net.tie, "distance_km"].mean())
    indeg = gof[(gof.statistic == "in_degree") & (gof.group_type == "all") & (gof.period_label == "pre_covid")]
    assert indeg.observed.sum() == N_NODES
    assert indeg.sim_mean.sum() == pytest.approx(N_NODES, rel=0.01)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    assert con.execute("select count(*) from results.model_gof").fetchone()[0] == len(gof)
    con.close()
    figures = settings.reports_dir / "models" / "figures"
    assert (figures / "gof_reciprocity.png").is_file()
    assert (figures / "gof_pre_covid_all_all.png").is_file()


def test_fit_refuses_uncertified_input(warehouse, tmp_path):
    _, env, dyads = warehouse
    env = dict(env, MIGNET_WAREHOUSE=str(tmp_path / "refused.duckdb"))
    dyads_only_warehouse(env["MIGNET_WAREHOUSE"], dyads,
                         [CheckResult("pandera", "tie_is_binary", "error", "fail", failing_count=3)])
    with pytest.raises(NotCertifiedError, match="tie_is_binary"):
        fit_all(Settings.from_env(environ=env))
    result = CliRunner().invoke(main, ["fit"], env=env)
    assert result.exit_code != 0
    assert "not certified" in result.output and "pandera:tie_is_binary" in result.output
    con = duckdb.connect(env["MIGNET_WAREHOUSE"], read_only=True)
    assert not con.execute("select count(*) from information_schema.tables where table_schema = 'results'").fetchone()[0]
    con.close()


def test_fit_cli_on_certified_warehouse(warehouse):
    _, env, _ = warehouse
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ErgmExistenceWarning)
        result = CliRunner().invoke(main, ["fit", "--method", "mple"], env=env)
    assert result.exit_code == 0, result.output
    assert "wrote results.model_estimates (96 rows)" in result.output


def test_certified_networks_are_reused_only_while_the_certified_table_is_unchanged(warehouse, tmp_path):
    """fit and gof of one run read the dyads once; a change to the table after the read is never served
    from memory: the content hash is recomputed on every call."""
    from mignet.network.fit import certified_networks

    _, env, dyads = warehouse
    env = dict(env, MIGNET_WAREHOUSE=str(tmp_path / "reuse.duckdb"))
    dyads_only_warehouse(env["MIGNET_WAREHOUSE"], dyads)
    settings = Settings.from_env(environ=env)
    first = certified_networks(settings)
    again = certified_networks(settings)
    assert again.dyads is first.dyads and again.frames is first.frames  # the same read, not a second one
    assert len(first.frames) == 24
    con = duckdb.connect(env["MIGNET_WAREHOUSE"])
    con.execute("update marts.mart_network_dyads set n_moves = n_moves + 1 where origin_nis = "
                "(select min(origin_nis) from marts.mart_network_dyads)")
    con.close()
    with pytest.raises(NotCertifiedError, match="content changed after certification"):
        certified_networks(settings)
