"""Great Expectations suites for what row rules cannot see: keys unique over the whole table, rows per
year within a band, imputed-income shares, income groups of about a quarter, plausible networks, and sums
that must agree between marts.

GX's SQL datasource does not work on this DuckDB, and handing GX millions of rows as pandas would be slow
and memory-hungry. So each check first aggregates inside DuckDB into a small frame (one row per year,
per network, ...), and GX validates that frame through a pandas batch. Expectations carry
`meta={"severity": ...}`; error-severity failures block certification. The GX file context lives in
`<data_dir>/gx`; Data Docs are built into `<reports_dir>/quality/gx/`.
"""

from __future__ import annotations

import numbers
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from mignet.db import duplicate_rows_sql
from mignet.quality.store import CheckResult
from mignet.warehouse import MART_SCHEMA
from mignet.warehouse.build_settings import BuildSettings

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "dim_municipality": ("nis_code",),
    "dim_municipality_year": ("nis_code", "year"),
    "fct_moves": ("move_id",),
    "fct_incomes": ("person_id", "income_year"),
    "mart_network_dyads": ("period_label", "group_type", "group_value", "origin_nis", "destination_nis"),
    "mart_destination_shares": ("period_label", "group_type", "group_value", "destination_nis"),
}

# Plausibility bands. Generous on purpose: they catch broken joins and lost partitions, not real change.
ROWS_PER_YEAR_RATIO = (0.5, 1.5)  # a year's rows relative to the median year
INCOME_GROUP_SHARE = (0.20, 0.30)  # each income group holds about a quarter of persons with an income
TIE_DENSITY = (1e-6, 0.8)
RECIPROCITY = (0.0, 0.95)
POPULATION_YEAR_RATIO = (0.9, 1.1)  # population of a year relative to the year before

DOCS_SITE = "mignet_quality"
DATASOURCE = "mignet_aggregates"


@dataclass(frozen=True)
class Aggregate:
    """One small frame computed in DuckDB and the expectations GX checks on it."""

    mart: str
    name: str
    sql: str
    expectations: tuple  # of (gx expectation class name, kwargs, severity, description)
    key_columns: tuple[str, ...] = ()
    requires: tuple[str, ...] = field(default=())  # other marts the SQL reads


def _e(kind: str, severity: str, description: str, **kwargs) -> tuple:
    return (kind, kwargs, severity, description)


def _duplicates_sql(mart: str) -> str:
    """Rows, rows beyond the first of each primary key value, and rows with a null key column, in one row."""
    t = f"{MART_SCHEMA}.{mart}"
    return (
        f"select (select count(*) from {t}) as n_rows, "
        f"{duplicate_rows_sql(t, PRIMARY_KEYS[mart])} as duplicate_keys, "
        f"(select count(*) from {t} where " + " or ".join(f"{k} is null" for k in PRIMARY_KEYS[mart]) + ") as null_keys"
    )


