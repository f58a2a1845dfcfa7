"""What the analysis report reads: model results, the marts it maps, and the facts of the run that the
methods section states. Everything comes from the warehouse (certified marts and verified results, read on
one read-only connection) and from the run state; nothing about the run is written into the report by hand,
and nothing is read from dbt_project.yml: the settings are those the build recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from mignet.db import table_exists
from mignet.report.scenarios import choose_pairs
from mignet.settings import Settings
from mignet.warehouse import RESULTS_SCHEMA, Warehouse, WarehouseError
from mignet.warehouse.build_settings import BuildSettings

RUN_STATE_FILE = "run_state.json"
# results of `mignet fit --counts` (the counts stage of `mignet run`), shown when present
COUNT_RESULTS = ("count_estimates", "period_change_tests")
REPORT_MARTS = ("dim_network", "dim_municipality", "dim_municipality_year", "fct_moves", "fct_incomes",
                "mart_destination_shares", "mart_network_dyads")


class ReportInputError(RuntimeError):
    """The warehouse lacks something the report needs; the message says what and which command makes it."""


@dataclass
class ReportInputs:
    estimates: pd.DataFrame
    gof: pd.DataFrame | None
    shares: pd.DataFrame
    municipalities: pd.DataFrame
    networks: pd.DataFrame  # dim_network: network_id, period_label, period_start, period_end, group_type, ...
    build: BuildSettings
    periods: pd.DataFrame  # period_label, start_date, end_date in the build's order
    facts: dict = field(default_factory=dict)  # data period, vintage, imputation, ...
    certifications: pd.DataFrame | None = None
    run_state: dict = field(default_factory=dict)
    scenario_pairs: list = field(default_factory=list)  # [(origin_nis, destination_nis)]
    scenario_why: str = ""
    scenario_dyads: pd.DataFrame | None = None  # dyad rows of the pairs, both directions, group `all`
    counts: pd.DataFrame | None = None  # results.count_estimates (count models per network), when fitted
    change_tests: pd.DataFrame | None = None  # results.period_change_tests (pooled Wald tests), when fitted

    @property
    def dbt_vars(self) -> dict:
        return dict(self.build.vars)


def read_run_state(settings: Settings) -> dict:
    path = settings.data_dir / RUN_STATE_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReportInputError(f"{path}: not valid JSON ({exc}); delete it or rerun `mignet run --force`") from exc


def load_report_inputs(settings: Settings) -> ReportInputs:
    warehouse = Warehouse(settings)
    if not warehouse.exists():
        raise ReportInputError(f"no warehouse at {settings.warehouse}: run `mignet run` (or build, validate, fit) first")
    with warehouse.connect() as con:
        has_gof = table_exists(con, RESULTS_SCHEMA, "model_gof")
        # the count results come as a pair (one stage writes both); one without the other is refused below
        has_counts = any(table_exists(con, RESULTS_SCHEMA, t) for t in COUNT_RESULTS)
    results = ("model_estimates", *(("model_gof",) if has_gof else ()), *(COUNT_RESULTS if has_counts else ()))
    try:
        with warehouse.reading(marts=REPORT_MARTS, results=results) as (con, _):
            inputs = _load(con, settings, warehouse.build_settings(con))
            if has_counts:
                inputs.counts = con.execute(f"select * from {RESULTS_SCHEMA}.count_estimates").df()
                inputs.change_tests = con.execute(f"select * from {RESULTS_SCHEMA}.period_change_tests").df()
            return inputs
    except WarehouseError as exc:
        raise ReportInputError(f"the report reads only certified marts and current results: {exc}") from exc


def _load(con, settings: Settings, build: BuildSettings) -> ReportInputs:
    estimates = con.execute("select * from results.model_estimates").df()
    if estimates.empty:
        raise ReportInputError(f"results.model_estimates in {settings.warehouse} is empty: run `mignet fit`")
    gof = con.execute("select * from results.model_gof").df() if table_exists(con, "results", "model_gof") else None
    shares = con.execute(
        "select period_label, group_type, group_value, destination_nis, movers_in, movers_in_all_groups, share "
        "from marts.mart_destination_shares"
    ).df()
    municipalities = con.execute("select * from marts.dim_municipality order by nis_code").df()
    # Population and density of the first year each municipality has, for choosing scenario pairs.
    first_year = con.execute(
        "select nis_code, population, density_per_km2 from marts.dim_municipality_year "
        "qualify row_number() over (partition by nis_code order by year) = 1"
    ).df()
    municipalities = municipalities.merge(first_year, on="nis_code", how="left")
    networks = con.execute("select * from marts.dim_network order by network_id").df()
    periods = pd.DataFrame([{"period_label": p.label, "start_date": p.start, "end_date": p.end} for p in build.periods])

    facts: dict = {}
    row = con.execute(
        "select min(move_date), max(move_date), count(*), count(*) filter (where is_inter_municipal), "
        "count(*) filter (where became_intra_by_harmonisation), count(*) filter (where code_remapped) "
        "from marts.fct_moves"
    ).fetchall()[0]
    facts.update(first_move=row[0], last_move=row[1], n_moves=row[2], n_inter_municipal=row[3],
                 n_became_intra=row[4], n_code_remapped=row[5])
    offsets = con.execute(
        "select income_year - move_year as offset_years, count(*) as n from marts.fct_moves "
        "where income_year is not null group by 1 order by 2 desc"
    ).fetchall()
    facts["income_year_offsets"] = [(int(o), int(n)) for o, n in offsets]
    facts["distance_sources"] = con.execute(
        "select distance_source, count(*) from marts.fct_moves where is_inter_municipal "
        "group by 1 order by 1"
    ).fetchall()
    facts["imputation"] = con.execute(
        "select imputation_method, count(*) as n, count(*) filter (where income_imputed) as n_imputed "
        "from marts.fct_incomes group by 1 order by 2 desc"
    ).fetchall()
    facts["income_years"] = con.execute(
        "select min(income_year), max(income_year) from marts.fct_incomes"
    ).fetchall()[0]
    facts["vintages"] = [v for (v,) in con.execute("select distinct vintage from marts.dim_municipality order by 1").fetchall()]
    facts["n_municipalities"] = len(municipalities)
    facts["dyads"] = con.execute(
        "select period_label, group_type, group_value, count(*) as n_pairs, sum(tie) as n_ties, "
        "sum(n_moves) as n_moves from marts.mart_network_dyads group by 1, 2, 3"
    ).df()

    pairs, why = choose_pairs(municipalities)
    scenario_dyads = None
    if pairs:
        wanted = pd.DataFrame(
            [(o, d) for o, d in pairs] + [(d, o) for o, d in pairs], columns=["origin_nis", "destination_nis"]
        )
        con.register("scenario_wanted", wanted)
        # the columns the scenario probabilities use (tie_probabilities reads the model's covariates by name)
        scenario_dyads = con.execute(
            "select d.network_id, d.period_label, d.origin_nis, d.destination_nis, d.tie, d.reverse_tie, "
            "d.density_diff_per_1000, d.distance_km, d.distance_10km "
            "from marts.mart_network_dyads d join scenario_wanted w using (origin_nis, destination_nis) "
            "where d.group_type = 'all'"
        ).df()
        con.unregister("scenario_wanted")

    certifications = None
    if table_exists(con, "quality", "certifications"):
        certifications = con.execute(
            "select certification_id, build_id, mart, row_count, status, failed_checks, checked_at "
            "from quality.certifications qualify row_number() over (partition by mart order by checked_at desc) = 1 "
            "order by mart"
        ).df()
    return ReportInputs(
        estimates=estimates, gof=gof, shares=shares, municipalities=municipalities, networks=networks, build=build,
        periods=periods, facts=facts, certifications=certifications, run_state=read_run_state(settings),
        scenario_pairs=pairs, scenario_why=why, scenario_dyads=scenario_dyads,
    )
