"""pandera frame contracts: the typed frames the Python stages consume from the certified marts.

pandera owns one kind of rule in mignet (docs/quality.md, "which engine owns which rule"): the type and
the nullability of every column of a frame *as its reader produces it* (DuckDB -> Arrow -> pandas, strings
as categoricals where the reader asks for them), because that is what the network models and the report
code index, compare and compute on. A mart whose column changes type, or an integer or boolean column that
gains a NULL (pandas then turns it into float or object), breaks the contract before it breaks a model.
Values, keys and rules across rows and marts are dbt tests; distributions and plausibility are Great
Expectations checks. So no model here has a value check, and none needs the study's settings.

One `DataFrameModel` per frame, at module level; shared columns by inheritance (`NetworkKey`). A key
column's contract is its type only: that it is never NULL (and unique) is the key's dbt test
(`KeyColumn`). `FRAMES` says which mart each frame comes from, which columns its readers select, and how
they read it; `validate_frame` streams those columns out of DuckDB in Arrow record batches and validates
each batch with `lazy=True`, so memory stays bounded by one batch and every failing rule is reported.
fct_moves and fct_incomes are not read as frames by any Python stage (only aggregated in SQL), so they
have no contract here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import duckdb
import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
from pandera.typing import Series

from mignet import db
from mignet.quality.store import CheckResult
from mignet.warehouse import MART_SCHEMA

BATCH_ROWS = 1_000_000
SAMPLE_SIZE = 5

# A key column: its dtype is the frame contract's; never NULL and unique is the key's dbt test.
KeyColumn = partial(pa.Field, nullable=True, description="key column: not null and unique are dbt tests")
NullableColumn = partial(pa.Field, nullable=True)


class FrameContract(pa.DataFrameModel):
    class Config:
        strict = True  # the frame holds exactly the columns its readers select
        ordered = False
        coerce = False  # checked as the reader produces it: a converted frame would hide a type change


class NetworkKey(FrameContract):
    """The columns that name a network (dim_network), as every frame keyed by network carries them."""

    period_label: Series[str] = KeyColumn()
    group_type: Series[str] = KeyColumn()
    group_value: Series[str] = KeyColumn()


class DimNetworkFrame(NetworkKey):
    """marts.dim_network as `network.fit`, `network.scenario` and the report read it (every column)."""

    network_id: Series[np.int32] = KeyColumn()
    period_start: Series[pa.DateTime]
    period_end: Series[pa.DateTime]
    density_year: Series[np.int32]
    group_order: Series[np.int32]


class DyadsFrame(FrameContract):
    """marts.mart_network_dyads as `network.fit.certified_networks` reads it for fit, gof and the count
    models (strings as categoricals): what `ErgmModel` and the count models are built from."""

    network_id: Series[np.int32] = KeyColumn()
    origin_nis: Series[pd.CategoricalDtype] = KeyColumn()
    destination_nis: Series[pd.CategoricalDtype] = KeyColumn()
    n_moves: Series[np.int64]
    tie: Series[bool]
    density_diff_per_1000: Series[np.float64]
    distance_km: Series[np.float64]
    distance_10km: Series[np.float64]


class DestinationSharesFrame(NetworkKey):
    """marts.mart_destination_shares as the report reads it for its maps (every column)."""

    destination_nis: Series[str] = KeyColumn()
    movers_in: Series[np.int64]
    movers_in_all_groups: Series[np.int64]
    share: Series[np.float64] = NullableColumn()


class MunicipalityFrame(FrameContract):
    """marts.dim_municipality as the report (every column) and `network.scenario` read it."""

    nis_code: Series[str] = KeyColumn()
    name_nl: Series[str] = NullableColumn()
    name_fr: Series[str] = NullableColumn()
    arrondissement_nis: Series[str]
    province_nis: Series[str] = NullableColumn()  # none in the Brussels-Capital Region
    region_nis: Series[str]
    region_name: Series[str]
    area_km2: Series[np.float64]
    centroid_x: Series[np.float64]
    centroid_y: Series[np.float64]
    n_predecessor_codes: Series[np.int32]
    vintage: Series[np.int32]


class MunicipalityYearFrame(FrameContract):
    """marts.dim_municipality_year as the report reads it (population and density by year)."""

    nis_code: Series[str] = KeyColumn()
    year: Series[np.int32] = KeyColumn()
    population: Series[np.int64]
    density_per_km2: Series[np.float64]


class IncomePositionFrame(FrameContract):
    """marts.dim_income_position as the income-position report reads it (every column)."""

    position: Series[str] = KeyColumn()
    position_order: Series[np.int32]
    classification: Series[str]
    min_ratio_pct: Series[np.float64] = NullableColumn()
    max_ratio_pct: Series[np.float64] = NullableColumn()
    is_student_position: Series[bool]
    description: Series[str] = NullableColumn()


class AreaFrame(FrameContract):
    """marts.dim_area as the income-position report reads it (its labels and sizes)."""

    area_level: Series[str] = KeyColumn()
    area_code: Series[str] = KeyColumn()
    area_name: Series[str] = NullableColumn()
    area_type: Series[str] = NullableColumn()
    level_order: Series[np.int32]
    n_municipalities: Series[np.int32]
    is_unclassified: Series[bool]


class SpanPositionKey(FrameContract):
    """The span of study years and the income position that key the income-position marts."""

    year_from: Series[np.int32] = KeyColumn()
    year_to: Series[np.int32] = KeyColumn()
    n_years: Series[np.int32]
    position: Series[str] = KeyColumn()
    position_order: Series[np.int32]


class MigrationBalanceFrame(SpanPositionKey):
    """marts.mart_migration_balance as the income-position report reads it (every column; it reads the area
    types and the whole territory): counts as int64, the populations and rates NULL without population."""

    area_level: Series[str] = KeyColumn()
    area_code: Series[str] = KeyColumn()
    movers_in: Series[np.int64]
    movers_out: Series[np.int64]
    net_movers: Series[np.int64]
    population: Series[np.float64] = NullableColumn()
    population_total: Series[np.float64] = NullableColumn()
    net_rate_total: Series[np.float64] = NullableColumn()
    net_rate_position: Series[np.float64] = NullableColumn()


class OdNetFrame(SpanPositionKey):
    """marts.mart_od_net as the income-position report reads it for the OD matrix (every column)."""

    area_type: Series[str] = KeyColumn()
    partner_area_type: Series[str] = KeyColumn()
    movers_from_partner: Series[np.int64]
    movers_to_partner: Series[np.int64]
    net_movers: Series[np.int64]


class PositionExclusionsFrame(FrameContract):
    """marts.mart_position_exclusions as the income-position report reads it (every column)."""

    move_year: Series[np.int32] = KeyColumn()
    exclusion: Series[str] = KeyColumn()
    exclusion_order: Series[np.int32]
    movers: Series[np.int64]


@dataclass(frozen=True)
class Frame:
    """A frame a Python stage reads from a mart: its contract, and how the reader reads it."""

    mart: str
    model: type[FrameContract]
    categorical: bool  # strings as pandas categoricals (Warehouse.read_certified(..., categorical=True))
    sample_columns: tuple[str, ...]  # identify a failing row in the report: key columns, never values
    readers: tuple[str, ...] = field(default=())

    @property
    def columns(self) -> list[str]:
        return list(self.model.to_schema().columns)


FRAMES: dict[str, Frame] = {f.mart: f for f in (
    Frame("mart_network_dyads", DyadsFrame, True, ("network_id", "origin_nis", "destination_nis"),
          ("mignet.network.fit", "mignet.network.gof", "mignet.network.pooled", "mignet.network.scenario")),
    Frame("dim_network", DimNetworkFrame, False, ("network_id",),
          ("mignet.network.fit", "mignet.network.scenario", "mignet.report.data")),
    Frame("dim_municipality", MunicipalityFrame, False, ("nis_code",),
          ("mignet.report.data", "mignet.network.scenario")),
    Frame("dim_municipality_year", MunicipalityYearFrame, False, ("nis_code", "year"), ("mignet.report.data",)),
    Frame("mart_destination_shares", DestinationSharesFrame, False,
          ("period_label", "group_type", "group_value", "destination_nis"), ("mignet.report.data",)),
    Frame("dim_income_position", IncomePositionFrame, False, ("position",), ("mignet.report.income_positions",)),
    Frame("dim_area", AreaFrame, False, ("area_level", "area_code"), ("mignet.report.income_positions",)),
    Frame("mart_migration_balance", MigrationBalanceFrame, False,
          ("area_level", "area_code", "year_from", "year_to", "position"), ("mignet.report.income_positions",)),
    Frame("mart_od_net", OdNetFrame, False, ("area_type", "partner_area_type", "year_from", "year_to", "position"),
          ("mignet.report.income_positions",)),
    Frame("mart_position_exclusions", PositionExclusionsFrame, False, ("move_year", "exclusion"),
          ("mignet.report.income_positions",)),
)}


@dataclass
class _Tally:
    column: str | None
    rows: int = 0
    samples: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)


def _tally_frame(schema: pa.DataFrameSchema, frame: pd.DataFrame, id_columns: tuple[str, ...]) -> dict[str, _Tally]:
    """Failures of one batch (index = row numbers in the table), per rule label: failing rows, up to
    SAMPLE_SIZE sample ids, up to 3 example values of table-level failures (a wrong dtype, a missing column)."""
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
            tally.examples.extend(str(v) for v in group["failure_case"].head(3))
    return tallies


def _merge_tallies(into: dict[str, _Tally], part: dict[str, _Tally]) -> None:
    for label, tally in part.items():
        total = into.setdefault(label, _Tally(column=tally.column))
        total.rows += tally.rows
        total.samples.extend(tally.samples[: SAMPLE_SIZE - len(total.samples)])
        total.examples.extend(e for e in tally.examples[: 3 - len(total.examples)] if e not in total.examples)


def _to_frame(batches: list, offset: int, categorical: bool, schema: pyarrow.Schema) -> pd.DataFrame:
    """Arrow record batches as the reader's pandas frame (Warehouse.read_certified's conversion), indexed
    by row number in the table."""
    table = pyarrow.Table.from_batches(batches, schema=schema)
    frame = table.to_pandas(strings_to_categorical=categorical, date_as_object=False)
    frame.index = pd.RangeIndex(offset, offset + len(frame))
    return frame


def validate_frame(con: duckdb.DuckDBPyConnection, frame: Frame, row_count: int,
                   batch_rows: int = BATCH_ROWS) -> list[CheckResult]:
    """Validate the frame contract on `marts.<frame.mart>` batch by batch: one CheckResult per rule (passing
    rules included). The columns of the contract that the mart has are selected and converted as the
    reader converts them; a column the mart lacks fails the contract (column_in_dataframe). An empty mart
    is validated as an empty frame, so its types are still checked."""
    schema = frame.model.to_schema()
    present = {name for name, _ in db.columns(con, MART_SCHEMA, frame.mart)}
    selected = [c for c in frame.columns if c in present]
    sql = f"select {', '.join(db.quote_ident(c) for c in selected)} from {db.qualified(MART_SCHEMA, frame.mart)}"
    reader = con.sql(sql).to_arrow_reader(batch_rows)
    tallies: dict[str, _Tally] = {}
    offset, pending, size, seen = 0, [], 0, False

    def flush():
        _merge_tallies(tallies, _tally_frame(schema, _to_frame(pending, offset, frame.categorical, reader.schema),
                                             frame.sample_columns))

    for batch in reader:
        pending.append(batch)
        size += batch.num_rows
        # DuckDB's batches are smaller than asked: validate once a batch's worth is gathered
        if size >= batch_rows:
            flush()
            seen, offset, pending, size = True, offset + size, [], 0
    if pending or not seen:
        flush()
    return _results(schema, tallies, row_count)


def _results(schema: pa.DataFrameSchema, tallies: dict[str, _Tally], row_count: int) -> list[CheckResult]:
    results = []
    for label, tally in sorted(tallies.items()):
        results.append(CheckResult(
            source="pandera", check_name=label, column_name=tally.column, severity="error", status="fail",
            failing_count=tally.rows or None,
            failing_share=(tally.rows / row_count) if row_count and tally.rows else None,
            detail="found: " + ", ".join(tally.examples) if tally.examples else "",
            sample_ids=tuple(tally.samples),
        ))
    for label, column in rule_labels(schema):
        if label not in tallies:
            results.append(CheckResult(source="pandera", check_name=label, column_name=column, severity="error",
                                       status="pass", failing_count=0, failing_share=0.0))
    return results


def rule_labels(schema: pa.DataFrameSchema) -> list[tuple[str, str | None]]:
    """Every rule of a contract, labelled as its failures are (`<column>.dtype('<dtype>')`,
    `<column>.not_nullable`), so passing rules are listed in the report too."""
    labels: list[tuple[str, str | None]] = []
    for name, column in schema.columns.items():
        labels.append((f"{name}.dtype('{column.dtype}')", name))
        if not column.nullable:
            labels.append((f"{name}.not_nullable", name))
    return labels
