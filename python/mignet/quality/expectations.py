"""Great Expectations suites: the distributions and the plausibility of the marts, and nothing else.

Great Expectations owns one kind of rule in mignet (docs/quality.md, "which engine owns which rule"):
whether the data look like a register of this country and period, across rows: every year of the data
period present, rows per year near the median year, the share of imputed incomes per year and age band,
each income group's share of persons near what its quantiles imply, the tie density and reciprocity of
each network, the population change from one year to the next. Keys, allowed values, row rules and sums
between marts are dbt tests; the types of the frames Python reads are pandera's; the bounds of single raw
values (an area, a coordinate) are the raw data contract's.

Every band is a study setting: seed `plausibility_bounds` (check_name, lower, upper, severity,
description) as the build wrote it, read through `BuildSettings.plausibility_bounds`; the ceiling of the
imputed share is var `imputed_share_max`, the expected income-group shares come from seed
`income_groups`, the years from vars `data_start_date` and `data_end_date`. A check named by no seed row
cannot run and blocks certification; a seed row naming no check is reported too.

GX's SQL datasource does not work on this DuckDB, and handing GX millions of rows as pandas would be slow
and memory-hungry. So each check first aggregates inside DuckDB into a small frame (one row per year, per
network, ...), and GX validates that frame through a pandas batch. The GX file context lives in
`<data_dir>/gx`; Data Docs are built into `<reports_dir>/quality/gx/`.
"""

from __future__ import annotations

import numbers
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

import duckdb
import pandas as pd

from mignet import db
from mignet.quality.store import CheckResult
from mignet.warehouse import MART_SCHEMA
from mignet.warehouse.build_settings import BuildSettings, PlausibilityBound

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

DOCS_SITE = "mignet_quality"
DATASOURCE = "mignet_aggregates"
BOUNDS_SEED = "plausibility_bounds"

# The checks whose band is a row of seed plausibility_bounds, and the mart each describes.
BOUNDED_CHECKS: dict[str, str] = {
    "moves_per_year": "fct_moves",
    "incomes_per_year": "fct_incomes",
    "income_group_share": "fct_incomes",
    "tie_density": "mart_network_dyads",
    "reciprocity": "mart_network_dyads",
    "population_change": "dim_municipality_year",
    "unknown_sector_share": "fct_move_sectors",
    "arrival_neighbourhood_share": "mart_arrival_neighbourhoods",
}


@dataclass(frozen=True)
class Expectation:
    """One GX expectation on a column of an aggregate, under the name the quality report shows."""

    name: str
    kind: str  # GX expectation class, e.g. ExpectColumnValuesToBeBetween
    column: str
    severity: str
    description: str
    kwargs: Mapping = field(default_factory=dict)
    problem: str | None = None  # why it cannot run (its band is not in the seed): an error, not a pass


@dataclass(frozen=True)
class Aggregate:
    """One small frame computed in DuckDB (`sql` with bound `params`) and the expectations GX checks on it."""

    mart: str
    name: str
    sql: str
    expectations: tuple[Expectation, ...]
    params: tuple = ()
    key_columns: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()  # other marts the SQL reads


def _between(name: str, column: str, bounds: Mapping[str, PlausibilityBound]) -> Expectation:
    """ExpectColumnValuesToBeBetween with the band, severity and description of seed row `name`."""
    bound = bounds.get(name)
    if bound is None:
        return Expectation(name, "ExpectColumnValuesToBeBetween", column, "error", "",
                           problem=f"seed {BOUNDS_SEED} has no row with check_name {name!r}, so its band is unknown; "
                                   f"add the row (lower, upper, severity, description)")
    return Expectation(name, "ExpectColumnValuesToBeBetween", column, bound.severity, bound.description,
                       {"min_value": bound.lower, "max_value": bound.upper})


def _rows_per_year(mart: str, year_column: str, label: str, build: BuildSettings,
                   bounds: Mapping[str, PlausibilityBound]) -> Aggregate:
    table = db.qualified(MART_SCHEMA, mart)
    return Aggregate(
        mart, f"{label}_per_year",
        f"with y as (select {year_column} as year, count(*) as n_rows from {table} group by 1) "
        f"select year, n_rows, n_rows / (select median(n_rows) from y) as ratio_to_median from y order by year",
        (
            Expectation(f"{label}_years_present", "ExpectColumnDistinctValuesToEqualSet", "year", "error",
                        f"every year of the data period has {label}", {"value_set": build.years}),
            _between(f"{label}_per_year", "ratio_to_median", bounds),
        ),
        key_columns=("year",),
    )


