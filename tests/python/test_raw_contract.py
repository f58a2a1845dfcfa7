"""check_raw on good and deliberately broken extracts: errors name file, column, row and rule."""

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
from mignet.raw import ROW_RULE_FOR_UNREADABLE, RawContractError, check_raw


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
    assert ROW_RULE_FOR_UNREADABLE[("moves", "move_date")] == "move_date_invalid"


def test_csv_not_null_column_empty(csv_dir):
    _edit_csv(csv_dir / "persons.csv", 3, "sex", "")
    err = _error(csv_dir)
    [problem] = err.problems
    assert (Path(problem.file).name, problem.column, problem.row, problem.rule) == ("persons.csv", "sex", 3, "not_null")


def test_csv_row_rules_are_warnings(csv_dir):
    _edit_csv(csv_dir / "moves.csv", 8, "origin_nis", "4401")
    _edit_csv(csv_dir / "persons.csv", 4, "sex", "X")
    report = check_raw(csv_dir)
    [w_moves] = report["tables"]["moves"]["warnings"]
    assert (w_moves["column"], w_moves["row"], w_moves["rule"]) == ("origin_nis", 8, "pattern ^[0-9]{5}$")
    [w_persons] = report["tables"]["persons"]["warnings"]
    assert (w_persons["column"], w_persons["row"], w_persons["rule"]) == ("sex", 4, "allowed (M, F)")


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


def test_duplicate_keys_are_counted(parquet_dir):
    table = pq.read_table(parquet_dir / "persons.parquet")
    pq.write_table(pa.concat_tables([table, table.slice(0, 3)]), parquet_dir / "persons.parquet")
    [warning] = check_raw(parquet_dir)["tables"]["persons"]["warnings"]
    assert (warning["rule"], warning["count"]) == ("duplicate_key", 3)


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


def test_readable_contract_lists_every_column_with_its_type():
    text = (Path(__file__).resolve().parents[2] / "docs" / "raw_contract.md").read_text()
    for table in contract.TABLES.values():
        assert f"### {table.name}" in text
        for col in table.columns:
            assert f"| `{col.name}` | {col.dtype} | {'yes' if col.nullable else '**no**'} |" in text, (table.name, col.name)
    for column, rule in ROW_RULE_FOR_UNREADABLE.items():
        assert rule in text
