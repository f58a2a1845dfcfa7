"""Check a raw extract folder against the raw data contract (mignet.contract), before the warehouse reads it.

Structural problems stop the extract: a missing or ambiguous file, a missing or reserved column, a table
without rows, a CSV that is not UTF-8 comma-separated text with `"` quotes and decimal points, a value that
cannot be read as its column's type, a NULL in a NOT NULL column. They are all collected and raised together
in one RawContractError that names file, column, 1-based data row (header not counted), value and rule, with
DuckDB's whole message where DuckDB could not read the file.

Quarantine problems are counted and returned as warnings under the quarantine rule the contract names: a
value that breaks its column's pattern, allowed values or range, a NULL or unreadable value where the column
names a rule for it, a key already on an earlier row. The warehouse quarantines exactly those rows under the
same rules (a row that breaks several is filed once, under the first in seeds/quarantine_rules.csv), and
adds rules across tables that check-raw does not know (unknown codes, dates outside the data period, ...).

Files are read the way the build's raw views read them (macros/create_raw_views.sql): the file of each table
by its exact name, CSV with the contract's dialect and every column as text, the contract's columns by name
with the data row under a reserved name, so that extra user columns never interfere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import click
import duckdb

from mignet import contract, db

ROW = contract.SOURCE_ROW
# The contract's CSV dialect; the build reads CSV files with exactly these options.
CSV_DIALECT = "delim = ',', quote = '\"', escape = '\"'"
CSV_CONTRACT = "UTF-8 text, comma-separated, '\"' as quote, a decimal point"
# A number written with a decimal comma (a semicolon-separated export of a spreadsheet, mostly)
DECIMAL_COMMA = r"^[+-]?[0-9]*,[0-9]+$"
OTHER_DELIMITERS = (";", "\t", "|")
_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")
_MAX_HEADER_BYTES = 1 << 20
_ORIGINAL_LINE = re.compile(r"Original Line: (.*)")


@dataclass
class Problem:
    file: str
    rule: str
    message: str
    column: str | None = None
    row: int | None = None
    value: str | None = None
    count: int | None = None
    check: str | None = None  # warnings: the contract check broken, e.g. "pattern ^[0-9]{5}$"

    def __str__(self) -> str:
        where = [self.file]
        if self.column:
            where.append(f"column {self.column}")
        if self.row is not None:
            where.append(f"row {self.row}")
        first, *rest = self.message.splitlines() or [""]
        text = ", ".join(where) + f": rule {self.rule}: {first}"
        if self.value is not None:
            text += f" (value {self.value!r})"
        if self.count and self.count > 1:
            text += f"; {self.count:,} rows in all"
        # DuckDB's message is kept whole: its later lines say what it found and how to fix it
        return "\n".join([text, *("      " + line for line in rest)])

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
    # quarantine rule -> rows that break at least one check of that rule
    quarantine: dict[str, int] = field(default_factory=dict)
    absent: bool = False  # an optional table the extract does not have: the warehouse reads it as empty
    absent_columns: list[str] = field(default_factory=list)  # optional columns the file does not have (NULL)


# ---- reading a raw file as the build does ------------------------------------------------------------------

def find_file(folder: Path, table: str) -> tuple[Path | None, Problem | None]:
    """The one file of `table` in `folder`, by its exact name (`<table>.parquet` or `<table>.csv`)."""
    names = [f"{table}{suffix}" for suffix in contract.FILE_SUFFIXES]
    found = [folder / name for name in names if (folder / name).is_file()]
    if not found:
        return None, Problem(str(folder / names[0]), "file_missing",
                             f"table {table} not found: expected {' or '.join(names)} in {folder}")
    if len(found) > 1:
        return None, Problem(str(folder / table), "file_ambiguous",
                             f"both {found[0].name} and {found[1].name} exist; keep one")
    return found[0], None


def csv_header_line(path: Path) -> str:
    """The first line of a CSV file (byte-order mark and line ending removed; '' for an empty file).
    Raises UnicodeDecodeError when it is not UTF-8."""
    with open(path, "rb") as fh:
        first = fh.readline(_MAX_HEADER_BYTES)
    return first.decode("utf-8-sig").rstrip("\r\n")


def split_header(line: str, delimiter: str = ",") -> list[str]:
    """The fields of a CSV header line: split on `delimiter` outside double quotes, quotes removed ("" is
    "). The build's macro csv_header_fields applies the same expression."""
    if not line:
        return []
    d = re.escape(delimiter)
    fields = re.findall(f'(?:^|{d})("(?:[^"]|"")*"|[^{d}]*)', line)
    return [f[1:-1].replace('""', '"') if len(f) >= 2 and f[0] == f[-1] == '"' else f for f in fields]


def _malformed_field(line: str) -> int | None:
    """The index of the first field of a CSV line that breaks the quoting rules (a quote never closed, a
    closing quote not followed by the delimiter, a quote inside an unquoted field), if any."""
    i, index, n = 0, 0, len(line)
    while i <= n:
        if i < n and line[i] == '"':
            j = i + 1
            while True:
                k = line.find('"', j)
                if k < 0:
                    return index
                if k + 1 < n and line[k + 1] == '"':
                    j = k + 2
                    continue
                break
            if k + 1 < n and line[k + 1] != ",":
                return index
            i = k + 1
        comma = line.find(",", i)
        end = n if comma < 0 else comma
        if '"' in line[i:end]:
            return index
        if comma < 0:
            return None
        i, index = comma + 1, index + 1
    return None


def relation_sql(path: Path, file_cols: list[str], table: contract.Table) -> str:
    """A subquery of the contract's columns of `table` in the file (by name; the file's other columns are not
    read; an optional column the file lacks is NULL) and its 1-based data row as `_mignet_source_row`,
    exactly as the build's raw view reads it."""
    parts = []
    for col in table.columns:
        if col.name in file_cols:
            parts.append(db.quote_ident(col.name))
        else:  # an absent optional column (a required one is a structural problem found before)
            null_type = "VARCHAR" if path.suffix == ".csv" else col.dtype
            parts.append(f"cast(null as {null_type}) as {db.quote_ident(col.name)}")
    select = ", ".join(parts)
    if path.suffix == ".parquet":
        return (f"(select {select}, file_row_number + 1 as {ROW} "
                f"from read_parquet({db.sql_path(path)}, file_row_number = true))")
    # every column as text, so a bad cell is found and reported, not guessed around; the header's names
    # are given, so DuckDB sniffs nothing and a malformed line is an error naming its line. Insertion order
    # is preserved, so row_number() over () is the data row of the file.
    spec = "{" + ", ".join(f"{db.sql_literal(c)}: 'VARCHAR'" for c in file_cols) + "}"
    return (f"(select {select}, row_number() over () as {ROW} from read_csv({db.sql_path(path)}, "
            f"header = true, auto_detect = false, {CSV_DIALECT}, columns = {spec}))")


def _read_problem(path: Path, exc: Exception, header: list[str] | None = None) -> Problem:
    """The structural problem of a file DuckDB could not read: its whole message, the data row and, for a
    quoting error, the column of the field that breaks the quoting rules."""
    text = str(exc)
    rule = "encoding" if "not utf-8 encoded" in text.lower() else "file_unreadable"
    row = column = None
    line = _CSV_LINE.search(text)
    if line:
        row = int(line.group(1)) - 1  # DuckDB counts the header as line 1
    original = _ORIGINAL_LINE.search(text)
    if original and header and "quote" in text:
        index = _malformed_field(original.group(1))
        column = header[index] if index is not None and index < len(header) else None
    if rule == "encoding":
        message = f"is not UTF-8 text (the contract's CSV is {CSV_CONTRACT}); DuckDB says:\n{text}"
    else:
        where = f" at line {row + 1} of the file" if row is not None else ""
        message = f"cannot be read{where}; DuckDB says:\n{text}"
    return Problem(str(path), rule, message, column=column, row=row if row and row > 0 else None)


# ---- the checks --------------------------------------------------------------------------------------------

def _typed(col: contract.Column, present_type: str) -> str:
    name = db.quote_ident(col.name)
    return name if present_type == col.dtype else f"try_cast({name} as {col.dtype})"


@dataclass(frozen=True)
class _Check:
    column: contract.Column
    rule: str  # a quarantine rule, or the structural rule when `structural`
    condition: str  # SQL, true on a row that breaks the check
    description: str
    structural: bool = False
    check: str | None = None  # the contract check, as reported with a warning


def _checks(col: contract.Column, present_type: str) -> list[_Check]:
    """Every check of a column of a file: its type, its NULLs, its value checks (contract.Column.checks)."""
    name, typed = db.quote_ident(col.name), _typed(col, present_type)
    out = []
    if present_type != col.dtype:
        unreadable = f"{name} is not null and {typed} is null"
        if col.dtype == "DOUBLE" and present_type == "VARCHAR":
            # a file written with a decimal comma, not one bad value: structural even where the column
            # quarantines unreadable values
            comma = f"regexp_full_match({name}, {db.sql_literal(DECIMAL_COMMA)})"
            out.append(_Check(col, "decimal_comma", f"{unreadable} and {comma}",
                              "is written with a decimal comma: the contract's numbers take a decimal point "
                              f"(its CSV is {CSV_CONTRACT})", structural=True))
            unreadable += f" and not {comma}"
        rule = col.rule_for("unreadable")
        out.append(_Check(col, rule or "type", unreadable, f"cannot be read as {col.dtype}", structural=rule is None,
                          check=f"readable as {col.dtype}"))
    if not col.nullable or col.rule_for("missing"):
        rule = col.rule_for("missing")
        out.append(_Check(col, rule or "not_null", f"{name} is null",
                          "is empty" if rule else "NULL in a NOT NULL column", structural=rule is None,
                          check="not empty"))
    literal = db.sql_literal  # a date bound becomes DATE 'YYYY-MM-DD'
    conditions = {
        "pattern": (f"not regexp_full_match({typed}, {literal(col.pattern)})", f"pattern {col.pattern}",
                    f"does not match {col.pattern}"),
        "allowed": (f"{typed} not in ({', '.join(literal(a) for a in col.allowed or ())})",
                    f"allowed ({', '.join(col.allowed or ())})", f"not one of {', '.join(col.allowed or ())}"),
        "below_min": (f"{typed} < {literal(col.min)}", f"min {col.min}", f"below {col.min}"),
        "above_max": (f"{typed} > {literal(col.max)}", f"max {col.max}", f"above {col.max}"),
    }
    for kind, rule in col.checks():
        condition, check, description = conditions[kind]
        out.append(_Check(col, rule, f"{typed} is not null and {condition}", description, check=check))
    return out


def _problem_columns(file_cols: list[str], table: contract.Table, path: Path, header_line: str | None) -> list[Problem]:
    problems = []
    reserved = [c for c in file_cols if c.lower().startswith(contract.RESERVED_PREFIX)
                or (path.suffix == ".parquet" and c.lower() == contract.PARQUET_ROW_NUMBER)]
    for c in reserved:
        problems.append(Problem(str(path), "column_reserved",
                                f"column {c!r} uses a name reserved for the warehouse's own columns (prefix "
                                f"{contract.RESERVED_PREFIX}, or {contract.PARQUET_ROW_NUMBER} in Parquet): rename "
                                "or drop it", column=c))
    duplicated = sorted({c for c in file_cols if file_cols.count(c) > 1})
    for c in duplicated:
        problems.append(Problem(str(path), "column_duplicated", f"column {c!r} appears {file_cols.count(c)} times",
                                column=c))
    missing = [c for c in table.required_columns if c.name not in file_cols]
    if missing and header_line is not None:
        for delimiter in OTHER_DELIMITERS:
            if {c.name for c in table.required_columns} <= set(split_header(header_line, delimiter)):
                return problems + [Problem(
                    str(path), "csv_delimiter",
                    f"the header is separated by {delimiter!r}, not by commas: the contract's CSV is {CSV_CONTRACT} "
                    "(export the table again as comma-separated UTF-8, or convert it)")]
    by_lower = {c.lower(): c for c in file_cols}
    for col in missing:
        hint = f" (the file has {by_lower[col.name.lower()]!r}: names are case-sensitive)" \
            if col.name.lower() in by_lower else ""
        problems.append(Problem(str(path), "column_missing", f"column {col.name} ({col.dtype}) is missing{hint}",
                                column=col.name))
    return problems


def _check_table(con, table: contract.Table, path: Path) -> TableReport:
    rep = TableReport(table.name, file=str(path), format=path.suffix.lstrip("."))
    header_line = None
    try:
        if path.suffix == ".csv":
            header_line = csv_header_line(path)
            file_cols = split_header(header_line)
        else:
            file_cols = [r[0] for r in con.execute(
                f"describe select * from read_parquet({db.sql_path(path)})").fetchall()]
    except UnicodeDecodeError as exc:
        rep.errors.append(Problem(str(path), "encoding", f"the header line is not UTF-8 text (the contract's CSV "
                                  f"is {CSV_CONTRACT}): {exc}"))
        return rep
    except duckdb.Error as exc:
        rep.errors.append(_read_problem(path, exc))
        return rep
    rep.errors += _problem_columns(file_cols, table, path, header_line)
    rep.extra_columns = [c for c in file_cols if c not in table.column_names
                         and not any(p.rule == "column_reserved" and p.column == c for p in rep.errors)]
    if rep.errors:
        return rep
    rel = relation_sql(path, file_cols, table)
    rep.absent_columns = [c.name for c in table.columns if c.optional and c.name not in file_cols]
    try:
        present = {name: dtype for name, dtype, *_ in con.execute(f"describe select * from {rel}").fetchall()}
    except duckdb.Error as exc:
        rep.errors.append(_read_problem(path, exc, file_cols))
        return rep

    # one pass: per check the count and the first row
    checks = [c for col in table.columns for c in _checks(col, present[col.name])]
    selects = ["count(*)"]
    if path.suffix == ".csv":
        # DuckDB checks that CSV text is UTF-8 only in the columns a query reads: read every contract column
        selects += [f"count({db.quote_ident(c)})" for c in table.column_names]
    base = len(selects)
    for check in checks:
        selects += [f"count(*) filter (where {check.condition})", f"min({ROW}) filter (where {check.condition})"]
    keys = ", ".join(_typed(table.column(k), present[k]) for k in table.primary_key)
    # the rows beyond the first in file order of each key, and the first of them: ranked among the few rows
    # whose 64-bit key hash repeats (a key with a unique hash is unique)
    selects.append(
        f"(select struct_pack(n := count(*), first_row := min({ROW})) from (select {ROW}, row_number() over "
        f"(partition by {keys} order by {ROW}) as key_rank from {rel} where hash({keys}) in "
        f"(select hash({keys}) from {rel} group by all having count(*) > 1)) where key_rank > 1)")
    try:
        result = con.execute(f"select {', '.join(selects)} from {rel}").fetchall()[0]
    except duckdb.Error as exc:
        rep.errors.append(_read_problem(path, exc, file_cols))
        return rep
    rep.rows = int(result[0])
    if rep.rows == 0:
        rep.errors.append(Problem(str(path), "empty", "has a header but no data rows" if path.suffix == ".csv"
                                  else "has no rows"))
        return rep
    for i, check in enumerate(checks):
        count, first = result[base + 2 * i], result[base + 1 + 2 * i]
        if not count:
            continue
        value = con.execute(f"select cast({db.quote_ident(check.column.name)} as varchar) from {rel} where {ROW} = ?",
                            [int(first)]).fetchall()[0][0]
        problem = Problem(str(path), check.rule, check.description, column=check.column.name, row=int(first),
                          value=value, count=int(count), check=None if check.structural else check.check)
        (rep.errors if check.structural else rep.warnings).append(problem)
    # rows per quarantine rule: a check's own count, or, where several checks of one rule fail, the rows
    # that break any of them (a second pass over those checks only)
    failing: dict[str, list[int]] = {}
    for i, check in enumerate(checks):
        if not check.structural and result[base + 2 * i]:
            failing.setdefault(check.rule, []).append(i)
    for rule, indices in failing.items():
        if len(indices) == 1:
            rep.quarantine[rule] = int(result[base + 2 * indices[0]])
        else:
            either = " or ".join(f"({checks[i].condition})" for i in indices)
            rep.quarantine[rule] = int(con.execute(f"select count(*) from {rel} where {either}").fetchall()[0][0])
    duplicates = result[-1]
    if duplicates["n"]:
        rule, count = table.duplicate_rule, int(duplicates["n"])
        rep.warnings.append(Problem(str(path), rule, f"{count:,} rows repeat the ({', '.join(table.primary_key)}) "
                                    "of an earlier row (the first row in file order is kept)",
                                    column=", ".join(table.primary_key), row=int(duplicates["first_row"]),
                                    count=count, check="unique key"))
        rep.quarantine[rule] = rep.quarantine.get(rule, 0) + count
    return rep


def check_raw(folder) -> dict:
    """Check every table of the extract in `folder`. Raises RawContractError listing all structural
    problems; otherwise returns a report: per table file, format, row count, extra columns, warnings (each
    under the quarantine rule the warehouse files its rows under) and `quarantine` ({rule: rows breaking
    it}, each rule counted on its own)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RawContractError(folder, [Problem(str(folder), "folder_missing", "the extract folder does not exist")])
    con = db.connect()
    reports: dict[str, TableReport] = {}
    errors: list[Problem] = []
    try:
        for table in contract.TABLES.values():
            path, problem = find_file(folder, table.name)
            if problem and problem.rule == "file_missing" and table.optional:
                reports[table.name] = TableReport(table.name, rows=0, absent=True)
                continue
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
                   "warnings": [w.as_dict() for w in r.warnings], "quarantine": r.quarantine,
                   "absent": r.absent, "absent_columns": r.absent_columns}
            for name, r in reports.items()
        },
        "warning_count": sum(len(r.warnings) for r in reports.values()),
    }


@click.command("check-raw")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
def check_raw_command(folder):
    """Check a raw extract FOLDER (default: MIGNET_RAW_DIR or data/raw) against the raw data contract.

    Exits with status 1 and a list of problems (file, column, row, rule) when the extract cannot be used;
    otherwise prints row counts and the rows the warehouse will quarantine, under their rule.
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
        if t["absent"]:
            click.echo(f"  {name:<15} {'absent':<8} {'':>12}      (optional table: read as empty)")
            continue
        click.echo(f"  {name:<15} {t['format']:<8} {t['rows']:>12,} rows")
        for col in t["absent_columns"]:
            click.echo(f"      note: optional column {col} is absent (NULL in every row)")
        for col in t["extra_columns"]:
            click.echo(f"      note: extra column {col} (ignored)")
        for w in t["warnings"]:
            where = f"column {w['column']}: {w['message']}" + (f", first at row {w['row']}" if "row" in w else "")
            example = f" e.g. {w['value']!r}" if "value" in w else ""
            click.echo(f"      warning: {w.get('count', 0):,} rows break {w['rule']} ({where}){example}: "
                       "quarantined by the warehouse")