def _income_group_shares(build: BuildSettings, bounds: Mapping[str, PlausibilityBound]) -> Aggregate:
    """Each income group's share of the persons whose incomes set the year's cut points (var
    income_cutpoints_population: everyone with an income, or the inter-municipal movers of that income
    year), against upper_quantile - lower_quantile of its seed row. Every group of every year is listed,
    so a group nobody falls into shows as share 0."""
    groups = build.income_groups
    if str(build.var("income_cutpoints_population")) == "movers":
        population = (f"select distinct person_id, income_year, income_group from {db.qualified(MART_SCHEMA, 'fct_moves')} "
                      "where is_inter_municipal and income_group <> 'unknown'")
        requires = ("fct_moves",)
    else:
        population = (f"select person_id, income_year, income_group from {db.qualified(MART_SCHEMA, 'fct_incomes')} "
                      "where income_group <> 'unknown'")
        requires = ()
    sql = (
        f"with population as ({population}), "
        "expected as (select unnest(?::varchar[]) as income_group, unnest(?::double[]) as expected_share), "
        "years as (select distinct income_year from population), "
        "counts as (select income_year, income_group, count(*) as n_persons from population group by all), "
        "filled as (select years.income_year, expected.income_group, expected.expected_share, "
        "coalesce(counts.n_persons, 0) as n_persons "
        "from years cross join expected left join counts using (income_year, income_group)), "
        "shares as (select *, n_persons / sum(n_persons) over (partition by income_year) as share from filled) "
        "select *, share - expected_share as share_minus_expected from shares order by income_year, income_group"
    )
    params = ([g.label for g in groups], [g.upper_quantile - g.lower_quantile for g in groups])
    return Aggregate("fct_incomes", "income_group_share", sql, (_between("income_group_share", "share_minus_expected", bounds),),
                     params=params, key_columns=("income_year", "income_group"), requires=requires)


def aggregates(build: BuildSettings, bounds: Mapping[str, PlausibilityBound]) -> list[Aggregate]:
    """The GX checks of a warehouse built with `build`, with the bands of `bounds` (seed plausibility_bounds)."""
    dyads = db.qualified(MART_SCHEMA, "mart_network_dyads")
    incomes = db.qualified(MART_SCHEMA, "fct_incomes")
    return [
        _rows_per_year("fct_moves", "move_year", "moves", build, bounds),
        _rows_per_year("fct_incomes", "income_year", "incomes", build, bounds),
        Aggregate(
            "fct_incomes", "imputed_share",
            f"select income_year, age_band, count(*) as n_persons, "
            f"avg(case when income_imputed then 1.0 else 0.0 end) as imputed_share from {incomes} group by all order by all",
            (Expectation("imputed_share", "ExpectColumnValuesToBeBetween", "imputed_share", "error",
                         "share of imputed incomes per year and age band at most var imputed_share_max",
                         {"min_value": 0.0, "max_value": build.imputed_share_max}),),
            key_columns=("income_year", "age_band"),
        ),
        _income_group_shares(build, bounds),
        Aggregate(
            "mart_network_dyads", "networks",
            f"with n as (select network_id, period_label, group_type, group_value, count(*) as n_dyads, "
            f"count(*) filter (where tie) as n_ties, count(*) filter (where tie and reverse_tie) as n_mutual "
            f"from {dyads} group by all) "
            f"select *, n_ties / n_dyads as tie_density, case when n_ties > 0 then n_mutual / n_ties end as reciprocity "
            f"from n order by network_id",
            (_between("tie_density", "tie_density", bounds), _between("reciprocity", "reciprocity", bounds)),
            key_columns=("period_label", "group_type", "group_value"),
        ),
        Aggregate(
            "dim_municipality_year", "population_change",
            f"with y as (select year, sum(population) as population "
            f"from {db.qualified(MART_SCHEMA, 'dim_municipality_year')} group by year) "
            f"select year, population, population / lag(population) over (order by year) as ratio_to_year_before "
            f"from y order by year",
            (_between("population_change", "ratio_to_year_before", bounds),),
            key_columns=("year",),
        ),
        # the arrival study: per year, the share of Belgian sides of moves in an unknown sector (<nis>ZZZZ);
        # no rows when the extract has no sectors (the study then runs at municipality level)
        Aggregate(
            "fct_move_sectors", "unknown_sector_share",
            f"with sides as ("
            f"select m.move_year as year, s.origin_sector as sector from {db.qualified(MART_SCHEMA, 'fct_move_sectors')} s "
            f"join {db.qualified(MART_SCHEMA, 'fct_moves')} m using (move_id) where s.origin_sector is not null "
            f"union all "
            f"select m.move_year, s.destination_sector from {db.qualified(MART_SCHEMA, 'fct_move_sectors')} s "
            f"join {db.qualified(MART_SCHEMA, 'fct_moves')} m using (move_id) where s.destination_sector is not null) "
            f"select year, count(*) as n_sides, "
            f"avg(case when d.is_unknown_sector then 1.0 else 0.0 end) as unknown_sector_share "
            f"from sides left join {db.qualified(MART_SCHEMA, 'dim_sector')} d on d.sector_code = sides.sector "
            f"group by year order by year",
            (_between("unknown_sector_share", "unknown_sector_share", bounds),),
            key_columns=("year",), requires=("fct_moves", "dim_sector"),
        ),
        Aggregate(
            "mart_arrival_neighbourhoods", "arrival_neighbourhood_share",
            f"select area_level, year, count(*) as n_areas, "
            f"avg(case when is_arrival_neighbourhood then 1.0 else 0.0 end) as arrival_neighbourhood_share "
            f"from {db.qualified(MART_SCHEMA, 'mart_arrival_neighbourhoods')} group by all order by all",
            (_between("arrival_neighbourhood_share", "arrival_neighbourhood_share", bounds),),
            key_columns=("area_level", "year"),
        ),
    ]


