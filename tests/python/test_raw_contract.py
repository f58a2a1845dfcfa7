"""check_raw on good and deliberately broken extracts: errors name file, column, row and rule; warnings carry
the quarantine rule the contract names; CSV files that are not the contract's dialect get a structural error
that says what is wrong with them."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from mignet import contract
from mignet.generate import generate_register
from mignet.raw import RawContractError, check_raw, split_header


@pytest.fixture(scope="module")
def extracts(tmp_path_factory):
    base = tmp_path_factory.mktemp("raw")
    generate_register(base / "parquet", scale=0.002, seed=21)
    generate_register(base / "csv", scale=0.002, seed=21, fmt="csv")
    return base


@pytest.fixture
def parquet_dir(extracts, tmp_path):
    return Path(shutil.copytree(extracts / "parquet", tmp_path / "parquet"))


@pytest.fixture
def csv_dir(extracts, tmp_path):
    return Path(shutil.copytree(extracts / "csv", tmp_path / "csv"))


def _edit_csv(path: Path, row: int, column: str, value: str) -> None:
    """Set `column` of 1-based data row `row` to `value`."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    rows[row][rows[0].index(column)] = value
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)


def _error(folder) -> RawContractError:
    with pytest.raises(RawContractError) as info:
        check_raw(folder)
    return info.value


def test_generated_extracts_pass(extracts):
    for fmt in ("parquet", "csv"):
        report = check_raw(extracts / fmt)
        assert report["warning_count"] == 0
        assert set(report["tables"]) == set(contract.TABLE_NAMES)
        assert all(t["format"] == fmt and t["rows"] > 0 for t in report["tables"].values())


def test_csv_unreadable_value_names_file_row_column_rule(csv_dir):
    _edit_csv(csv_dir / "moves.csv", 17, "move_id", "17x")
    _edit_csv(csv_dir / "moves.csv", 40, "move_id", "forty")
    err = _error(csv_dir)
    [problem] = err.problems
    assert (Path(problem.file).name, problem.column, problem.row, problem.rule, problem.value) == (
        "moves.csv", "move_id", 17, "type", "17x")
    assert problem.count == 2
    text = str(err)
    assert "moves.csv" in text and "column move_id" in text and "row 17" in text and "rule type" in text
    assert "BIGINT" in text and "'17x'" in text


def test_csv_unreadable_boolean_and_integer(csv_dir):
    _edit_csv(csv_dir / "incomes.csv", 5, "is_student", "maybe")
    _edit_csv(csv_dir / "incomes.csv", 9, "income_year", "2O20")
    err = _error(csv_dir)
    found = {(Path(p.file).name, p.column, p.row, p.rule) for p in err.problems}
    assert found == {("incomes.csv", "is_student", 5, "type"), ("incomes.csv", "income_year", 9, "type")}


def test_csv_impossible_move_date_is_a_quarantine_warning_not_an_error(csv_dir):
    _edit_csv(csv_dir / "moves.csv", 12, "move_date", "2021-02-30")
    report = check_raw(csv_dir)
    [warning] = report["tables"]["moves"]["warnings"]
    assert (warning["column"], warning["row"], warning["rule"], warning["value"]) == (
        "move_date", 12, "move_date_invalid", "2021-02-30")
    assert contract.MOVES.column("move_date").rule_for("unreadable") == "move_date_invalid"
    assert report["tables"]["moves"]["quarantine"] == {"move_date_invalid": 1}


def test_csv_not_null_column_empty(csv_dir):
    _edit_csv(csv_dir / "persons.csv", 3, "sex", "")
    err = _error(csv_dir)
    [problem] = err.problems
    assert (Path(problem.file).name, problem.column, problem.row, problem.rule) == ("persons.csv", "sex", 3, "not_null")


def test_csv_row_rules_are_warnings_under_their_quarantine_rule(csv_dir):
    _edit_csv(csv_dir / "moves.csv", 8, "origin_nis", "4401")
    _edit_csv(csv_dir / "persons.csv", 4, "sex", "X")
    report = check_raw(csv_dir)
    [w_moves] = report["tables"]["moves"]["warnings"]
    assert (w_moves["column"], w_moves["row"], w_moves["rule"], w_moves["check"]) == (
        "origin_nis", 8, "nis_malformed", "pattern ^[0-9]{5}$")
    [w_persons] = report["tables"]["persons"]["warnings"]
    assert (w_persons["column"], w_persons["row"], w_persons["rule"], w_persons["check"]) == (
        "sex", 4, "person_value_invalid", "allowed (M, F)")


def test_parquet_missing_column_and_missing_file(parquet_dir):
    table = pq.read_table(parquet_dir / "persons.parquet").drop_columns(["birth_date"])
    pq.write_table(table, parquet_dir / "persons.parquet")
    (parquet_dir / "population.parquet").unlink()
    err = _error(parquet_dir)
    found = {(Path(p.file).name, p.column, p.rule) for p in err.problems}
    assert found == {("persons.parquet", "birth_date", "column_missing"),
                     ("population.parquet", None, "file_missing")}
    assert "population.parquet or population.csv" in str(err)


