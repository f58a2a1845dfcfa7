"""A small warehouse holding what the analysis report reads, written directly with DuckDB in the column
layout of docs/design.md, so the report can be tested without running the pipeline. The known values
planted here are what the report tests look for in the page."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from fake_build import certify, record_build, record_results
from mignet.settings import Settings

PERIODS = [("pre_covid", "2018-01-01", "2019-12-31"), ("covid", "2020-01-01", "2021-12-31"),
           ("post_covid", "2022-01-01", "2023-12-31")]
GROUPS = [("all", "all"), ("age_band", "18-30"), ("age_band", "31-55"), ("age_band", "56-75"),
          ("income_group", "low"), ("income_group", "lower_middle"), ("income_group", "upper_middle"),
          ("income_group", "high")]
TERMS = ["edges", "mutual", "edgecov:density_diff_per_1000", "edgecov:distance_10km"]
# A planted finding: 31-55 turn toward sparser destinations during covid (density effect rises by 0.5).
PLANTED_DENSITY = {("pre_covid", "31-55"): 0.05, ("covid", "31-55"): 0.55, ("post_covid", "31-55"): 0.10}
NO_MLE = ("post_covid", "income_group", "high")  # the mutual term's MLE does not exist here
# The distance effect of all movers weakens a little from pre covid to covid: too little for the naive
# comparison, but the pooled test (its pair-clustered covariance makes the two periods' estimates strongly
# correlated, so the difference is precise) finds it.
PLANTED_DISTANCE = {("pre_covid", "all"): -0.60, ("covid", "all"): -0.55}
POOLED_SE_FACTOR = {"density": 1.0, "distance": 0.3}
# A planted disagreement: the count model finds 31-55 moving toward denser places during covid, while the
# binary model's density effect for them is strongly positive (PLANTED_DENSITY).
COUNT_DENSITY = {("covid", "31-55"): -0.40}
COUNT_MODELS = ("ppml_origin_fe", "ppml_node_covariates", "negbin_node_covariates")


def real_municipalities(reference_dir: Path) -> pd.DataFrame:
    ref = pd.read_csv(reference_dir / "municipalities_2019.csv", dtype={"nis_code": str, "arrondissement_nis": str,
                                                                       "province_nis": str, "region_nis": str})
    return pd.DataFrame({
        "nis_code": ref["nis_code"], "name_nl": ref["name_nl"], "name_fr": ref["name_fr"],
        "arrondissement_nis": ref["arrondissement_nis"], "province_nis": ref["province_nis"],
        "region_nis": ref["region_nis"], "region_name": ref["region_nl"], "area_km2": ref["area_km2"],
        "centroid_x": ref["centroid_x_l72"], "centroid_y": ref["centroid_y_l72"], "n_predecessor_codes": 1,
        "vintage": 2019, "population": ref["pop_2019_01_01"], "density_per_km2": ref["density_2019_per_km2"],
    })


def synthetic_municipalities(n: int, rng: np.random.Generator) -> pd.DataFrame:
    area = rng.uniform(5, 200, n)
    population = np.round(rng.lognormal(9.5, 1.0, n)).astype(int)
    return pd.DataFrame({
        "nis_code": [f"{90001 + i}" for i in range(n)], "name_nl": [f"Synthdorp {i}" for i in range(n)],
        "name_fr": [f"Synthville {i}" for i in range(n)], "arrondissement_nis": "90000", "province_nis": "90000",
        "region_nis": "02000", "region_name": "Synthetic", "area_km2": area,
        "centroid_x": rng.uniform(20_000, 290_000, n), "centroid_y": rng.uniform(20_000, 240_000, n),
        "n_predecessor_codes": 1, "vintage": 2019, "population": population, "density_per_km2": population / area,
    })


def _p(z: float) -> float:
    from scipy.stats import norm

    return float(2 * norm.sf(abs(z)))


def _write_count_results(con, estimates: pd.DataFrame) -> None:
    """results.count_estimates and results.period_change_tests in the layout `mignet fit --counts` writes:
    the count models follow the binary estimates (same sign and size) except COUNT_DENSITY; the pooled tests
    are the differences of the estimates with POOLED_SE_FACTOR times the naive standard error."""
    from mignet.network.pooled import CHANGE_TEST_COLUMNS, COUNT_ESTIMATE_COLUMNS

    terms = {"edgecov:density_diff_per_1000": "density_diff_per_1000", "edgecov:distance_10km": "log_distance_km"}
    binary = estimates[estimates["term"].isin(list(terms))]
    rows = []
    for model in COUNT_MODELS:
        for r in binary.itertuples():
            est = COUNT_DENSITY.get((r.period_label, r.group_value), r.estimate) \
                if r.term == "edgecov:density_diff_per_1000" and model == "ppml_origin_fe" else r.estimate
            se = 0.05
            z = est / se
            rows.append({"network_id": r.network_id, "period_label": r.period_label, "group_type": r.group_type,
                         "group_value": r.group_value, "model": model, "family": "negbin" if "negbin" in model else "poisson",
                         "fixed_effects": "origin" if "origin" in model else "none", "term": terms[r.term],
                         "estimate": est, "std_error": se, "z": z, "p_value": _p(z),
                         "stars": "***" if abs(z) > 3.29 else "**" if abs(z) > 2.58 else "*" if abs(z) > 1.96 else "",
                         "ci_low": est - 1.96 * se, "ci_high": est + 1.96 * se, "std_error_model": 0.02,
                         "std_error_cr1": 0.045, "vcov": "CR3 by unordered pair",
                         "rate_ratio": float(np.exp(est)), "dispersion": 0.4 if "negbin" in model else None,
                         "n_obs": 1560, "n_dropped": 0, "n_moves": 9000.0, "n_clusters": 780,
                         "n_fixed_effects": 40 if "origin" in model else 0, "loglik": -4321.0, "converged": True,
                         "iterations": 6, "engine": "profiled", "certification_id": "cert-dyads-1",
                         "fitted_at": pd.Timestamp("2024-05-01 12:00:00")})
    counts = pd.DataFrame(rows)[COUNT_ESTIMATE_COLUMNS]
    tests = []
    periods = [p for p, _, _ in PERIODS]
    for model, frame, effects in (("ergm", estimates, {"density": "edgecov:density_diff_per_1000", "distance": "edgecov:distance_10km"}),
                                  ("ppml_origin_fe", counts[counts["model"] == "ppml_origin_fe"],
                                   {"density": "density_diff_per_1000", "distance": "log_distance_km"})):
        for gt, gv in GROUPS:
            for effect, term in effects.items():
                sub = frame[(frame["group_type"] == gt) & (frame["group_value"] == gv) & (frame["term"] == term)]
                by = sub.set_index("period_label")
                for a, b in zip(periods, periods[1:]):
                    diff = float(by.loc[b, "estimate"] - by.loc[a, "estimate"])
                    naive = float(np.hypot(by.loc[a, "std_error"], by.loc[b, "std_error"]))
                    se = POOLED_SE_FACTOR[effect] * naive
                    tests.append({"model": model, "group_type": gt, "group_value": gv, "effect": effect, "term": term,
                                  "contrast": f"{b} - {a}", "period_from": a, "period_to": b,
                                  "estimate_from": by.loc[a, "estimate"], "estimate_to": by.loc[b, "estimate"],
                                  "std_error_from": by.loc[a, "std_error"], "std_error_to": by.loc[b, "std_error"],
                                  "difference": diff, "std_error": se, "z": diff / se, "chi2": (diff / se) ** 2, "df": 1,
                                  "p_value": _p(diff / se), "stars": "", "correlation": 0.5,
                                  "std_error_independent": naive, "z_independent": diff / naive,
                                  "chi2_independent": (diff / naive) ** 2, "p_value_independent": _p(diff / naive)})
                tests.append({"model": model, "group_type": gt, "group_value": gv, "effect": effect, "term": term,
                              "contrast": "all periods equal", "period_from": periods[0], "period_to": periods[-1],
                              "chi2": 4.0, "df": 2, "p_value": 0.1353, "chi2_independent": 2.0,
                              "p_value_independent": 0.3679})
    tests = pd.DataFrame(tests).reindex(columns=CHANGE_TEST_COLUMNS)
    tests["n_clusters"], tests["vcov"], tests["certification_id"] = 780, "pair-clustered sandwich", "cert-dyads-1"
    tests["tested_at"] = pd.Timestamp("2024-05-01 12:00:00")
    con.register("counts_frame", counts)
    con.execute("create table results.count_estimates as select * from counts_frame")
    con.register("tests_frame", tests)
    con.execute("create table results.period_change_tests as select * from tests_frame")


def write_fixture_warehouse(path: Path, municipalities: pd.DataFrame, seed: int = 7, counts: bool = True) -> None:
    rng = np.random.default_rng(seed)
    con = duckdb.connect(str(path))
    for schema in ("marts", "results", "quality"):
        con.execute(f"create schema if not exists {schema}")
    dim = municipalities.drop(columns=["population", "density_per_km2"])
    con.register("dim", dim)
    con.execute("create table marts.dim_municipality as select * from dim")
    years = pd.DataFrame([(c, y, p, a, p / a) for c, p, a in zip(municipalities["nis_code"], municipalities["population"],
                                                                  municipalities["area_km2"]) for y in range(2018, 2024)],
                         columns=["nis_code", "year", "population", "area_km2", "density_per_km2"])
    con.register("years", years)
    con.execute("create table marts.dim_municipality_year as select * from years")
    catalogue = []
    for p, (period, start, end) in enumerate(PERIODS):
        for g, (gt, gv) in enumerate(GROUPS):
            order = 0 if gt == "all" else [v for t, v in GROUPS if t == gt].index(gv) + 1
            catalogue.append({"network_id": p * len(GROUPS) + g + 1, "period_label": period,
                              "period_start": pd.Timestamp(start), "period_end": pd.Timestamp(end),
                              "density_year": int(start[:4]), "group_type": gt, "group_value": gv, "group_order": order})
    catalogue = pd.DataFrame(catalogue)
    con.register("catalogue", catalogue)
    con.execute("create table marts.dim_network as select * from catalogue")
    network_id = {(r.period_label, r.group_type, r.group_value): r.network_id for r in catalogue.itertuples()}

    rows = []
    for period, _, _ in PERIODS:
        for gt, gv in GROUPS:
            density = PLANTED_DENSITY.get((period, gv), 0.12 + rng.normal(0, 0.02))
            distance = PLANTED_DISTANCE.get((period, gv), -0.6 + rng.normal(0, 0.02))
            values = {"edges": -4.0 + rng.normal(0, 0.1), "mutual": 2.5 + rng.normal(0, 0.1),
                      "edgecov:density_diff_per_1000": density, "edgecov:distance_10km": distance}
            for term in TERMS:
                est, se, exists = values[term], 0.04 if term != "mutual" else 0.15, True
                if (period, gt, gv) == NO_MLE and term == "mutual":
                    est, se, exists = float("nan"), float("nan"), False
                z = est / se
                rows.append({
                    "network_id": network_id[(period, gt, gv)],
                    "period_label": period, "group_type": gt, "group_value": gv, "term": term, "estimate": est,
                    "std_error": se, "z": z, "p_value": 0.001 if abs(z) > 3.3 else 0.2,
                    "stars": "***" if abs(z) > 3.3 else "", "odds_ratio": float(np.exp(est)),
                    "ci_low": est - 1.96 * se, "ci_high": est + 1.96 * se, "method": "mle",
                    "n_nodes": len(municipalities), "n_ties": 5000, "n_mutual_pairs": 0 if not exists else 800,
                    "loglik": -12345.6, "converged": True, "mle_exists": exists, "certification_id": "cert-dyads-1",
                    "fitted_at": pd.Timestamp("2024-05-01 12:00:00"),
                })
    con.register("est", pd.DataFrame(rows))
    con.execute("create table results.model_estimates as select * from est")
    if counts:
        _write_count_results(con, pd.DataFrame(rows))

    gof = []
    for period, _, _ in PERIODS:
        for gt, gv in GROUPS:
            for statistic, observed in (("reciprocity", 0.3), ("share_ties_toward_denser", 0.45)):
                gof.append({"period_label": period, "group_type": gt, "group_value": gv, "statistic": statistic,
                            "value": None, "observed": observed, "sim_mean": observed + 0.01,
                            "sim_low": observed - 0.03, "sim_high": observed + 0.04})
            for k in range(0, 30):
                p = np.exp(-k / 6) / 6
                gof.append({"period_label": period, "group_type": gt, "group_value": gv, "statistic": "in_degree",
                            "value": float(k), "observed": p * 1.05, "sim_mean": p, "sim_low": p * 0.8, "sim_high": p * 1.2})
    con.register("gof", pd.DataFrame(gof))
    con.execute("create table results.model_gof as select * from gof")

    codes = municipalities["nis_code"].tolist()
    shares = []
    for period, _, _ in PERIODS:
        base = rng.integers(20, 2000, len(codes))
        for gt, values in (("all", ["all"]), ("age_band", ["18-30", "31-55", "56-75", "other"]),
                           ("income_group", ["low", "lower_middle", "upper_middle", "high", "unknown"])):
            weights = rng.dirichlet(np.ones(len(values)), len(codes))
            for j, gv in enumerate(values):
                movers = np.round(base * weights[:, j]).astype(int) if gt != "all" else base
                shares.append(pd.DataFrame({"period_label": period, "group_type": gt, "group_value": gv,
                                            "destination_nis": codes, "movers_in": movers,
                                            "movers_in_all_groups": base, "share": movers / base}))
    con.register("shares", pd.concat(shares))
    con.execute("create table marts.mart_destination_shares as select * from shares")

    dens = dict(zip(codes, municipalities["density_per_km2"]))
    xy = municipalities.set_index("nis_code")[["centroid_x", "centroid_y"]]
    o, d = np.meshgrid(np.arange(len(codes)), np.arange(len(codes)), indexing="ij")
    mask = o != d
    o, d = o[mask], d[mask]
    code_arr = np.array(codes)
    dist = np.hypot(xy["centroid_x"].to_numpy()[o] - xy["centroid_x"].to_numpy()[d],
                    xy["centroid_y"].to_numpy()[o] - xy["centroid_y"].to_numpy()[d]) / 1000.0
    dens_arr = np.array([dens[c] for c in codes])
    dyads = []
    for period, _, _ in PERIODS:
        n_moves = rng.poisson(0.05, len(o))
        dyads.append(pd.DataFrame({"network_id": network_id[(period, "all", "all")],
                                   "period_label": period, "group_type": "all", "group_value": "all",
                                   "origin_nis": code_arr[o], "destination_nis": code_arr[d], "n_moves": n_moves,
                                   "tie": (n_moves > 0).astype(int), "reverse_tie": 0,
                                   "density_diff_per_1000": (dens_arr[o] - dens_arr[d]) / 1000.0,
                                   "distance_km": dist, "distance_10km": dist / 10.0}))
    con.register("dyads", pd.concat(dyads))
    con.execute("create table marts.mart_network_dyads as select * from dyads")

    con.execute("""
        create table marts.fct_moves as
        select i as move_id, 'p' || i as person_id, date '2018-01-03' + (i % 2100)::int as move_date,
               year(date '2018-01-03' + (i % 2100)::int) as move_year, 'pre_covid' as period_label,
               i % 10 <> 0 as is_inter_municipal, i % 97 = 0 as became_intra_by_harmonisation,
               i % 89 = 0 as code_remapped,
               year(date '2018-01-03' + (i % 2100)::int) + (case when i % 20 = 0 then 0 else 1 end) as income_year,
               case when i % 3 = 0 then 'address' else 'centroid' end as distance_source
        from range(5000) t(i)""")
    con.execute("""
        create table marts.fct_incomes as
        select 'p' || i as person_id, 2018 + i % 6 as income_year, i % 8 = 0 as income_imputed,
               'mean_age_band_year' as imputation_method
        from range(3000) t(i)""")
    record_build(con)
    certs = certify(con)
    inputs = {m: certs[m] for m in ("dim_network", "mart_network_dyads")}
    estimates_hash = record_results(con, "model_estimates", inputs)
    if counts:
        for table in ("count_estimates", "period_change_tests"):
            record_results(con, table, {**inputs, "dim_municipality_year": certs["dim_municipality_year"]})
    record_results(con, "model_gof", {**inputs, "results.model_estimates": estimates_hash})
    con.close()


def fixture_settings(tmp_path: Path, reference_dir: Path | None = None) -> Settings:
    env = {"MIGNET_DATA_DIR": str(tmp_path / "data"), "MIGNET_REPORTS_DIR": str(tmp_path / "reports"),
           "MIGNET_WAREHOUSE": str(tmp_path / "data" / "warehouse.duckdb")}
    if reference_dir is not None:
        env["MIGNET_REFERENCE_DIR"] = str(reference_dir)
    settings = Settings.from_env(environ=env)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def reference_dir_or_skip() -> Path:
    probe = Settings.from_env(environ={})
    if not (probe.reference_dir / "municipalities_2019.csv").is_file():
        pytest.skip(f"reference data not found in {probe.reference_dir}")
    return probe.reference_dir


def make_real(base: Path) -> Settings:
    """Settings of a fixture warehouse on the real 2019 municipalities (skipped without the reference folder)."""
    reference = reference_dir_or_skip()
    settings = fixture_settings(base, reference)
    write_fixture_warehouse(settings.warehouse, real_municipalities(reference))
    return settings


def make_synthetic(base: Path, counts: bool = True) -> Settings:
    settings = fixture_settings(base, base / "no_reference")
    write_fixture_warehouse(settings.warehouse, synthetic_municipalities(40, np.random.default_rng(3)), counts=counts)
    return settings


@pytest.fixture
def real_fixture(tmp_path):
    return make_real(tmp_path)


@pytest.fixture
def synthetic_fixture(tmp_path):
    return make_synthetic(tmp_path)