def unknown_bounds(bounds: Mapping[str, PlausibilityBound]) -> list[str]:
    """Rows of the seed that name no check (a typo would otherwise leave the intended band unused)."""
    return sorted(set(bounds) - set(BOUNDED_CHECKS))


class GxRunner:
    """A GX file context with one pandas datasource; each aggregate is a dataframe asset + suite."""

    def __init__(self, gx_root: Path, docs_dir: Path):
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx = gx
        gx_root.mkdir(parents=True, exist_ok=True)
        # Data Docs describe this validation only: results of earlier runs would grow the site without end
        # and show checks of other builds beside the report.
        shutil.rmtree(gx_root / "gx" / "uncommitted" / "validations", ignore_errors=True)
        shutil.rmtree(docs_dir, ignore_errors=True)
        self.context = gx.get_context(mode="file", project_root_dir=str(gx_root))
        try:
            self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
            self.context.variables.save()
        except Exception:  # an older config layout only loses the progress-bar setting
            pass
        sites = self.context.get_config().data_docs_sites or {}
        if DOCS_SITE in sites:
            self.context.delete_data_docs_site(DOCS_SITE)
        docs_dir.mkdir(parents=True, exist_ok=True)
        self.context.add_data_docs_site(
            site_name=DOCS_SITE,
            site_config={
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            },
        )
        self.docs_dir = docs_dir
        self.source = self.context.data_sources.add_or_update_pandas(DATASOURCE)

    def run(self, agg: Aggregate, frame: pd.DataFrame) -> list[CheckResult]:
        import great_expectations.expectations as gxe

        checks = [CheckResult("gx", e.name, "error", "error", column_name=e.column, detail=e.problem)
                  for e in agg.expectations if e.problem]
        runnable = [e for e in agg.expectations if not e.problem]
        if not runnable:
            return checks
        name = f"{agg.mart}.{agg.name}"
        try:
            asset = self.source.get_asset(name)
        except LookupError:
            asset = self.source.add_dataframe_asset(name)
        try:
            batch_definition = asset.get_batch_definition("whole")
        except (KeyError, LookupError):
            batch_definition = asset.add_batch_definition_whole_dataframe("whole")
        suite = self.gx.ExpectationSuite(name=name)
        for e in runnable:
            expectation = getattr(gxe, e.kind)(column=e.column, **e.kwargs,
                                               meta={"check": e.name, "severity": e.severity, "description": e.description})
            suite.add_expectation(expectation)
        suite = self.context.suites.add_or_update(suite)
        by_id = {e.name: e for e in runnable}
        definition = self.context.validation_definitions.add_or_update(
            self.gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
        )
        result = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
        for er in result.results:
            cfg = er.expectation_config
            expectation = by_id[(cfg.meta or {})["check"]]
            res = er.result or {}
            exception = (er.exception_info or {}).get("exception_message") if er.exception_info else None
            failing = res.get("unexpected_count")
            keys: list[str] = []
            index_list = res.get("partial_unexpected_index_list") or res.get("unexpected_index_list")
            if agg.key_columns and index_list:
                idx = [i for i in index_list if isinstance(i, int)][:10]
                keys = frame.loc[idx, list(agg.key_columns)].astype(str).agg("|".join, axis=1).tolist()
            detail = f"{expectation.description}; {cfg.type}({expectation.column}{_kwargs_text(expectation.kwargs)})"
            observed = res.get("observed_value")
            if observed is not None:
                detail += f"; observed {_fmt_values([observed]) if isinstance(observed, numbers.Number) else observed}"
            if res.get("partial_unexpected_list"):
                detail += f"; unexpected values {_fmt_values(res['partial_unexpected_list'][:5])}"
            if exception:
                detail += f"; GX error: {exception}"
            checks.append(
                CheckResult(
                    source="gx",
                    check_name=expectation.name,
                    column_name=expectation.column,
                    severity=expectation.severity,
                    status="error" if exception else ("pass" if er.success else "fail"),
                    failing_count=int(failing) if failing is not None else (0 if er.success else None),
                    failing_share=(res["unexpected_percent"] / 100.0) if res.get("unexpected_percent") is not None else None,
                    detail=detail,
                    sample_ids=tuple(keys),
                )
            )
        return checks

    def build_docs(self) -> Path:
        self.context.build_data_docs(site_names=[DOCS_SITE])
        return self.docs_dir / "index.html"


