"""pandera row rules for the certified marts: types, ranges, allowed values and cross-column rules.

One `DataFrameModel` per mart, built by `mart_models(params)` because allowed values (periods, age bands,
income groups) and thresholds (min_moves) come from the dbt seeds and vars, not from literals here.

The marts are too large to load whole (fct_moves holds millions of moves, the dyads 24 x 581 x 580 rows),
so `validate_mart` streams the table out of DuckDB in Arrow record batches, validates each batch with
`lazy=True` (every failure of every rule is reported, not just the first), and merges the failure cases:
memory stays bounded by a few batches. Large marts are validated in worker processes, two batches per
worker in flight, merged in table order (pandera is single-threaded Python). Rules that need more than one
row at a time (unique keys, sums, shares per year) are Great Expectations suites in `expectations.py`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
from pandera.typing import Series

from mignet.contract import COUNTRY_PATTERN, LAMBERT72_X_RANGE, LAMBERT72_Y_RANGE, MOVE_TYPES, NIS_PATTERN, SEXES
from mignet.quality.store import CheckResult
from mignet.warehouse import MART_SCHEMA
from mignet.warehouse.build_settings import BuildSettings

BATCH_ROWS = 500_000
SAMPLE_SIZE = 5
GROUP_TYPES = ("all", "age_band", "income_group")
DISTANCE_SOURCES = ("address", "centroid")
IMPUTATION_METHODS = ("mean", "median", "none")
# Belgium is about 280 km across; a larger distance between two municipalities is a coordinate error.
MAX_DISTANCE_KM = 400.0
REL_TOL = 1e-6

# Columns that identify a failing row in the report. Person-level marts show only the pseudonymised
# person id (never values); aggregate marts show their key (period, group, municipality codes).
SAMPLE_ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "fct_moves": ("person_id",),
    "fct_incomes": ("person_id",),
    "dim_municipality": ("nis_code",),
    "dim_municipality_year": ("nis_code", "year"),
    "dim_network": ("network_id",),
    "mart_network_dyads": ("period_label", "group_type", "group_value", "origin_nis", "destination_nis"),
    "mart_destination_shares": ("period_label", "group_type", "group_value", "destination_nis"),
}


def _close(a: pd.Series, b: pd.Series, abs_tol: float = 1e-9) -> pd.Series:
    a = a.astype("float64")
    b = b.astype("float64")
    both_null = a.isna() & b.isna()
    return both_null | (np.abs(a - b) <= abs_tol + REL_TOL * np.abs(b)).fillna(False)


def _implies(cond: pd.Series, then: pd.Series) -> pd.Series:
    return ~cond.fillna(False).astype(bool) | then.fillna(False).astype(bool)


def mart_models(params: BuildSettings) -> dict[str, type[pa.DataFrameModel]]:
    periods = list(params.period_labels)
    age_bands = {b.label: (b.min_age, b.max_age) for b in params.age_bands}
    age_labels = [*params.age_band_labels, "other", "unknown"]
    income_groups = list(params.income_group_labels)
    income_labels = [*income_groups, "unknown"]
    years = params.years
    min_moves = params.min_moves

    class Base(pa.DataFrameModel):
        class Config:
            strict = True  # a column the design page does not name is a contract change: report it
            coerce = True  # integer width and nullable-integer spelling differ between DuckDB and pandas

    class DimMunicipality(Base):
        nis_code: Series[str] = pa.Field(str_matches=NIS_PATTERN, unique=True)
        name_nl: Series[str] = pa.Field(nullable=True)
        name_fr: Series[str] = pa.Field(nullable=True)
        arrondissement_nis: Series[str] = pa.Field(str_matches=NIS_PATTERN, nullable=True)
        province_nis: Series[str] = pa.Field(str_matches=NIS_PATTERN, nullable=True)
        region_nis: Series[str] = pa.Field(str_matches=NIS_PATTERN)
        region_name: Series[str]
        area_km2: Series[float] = pa.Field(gt=0, le=1_000)
        centroid_x: Series[float] = pa.Field(ge=LAMBERT72_X_RANGE[0], le=LAMBERT72_X_RANGE[1])
        centroid_y: Series[float] = pa.Field(ge=LAMBERT72_Y_RANGE[0], le=LAMBERT72_Y_RANGE[1])
        n_predecessor_codes: Series[pd.Int64Dtype] = pa.Field(ge=0)
        vintage: Series[pd.Int64Dtype] = pa.Field(isin=[params.target_vintage])

        @pa.dataframe_check(name="name_nl_or_name_fr_present")
        def check_has_a_name(cls, df):
            return df["name_nl"].notna() | df["name_fr"].notna()

    class DimMunicipalityYear(Base):
        nis_code: Series[str] = pa.Field(str_matches=NIS_PATTERN)
        year: Series[pd.Int64Dtype] = pa.Field(isin=params.population_years)
        population: Series[pd.Int64Dtype] = pa.Field(ge=0)
        area_km2: Series[float] = pa.Field(gt=0)
        density_per_km2: Series[float] = pa.Field(ge=0)

        @pa.dataframe_check(name="density_equals_population_over_area")
        def check_density(cls, df):
            return _close(df["density_per_km2"], df["population"].astype("float64") / df["area_km2"], 1e-6)

    class FctMoves(Base):
        move_id: Series[pd.Int64Dtype]
        person_id: Series[str]
        move_date: Series[pa.DateTime] = pa.Field(ge=pd.Timestamp(params.data_start), le=pd.Timestamp(params.data_end))
        move_year: Series[pd.Int64Dtype] = pa.Field(isin=years)
        period_label: Series[str] = pa.Field(isin=periods)
        move_type: Series[str] = pa.Field(isin=list(MOVE_TYPES))
        origin_nis: Series[str] = pa.Field(str_matches=NIS_PATTERN, nullable=True)
        destination_nis: Series[str] = pa.Field(str_matches=NIS_PATTERN, nullable=True)
        origin_nis_raw: Series[str] = pa.Field(str_matches=NIS_PATTERN, nullable=True)
        destination_nis_raw: Series[str] = pa.Field(str_matches=NIS_PATTERN, nullable=True)
        code_remapped: Series[pd.BooleanDtype]
        is_inter_municipal: Series[pd.BooleanDtype]
        became_intra_by_harmonisation: Series[pd.BooleanDtype]
        sex: Series[str] = pa.Field(isin=list(SEXES), nullable=True)
        age_at_move: Series[pd.Int64Dtype] = pa.Field(ge=0, le=120, nullable=True)
        age_band: Series[str] = pa.Field(isin=age_labels)
        country_of_birth: Series[str] = pa.Field(str_matches=COUNTRY_PATTERN, nullable=True)
        income_year: Series[pd.Int64Dtype] = pa.Field(nullable=True)
        disposable_income: Series[float] = pa.Field(ge=0, nullable=True)
        income_imputed: Series[pd.BooleanDtype] = pa.Field(nullable=True)
        income_group: Series[str] = pa.Field(isin=income_labels)
        distance_km: Series[float] = pa.Field(ge=0, le=MAX_DISTANCE_KM, nullable=True)
        distance_source: Series[str] = pa.Field(isin=list(DISTANCE_SOURCES), nullable=True)
        density_origin_per_km2: Series[float] = pa.Field(ge=0, nullable=True)
        density_destination_per_km2: Series[float] = pa.Field(ge=0, nullable=True)
        density_diff_per_1000: Series[float] = pa.Field(nullable=True)

        @pa.dataframe_check(name="move_year_is_year_of_move_date")
        def check_move_year_matches(cls, df):
            return df["move_date"].dt.year == df["move_year"]

        @pa.dataframe_check(name="period_label_matches_move_date")
        def check_period_matches(cls, df):
            ok = pd.Series(False, index=df.index)
            for period in params.periods:
                inside = (df["move_date"] >= pd.Timestamp(period.start)) & (df["move_date"] <= pd.Timestamp(period.end))
                ok |= inside & (df["period_label"] == period.label)
            return ok

        @pa.dataframe_check(name="move_type_matches_belgian_sides")
        def check_sides(cls, df):
            t = df["move_type"]
            o = df["origin_nis"].notna()
            d = df["destination_nis"].notna()
            return ((t == "internal") & o & d) | ((t == "immigration") & ~o & d) | ((t == "emigration") & o & ~d)

        @pa.dataframe_check(name="inter_municipal_iff_internal_between_two_municipalities")
        def check_inter(cls, df):
            expected = (df["move_type"] == "internal") & (df["origin_nis"] != df["destination_nis"]).fillna(False)
            return df["is_inter_municipal"].astype(bool) == expected.astype(bool)

        @pa.dataframe_check(name="became_intra_implies_same_code_after_harmonisation")
        def check_became_intra(cls, df):
            same_now = (df["origin_nis"] == df["destination_nis"]).fillna(False)
            differed = (df["origin_nis_raw"] != df["destination_nis_raw"]).fillna(False)
            return _implies(df["became_intra_by_harmonisation"], same_now & differed)

        @pa.dataframe_check(name="code_remapped_implies_a_code_changed")
        def check_code_remapped(cls, df):
            changed = (df["origin_nis"] != df["origin_nis_raw"]).fillna(False) | (
                df["destination_nis"] != df["destination_nis_raw"]
            ).fillna(False)
            return _implies(df["code_remapped"], changed)

        @pa.dataframe_check(name="age_band_matches_age_at_move")
        def check_age_band_ok(cls, df):
            age = df["age_at_move"]
            expected = pd.Series("other", index=df.index, dtype="object")
            for label, (lo, hi) in age_bands.items():
                expected[(age >= lo).fillna(False) & (age <= hi).fillna(False)] = label
            expected[age.isna()] = "unknown"
            return df["age_band"].astype("object") == expected

        @pa.dataframe_check(name="income_group_unknown_iff_no_income")
        def check_income_unknown(cls, df):
            return (df["income_group"] == "unknown") == df["disposable_income"].isna()

        @pa.dataframe_check(name="distance_source_iff_distance")
        def check_distance_source(cls, df):
            return df["distance_km"].isna() == df["distance_source"].isna()

        @pa.dataframe_check(name="inter_municipal_moves_have_a_distance")
        def check_distance_present(cls, df):
            return _implies(df["is_inter_municipal"], df["distance_km"].notna())

    class FctIncomes(Base):
        person_id: Series[str]
        income_year: Series[pd.Int64Dtype] = pa.Field(isin=years)
        age_band: Series[str] = pa.Field(isin=age_labels)
        disposable_income_raw: Series[float] = pa.Field(ge=0, nullable=True)
        disposable_income: Series[float] = pa.Field(ge=0, nullable=True)
        income_imputed: Series[pd.BooleanDtype]
        imputation_method: Series[str] = pa.Field(isin=list(IMPUTATION_METHODS), nullable=True)
        income_group: Series[str] = pa.Field(isin=income_labels)

        @pa.dataframe_check(name="income_imputed_implies_raw_income_missing")
        def check_imputed_raw_null(cls, df):
            return _implies(df["income_imputed"], df["disposable_income_raw"].isna())

        @pa.dataframe_check(name="observed_income_kept_unchanged")
        def check_observed_kept(cls, df):
            observed = ~df["income_imputed"].fillna(False).astype(bool) & df["disposable_income_raw"].notna()
            return ~observed | _close(df["disposable_income"], df["disposable_income_raw"])

        @pa.dataframe_check(name="imputed_income_has_a_method")
        def check_method(cls, df):
            return _implies(df["income_imputed"], df["imputation_method"].notna())

        @pa.dataframe_check(name="income_group_unknown_iff_no_income")
        def check_unknown_group(cls, df):
            return (df["income_group"] == "unknown") == df["disposable_income"].isna()

    class DimNetwork(Base):
        network_id: Series[pd.Int64Dtype]
        period_label: Series[str] = pa.Field(isin=periods)
        period_start: Series[pa.DateTime]
        period_end: Series[pa.DateTime]
        density_year: Series[pd.Int64Dtype]
        group_type: Series[str] = pa.Field(isin=list(GROUP_TYPES))
        group_value: Series[str]
        group_order: Series[pd.Int64Dtype]

    class MartNetworkDyads(Base):
        network_id: Series[pd.Int64Dtype]
        period_label: Series[str] = pa.Field(isin=periods)
        group_type: Series[str] = pa.Field(isin=list(GROUP_TYPES))
        group_value: Series[str]
        origin_nis: Series[str] = pa.Field(str_matches=NIS_PATTERN)
        destination_nis: Series[str] = pa.Field(str_matches=NIS_PATTERN)
        n_moves: Series[pd.Int64Dtype] = pa.Field(ge=0)
        tie: Series[pd.BooleanDtype]
        reverse_tie: Series[pd.BooleanDtype]
        density_diff_per_1000: Series[float]
        distance_km: Series[float] = pa.Field(gt=0, le=MAX_DISTANCE_KM)
        distance_10km: Series[float] = pa.Field(gt=0)

        @pa.dataframe_check(name="no_self_loops")
        def check_no_self_loops(cls, df):
            return df["origin_nis"] != df["destination_nis"]

        @pa.dataframe_check(name=f"tie_iff_n_moves_at_least_min_moves")
        def check_tie_rule(cls, df):
            return df["tie"].astype(bool) == (df["n_moves"] >= min_moves)

        @pa.dataframe_check(name="distance_10km_is_distance_km_over_10")
        def check_distance_10(cls, df):
            return _close(df["distance_10km"], df["distance_km"] / 10.0)

        @pa.dataframe_check(name="group_value_belongs_to_group_type")
        def check_group_value_ok(cls, df):
            t, v = df["group_type"], df["group_value"]
            return ((t == "all") & (v == "all")) | ((t == "age_band") & v.isin(list(age_bands))) | (
                (t == "income_group") & v.isin(income_groups)
            )

    class MartDestinationShares(Base):
        period_label: Series[str] = pa.Field(isin=periods)
        group_type: Series[str] = pa.Field(isin=list(GROUP_TYPES))
        group_value: Series[str]
        destination_nis: Series[str] = pa.Field(str_matches=NIS_PATTERN)
        movers_in: Series[pd.Int64Dtype] = pa.Field(ge=0)
        movers_in_all_groups: Series[pd.Int64Dtype] = pa.Field(ge=0)
        share: Series[float] = pa.Field(ge=0, le=1, nullable=True)

        @pa.dataframe_check(name="movers_in_at_most_all_groups")
        def check_at_most(cls, df):
            return df["movers_in"] <= df["movers_in_all_groups"]

        @pa.dataframe_check(name="share_is_movers_in_over_all_groups")
        def check_share_rule(cls, df):
            denom = df["movers_in_all_groups"].astype("float64")
            expected = (df["movers_in"].astype("float64") / denom).where(denom > 0)
            return _close(df["share"], expected) | ((denom == 0) & df["share"].fillna(0).eq(0))

        @pa.dataframe_check(name="group_value_belongs_to_group_type")
        def check_group_value_ok(cls, df):
            t, v = df["group_type"], df["group_value"]
            return ((t == "all") & (v == "all")) | ((t == "age_band") & v.isin(list(age_bands))) | (
                (t == "income_group") & v.isin(income_groups)
            )

    return {
        "dim_municipality": DimMunicipality,
        "dim_municipality_year": DimMunicipalityYear,
        "fct_moves": FctMoves,
        "fct_incomes": FctIncomes,
        "dim_network": DimNetwork,
        "mart_network_dyads": MartNetworkDyads,
        "mart_destination_shares": MartDestinationShares,
    }


@dataclass
class _Tally:
    column: str | None
    rows: int = 0
    samples: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)


def _describe_check(check) -> str:
    return str(check) if check is not None and not (isinstance(check, float) and np.isnan(check)) else "schema"


def _tally_frame(schema: pa.DataFrameSchema, frame: pd.DataFrame, id_columns: tuple[str, ...]) -> dict[str, _Tally]:
    """Failures of one batch (index = row numbers in the table), per rule label: failing rows, up to
    SAMPLE_SIZE sample ids, up to 3 example values of table-level failures."""
    tallies: dict[str, _Tally] = {}
    try:
        schema.validate(frame, lazy=True)
        return tallies
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    context = cases["schema_context"].astype("object")
    column_of = cases["column"].astype("object")
    check_of = cases["check"].astype("object").fillna("schema").astype(str)
    is_column = (context == "Column") & column_of.isin(list(schema.columns))
    cases = cases.assign(
        _label=np.where(is_column, column_of.astype(str) + "." + check_of, check_of),
        _column=np.where(is_column, column_of, None),
    )
    for label, group in cases.groupby("_label", sort=False):
        tally = tallies.setdefault(label, _Tally(column=group["_column"].iloc[0]))
        idx = pd.to_numeric(pd.Series(group["index"]), errors="coerce").dropna().astype("int64").unique()
        if len(idx):
            tally.rows += len(idx)
            if all(c in frame.columns for c in id_columns):
                ids = frame.loc[idx[:SAMPLE_SIZE], list(id_columns)].astype(str).agg("|".join, axis=1)
                tally.samples.extend(ids.tolist())
        else:
            # a failure about the table rather than rows (missing or extra column, wrong type)
            tally.examples.extend(str(v) for v in group["failure_case"].head(3))
    return tallies


def _merge_tallies(into: dict[str, _Tally], part: dict[str, _Tally]) -> None:
    for label, tally in part.items():
        total = into.setdefault(label, _Tally(column=tally.column))
        total.rows += tally.rows
        total.samples.extend(tally.samples[: SAMPLE_SIZE - len(total.samples)])
        total.examples.extend(tally.examples[: 3 - len(total.examples)])


_WORKER_SCHEMAS: dict[tuple, pa.DataFrameSchema] = {}


def _batch_frame(batches: list, offset: int) -> pd.DataFrame:
    """Arrow record batches as one pandas frame indexed by row number in the table."""
    frame = pyarrow.Table.from_batches(batches).to_pandas(date_as_object=False)
    frame.index = pd.RangeIndex(offset, offset + len(frame))
    return frame


def _tally_batches(mart: str, params: BuildSettings, batches: list, offset: int) -> dict[str, _Tally]:
    """Worker-process side of `validate_mart`: the schema is rebuilt from `params` (its checks are closures,
    which do not pickle) once per process, and the Arrow batches arrive pickled (Arrow IPC buffers)."""
    key = (mart, repr(params))
    if key not in _WORKER_SCHEMAS:
        _WORKER_SCHEMAS[key] = mart_models(params)[mart].to_schema()
    return _tally_frame(_WORKER_SCHEMAS[key], _batch_frame(batches, offset), SAMPLE_ID_COLUMNS[mart])


def validate_mart(
    con: duckdb.DuckDBPyConnection,
    mart: str,
    model: type[pa.DataFrameModel],
    row_count: int,
    batch_rows: int = BATCH_ROWS,
    pool=None,
    params: BuildSettings | None = None,
) -> list[CheckResult]:
    """Validate `marts.<mart>` batch by batch; one CheckResult per rule (passing rules included).

    With `pool` (a concurrent.futures process pool) and `params`, batches are validated in the pool's
    worker processes, a few at a time so memory stays bounded, and merged in table order: the result is
    the same as validating here."""
    id_columns = SAMPLE_ID_COLUMNS[mart]
    schema = model.to_schema()
    tallies: dict[str, _Tally] = {}
    reader = con.sql(f'select * from "{MART_SCHEMA}"."{mart}"').to_arrow_reader(batch_rows)
    in_flight: deque = deque()
    max_in_flight = 2 * getattr(pool, "_max_workers", 1)

    def batches():
        """Reader batches gathered into batches of at least batch_rows rows (the reader's are smaller)."""
        offset, pending, size = 0, [], 0
        for batch in reader:
            pending.append(batch)
            size += batch.num_rows
            if size >= batch_rows:
                yield offset, pending
                offset, pending, size = offset + size, [], 0
        if pending:
            yield offset, pending

    for offset, chunk in batches():
        if pool is None:
            _merge_tallies(tallies, _tally_frame(schema, _batch_frame(chunk, offset), id_columns))
            continue
        in_flight.append(pool.submit(_tally_batches, mart, params, chunk, offset))
        while len(in_flight) >= max_in_flight:
            _merge_tallies(tallies, in_flight.popleft().result())
    while in_flight:
        _merge_tallies(tallies, in_flight.popleft().result())
    results: list[CheckResult] = []
    failing_labels = set(tallies)
    for label, tally in sorted(tallies.items()):
        detail = "values: " + ", ".join(tally.examples) if tally.examples else ""
        results.append(
            CheckResult(
                source="pandera",
                check_name=label,
                column_name=tally.column,
                severity="error",
                status="fail",
                failing_count=tally.rows if tally.rows else None,
                failing_share=(tally.rows / row_count) if row_count and tally.rows else None,
                detail=detail,
                sample_ids=tuple(tally.samples),
            )
        )
    for label, column in _all_rule_labels(schema, mart):
        if label not in failing_labels:
            results.append(
                CheckResult(
                    source="pandera", check_name=label, column_name=column, severity="error", status="pass",
                    failing_count=0, failing_share=0.0,
                )
            )
    return results


def _all_rule_labels(schema: pa.DataFrameSchema, mart: str) -> list[tuple[str, str | None]]:
    """Every rule of the schema, labelled the way failure cases are labelled, so passing rules are listed too."""
    labels: list[tuple[str, str | None]] = []
    for name, column in schema.columns.items():
        labels.append((f"{name}.dtype('{column.dtype}')", name))
        if not column.nullable:
            labels.append((f"{name}.not_nullable", name))
        if column.unique:
            labels.append((f"{name}.field_uniqueness", name))
        for check in column.checks:
            labels.append((f"{name}.{check.error or check.name}", name))
    for check in schema.checks:
        labels.append((check.name, None))
    return labels