def aggregates(params: BuildSettings) -> list[Aggregate]:
    m = MART_SCHEMA
    years = params.years
    out: list[Aggregate] = []
    for mart in PRIMARY_KEYS:
        out.append(
            Aggregate(
                mart,
                "primary_key",
                _duplicates_sql(mart),
                (
                    _e("ExpectColumnValuesToBeBetween", "error", "no duplicated primary key",
                       column="duplicate_keys", min_value=0, max_value=0),
                    _e("ExpectColumnValuesToBeBetween", "error", "no primary key column is null",
                       column="null_keys", min_value=0, max_value=0),
                    _e("ExpectColumnValuesToBeBetween", "error", "the table is not empty",
                       column="n_rows", min_value=1),
                ),
            )
        )
    rows_per_year = lambda mart, col: (  # noqa: E731
        f"with y as (select {col} as year, count(*) as n_rows from {m}.{mart} group by 1) "
        f"select year, n_rows, n_rows / (select median(n_rows) from y) as ratio_to_median from y order by year"
    )
    for mart, col in (("fct_moves", "move_year"), ("fct_incomes", "income_year")):
        out.append(
            Aggregate(
                mart,
                "rows_per_year",
                rows_per_year(mart, col),
                (
                    _e("ExpectColumnDistinctValuesToEqualSet", "error", "every year of the data period is present",
                       column="year", value_set=years),
                    _e("ExpectColumnValuesToBeBetween", "error", "rows of each year within a band around the median year",
                       column="ratio_to_median", min_value=ROWS_PER_YEAR_RATIO[0], max_value=ROWS_PER_YEAR_RATIO[1]),
                ),
                key_columns=("year",),
            )
        )
    out.append(
        Aggregate(
            "fct_incomes",
            "imputed_share",
            f"select income_year, age_band, count(*) as n_persons, avg(case when income_imputed then 1.0 else 0.0 end) "
            f"as imputed_share from {m}.fct_incomes group by all order by all",
            (
                _e("ExpectColumnValuesToBeBetween", "error", "share of imputed incomes per year and age band under the threshold",
                   column="imputed_share", min_value=0.0, max_value=params.imputed_share_max),
            ),
            key_columns=("income_year", "age_band"),
        )
    )
    out.append(
        Aggregate(
            "fct_incomes",
            "income_group_shares",
            f"select income_year, income_group, count(*) as n_persons, count(*) / sum(count(*)) over (partition by income_year) "
            f"as share from {m}.fct_incomes where income_group <> 'unknown' group by income_year, income_group order by all",
            (
                _e("ExpectColumnValuesToBeInSet", "error", "only the income groups of the seed",
                   column="income_group", value_set=list(params.income_group_labels)),
                _e("ExpectColumnValuesToBeBetween", "error", "each income group holds about a quarter of persons per year",
                   column="share", min_value=INCOME_GROUP_SHARE[0], max_value=INCOME_GROUP_SHARE[1]),
            ),
            key_columns=("income_year", "income_group"),
        )
    )
    out.append(
        Aggregate(
            "dim_municipality_year",
            "municipalities_per_year",
            f"with y as (select year, count(*) as n_municipalities, sum(population) as population "
            f"from {m}.dim_municipality_year group by year) "
            f"select year, n_municipalities, n_municipalities - (select count(*) from {m}.dim_municipality) "
            f"as missing_or_extra, population / lag(population) over (order by year) as population_ratio "
            f"from y order by year",
            (
                _e("ExpectColumnDistinctValuesToEqualSet", "error", "every year of the data period (and 1 January after it) is present",
                   column="year", value_set=params.population_years),
                _e("ExpectColumnValuesToBeBetween", "error", "every municipality of dim_municipality in every year",
                   column="missing_or_extra", min_value=0, max_value=0),
                _e("ExpectColumnValuesToBeBetween", "warn", "population changes less than 10% from one year to the next",
                   column="population_ratio", min_value=POPULATION_YEAR_RATIO[0], max_value=POPULATION_YEAR_RATIO[1]),
            ),
            key_columns=("year",),
            requires=("dim_municipality",),
        )
    )
    out.append(
        Aggregate(
            "mart_network_dyads",
            "networks",
            f"with n as (select period_label, group_type, group_value, count(distinct origin_nis) as n_nodes, "
            f"count(*) as n_dyads, sum(tie::int) as n_ties, sum(tie::int * reverse_tie::int) as n_mutual "
            f"from {m}.mart_network_dyads group by all) "
            f"select *, n_dyads - n_nodes * (n_nodes - 1) as missing_dyads, "
            f"n_ties / (n_nodes * (n_nodes - 1)) as tie_density, "
            f"case when n_ties > 0 then n_mutual / n_ties end as reciprocity, "
            f"(select count(*) from {m}.dim_network) - (select count(*) from n) as missing_networks from n order by all",
            (
                _e("ExpectColumnValuesToBeBetween", "error", "every network of dim_network is present",
                   column="missing_networks", min_value=0, max_value=0),
                _e("ExpectColumnValuesToBeBetween", "error", "every network has ties", column="n_ties", min_value=1),
                _e("ExpectColumnValuesToBeBetween", "error", "every network holds all ordered pairs of municipalities",
                   column="missing_dyads", min_value=0, max_value=0),
                _e("ExpectColumnValuesToBeBetween", "error", "tie density within plausible bounds",
                   column="tie_density", min_value=TIE_DENSITY[0], max_value=TIE_DENSITY[1]),
                _e("ExpectColumnValuesToBeBetween", "error", "reciprocity within plausible bounds",
                   column="reciprocity", min_value=RECIPROCITY[0], max_value=RECIPROCITY[1]),
            ),
            key_columns=("period_label", "group_type", "group_value"),
            requires=("dim_network",),
        )
    )
    out.append(
        Aggregate(
            "mart_network_dyads",
            "reverse_tie_consistency",
            f"select count(*) filter (where a.reverse_tie::int <> coalesce(b.tie::int, 0)) as reverse_tie_mismatches "
            f"from {m}.mart_network_dyads a left join {m}.mart_network_dyads b "
            f"on a.period_label = b.period_label and a.group_type = b.group_type and a.group_value = b.group_value "
            f"and a.origin_nis = b.destination_nis and a.destination_nis = b.origin_nis",
            (
                _e("ExpectColumnValuesToBeBetween", "error", "reverse_tie equals the tie of the reverse dyad",
                   column="reverse_tie_mismatches", min_value=0, max_value=0),
            ),
        )
    )
    flows_fct = (
        f"m as (select period_label, age_band, income_group from {m}.fct_moves where is_inter_municipal), "
        f"f as (select period_label, 'all' as group_type, 'all' as group_value, count(*) as n from m group by all "
        f"union all select period_label, 'age_band', age_band, count(*) from m group by all "
        f"union all select period_label, 'income_group', income_group, count(*) from m group by all)"
    )
    out.append(
        Aggregate(
            "mart_network_dyads",
            "moves_agree_with_fct_moves",
            f"with {flows_fct}, d as (select period_label, group_type, group_value, sum(n_moves) as n "
            f"from {m}.mart_network_dyads group by all) "
            f"select d.period_label, d.group_type, d.group_value, d.n as n_moves_dyads, coalesce(f.n, 0) as n_moves_fct_moves, "
            f"d.n - coalesce(f.n, 0) as difference from d left join f using (period_label, group_type, group_value) order by all",
            (
                _e("ExpectColumnValuesToBeBetween", "error",
                   "sum of n_moves per network equals the inter-municipal moves of fct_moves of that period and group",
                   column="difference", min_value=0, max_value=0),
            ),
            key_columns=("period_label", "group_type", "group_value"),
            requires=("fct_moves",),
        )
    )
    out.append(
        Aggregate(
            "mart_destination_shares",
            "movers_agree_with_dyads",
            f"with s as (select period_label, group_type, group_value, destination_nis, movers_in "
            f"from {m}.mart_destination_shares), "
            f"d as (select period_label, group_type, group_value, destination_nis, sum(n_moves) as n "
            f"from {m}.mart_network_dyads group by all) "
            f"select s.period_label, s.group_type, s.group_value, sum(s.movers_in) as movers_in, "
            f"sum(coalesce(d.n, 0)) as n_moves_dyads, count(*) filter (where s.movers_in <> coalesce(d.n, 0)) "
            f"as destinations_disagreeing from s left join d using (period_label, group_type, group_value, destination_nis) "
            f"group by all order by all",
            (
                _e("ExpectColumnValuesToBeBetween", "error",
                   "movers_in of every destination equals the moves into it in the network dyads",
                   column="destinations_disagreeing", min_value=0, max_value=0),
            ),
            key_columns=("period_label", "group_type", "group_value"),
            requires=("mart_network_dyads",),
        )
    )
    return out


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
        for kind, kwargs, severity, description in agg.expectations:
            suite.add_expectation(getattr(gxe, kind)(**kwargs, meta={"severity": severity, "description": description}))
        suite = self.context.suites.add_or_update(suite)
        definition = self.context.validation_definitions.add_or_update(
            self.gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
        )
        result = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
        checks = []
        for er in result.results:
            cfg = er.expectation_config
            severity = (cfg.meta or {}).get("severity", "error")
            description = (cfg.meta or {}).get("description", "")
            column = cfg.kwargs.get("column")
            res = er.result or {}
            exception = (er.exception_info or {}).get("exception_message") if er.exception_info else None
            failing = res.get("unexpected_count")
            keys: list[str] = []
            index_list = res.get("partial_unexpected_index_list") or res.get("unexpected_index_list")
            if agg.key_columns and index_list:
                idx = [i for i in index_list if isinstance(i, int)][:10]
                keys = frame.loc[idx, list(agg.key_columns)].astype(str).agg("|".join, axis=1).tolist()
            observed = res.get("observed_value")
            detail = description
            if observed is not None:
                detail += f"; observed {_fmt_values([observed]) if isinstance(observed, numbers.Number) else observed}"
            if res.get("partial_unexpected_list"):
                detail += f"; unexpected values {_fmt_values(res['partial_unexpected_list'][:5])}"
            if exception:
                detail += f"; GX error: {exception}"
            status = "error" if exception else ("pass" if er.success else "fail")
            checks.append(
                CheckResult(
                    source="gx",
                    check_name=f"{agg.name}.{cfg.type}" + (f"({column})" if column else ""),
                    column_name=column,
                    severity=severity,
                    status=status,
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
    params: BuildSettings,
    present: set[str],
    gx_root: Path,
    docs_dir: Path,
    progress=None,
) -> tuple[dict[str, list[CheckResult]], Path | None]:
    """Run every aggregate whose marts exist; return check results per mart and the Data Docs index."""
    runner = GxRunner(gx_root, docs_dir)
    results: dict[str, list[CheckResult]] = {}
    for agg in aggregates(params):
        if agg.mart not in present:
            continue
        missing = [r for r in agg.requires if r not in present]
        if missing:
            results.setdefault(agg.mart, []).append(
                CheckResult("gx", agg.name, "error", "error", detail=f"cannot run: mart(s) {', '.join(missing)} missing")
            )
            continue
        if progress:
            progress(f"GX {agg.mart}.{agg.name}")
        try:
            frame = con.sql(agg.sql).df()
        except duckdb.Error as exc:
            results.setdefault(agg.mart, []).append(
                CheckResult("gx", agg.name, "error", "error", detail=f"aggregate query failed: {exc}")
            )
            continue
        results.setdefault(agg.mart, []).extend(runner.run(agg, frame))
    docs = runner.build_docs()
    return results, docs