def _kwargs_text(kwargs: Mapping) -> str:
    shown = {"min_value": ">=", "max_value": "<="}
    return "".join(f", {shown[k]} {v:g}" for k, v in kwargs.items() if k in shown and v is not None)


def _fmt_values(values) -> str:
    """Values for the report; counts from 1 to 9 show as <10 (the report's disclosure rule)."""
    out = []
    for v in values:
        if isinstance(v, numbers.Integral) and not isinstance(v, bool) and 0 < abs(int(v)) < 10:
            out.append("<10")
        else:
            out.append(f"{v:.4g}" if isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral) else str(v))
    return ", ".join(out)


def run_expectations(
    con: duckdb.DuckDBPyConnection,
    build: BuildSettings,
    bounds: Mapping[str, PlausibilityBound] | None,
    present: set[str],
    gx_root: Path,
    docs_dir: Path,
    progress=None,
    bounds_problem: str | None = None,
) -> tuple[dict[str, list[CheckResult]], Path | None]:
    """Run every aggregate whose marts exist; return check results per mart and the Data Docs index.
    `bounds` are the rows of seed plausibility_bounds; when they could not be read (`bounds_problem`), every
    bounded check is an error naming why."""
    runner = GxRunner(gx_root, docs_dir)
    results: dict[str, list[CheckResult]] = {}
    bounds = bounds or {}
    for agg in aggregates(build, bounds):
        if agg.mart not in present:
            continue
        if bounds_problem:
            agg = replace(agg, expectations=tuple(replace(e, problem=bounds_problem) if e.name in BOUNDED_CHECKS else e
                                                  for e in agg.expectations))
        missing = [r for r in agg.requires if r not in present]
        if missing:
            results.setdefault(agg.mart, []).extend(
                CheckResult("gx", e.name, "error", "error", column_name=e.column,
                            detail=f"cannot run: mart(s) {', '.join(missing)} missing") for e in agg.expectations)
            continue
        if progress:
            progress(f"GX {agg.mart}.{agg.name}")
        try:
            frame = con.execute(agg.sql, list(agg.params)).df() if agg.params else con.sql(agg.sql).df()
        except duckdb.Error as exc:
            results.setdefault(agg.mart, []).extend(
                CheckResult("gx", e.name, "error", "error", column_name=e.column, detail=f"aggregate query failed: {exc}")
                for e in agg.expectations)
            continue
        results.setdefault(agg.mart, []).extend(runner.run(agg, frame))
    for name in unknown_bounds(bounds):
        for mart in sorted(present & set(BOUNDED_CHECKS.values())):
            results.setdefault(mart, []).append(CheckResult(
                "gx", BOUNDS_SEED, "error", "error",
                detail=f"seed {BOUNDS_SEED} has a row with check_name {name!r}, which is no check of mignet; "
                       f"the checks are {', '.join(BOUNDED_CHECKS)}"))
    docs = runner.build_docs()
    return results, docs
