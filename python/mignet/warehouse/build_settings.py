"""The study's settings as one build recorded them, and the declarations of the dbt vars.

A build writes its settings into the warehouse: every var with the value it used (`audit.rpt_build_vars`),
the seeds it read (their tables in the warehouse, with their content hashes in `audit.rpt_build_content`).
`BuildSettings.load(con)` reads exactly that back, so every Python stage works with the settings of the
warehouse it reads, never with dbt_project.yml (which a `--vars` override or a later edit makes differ) and
never with literals. A seed table that no longer has the content the build recorded is refused.

The vars themselves are declared once, in the meta of model `rpt_build_vars`
(models/marts/audit/_audit__models.yml): type, allowed values or bounds, meaning. dbt checks a build's
values against it (on-run-start); `parse_var_assignments` checks the `--dbt-var` of the command line against
it before dbt starts, so a typo or a bad value is named at once.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

import yaml

from mignet import db

AUDIT_SCHEMA = "audit"
VAR_DECLARATIONS = Path("models") / "marts" / "audit" / "_audit__models.yml"


class BuildSettingsError(RuntimeError):
    """The warehouse does not say (or no longer says) which settings built it."""


class BuildVarError(ValueError):
    """A dbt var given on the command line is unknown or breaks its declaration."""


# ---- declarations ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VarDeclaration:
    name: str
    type: str  # integer | number | string | date | json
    description: str
    allowed: tuple | None = None
    min: float | None = None
    max: float | None = None

    def accepts(self) -> str:
        kinds = {"integer": "an integer", "number": "a number", "string": "a string", "date": "a date YYYY-MM-DD",
                 "json": "a YAML/JSON list or mapping"}
        parts = [kinds.get(self.type, self.type)]
        if self.allowed is not None:
            parts.append("one of " + ", ".join(str(a) for a in self.allowed))
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        return ", ".join(parts)

    def problem(self, value) -> str | None:
        """Why `value` is not acceptable, or None."""
        ok = True
        if self.type == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif self.type == "number":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        elif self.type == "string":
            ok = isinstance(value, str)
        elif self.type == "date":
            if isinstance(value, dt.date):
                ok = True
            else:
                try:
                    dt.date.fromisoformat(str(value))
                except ValueError:
                    ok = False
        elif self.type == "json":
            ok = isinstance(value, (list, dict))
        if ok and self.allowed is not None:
            ok = value in self.allowed
        if ok and self.min is not None:
            ok = value >= self.min
        if ok and self.max is not None:
            ok = value <= self.max
        if ok:
            return None
        return f"{self.name} must be {self.accepts()} ({self.description}), got {value!r}"


def var_declarations(project_root: Path) -> dict[str, VarDeclaration]:
    """The vars declared in the meta of model rpt_build_vars, by name, in declaration order."""
    path = Path(project_root) / VAR_DECLARATIONS
    spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for model in spec.get("models", []):
        if model.get("name") == "rpt_build_vars":
            declared = ((model.get("config") or {}).get("meta") or {}).get("vars") or {}
            return {
                name: VarDeclaration(
                    name=name, type=d["type"], description=d.get("description", ""),
                    allowed=tuple(d["allowed"]) if d.get("allowed") is not None else None,
                    min=d.get("min"), max=d.get("max"),
                )
                for name, d in declared.items()
            }
    raise BuildVarError(f"{path} declares no model rpt_build_vars (its meta.vars declare the build's vars)")


def parse_var_assignments(items, project_root: Path, option: str = "--dbt-var") -> dict:
    """{name: value} from KEY=VALUE strings (VALUE read as YAML, so 2 is a number and [1, 2] a list), each
    checked against its declaration. Raises BuildVarError naming the var and what it accepts."""
    declarations = var_declarations(project_root)
    out: dict = {}
    for item in items:
        key, sep, text = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise BuildVarError(f"{option} {item!r}: expected KEY=VALUE, e.g. imputation_method=median")
        if key not in declarations:
            raise BuildVarError(f"{option} {key}: no such dbt var; the vars are {', '.join(declarations)}")
        declaration = declarations[key]
        if declaration.type in ("string", "date"):
            value = text.strip()  # taken as written (a folder named 2025 is a folder; a date is checked as text)
        else:
            try:
                value = yaml.safe_load(text) if text.strip() else ""
            except (yaml.YAMLError, ValueError) as exc:
                raise BuildVarError(f"{option} {key}={text}: not a readable value ({getattr(exc, 'problem', exc)}); "
                                    f"{key} must be {declaration.accepts()}") from None
        problem = declaration.problem(value)
        if problem:
            raise BuildVarError(f"{option} {problem}")
        out[key] = value
    return out


# ---- the settings of one build ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    label: str
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class AgeBand:
    label: str
    min_age: int
    max_age: int


@dataclass(frozen=True)
class IncomeGroup:
    label: str
    order: int
    lower_quantile: float
    upper_quantile: float


@dataclass(frozen=True)
class PlausibilityBound:
    """One row of seed plausibility_bounds: the band of one plausibility check of `mignet validate` (either
    bound may be open) and the severity of a value outside it."""

    check_name: str
    lower: float | None
    upper: float | None
    severity: str
    description: str


@dataclass(frozen=True)
class RecordedTable:
    schema: str
    table: str
    resource_type: str
    n_rows: int
    content_hash: str


@dataclass(frozen=True)
class BuildSettings:
    build_id: str
    run_started_at: dt.datetime | None
    dbt_version: str | None
    vars: Mapping[str, Any]
    periods: tuple[Period, ...]
    age_bands: tuple[AgeBand, ...]
    income_groups: tuple[IncomeGroup, ...]
    recorded: Mapping[tuple[str, str], RecordedTable] = field(repr=False, default_factory=dict)

    # -- reading ------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, con) -> "BuildSettings":
        """The settings of the build that wrote the warehouse open on `con`."""
        for table in ("rpt_build_info", "rpt_build_vars", "rpt_build_content"):
            if not db.table_exists(con, AUDIT_SCHEMA, table):
                raise BuildSettingsError(
                    f"the warehouse has no {AUDIT_SCHEMA}.{table}, so it does not say which settings built it; "
                    "build it with this version of mignet (`mignet build`, or `dbt build` in the project)")
        info = con.execute(f"select build_id, run_started_at, dbt_version from {AUDIT_SCHEMA}.rpt_build_info").fetchall()
        if len(info) != 1:
            raise BuildSettingsError(f"{AUDIT_SCHEMA}.rpt_build_info holds {len(info)} rows, expected the one of its build")
        build_id, started, dbt_version = info[0]
        rows = con.execute(f"select build_id, var_name, value_json from {AUDIT_SCHEMA}.rpt_build_vars").fetchall()
        other = sorted({r[0] for r in rows if r[0] != build_id})
        if other:
            raise BuildSettingsError(
                f"{AUDIT_SCHEMA}.rpt_build_vars is of build {other[0]}, not of build {build_id} that wrote "
                f"{AUDIT_SCHEMA}.rpt_build_info: a partial build left them apart; build the whole project")
        values = {name: json.loads(text) for _, name, text in rows}
        recorded = {}
        for b, rtype, schema, table, n, digest in con.execute(
                f"select build_id, resource_type, table_schema, table_name, n_rows, content_hash "
                f"from {AUDIT_SCHEMA}.rpt_build_content").fetchall():
            if b != build_id:
                raise BuildSettingsError(
                    f"{AUDIT_SCHEMA}.rpt_build_content is of build {b}, not of build {build_id}; build the whole project")
            recorded[(schema, table)] = RecordedTable(schema, table, rtype, int(n), digest)

        def seed(name: str, columns: str, order: str) -> list[tuple]:
            return con.execute(
                f"select {columns} from {cls._seed_relation(recorded, con, name)} order by {order}").fetchall()

        periods = tuple(Period(str(a), b, c) for a, b, c in seed("periods", "period_label, start_date, end_date", "start_date"))
        bands = tuple(AgeBand(str(a), int(b), int(c)) for a, b, c in seed("age_bands", "band_label, min_age, max_age", "min_age"))
        groups = tuple(IncomeGroup(str(a), int(b), float(c), float(d)) for a, b, c, d in seed(
            "income_groups", "income_group, group_order, lower_quantile, upper_quantile", "group_order"))
        return cls(build_id=str(build_id), run_started_at=started, dbt_version=dbt_version, vars=values,
                   periods=periods, age_bands=bands, income_groups=groups, recorded=recorded)

    @staticmethod
    def _seed_relation(recorded, con, name: str) -> str:
        """The seed table `name` as the build wrote it; refused when its content changed since."""
        found = [r for r in recorded.values() if r.resource_type == "seed" and r.table == name]
        if not found:
            raise BuildSettingsError(f"the build did not record seed {name} ({AUDIT_SCHEMA}.rpt_build_content); "
                                     "build the whole project")
        entry = found[0]
        if not db.table_exists(con, entry.schema, entry.table):
            raise BuildSettingsError(f"seed table {entry.schema}.{entry.table} of the build is missing")
        n, digest = db.content_hash(con, entry.schema, entry.table)
        if digest != entry.content_hash:
            raise BuildSettingsError(
                f"seed table {entry.schema}.{entry.table} changed after the build wrote it ({entry.n_rows} rows, "
                f"hash {entry.content_hash}; now {n} rows, hash {digest}): rebuild the warehouse")
        return db.qualified(entry.schema, entry.table)

    def plausibility_bounds(self, con) -> dict[str, PlausibilityBound]:
        """The bands of the plausibility checks by check name: seed plausibility_bounds as this build wrote it
        (refused with BuildSettingsError when the build did not record it or it changed since). Read only by
        validation, so a warehouse without the seed still gives its other settings."""
        relation = self._seed_relation(self.recorded, con, "plausibility_bounds")
        columns = ", ".join(db.quote_ident(c) for c in ("check_name", "lower", "upper", "severity", "description"))
        rows = con.execute(f"select {columns} from {relation} order by check_name").fetchall()
        return {
            str(name): PlausibilityBound(str(name), None if lower is None else float(lower),
                                         None if upper is None else float(upper), str(severity), str(description or ""))
            for name, lower, upper, severity, description in rows
        }

    def seed_frame(self, con, name: str, order: str | None = None):
        """Seed `name` as this build wrote it, as a pandas frame (ordered by column `order`); refused with
        BuildSettingsError when the build did not record it or it changed since. For seeds a stage shows
        rather than computes with (the income-position report states the social minimum and the exclusions)."""
        relation = self._seed_relation(self.recorded, con, name)
        sql = f"select * from {relation}" + (f" order by {db.quote_ident(order)}" if order else "")
        return con.execute(sql).df()

    # -- the vars -----------------------------------------------------------------------------------------
    def var(self, name: str):
        if name not in self.vars:
            raise BuildSettingsError(f"the build recorded no var {name!r} (it recorded {', '.join(self.vars)})")
        return self.vars[name]

    def recorded_table(self, schema: str, table: str) -> RecordedTable | None:
        return self.recorded.get((schema, table))

    @property
    def marts(self) -> tuple[str, ...]:
        """The tables of schema marts the build wrote, by name."""
        return tuple(sorted(t for (s, t), r in self.recorded.items() if s == "marts" and r.resource_type == "model"))

    @property
    def target_vintage(self) -> int:
        return int(self.var("target_vintage"))

    @property
    def min_moves(self) -> int:
        return int(self.var("min_moves"))

    @property
    def data_start(self) -> dt.date:
        return dt.date.fromisoformat(str(self.var("data_start_date")))

    @property
    def data_end(self) -> dt.date:
        return dt.date.fromisoformat(str(self.var("data_end_date")))

    @property
    def years(self) -> list[int]:
        return list(range(self.data_start.year, self.data_end.year + 1))

    @property
    def population_years(self) -> list[int]:
        """Years of population counts: 1 January of each year of the period and of the year after it."""
        return list(range(self.data_start.year, self.data_end.year + 2))

    @property
    def disclosure_round_to(self) -> int:
        return int(self.var("disclosure_round_to"))

    @property
    def disclosure_suppress_below(self) -> int:
        return int(self.var("disclosure_suppress_below"))

    @property
    def imputed_share_max(self) -> float:
        return float(self.var("imputed_share_max"))

    @property
    def income_position_classification(self) -> str:
        """social_minimum or income_group: what sets a mover's position in the income-position study."""
        return str(self.var("income_position_classification"))

    @property
    def income_position_year(self) -> str:
        """move_year or next_year: the income year of a mover's position in the income-position study."""
        return str(self.var("income_position_year"))

    @cached_property
    def period_labels(self) -> tuple[str, ...]:
        return tuple(p.label for p in self.periods)

    @cached_property
    def age_band_labels(self) -> tuple[str, ...]:
        return tuple(b.label for b in self.age_bands)

    @cached_property
    def income_group_labels(self) -> tuple[str, ...]:
        return tuple(g.label for g in self.income_groups)

    def period(self, label: str) -> Period:
        for p in self.periods:
            if p.label == label:
                return p
        raise KeyError(label)
