"""The raw data contract: the five tables of a register extract, their columns, types and rules.

The contract has one home, the dbt source definition `models/staging/register/_register__sources.yml`:
dbt reads it through `graph.sources` (the raw views, the build's structural checks and the quarantine rules
of the int_*_checked models), and this module loads the same file as YAML for `mignet check-raw`
(mignet.raw), the generator and the tests. docs/raw_contract.md is the readable version.

Two kinds of rule:
- structural: a missing or ambiguous file, a missing or reserved column, an empty table, a file that is not
  UTF-8 comma-separated CSV, a value that cannot be read as its column's type, a NULL in a NOT NULL column.
  The extract cannot be used; check-raw and the build stop with file, column, row and rule.
- quarantine: a readable value that breaks a check of its column (pattern, allowed values, range), a NULL
  or an unreadable value where the column names a quarantine rule for it, a key already on an earlier row.
  The warehouse moves such rows to `audit.rpt_quarantine` under the rule the contract names, with a reason;
  check-raw reports them as warnings with the same rule. The warehouse adds rules across tables (unknown
  codes, dates outside the data period, ...): seeds/quarantine_rules.csv lists every rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import yaml

SOURCES_FILE = Path(__file__).resolve().parents[2] / "models" / "staging" / "register" / "_register__sources.yml"
SOURCE_NAME = "register"
# Parquet files may not hold a column of this name: DuckDB's reader gives the file row under it.
PARQUET_ROW_NUMBER = "file_row_number"
# The checks a readable value can break, and the two that concern the value's presence and readability:
# the keys of a column's `quarantine` mapping.
VALUE_CHECKS = ("pattern", "allowed", "below_min", "above_max")
QUARANTINE_KINDS = ("missing", "unreadable", *VALUE_CHECKS)
DUCKDB_TYPES = ("BIGINT", "INTEGER", "VARCHAR", "DATE", "DOUBLE", "BOOLEAN")


class ContractError(ValueError):
    """The contract file itself is malformed (a key it does not know, a check without a rule, ...)."""


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # DuckDB type
    nullable: bool
    description: str
    pattern: str | None = None  # regular expression a non-null value must match in full
    allowed: tuple[str, ...] | None = None  # allowed values of a non-null value
    min: float | int | dt.date | None = None  # inclusive lower bound of a non-null value
    max: float | int | dt.date | None = None  # inclusive upper bound of a non-null value
    # check kind (QUARANTINE_KINDS) -> quarantine rule of a row that breaks it
    quarantine: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # an optional column may be absent from the file: every row then has NULL (it must be nullable)
    optional: bool = False

    @property
    def value_range(self) -> tuple | None:
        """(min, max) when the column has a bound, else None (either side may be None)."""
        if self.min is None and self.max is None:
            return None
        return (self.min, self.max)

    def rule_for(self, kind: str) -> str | None:
        """The quarantine rule of a row whose value breaks check `kind`, or None (structural or no check)."""
        return self.quarantine.get(kind)

    def checks(self) -> list[tuple[str, str]]:
        """(kind, quarantine rule) of every value check of the column, in the contract's order."""
        present = {"pattern": self.pattern is not None, "allowed": self.allowed is not None,
                   "below_min": self.min is not None, "above_max": self.max is not None}
        return [(kind, self.quarantine[kind]) for kind in VALUE_CHECKS if present[kind]]


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    duplicate_rule: str | None = None
    # an optional table may be absent from the extract: the warehouse then reads it as empty
    optional: bool = False

    @property
    def required_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if not c.optional)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def duckdb_types(self) -> dict[str, str]:
        return {c.name: c.dtype for c in self.columns}

    def quarantine_rules(self) -> list[str]:
        """Every quarantine rule the contract names for this table, in order of first mention."""
        rules = [self.duplicate_rule] if self.duplicate_rule else []
        for col in self.columns:
            for rule in col.quarantine.values():
                if rule not in rules:
                    rules.append(rule)
        return rules


def _bound(value, dtype: str, where: str):
    if value is None:
        return None
    if dtype == "DATE":
        try:
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        except ValueError as exc:
            raise ContractError(f"{where}: a DATE bound must be YYYY-MM-DD, not {value!r}") from exc
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ContractError(f"{where}: a bound of a {dtype} column must be a number, not {value!r}")
    return value