def test_parquet_null_in_not_null_column_names_the_row(parquet_dir):
    table = pq.read_table(parquet_dir / "moves.parquet")
    ids = table["person_id"].to_pylist()
    ids[41] = None
    table = table.set_column(1, pa.field("person_id", pa.string()), pa.array(ids, pa.string()))
    pq.write_table(table, parquet_dir / "moves.parquet")
    [problem] = _error(parquet_dir).problems
    assert (Path(problem.file).name, problem.column, problem.row, problem.rule) == ("moves.parquet", "person_id", 42, "not_null")


def test_parquet_wrong_type_unreadable_value(parquet_dir):
    table = pq.read_table(parquet_dir / "incomes.parquet")
    years = pc.cast(table["income_year"], pa.string()).to_pylist()
    years[99] = "twenty-twenty"
    i = table.schema.get_field_index("income_year")
    table = table.set_column(i, pa.field("income_year", pa.string()), pa.array(years, pa.string()))
    pq.write_table(table, parquet_dir / "incomes.parquet")
    [problem] = _error(parquet_dir).problems
    assert (Path(problem.file).name, problem.column, problem.row, problem.rule, problem.value) == (
        "incomes.parquet", "income_year", 100, "type", "twenty-twenty")


def test_parquet_castable_type_and_extra_column_pass(parquet_dir):
    table = pq.read_table(parquet_dir / "population.parquet")
    table = table.set_column(2, pa.field("population", pa.int32()), pc.cast(table["population"], pa.int32()))
    table = table.append_column("source", pa.array(["statbel"] * table.num_rows))
    pq.write_table(table, parquet_dir / "population.parquet")
    report = check_raw(parquet_dir)
    assert report["tables"]["population"]["extra_columns"] == ["source"]


def test_both_formats_of_one_table_is_ambiguous(parquet_dir, extracts):
    shutil.copy(extracts / "csv" / "moves.csv", parquet_dir / "moves.csv")
    [problem] = _error(parquet_dir).problems
    assert problem.rule == "file_ambiguous" and "moves" in problem.file


def test_duplicate_keys_are_counted_under_the_tables_duplicate_rule(parquet_dir):
    table = pq.read_table(parquet_dir / "persons.parquet")
    pq.write_table(pa.concat_tables([table, table.slice(0, 3)]), parquet_dir / "persons.parquet")
    [warning] = check_raw(parquet_dir)["tables"]["persons"]["warnings"]
    # the later copies are the duplicates: the first of them is the row after the original file's last
    assert (warning["rule"], warning["count"], warning["row"]) == ("person_duplicate", 3, table.num_rows + 1)


def test_population_duplicates_and_absurd_values_are_quarantine_warnings(parquet_dir):
    table = pq.read_table(parquet_dir / "population.parquet")
    population = table["population"].to_pylist()
    population[7] = 9 * 10**15
    table = table.set_column(2, "population", pa.array(population, pa.int64()))
    pq.write_table(pa.concat_tables([table, table.slice(0, 1)]), parquet_dir / "population.parquet")
    report = check_raw(parquet_dir)["tables"]["population"]
    assert report["quarantine"] == {"population_duplicate": 1, "population_value_invalid": 1}
    [above] = [w for w in report["warnings"] if w["rule"] == "population_value_invalid"]
    assert (above["column"], above["row"], above["check"]) == ("population", 8, "max 10000000")


def test_missing_folder(tmp_path):
    [problem] = _error(tmp_path / "nope").problems
    assert problem.rule == "folder_missing"


def test_cli_check_raw(csv_dir):
    from mignet.cli import main

    ok = CliRunner().invoke(main, ["check-raw", str(csv_dir)])
    assert ok.exit_code == 0, ok.output
    assert "conforms" in ok.output and "moves" in ok.output
    _edit_csv(csv_dir / "municipalities.csv", 2, "area_km2", "big")
    bad = CliRunner().invoke(main, ["check-raw", str(csv_dir)])
    assert bad.exit_code == 1
    assert "municipalities.csv, column area_km2, row 2: rule type" in bad.output


def test_readable_contract_lists_every_column_with_its_type_and_rules():
    text = (Path(__file__).resolve().parents[2] / "docs" / "raw_contract.md").read_text()
    for table in contract.TABLES.values():
        assert f"### {table.name}" in text
        for col in table.columns:
            assert f"| `{col.name}` | {col.dtype} | {'yes' if col.nullable else '**no**'} |" in text, (table.name, col.name)
        for rule in table.quarantine_rules():
            assert f"`{rule}`" in text, (table.name, rule)


# ---- CSV that is not the contract's dialect, files DuckDB cannot read, names that collide -------------------

def _rewrite(path: Path, transform) -> None:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    transform(rows)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)


def test_semicolon_separated_export_is_a_structural_error_that_says_so(csv_dir):
    with open(csv_dir / "moves.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    with open(csv_dir / "moves.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, delimiter=";").writerows([[v.replace(".", ",") for v in r] for r in rows])
    [problem] = _error(csv_dir).problems
    assert (Path(problem.file).name, problem.rule) == ("moves.csv", "csv_delimiter")
    assert "separated by ';', not by commas" in problem.message and "UTF-8" in problem.message


