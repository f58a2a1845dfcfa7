"""The raw data contract: the five tables of a register extract, their columns, types and rules.

This module is the single statement of the contract in Python. The generator writes exactly these
types, `mignet check-raw` (mignet.raw) checks a folder against them, and the dbt sources
(`models/staging/register/_register__sources.yml`) declare the same columns and types; a test keeps
the two in step. docs/raw_contract.md is the readable version.

Two kinds of rule:
- structural (severity "error"): a missing file or column, or a value that cannot be read as the
  column's type. The extract cannot be used; the reader stops with file, column, row and rule.
- row (severity "quarantine"): a readable row that breaks a business rule (unknown NIS code, move
  date outside the data period, ...). The warehouse moves such rows to quarantine with the rule and
  a reason; nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass

NIS_PATTERN = r"^[0-9]{5}$"
COUNTRY_PATTERN = r"^[A-Z]{2}$"
# Belgian Lambert 72 (EPSG:31370) bounding box of Belgium, metres, with a margin of a few km.
LAMBERT72_X_RANGE = (15_000.0, 300_000.0)
LAMBERT72_Y_RANGE = (15_000.0, 250_000.0)
MOVE_TYPES = ("internal", "immigration", "emigration")
SEXES = ("M", "F")
HOUSEHOLD_TYPES = (
    "single",
    "couple_without_children",
    "couple_with_children",
    "single_parent",
    "other_private",
    "collective",
)
TABLE_NAMES = ("moves", "persons", "incomes", "municipalities", "population")
FILE_SUFFIXES = (".parquet", ".csv")


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # DuckDB type
    nullable: bool
    description: str
    pattern: str | None = None  # regular expression a non-null value must match
    allowed: tuple[str, ...] | None = None  # allowed values of a non-null value
    value_range: tuple[float, float] | None = None  # inclusive range of a non-null value


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

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


MOVES = Table(
    name="moves",
    description="One row per change of residence address registered in the population register.",
    primary_key=("move_id",),
    columns=(
        Column("move_id", "BIGINT", False, "Identifier of the move, unique in the extract."),
        Column("person_id", "VARCHAR", False, "Pseudonymised person identifier; key into persons and incomes."),
        Column("move_date", "DATE", True, "Date the new address was registered. Must lie in the data period (rule)."),
        Column("move_type", "VARCHAR", False, "internal (both sides in Belgium), immigration (from abroad) or emigration (to abroad).", allowed=MOVE_TYPES),
        Column("origin_nis", "VARCHAR", True, "5-character NIS code of the origin municipality valid on move_date; NULL for immigration.", pattern=NIS_PATTERN),
        Column("destination_nis", "VARCHAR", True, "5-character NIS code of the destination municipality valid on move_date; NULL for emigration.", pattern=NIS_PATTERN),
        Column("origin_country", "VARCHAR", True, "ISO 3166-1 alpha-2 country of origin; immigration only.", pattern=COUNTRY_PATTERN),
        Column("destination_country", "VARCHAR", True, "ISO 3166-1 alpha-2 country of destination; emigration only.", pattern=COUNTRY_PATTERN),
        Column("origin_x", "DOUBLE", True, "Origin address x, Belgian Lambert 72 (EPSG:31370), metres.", value_range=LAMBERT72_X_RANGE),
        Column("origin_y", "DOUBLE", True, "Origin address y, Belgian Lambert 72, metres.", value_range=LAMBERT72_Y_RANGE),
        Column("destination_x", "DOUBLE", True, "Destination address x, Belgian Lambert 72, metres.", value_range=LAMBERT72_X_RANGE),
        Column("destination_y", "DOUBLE", True, "Destination address y, Belgian Lambert 72, metres.", value_range=LAMBERT72_Y_RANGE),
    ),
)

PERSONS = Table(
    name="persons",
    description="One row per person who appears in moves.",
    primary_key=("person_id",),
    columns=(
        Column("person_id", "VARCHAR", False, "Pseudonymised person identifier."),
        Column("sex", "VARCHAR", False, "M or F, as registered.", allowed=SEXES),
        Column("birth_date", "DATE", True, "Date of birth; NULL when unknown (the move then gets no age band)."),
        Column("country_of_birth", "VARCHAR", True, "ISO 3166-1 alpha-2 country of birth.", pattern=COUNTRY_PATTERN),
        Column("nationality_at_birth", "VARCHAR", True, "ISO 3166-1 alpha-2 nationality at birth.", pattern=COUNTRY_PATTERN),
        Column("current_nationality", "VARCHAR", True, "ISO 3166-1 alpha-2 nationality at the end of the extract period.", pattern=COUNTRY_PATTERN),
    ),
)

INCOMES = Table(
    name="incomes",
    description="One row per person and income year (fiscal data linked to the register).",
    primary_key=("person_id", "income_year"),
    columns=(
        Column("person_id", "VARCHAR", False, "Pseudonymised person identifier."),
        Column("income_year", "INTEGER", False, "Calendar year the income was earned.", value_range=(1990, 2100)),
        Column("disposable_income", "DOUBLE", True, "Administrative disposable income after tax, EUR per year; NULL when missing (imputed downstream).", value_range=(0.0, 5_000_000.0)),
        Column("household_id", "VARCHAR", True, "Pseudonymised household identifier in that year."),
        Column("household_type", "VARCHAR", True, "Household type in that year.", allowed=HOUSEHOLD_TYPES),
        Column("household_equivalised_income", "DOUBLE", True, "Household disposable income on the modified OECD scale, EUR per year.", value_range=(0.0, 5_000_000.0)),
        Column("is_student", "BOOLEAN", True, "Registered as a student in that year."),
        Column("is_institutional_household", "BOOLEAN", True, "Living in a collective (institutional) household in that year."),
    ),
)

MUNICIPALITIES = Table(
    name="municipalities",
    description="Every municipality code valid at some time in or after the data period, with its validity interval.",
    primary_key=("nis_code",),
    columns=(
        Column("nis_code", "VARCHAR", False, "5-character NIS (REFNIS) code.", pattern=NIS_PATTERN),
        Column("name_nl", "VARCHAR", True, "Dutch name."),
        Column("name_fr", "VARCHAR", True, "French name."),
        Column("arrondissement_nis", "VARCHAR", False, "NIS code of the arrondissement.", pattern=NIS_PATTERN),
        Column("province_nis", "VARCHAR", True, "NIS code of the province; NULL in the Brussels-Capital Region.", pattern=NIS_PATTERN),
        Column("region_nis", "VARCHAR", False, "NIS code of the region: 02000 Flemish, 03000 Walloon, 04000 Brussels-Capital.", allowed=("02000", "03000", "04000")),
        Column("valid_from", "DATE", False, "First day the code is valid."),
        Column("valid_to", "DATE", True, "Last day the code is valid; NULL = still valid."),
        Column("area_km2", "DOUBLE", False, "Area in km2.", value_range=(0.1, 1_000.0)),
        Column("centroid_x", "DOUBLE", False, "Centroid x, Belgian Lambert 72, metres.", value_range=LAMBERT72_X_RANGE),
        Column("centroid_y", "DOUBLE", False, "Centroid y, Belgian Lambert 72, metres.", value_range=LAMBERT72_Y_RANGE),
    ),
)

POPULATION = Table(
    name="population",
    description="Registered population per municipality on 1 January, on the codes valid that day.",
    primary_key=("nis_code", "reference_date"),
    columns=(
        Column("nis_code", "VARCHAR", False, "NIS code valid on reference_date.", pattern=NIS_PATTERN),
        Column("reference_date", "DATE", False, "1 January of the year."),
        Column("population", "BIGINT", False, "Registered inhabitants.", value_range=(0, 10_000_000)),
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in (MOVES, PERSONS, INCOMES, MUNICIPALITIES, POPULATION)}
