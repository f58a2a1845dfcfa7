"""Check a raw extract folder against the raw data contract (mignet.contract), before the warehouse reads it.

Structural problems stop the extract: a missing or ambiguous file, a missing column, a value that cannot
be read as its column's type, a NULL in a NOT NULL column. They are all collected and raised together in
one RawContractError that names file, column, 1-based data row (header not counted), value and rule.

Row-rule violations (a code that does not match its pattern, a value outside the allowed list or range, a
duplicate key) are counted and returned as warnings: the warehouse quarantines those rows with a rule and
a reason. A few columns have their own quarantine rule for a value that is not a date or not a number (an
impossible move date such as 2021-02-30 in a CSV file); an unreadable value there is such a warning too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click
import duckdb

from mignet import contract, db

# (table, column) -> quarantine rule of the warehouse for a value that cannot be read as the type
ROW_RULE_FOR_UNREADABLE: dict[tuple[str, str], str] = {
    ("moves", "move_date"): "move_date_invalid",
    ("moves", "origin_x"): "coordinates_outside_belgium",
    ("moves", "origin_y"): "coordinates_outside_belgium",
    ("moves", "destination_x"): "coordinates_outside_belgium",
    ("moves", "destination_y"): "coordinates_outside_belgium",
    ("persons", "birth_date"): "person_value_invalid",
    ("incomes", "disposable_income"): "income_absurd",
}

ROW = "__source_row"


@dataclass
class Problem:
    file: str
    rule: str
    message: str
    column: str | None = None
    row: int | None = None
    value: str | None = None
    count: int | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.column:
            where.append(f"column {self.column}")
        if self.row is not None:
            where.append(f"row {self.row}")
        text = ", ".join(where) + f": rule {self.rule}: {self.message}"
        if self.value is not None:
            text += f" (value {self.value!r})"
        if self.count and self.count > 1:
            text += f"; {self.count:,} rows in all"
        return text

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class RawContractError(Exception):
    """The extract cannot be used: structural problems, each naming file, column, row and rule."""

    def __init__(self, folder, problems: list[Problem]):
        self.folder = str(folder)
        self.problems = problems
        lines = [f"raw extract {folder} breaks the raw data contract ({len(problems)} structural problem"
                 f"{'s' if len(problems) != 1 else ''}; see docs/raw_contract.md):"]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))


@dataclass
class TableReport:
    table: str
    file: str | None = None
    format: str | None = None
    rows: int | None = None
    extra_columns: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)


def _quote(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _find_file(folder: Path, table: str) -> tuple[Path | None, Problem | None]:
    found = [folder / f"{table}{s}" for s in contract.FILE_SUFFIXES if (folder / f"{table}{s}").is_file()]
    if not found:
        return None, Problem(str(folder / f"{table}.parquet"), "file_missing",
                             f"table {table} not found: expected {table}.parquet or {table}.csv in {folder}")
    if len(found) > 1:
        return None, Problem(str(folder / table), "file_ambiguous",
                             f"both {found[0].name} and {found[1].name} exist; keep one")
    return found[0], None


def _relation(path: Path) -> str:
    if path.suffix == ".parquet":
        return (f"(select * exclude (file_row_number), file_row_number + 1 as {ROW} "
                f"from read_parquet({_quote(path)}, file_row_number = true))")
    # every CSV column as text so that a bad cell is found and reported, not guessed around;
    # insertion order is preserved, so row_number() over () is the data row of the file
    return (f"(select *, row_number() over () as {ROW} "
            f"from read_csv({_quote(path)}, header = true, all_varchar = true, auto_detect = true))")


def _rule_condition(col: contract.Column, value: str) -> list[tuple[str, str, str]]:
    """(rule name, SQL condition that breaks it, description) for a readable non-null value."""
    out = []
    if col.pattern:
        out.append((f"pattern {col.pattern}", f"not regexp_full_match({value}, {_quote(col.pattern)})",
                    f"does not match {col.pattern}"))
    if col.allowed:
        allowed = ", ".join(_quote(a) for a in col.allowed)
        out.append((f"allowed ({', '.join(col.allowed)})", f"{value} not in ({allowed})",
                    f"not one of {', '.join(col.allowed)}"))
    if col.value_range:
        lo, hi = col.value_range
        out.append((f"range [{lo:g}, {hi:g}]", f"({value} < {lo!r} or {value} > {hi!r})", f"outside [{lo:g}, {hi:g}]"))
    return out


def _check_table(con, table: contract.Table, path: Path) -> TableReport:
    rep = TableReport(table.name, file=str(path), format=path.suffix.lstrip("."))
    rel = _relation(path)
    try:
        described = con.execute(f"describe select * from {rel}").fetchall()
    except duckdb.Error as exc:
        rep.errors.append(Problem(str(path), "file_unreadable", f"cannot be read: {exc}".splitlines()[0]))
        return rep
    present = {name: dtype for name, dtype, *_ in described if name != ROW}
    for col in table.columns:
        if col.name not in present:
            rep.errors.append(Problem(str(path), "column_missing", f"column {col.name} ({col.dtype}) is missing",
                                      column=col.name))
    rep.extra_columns = [c for c in present if c not in table.column_names]
    cols = [c for c in table.columns if c.name in present]

    # one pass: per column the count and first row of unreadable values, of NULLs, of each row rule
    selects, checks = ["count(*)"], []
    for col in cols:
        name = f'"{col.name}"'
        typed = f"try_cast({name} as {col.dtype})"
        if present[col.name] != col.dtype:
            cond = f"{name} is not null and {typed} is null"
            lenient = ROW_RULE_FOR_UNREADABLE.get((table.name, col.name))
            kind = "warning" if lenient else "error"
            checks.append((kind, col, lenient or "type", cond, f"cannot be read as {col.dtype}"))
        if not col.nullable:
            checks.append(("error", col, "not_null", f"{name} is null", "NULL in a NOT NULL column"))
        for rule, cond, desc in _rule_condition(col, typed):
            checks.append(("warning", col, rule, f"{typed} is not null and {cond}", desc))
    for _, _, _, cond, _ in checks:
        selects += [f"count(*) filter (where {cond})", f"min({ROW}) filter (where {cond})"]
    if table.primary_key and all(k in present for k in table.primary_key):
        selects.append(db.duplicate_rows_sql(rel, [f'"{k}"' for k in table.primary_key]))
    try:
        result = con.execute(f"select {', '.join(selects)} from {rel}").fetchone()
    except duckdb.Error as exc:
        rep.errors.append(Problem(str(path), "file_unreadable", f"cannot be read: {exc}".splitlines()[0]))
        return rep
    rep.rows = int(result[0])
    for i, (kind, col, rule, _, desc) in enumerate(checks):
        count, first = result[1 + 2 * i], result[2 + 2 * i]
        if not count:
            continue
        value = con.execute(f'select cast("{col.name}" as varchar) from {rel} where {ROW} = {int(first)}').fetchone()[0]
        problem = Problem(str(path), rule, desc, column=col.name, row=int(first), value=value, count=int(count))
        (rep.errors if kind == "error" else rep.warnings).append(problem)
    if table.primary_key and all(k in present for k in table.primary_key) and result[-1]:
        rep.warnings.append(Problem(str(path), "duplicate_key",
                                    f"{int(result[-1]):,} rows repeat a ({', '.join(table.primary_key)}) of an earlier row",
                                    column=", ".join(table.primary_key), count=int(result[-1])))
    return rep


def check_raw(folder) -> dict:
    """Check every table of the extract in `folder`. Raises RawContractError listing all structural
    problems; otherwise returns a report: per table file, format, row count, extra columns and warnings
    (row-rule violations the warehouse will quarantine)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RawContractError(folder, [Problem(str(folder), "folder_missing", "the extract folder does not exist")])
    con = db.connect()
    reports: dict[str, TableReport] = {}
    errors: list[Problem] = []
    try:
        for table in contract.TABLES.values():
            path, problem = _find_file(folder, table.name)
            if problem:
                errors.append(problem)
                reports[table.name] = TableReport(table.name, errors=[problem])
                continue
            rep = _check_table(con, table, path)
            reports[table.name] = rep
            errors.extend(rep.errors)
    finally:
        con.close()
    if errors:
        raise RawContractError(folder, errors)
    return {
        "folder": str(folder),
        "tables": {
            name: {"file": r.file, "format": r.format, "rows": r.rows, "extra_columns": r.extra_columns,
                   "warnings": [w.as_dict() for w in r.warnings]}
            for name, r in reports.items()
        },
        "warning_count": sum(len(r.warnings) for r in reports.values()),
    }


@click.command("check-raw")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
def check_raw_command(folder):
    """Check a raw extract FOLDER (default: MIGNET_RAW_DIR or data/raw) against the raw data contract.

    Exits with status 1 and a list of problems (file, column, row, rule) when the extract cannot be used;
    otherwise prints row counts and the row-rule warnings that the warehouse will quarantine.
    """
    if folder is None:
        from mignet.settings import Settings

        folder = Settings.from_env().raw_dir
    try:
        report = check_raw(folder)
    except RawContractError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{folder}: conforms to the raw data contract")
    for name, t in report["tables"].items():
        click.echo(f"  {name:<15} {t['format']:<8} {t['rows']:>12,} rows")
        for col in t["extra_columns"]:
            click.echo(f"      note: extra column {col} (ignored)")
        for w in t["warnings"]:
            where = f"column {w['column']}" + (f", first at row {w['row']}" if "row" in w else "")
            example = f" e.g. {w['value']!r}" if "value" in w else ""
            click.echo(f"      warning: {w.get('count', 0):,} rows break {w['rule']} ({where}){example}: "
                       "quarantined by the warehouse")