def test_decimal_comma_is_a_structural_error_not_a_quarantine(csv_dir):
    def comma(rows):
        i = rows[0].index("destination_y")
        for r in rows[1:]:
            r[i] = r[i].replace(".", ",")
    _rewrite(csv_dir / "moves.csv", comma)
    [problem] = _error(csv_dir).problems
    assert (problem.column, problem.rule) == ("destination_y", "decimal_comma")
    assert problem.count > 100 and "," in problem.value and "decimal point" in problem.message


def test_not_utf8_names_the_file_line_and_keeps_duckdbs_whole_message(csv_dir):
    with open(csv_dir / "municipalities.csv", "ab") as fh:
        fh.write("99999,Li\xe8ge,Li\xe8ge,62000,60000,03000,1977-01-01,,10,200000,100000\n".encode("latin-1"))
    n_rows = sum(1 for _ in open(csv_dir / "municipalities.csv", "rb")) - 1
    [problem] = _error(csv_dir).problems
    assert (Path(problem.file).name, problem.rule, problem.row) == ("municipalities.csv", "encoding", n_rows)
    assert "not UTF-8" in problem.message
    # every line of DuckDB's error, not the first only: what it read and how to fix it
    assert "Invalid unicode" in problem.message and "Possible Solution" in problem.message
    assert len(problem.message.splitlines()) > 5 and len(str(problem).splitlines()) > 5


def test_stray_quote_names_line_and_column_not_all_columns_missing(csv_dir):
    lines = (csv_dir / "persons.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    header = split_header(lines[0].rstrip("\n"))
    fields = lines[5].split(",")
    fields[header.index("country_of_birth")] = '"BE'
    lines[5] = ",".join(fields)
    (csv_dir / "persons.csv").write_text("".join(lines), encoding="utf-8")
    [problem] = _error(csv_dir).problems
    assert (Path(problem.file).name, problem.rule, problem.row, problem.column) == (
        "persons.csv", "file_unreadable", 5, "country_of_birth")
    assert "unterminated quote" in problem.message and "Possible fixes" in problem.message


def test_line_too_long_keeps_duckdbs_cause(csv_dir):
    _edit_csv(csv_dir / "persons.csv", 2, "current_nationality", "x" * 2_100_000)
    [problem] = _error(csv_dir).problems
    assert problem.rule == "file_unreadable" and problem.row == 2
    assert "Maximum line size" in problem.message and "max_line_size" in problem.message


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_header_only_table_is_named(fmt, csv_dir, parquet_dir):
    folder = csv_dir if fmt == "csv" else parquet_dir
    if fmt == "csv":
        header = (folder / "incomes.csv").read_text(encoding="utf-8").splitlines()[0]
        (folder / "incomes.csv").write_text(header + "\n", encoding="utf-8")
    else:
        pq.write_table(pq.read_table(folder / "incomes.parquet").slice(0, 0), folder / "incomes.parquet")
    [problem] = _error(folder).problems
    assert (Path(problem.file).name, problem.rule) == (f"incomes.{fmt}", "empty")


def test_extra_column_named_source_row_is_ignored_and_rows_are_counted_right(parquet_dir):
    table = pq.read_table(parquet_dir / "persons.parquet")
    pq.write_table(pa.concat_tables([table, table.slice(0, 1)]).append_column(
        "source_row", pa.array([1] * (table.num_rows + 1), pa.int64())), parquet_dir / "persons.parquet")
    report = check_raw(parquet_dir)["tables"]["persons"]
    assert report["extra_columns"] == ["source_row"]
    [duplicate] = report["warnings"]
    assert (duplicate["rule"], duplicate["row"]) == ("person_duplicate", table.num_rows + 1)


@pytest.mark.parametrize("name", ["_mignet_source_row", "_MIGNET_note", "file_row_number"])
def test_reserved_column_names_are_refused(name, parquet_dir):
    table = pq.read_table(parquet_dir / "persons.parquet")
    pq.write_table(table.append_column(name, pa.array([1] * table.num_rows, pa.int64())),
                   parquet_dir / "persons.parquet")
    [problem] = _error(parquet_dir).problems
    assert (problem.rule, problem.column) == ("column_reserved", name)
    assert "reserved" in problem.message


def test_column_names_are_case_sensitive_with_a_hint(csv_dir):
    _rewrite(csv_dir / "persons.csv", lambda rows: rows[0].__setitem__(rows[0].index("sex"), "Sex"))
    [problem] = _error(csv_dir).problems
    assert (problem.rule, problem.column) == ("column_missing", "sex") and "'Sex'" in problem.message


def test_quoted_header_with_a_comma_in_an_extra_column(csv_dir):
    def extra(rows):
        rows[0].append("note, free text")
        for r in rows[1:]:
            r.append("a, b")
    _rewrite(csv_dir / "persons.csv", extra)
    assert check_raw(csv_dir)["tables"]["persons"]["extra_columns"] == ["note, free text"]
