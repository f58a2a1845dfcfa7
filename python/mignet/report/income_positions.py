"""The income-position report `reports/income_positions/index.html`: the second study's figures (do domestic
moves concentrate low incomes in some area types, such as the shrinking areas?) from the certified marts of
docs/income_positions.md, on one self-contained page.

    from mignet.report.income_positions import write_income_positions_report
    path = write_income_positions_report(settings)

It shows, per area type and income position, the movers in, out and net (the whole study period and each
study year), the net per year per 1,000 residents of the area type and of the position, the OD net matrix
between area types, the excluded movers per reason, and a methods section written from the build: the
classification and its bounds (dim_income_position, from seed income_positions or income_groups), the social
minimum (seed social_minimum), the year rule (var income_position_year), the exclusion reasons (seed
income_position_exclusions) and the area types (the extract's table area_types, in dim_area). Every number
comes from the marts, read through `Warehouse.reading` (refused, naming the mart, unless certified as it is),
each with the columns of its pandera frame contract (`mignet.quality.schemas.FRAMES`, which names this module
as the reader); every setting from what the build recorded. Whether the register is synthetic is read from
the generator's manifest in the raw folder the build read (`register_source`).
"""

from __future__ import annotations

import html
import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from mignet import db
from mignet.quality.schemas import FRAMES
from mignet.report import write_page
from mignet.report.data import RUN_STATE_FILE, ReportInputError
from mignet.report.figures import plt, png_data_uri
from mignet.settings import Settings
from mignet.warehouse import MART_SCHEMA, Warehouse, WarehouseError
from mignet.warehouse.build_settings import BuildSettings, BuildSettingsError

TEMPLATES = Path(__file__).with_name("templates")
PAGE_DIR = "income_positions"  # under settings.reports_dir (mignet.report.PAGES)
POSITIONS, AREAS, BALANCE, OD, EXCLUSIONS = ("dim_income_position", "dim_area", "mart_migration_balance",
                                             "mart_od_net", "mart_position_exclusions")