def _column(spec: dict, table: str) -> Column:
    name = spec["name"]
    where = f"{SOURCES_FILE.name}: {table}.{name}"
    dtype = str(spec.get("data_type", "")).upper()
    if dtype not in DUCKDB_TYPES:
        raise ContractError(f"{where}: data_type {spec.get('data_type')!r} is not one of {', '.join(DUCKDB_TYPES)}")
    meta = dict((spec.get("config") or {}).get("meta") or {})
    unknown = set(meta) - {"nullable", "pattern", "allowed", "min", "max", "quarantine", "optional"}
    if unknown:
        raise ContractError(f"{where}: unknown meta key(s) {', '.join(sorted(unknown))}")
    if not isinstance(meta.get("nullable"), bool):
        raise ContractError(f"{where}: meta.nullable must be true or false")
    if not isinstance(meta.get("optional", False), bool):
        raise ContractError(f"{where}: meta.optional must be true or false")
    if meta.get("optional") and not meta["nullable"]:
        raise ContractError(f"{where}: an optional column must be nullable (where it is absent every row is NULL)")
    quarantine = dict(meta.get("quarantine") or {})
    if set(quarantine) - set(QUARANTINE_KINDS):
        raise ContractError(f"{where}: quarantine kinds are {', '.join(QUARANTINE_KINDS)}, "
                            f"not {', '.join(sorted(set(quarantine) - set(QUARANTINE_KINDS)))}")
    column = Column(
        name=name, dtype=dtype, nullable=meta["nullable"], description=spec.get("description", ""),
        pattern=meta.get("pattern"),
        allowed=tuple(str(v) for v in meta["allowed"]) if meta.get("allowed") is not None else None,
        min=_bound(meta.get("min"), dtype, where), max=_bound(meta.get("max"), dtype, where),
        quarantine=MappingProxyType(quarantine), optional=bool(meta.get("optional", False)),
    )
    # a check without a rule would be a warning the warehouse does not act on
    present = {"pattern": column.pattern, "allowed": column.allowed, "below_min": column.min,
               "above_max": column.max}
    for kind, value in present.items():
        if (value is not None) != (kind in quarantine):
            raise ContractError(f"{where}: every check needs its quarantine rule and every rule its check "
                                f"({kind}: check {'set' if value is not None else 'absent'}, "
                                f"rule {quarantine.get(kind)!r})")
    return column


def _source(path: Path) -> dict:
    spec = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    sources = [s for s in spec.get("sources", []) if s.get("name") == SOURCE_NAME]
    if len(sources) != 1:
        raise ContractError(f"{path}: expected one source named {SOURCE_NAME!r}")
    return sources[0]


def load(path: Path = SOURCES_FILE) -> dict[str, Table]:
    """The contract's tables, by name, in the order of the source definition."""
    source = _source(path)
    tables = {}
    for t in source.get("tables", []):
        meta = (t.get("config") or {}).get("meta") or {}
        columns = tuple(_column(c, t["name"]) for c in t.get("columns", []))
        key = tuple(meta.get("primary_key") or ())
        if not key or set(key) - {c.name for c in columns}:
            raise ContractError(f"{path}: table {t['name']}: meta.primary_key must name its columns")
        if not isinstance(meta.get("optional", False), bool):
            raise ContractError(f"{path}: table {t['name']}: meta.optional must be true or false")
        tables[t["name"]] = Table(name=t["name"], description=t.get("description", ""), columns=columns,
                                  primary_key=key, duplicate_rule=meta.get("duplicate_rule"),
                                  optional=bool(meta.get("optional", False)))
    return tables


TABLES: dict[str, Table] = load()
_SOURCE_META = (_source(SOURCES_FILE).get("config") or {}).get("meta") or {}
# The raw views add their own column, the 1-based data row of the file, under a reserved prefix that no user
# column may carry (check-raw and the build refuse one), so the two can never collide.
RESERVED_PREFIX: str = _SOURCE_META["reserved_prefix"]
SOURCE_ROW: str = _SOURCE_META["row_column"]
# the file of a table is <table><suffix>, for exactly one of these
FILE_SUFFIXES = tuple(f".{fmt}" for fmt in _SOURCE_META["formats"])
TABLE_NAMES = tuple(TABLES)
MOVES, PERSONS, INCOMES = TABLES["moves"], TABLES["persons"], TABLES["incomes"]
MUNICIPALITIES, POPULATION = TABLES["municipalities"], TABLES["population"]

# Names the generator and the mart checks use, read from the contract rather than repeated.
NIS_PATTERN = MOVES.column("origin_nis").pattern
COUNTRY_PATTERN = MOVES.column("origin_country").pattern
LAMBERT72_X_RANGE = MOVES.column("origin_x").value_range
LAMBERT72_Y_RANGE = MOVES.column("origin_y").value_range
MOVE_TYPES = MOVES.column("move_type").allowed
SEXES = PERSONS.column("sex").allowed
HOUSEHOLD_TYPES = INCOMES.column("household_type").allowed