MARTS = (POSITIONS, AREAS, BALANCE, OD, EXCLUSIONS)
# the levels of mart_migration_balance the page shows (its frame contract: the area types and the territory)
BALANCE_LEVELS = ("area_type", "territory")
EXCLUSION_SEED = "income_position_exclusions"
SOCIAL_MINIMUM_SEED = "social_minimum"
# the generator's name in the manifest.json it writes beside every synthetic register (mignet.generate)
GENERATOR = "mignet.generate"
MANIFEST = "manifest.json"
# Okabe-Ito, colour-blind safe, in position order; the total of all positions in dark grey
POSITION_COLOURS = ["#D55E00", "#E69F00", "#0072B2", "#009E73", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
TOTAL_COLOUR = "#555555"
EXCLUSION_COLOURS = ["#999999", "#CC79A7", "#E69F00", "#56B4E9", "#009E73", "#D55E00", "#0072B2", "#F0E442"]
PER = 1000  # rates are shown per 1,000 residents


# ---- inputs -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RegisterSource:
    """Whether the register behind the build is synthetic: True (the generator's manifest in the raw folder the
    build read matches what the build reconciled), None (nothing says; a real extract has no manifest)."""

    synthetic: bool | None
    evidence: str
    generator: dict = field(default_factory=dict)


@dataclass
class IncomePositionInputs:
    positions: pd.DataFrame  # dim_income_position in position order
    areas: pd.DataFrame  # dim_area (the contract's columns)
    balance: pd.DataFrame  # mart_migration_balance, area types and territory
    od: pd.DataFrame  # mart_od_net
    exclusions: pd.DataFrame  # mart_position_exclusions
    build: BuildSettings
    certifications: dict  # mart -> Certification
    exclusion_reasons: pd.DataFrame  # seed income_position_exclusions as the build wrote it
    social_minimum: pd.DataFrame  # seed social_minimum as the build wrote it
    source: RegisterSource

    # -- derived: what the figures and tables are made of ----------------------------------------------------
    @property
    def position_labels(self) -> list[str]:
        return self.positions.sort_values("position_order")["position"].tolist()

    @property
    def total_label(self) -> str:
        """The label the marts give the total of every position (the one position that is no row of
        dim_income_position)."""
        extra = sorted(set(self.balance["position"]) - set(self.position_labels))
        if len(extra) != 1:
            raise ReportInputError(f"marts.{BALANCE} should hold the positions of marts.{POSITIONS} and one total, "
                                   f"but holds {', '.join(extra) or 'no other position'} besides them")
        return extra[0]

    @property
    def area_types(self) -> list[str]:
        """The area types of dim_area, by name, the unclassified ones last."""
        rows = self.areas[self.areas["area_level"] == "area_type"]
        return rows.sort_values(["is_unclassified", "area_code"])["area_code"].tolist()

    @property
    def whole_span(self) -> tuple[int, int]:
        spans = self.balance[["year_from", "year_to"]].drop_duplicates()
        return int(spans["year_from"].min()), int(spans["year_to"].max())

    @property
    def study_years(self) -> list[int]:
        single = self.balance[self.balance["n_years"] == 1]
        return sorted(int(y) for y in set(single["year_from"]))

    def whole_period(self, frame: pd.DataFrame) -> pd.DataFrame:
        first, last = self.whole_span
        return frame[(frame["year_from"] == first) & (frame["year_to"] == last)]

    def by_area_type(self) -> pd.DataFrame:
        """The balance of the area types over the whole study period."""
        rows = self.whole_period(self.balance)
        return rows[rows["area_level"] == "area_type"]


def register_source(settings: Settings, build: BuildSettings, raw_rows: dict[str, int]) -> RegisterSource:
    """Whether the build read a synthetic register. The warehouse records the raw folder the build read (var
    raw_dir), not what made it; mignet.generate writes manifest.json beside every register it makes, with the
    row count of each table. The register counts as synthetic when that folder's manifest names the generator
    and its row counts are the raw rows the build reconciled (`raw_rows`, audit.rpt_reconciliation); the run
    state of `mignet run` corroborates it when the same build is its last."""
    raw_dir = Path(str(build.var("raw_dir")))
    path = raw_dir / MANIFEST
    manifest = None
    if path.is_file():
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            manifest = None
    run = _last_run(settings)
    ran_generator = run.get("build_id") == build.build_id and bool(run.get("generator"))
    if isinstance(manifest, dict) and manifest.get("generator") == GENERATOR:
        counts = manifest.get("row_counts") or {}
        shared = sorted(set(counts) & set(raw_rows))
        differ = [t for t in shared if int(counts[t]) != int(raw_rows[t])]
        generator = {k: manifest.get(k) for k in ("seed", "scale", "geography", "fault_rate") if k in manifest}
        if shared and not differ:
            also = " and `mignet run` generated it for this build" if ran_generator else ""
            return RegisterSource(True, f"the raw folder the build read ({raw_dir}) holds the manifest of {GENERATOR}, "
                                        f"whose row counts are the raw rows the build reconciled{also}", generator)
        return RegisterSource(None, f"the raw folder the build read ({raw_dir}) holds a manifest of {GENERATOR}, but "
                                    f"its row counts ({', '.join(differ) or 'no table'} differ or are missing) are not "
                                    "those the build reconciled: the folder was rewritten after the build", generator)
    if ran_generator:
        return RegisterSource(True, f"`mignet run` generated the register of this build ({RUN_STATE_FILE})",
                              dict(run.get("generator") or {}))
    return RegisterSource(None, f"the raw folder the build read ({raw_dir}) holds no manifest of {GENERATOR}, which "
                                "writes one beside every synthetic register; the warehouse itself does not record "
                                "whether its register is synthetic")


def _last_run(settings: Settings) -> dict:
    path = settings.data_dir / RUN_STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        return {}
    return (state.get("run") or {}) if isinstance(state, dict) else {}


def _frame(con, mart: str, where: str | None = None, params: list | None = None) -> pd.DataFrame:
    """The mart's columns of its frame contract, as `Warehouse.read_certified` converts them."""
    columns = ", ".join(db.quote_ident(c) for c in FRAMES[mart].columns)
    sql = f"select {columns} from {db.qualified(MART_SCHEMA, mart)}" + (f" where {where}" if where else "")
    return con.sql(sql, params=params or None).to_arrow_table().to_pandas(date_as_object=False)


def load_income_position_inputs(settings: Settings) -> IncomePositionInputs:
    warehouse = Warehouse(settings)
    if not warehouse.exists():
        raise ReportInputError(f"no warehouse at {settings.warehouse}: run `mignet run` (or build and validate) first")
    try:
        with warehouse.reading(marts=MARTS) as (con, verified):
            build = warehouse.build_settings(con)
            levels = ", ".join("?" for _ in BALANCE_LEVELS)
            balance = _frame(con, BALANCE, f"area_level in ({levels})", list(BALANCE_LEVELS))
            raw_rows = {}
            if db.table_exists(con, "audit", "rpt_reconciliation"):
                raw_rows = {str(t): int(n) for t, n in con.execute(
                    "select source_table, any_value(raw_rows) from audit.rpt_reconciliation group by 1").fetchall()}
            inputs = IncomePositionInputs(
                positions=_frame(con, POSITIONS).sort_values("position_order").reset_index(drop=True),
                areas=_frame(con, AREAS), balance=balance, od=_frame(con, OD), exclusions=_frame(con, EXCLUSIONS),
                build=build, certifications=dict(verified),
                exclusion_reasons=build.seed_frame(con, EXCLUSION_SEED, order="exclusion_order"),
                social_minimum=build.seed_frame(con, SOCIAL_MINIMUM_SEED),
                source=register_source(settings, build, raw_rows),
            )
    except (WarehouseError, BuildSettingsError) as exc:
        raise ReportInputError(f"the income-position report reads only certified marts: {exc}") from exc
    if inputs.balance.empty or inputs.positions.empty:
        raise ReportInputError(f"marts.{BALANCE} or marts.{POSITIONS} in {settings.warehouse} is empty")
    return inputs


# ---- figures (each returns the matplotlib figure; `render` embeds it) ---------------------------------------

def position_colours(positions: list[str], total: str | None = None) -> dict[str, str]:
    colours = {p: POSITION_COLOURS[i % len(POSITION_COLOURS)] for i, p in enumerate(positions)}
    if total is not None:
        colours[total] = TOTAL_COLOUR
    return colours


def _grouped_bars(ax, frame: pd.DataFrame, x_key: str, x_values: list, series: list[str], column: str,
                  colours: dict[str, str], labels: dict[str, str] | None = None) -> None:
    """One bar per x value and series (a position), side by side; each series one BarContainer labelled with
    the position, its heights the frame's `column` (NaN where the frame has no value)."""
    width = 0.8 / max(1, len(series))
    x = np.arange(len(x_values))
    for k, position in enumerate(series):
        rows = frame[frame["position"] == position].set_index(x_key)[column]
        heights = np.array([float(rows.get(v, np.nan)) if pd.notna(rows.get(v, np.nan)) else np.nan
                            for v in x_values])
        ax.bar(x - 0.4 + width * (k + 0.5), heights, width, color=colours[position],
               label=(labels or {}).get(position, position))
    ax.axhline(0.0, color="#333333", lw=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels([str(v).replace("_", " ") for v in x_values], rotation=20 if len(x_values) > 4 else 0,
                       ha="right" if len(x_values) > 4 else "center")
    ax.grid(axis="y", color="#dddddd", lw=0.6)
    ax.set_axisbelow(True)


MOVER_PANELS = (
    ("movers_in", "Movers in", "moves into the area type from another area type"),
    ("movers_out", "Movers out", "moves from the area type to another area type"),
    ("net_movers", "Net (in − out)", "positive: the area type gains movers of the position"),
)


def movers_figure(inputs: IncomePositionInputs):
    """In, out and net movers per area type (x) and income position (colour) over the whole study period."""
    first, last = inputs.whole_span
    frame = inputs.by_area_type()
    positions, types = inputs.position_labels, inputs.area_types
    colours = position_colours(positions)
    fig, axes = plt.subplots(1, 3, figsize=(4.2 + 1.5 * len(types) * 1.5, 4.4), squeeze=False)
    for ax, (column, title, what) in zip(axes[0], MOVER_PANELS):
        _grouped_bars(ax, frame, "area_code", types, positions, column, colours)
        ax.set_title(f"{title}, {first}–{last}\n({what})", fontsize=9.5)
        ax.set_gid(column)
    axes[0][0].set_ylabel(f"moves between municipalities, {first}–{last}", fontsize=9)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[p]) for p in positions]
    fig.legend(handles, [p.replace("_", " ") for p in positions], loc="upper center", ncol=len(positions),
               frameon=False, bbox_to_anchor=(0.5, 1.04), title="income position of the movers", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig


def yearly_net_figure(inputs: IncomePositionInputs):
    """Net movers per study year (x) and position (colour), one panel per area type."""
    single = inputs.balance[(inputs.balance["n_years"] == 1) & (inputs.balance["area_level"] == "area_type")]
    positions, types, years = inputs.position_labels, inputs.area_types, inputs.study_years
    colours = position_colours(positions)
    n_cols = min(3, len(types))
    n_rows = math.ceil(len(types) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.3 * n_cols, 3.1 * n_rows), squeeze=False, sharey=True)
    for i, area_type in enumerate(types):
        ax = axes[i // n_cols][i % n_cols]
        rows = single[single["area_code"] == area_type]
        _grouped_bars(ax, rows, "year_from", years, positions, "net_movers", colours)
        ax.set_title(area_type.replace("_", " "), fontsize=10)
        ax.set_gid(area_type)
        if i % n_cols == 0:
            ax.set_ylabel("net movers in the year\n(in − out)", fontsize=9)
    for j in range(len(types), n_rows * n_cols):
        axes[j // n_cols][j % n_cols].set_visible(False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[p]) for p in positions]
    fig.legend(handles, [p.replace("_", " ") for p in positions], loc="upper center", ncol=len(positions),
               frameon=False, bbox_to_anchor=(0.5, 1.02), fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


RATE_PANELS = (
    ("net_rate_total", "per 1,000 residents of the area type"),
    ("net_rate_position", "per 1,000 residents of the area type in the position"),
)


def rate_figure(inputs: IncomePositionInputs):
    """Net per year per 1,000 residents (all residents; the position's own) per area type and position, over the
    whole study period; the total of every classified mover in grey."""
    first, last = inputs.whole_span
    frame = inputs.by_area_type().copy()
    for column, _ in RATE_PANELS:
        frame[column] = frame[column] * PER
    total = inputs.total_label
    series = [total] + inputs.position_labels
    colours = position_colours(inputs.position_labels, total)
    types = inputs.area_types
    fig, axes = plt.subplots(1, 2, figsize=(3.5 + 2.1 * len(types) * 1.2, 4.2), squeeze=False)
    for ax, (column, what) in zip(axes[0], RATE_PANELS):
        _grouped_bars(ax, frame, "area_code", types, series, column, colours)
        ax.set_title(f"Net per year {what}\n(mean population on 1 January, {first}–{last})", fontsize=9.5)
        ax.set_ylabel(f"net movers per year per {PER:,}", fontsize=9)
        ax.set_gid(column)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[p]) for p in series]
    names = ["all classified movers" if p == total else p.replace("_", " ") for p in series]
    fig.legend(handles, names, loc="upper center", ncol=len(series), frameon=False, bbox_to_anchor=(0.5, 1.03),
               fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig


def od_matrix(inputs: IncomePositionInputs, position: str) -> pd.DataFrame:
    """The OD net matrix of one position over the whole study period: rows the area type, columns the partner,
    a cell the row's net gain from the column (moves from the partner minus moves to it)."""
    rows = inputs.whole_period(inputs.od)
    rows = rows[rows["position"] == position]
    types = inputs.area_types
    matrix = rows.pivot(index="area_type", columns="partner_area_type", values="net_movers")
    return matrix.reindex(index=types, columns=types)


def od_figure(inputs: IncomePositionInputs):
    """Heat maps of the OD net matrix, one panel per position (and the total), whole study period."""
    first, last = inputs.whole_span
    total = inputs.total_label
    series = [total] + inputs.position_labels
    types = inputs.area_types
    n_cols = min(3, len(series))
    n_rows = math.ceil(len(series) / n_cols)
    size = 1.0 + 0.75 * len(types)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(size * n_cols + 1.0, size * n_rows + 0.6), squeeze=False)
    short = [t.replace("_", " ") for t in types]
    for i, position in enumerate(series):
        ax = axes[i // n_cols][i % n_cols]
        matrix = od_matrix(inputs, position).to_numpy(dtype=float)
        bound = max(1.0, float(np.nanmax(np.abs(matrix))) if np.isfinite(matrix).any() else 1.0)
        image = ax.imshow(matrix, cmap="RdBu", vmin=-bound, vmax=bound)
        for r in range(len(types)):
            for c in range(len(types)):
                if np.isfinite(matrix[r, c]):
                    ax.text(c, r, f"{int(matrix[r, c]):+,}" if matrix[r, c] else "0", ha="center", va="center",
                            fontsize=7.5, color="white" if abs(matrix[r, c]) > 0.6 * bound else "black")
        ax.set_xticks(range(len(types)))
        ax.set_xticklabels(short, rotation=35, ha="right", fontsize=8)
        ax.set_yticks(range(len(types)))
        ax.set_yticklabels(short, fontsize=8)
        ax.set_xlabel("from / to partner area type", fontsize=8)
        ax.set_title("all classified movers" if position == total else position.replace("_", " "), fontsize=10)
        ax.set_gid(position)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=7)
    for j in range(len(series), n_rows * n_cols):
        axes[j // n_cols][j % n_cols].set_visible(False)
    fig.suptitle(f"Net gain of the row's area type from the column's, {first}–{last} (moves)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig


def exclusion_table(inputs: IncomePositionInputs) -> pd.DataFrame:
    """Excluded movers per move year (rows) and reason (columns, in the seed's order), with the classified movers
    of the year (the OD matrix of every classified mover holds each classified move once) and the share
    excluded of every inter-municipal move."""
    excl = inputs.exclusions.sort_values(["exclusion_order", "exclusion"])
    reasons = list(dict.fromkeys(excl["exclusion"]))
    table = excl.pivot(index="move_year", columns="exclusion", values="movers").reindex(columns=reasons).fillna(0)
    table = table.astype("int64")
    od = inputs.od[(inputs.od["n_years"] == 1) & (inputs.od["position"] == inputs.total_label)]
    classified = od.groupby("year_from")["movers_from_partner"].sum()
    table["classified"] = [int(classified.get(y, 0)) for y in table.index]
    table["excluded"] = table[reasons].sum(axis=1)
    table["all_moves"] = table["excluded"] + table["classified"]
    table["share_excluded"] = table["excluded"] / table["all_moves"].where(table["all_moves"] > 0)
    return table


def exclusions_figure(inputs: IncomePositionInputs):
    """Excluded movers per move year, stacked by reason."""
    table = exclusion_table(inputs)
    reasons = [c for c in table.columns if c not in ("classified", "excluded", "all_moves", "share_excluded")]
    fig, ax = plt.subplots(figsize=(1.6 + 0.9 * len(table), 3.8))
    bottom = np.zeros(len(table))
    x = np.arange(len(table))
    for k, reason in enumerate(reasons):
        heights = table[reason].to_numpy(dtype=float)
        ax.bar(x, heights, 0.7, bottom=bottom, color=EXCLUSION_COLOURS[k % len(EXCLUSION_COLOURS)],
               label=reason.replace("_", " "))
        bottom = bottom + heights
    ax.set_xticks(x)
    ax.set_xticklabels([str(y) for y in table.index])
    ax.set_xlabel("year of the move")
    ax.set_ylabel("excluded moves between municipalities")
    ax.grid(axis="y", color="#dddddd", lw=0.6)
    ax.set_axisbelow(True)
    ax.set_gid("exclusions")
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


# ---- page sections ----------------------------------------------------------------------------------------------

def _count(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or pd.isna(value):
        return "–"
    return f"{int(round(float(value))):,}"


def _signed(value) -> str:
    if value is None or pd.isna(value):
        return "–"
    return f"{int(value):+,}" if int(value) else "0"


def _rate(value) -> str:
    if value is None or pd.isna(value) or not math.isfinite(float(value)):
        return "–"
    return f"{PER * float(value):+.2f}"


def _band(row) -> str:
    if bool(row["is_student_position"]):
        return "main earner a student (whatever the income)"
    low, high = row["min_ratio_pct"], row["max_ratio_pct"]
    if pd.isna(low) and pd.isna(high):
        return "–"
    if pd.isna(high):
        return f"{low:g} % and over"
    return f"{(0 if pd.isna(low) else low):g} % to under {high:g} %"


def balance_rows(inputs: IncomePositionInputs) -> list[dict]:
    """The whole period's balance per area type and position (the total first), for the table."""
    frame = inputs.by_area_type()
    total = inputs.total_label
    order = {p: i for i, p in enumerate([total] + inputs.position_labels)}
    rows = []
    for area_type in inputs.area_types:
        sub = frame[frame["area_code"] == area_type].copy()
        sub["k"] = sub["position"].map(order)
        for r in sub.sort_values("k").itertuples():
            rows.append({"area_type": area_type, "position": r.position, "is_total": r.position == total,
                         "in": _count(r.movers_in), "out": _count(r.movers_out), "net": _signed(r.net_movers),
                         "net_value": int(r.net_movers), "population": _count(r.population),
                         "population_total": _count(r.population_total), "rate_total": _rate(r.net_rate_total),
                         "rate_position": _rate(r.net_rate_position),
                         "rate_position_value": None if pd.isna(r.net_rate_position) else float(r.net_rate_position)})
    return rows


def glance(inputs: IncomePositionInputs) -> dict:
    """The answer at a glance: the net per year per 1,000 of the position's residents of every area type and
    position (whole period), and a sentence on the lowest income position (the first one that is not the
    students')."""
    frame = inputs.by_area_type()
    positions = inputs.position_labels
    cells = []
    for area_type in inputs.area_types:
        row = []
        for position in positions:
            hit = frame[(frame["area_code"] == area_type) & (frame["position"] == position)]
            value = None if hit.empty or pd.isna(hit["net_rate_position"].iloc[0]) else float(hit["net_rate_position"].iloc[0])
            net = None if hit.empty else int(hit["net_movers"].iloc[0])
            row.append({"text": _rate(value), "net": _signed(net),
                        "css": "" if value is None or value == 0 else ("gain" if value > 0 else "loss")})
        cells.append({"area_type": area_type, "cells": row})
    lowest = inputs.positions[~inputs.positions["is_student_position"].astype(bool)]
    sentence = None
    if not lowest.empty:
        low = lowest.iloc[0]
        sub = frame[frame["position"] == low["position"]].set_index("area_code")
        gains = [(t, sub.loc[t]) for t in inputs.area_types if t in sub.index and sub.loc[t, "net_movers"] > 0]
        losses = [(t, sub.loc[t]) for t in inputs.area_types if t in sub.index and sub.loc[t, "net_movers"] < 0]

        def listed(items):
            return ", ".join(f"{t.replace('_', ' ')} ({_signed(r['net_movers'])}; {_rate(r['net_rate_position'])} "
                             f"per {PER:,} of the position per year)" for t, r in items) or "none"
        sentence = {"position": low["position"], "description": low["description"], "gains": listed(gains),
                    "losses": listed(losses)}
    return {"positions": positions, "rows": cells, "lowest": sentence}


def yearly_rows(inputs: IncomePositionInputs) -> list[dict]:
    single = inputs.balance[(inputs.balance["n_years"] == 1) & (inputs.balance["area_level"] == "area_type")]
    total = inputs.total_label
    order = {p: i for i, p in enumerate([total] + inputs.position_labels)}
    rows = []
    for area_type in inputs.area_types:
        for year in inputs.study_years:
            sub = single[(single["area_code"] == area_type) & (single["year_from"] == year)].copy()
            sub["k"] = sub["position"].map(order)
            for r in sub.sort_values("k").itertuples():
                rows.append({"area_type": area_type, "year": year, "position": r.position,
                             "is_total": r.position == total, "in": _count(r.movers_in),
                             "out": _count(r.movers_out), "net": _signed(r.net_movers),
                             "rate_total": _rate(r.net_rate_total), "rate_position": _rate(r.net_rate_position)})
    return rows


def od_tables(inputs: IncomePositionInputs) -> list[dict]:
    total = inputs.total_label
    tables = []
    for position in [total] + inputs.position_labels:
        matrix = od_matrix(inputs, position)
        tables.append({
            "position": position, "is_total": position == total,
            "rows": [{"area_type": t, "cells": [_signed(v) for v in matrix.loc[t].tolist()],
                      "sum": _signed(matrix.loc[t].sum())} for t in matrix.index],
        })
    return tables


def exclusion_section(inputs: IncomePositionInputs) -> dict:
    table = exclusion_table(inputs)
    reasons = [c for c in table.columns if c not in ("classified", "excluded", "all_moves", "share_excluded")]
    seed = inputs.exclusion_reasons.set_index("exclusion")
    totals = table[reasons + ["classified", "excluded", "all_moves"]].sum()
    return {
        "reasons": [{"code": r, "description": str(seed.loc[r, "description"]) if r in seed.index else
                     "not a row of seed income_position_exclusions", "total": _count(totals[r])} for r in reasons],
        "rows": [{"year": int(y), "cells": [_count(table.loc[y, r]) for r in reasons],
                  "classified": _count(table.loc[y, "classified"]), "excluded": _count(table.loc[y, "excluded"]),
                  "all": _count(table.loc[y, "all_moves"]),
                  "share": "–" if pd.isna(table.loc[y, "share_excluded"]) else f"{table.loc[y, 'share_excluded']:.1%}"}
                 for y in table.index],
        "totals": {"cells": [_count(totals[r]) for r in reasons], "classified": _count(totals["classified"]),
                   "excluded": _count(totals["excluded"]), "all": _count(totals["all_moves"]),
                   "share": f"{totals['excluded'] / totals['all_moves']:.1%}" if totals["all_moves"] else "–"},
    }


def methods(inputs: IncomePositionInputs) -> dict:
    """The methods section from the build: its vars, the positions of its classification, its seeds, the area
    types of dim_area and the certifications read."""
    build = inputs.build
    classification = build.income_position_classification
    year_rule = build.income_position_year
    positions = [{"position": r["position"], "order": int(r["position_order"]), "band": _band(r),
                  "description": r["description"]} for _, r in inputs.positions.iterrows()]
    social = inputs.social_minimum
    social_minimum = None
    if classification == "social_minimum" and not social.empty:
        social = social.assign(situation=social["household_type"].astype(str) + ", " + social["age_class"].astype(str)
                               + " (" + social["min_age"].astype(str) + "–" + social["max_age"].astype(str) + ")")
        pivot = social.pivot_table(index="situation", columns="year", values="monthly_amount_eur", aggfunc="first",
                                   sort=False)
        social_minimum = {"years": [int(y) for y in pivot.columns],
                          "rows": [{"situation": s, "cells": [("–" if pd.isna(v) else f"{v:,.2f}") for v in row]}
                                   for s, row in zip(pivot.index, pivot.to_numpy())]}
    areas = inputs.areas
    types = []
    for area_type in inputs.area_types:
        named = areas[(areas["area_level"] == "area") & (areas["area_type"] == area_type)]
        row = areas[(areas["area_level"] == "area_type") & (areas["area_code"] == area_type)].iloc[0]
        types.append({"area_type": area_type, "n_areas": len(named), "n_municipalities": int(row["n_municipalities"]),
                      "unclassified": bool(row["is_unclassified"]),
                      "areas": ", ".join(sorted(named["area_name"].dropna().astype(str)))})
    territory = areas[areas["area_level"] == "territory"]
    first, last = inputs.whole_span
    data_years = build.years
    outside = [y for y in data_years if y not in inputs.study_years]
    vars_shown = ("income_position_classification", "income_position_year", "data_start_date", "data_end_date",
                  "target_vintage", "disclosure_round_to", "disclosure_suppress_below")
    return {
        "classification": classification, "year_rule": year_rule, "positions": positions,
        "income_groups": [{"label": g.label, "lower": g.lower_quantile, "upper": g.upper_quantile}
                          for g in build.income_groups],
        "social_minimum": social_minimum,
        "area_types": types,
        "n_municipalities": int(territory["n_municipalities"].iloc[0]) if not territory.empty else None,
        "n_unclassified": int(areas[(areas["area_level"] == "municipality") & areas["is_unclassified"].astype(bool)].shape[0]),
        "first": first, "last": last, "data_start": build.data_start, "data_end": build.data_end,
        "years_outside": outside, "study_years": inputs.study_years,
        "vintage": build.target_vintage,
        "round_to": build.disclosure_round_to, "suppress_below": build.disclosure_suppress_below,
        "vars": {k: build.vars[k] for k in vars_shown if k in build.vars},
        "build_id": build.build_id,
        "certifications": [{"mart": m, "certification_id": c.certification_id, "build_id": c.build_id,
                            "rows": c.row_count, "checked_at": c.checked_at} for m, c in inputs.certifications.items()],
    }


def render(inputs: IncomePositionInputs, settings: Settings) -> str:
    page_dir = settings.reports_dir / PAGE_DIR
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "j2"]))
    template = env.get_template("income_positions.html.j2")
    first, last = inputs.whole_span
    total = inputs.total_label
    return template.render(
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        source=inputs.source, first=first, last=last, total=total,
        glance=glance(inputs),
        movers_img=png_data_uri(movers_figure(inputs)),
        yearly_img=png_data_uri(yearly_net_figure(inputs)),
        rate_img=png_data_uri(rate_figure(inputs)),
        od_img=png_data_uri(od_figure(inputs)),
        exclusions_img=png_data_uri(exclusions_figure(inputs)),
        balance=balance_rows(inputs), yearly=yearly_rows(inputs), od_tables=od_tables(inputs),
        area_types=inputs.area_types, exclusions=exclusion_section(inputs), methods=methods(inputs),
        per=f"{PER:,}",
        models_report=os.path.relpath(settings.reports_dir / "models" / "index.html", page_dir),
        quality_report=os.path.relpath(settings.reports_dir / "quality" / "index.html", page_dir),
        esc=html.escape,
    )


def write_income_positions_report(settings: Settings) -> Path:
    """Write `reports/income_positions/index.html` from the certified marts and return its path."""
    inputs = load_income_position_inputs(settings)
    page = render(inputs, settings)
    return write_page(settings.reports_dir / PAGE_DIR, page)
