"""Hostile and careless extract folders: names with quotes, semicolons, glob characters, spaces, non-ASCII
letters and an SQL injection. check-raw and a real dbt build read exactly the named folder (never a sibling
that the name would match as a glob pattern) and write nothing but their own files: the file trees of the
test's folder and of the project (the build's working directory) are the same before and after, but for
the warehouse and the build's artifacts."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from conftest import make_settings
from mignet import contract
from mignet.raw import check_raw

ROOT = Path(__file__).resolve().parents[2]
INJECTION = "x'); copy (select 42) to 'pwned.csv'; --"
NAMES = ["O'Brien extract", "semi;colon", "reg?", "star*", "br[a]ck", "two  spaces", "ünïcödé ë", INJECTION]
# one folder for the build, with every hostile character at once
COMBINED = f"{INJECTION} O'Brien reg? [a] * ë"
# parts of the checkout that test runs and builds write on their own (caches, scratch, other artifacts)
OWN_WRITES = {".git", ".venv", ".pytest_cache", "__pycache__", "data", "target", "logs", "reports", "gx"}
# mixed formats, so that both readers (read_parquet and read_csv) meet the hostile path
FORMATS = {"moves": "parquet", "persons": "csv", "incomes": "parquet", "municipalities": "csv", "population": "csv",
           "area_types": "csv", "population_positions": "parquet", "sectors": "csv", "population_by_origin": "parquet"}


def _decoy(name: str) -> str:
    """A sibling folder that `name` would match if it were read as a glob pattern."""
    return name.replace("?", "A").replace("*", "ZZ").replace("[a]", "a")


@pytest.fixture(scope="module")
def extracts(tmp_path_factory):
    """A small register in both formats, and a decoy: the same with half the moves and incomes."""
    from mignet.generate import generate_register

    base = tmp_path_factory.mktemp("hostile_sources")
    manifest = generate_register(base / "parquet", scale=0.002, seed=17)
    generate_register(base / "csv", scale=0.002, seed=17, fmt="csv")
    decoy = base / "decoy"
    decoy.mkdir()
    for table, fmt in FORMATS.items():
        shutil.copy(base / fmt / f"{table}.{fmt}", decoy / f"{table}.{fmt}")
    for table in ("moves", "incomes"):
        data = pq.read_table(decoy / f"{table}.parquet")
        pq.write_table(data.slice(0, data.num_rows // 2), decoy / f"{table}.parquet")
    return base, manifest["row_counts"]


def _extract(extracts, folder: Path) -> Path:
    base, _ = extracts
    folder.mkdir(parents=True)
    for table, fmt in FORMATS.items():
        shutil.copy(base / fmt / f"{table}.{fmt}", folder / f"{table}.{fmt}")
    if _decoy(folder.name) != folder.name:
        shutil.copytree(base / "decoy", folder.parent / _decoy(folder.name))
    return folder


def _tree(*roots: Path) -> set[str]:
    """Every file under `roots` (the checkout without what tests and builds write there on their own)."""
    found = set()
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not (Path(folder) == ROOT and d in OWN_WRITES) and d != "__pycache__"]
            found.update(str(Path(folder, f)) for f in files)
    return found


def _no_pwned(*roots: Path) -> None:
    for root in roots:
        assert not list(root.rglob("pwned.csv")), f"the injection wrote a file under {root}"


@pytest.mark.parametrize("name", NAMES)
def test_check_raw_reads_exactly_the_named_folder_and_writes_nothing(name, extracts, tmp_path, monkeypatch):
    _, counts = extracts
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # a relative COPY target would land here
    folder = _extract(extracts, tmp_path / "extracts" / name)
    before = _tree(tmp_path, ROOT)
    report = check_raw(folder)
    assert {t: r["rows"] for t, r in report["tables"].items()} == counts
    assert {t: r["format"] for t, r in report["tables"].items()} == FORMATS
    assert report["warning_count"] == 0
    assert _tree(tmp_path, ROOT) == before
    _no_pwned(tmp_path)


def test_a_missing_table_is_named_with_the_hostile_path(extracts, tmp_path):
    folder = _extract(extracts, tmp_path / INJECTION)
    (folder / "population.csv").unlink()
    from mignet.raw import RawContractError

    with pytest.raises(RawContractError) as info:
        check_raw(folder)
    [problem] = info.value.problems
    assert problem.rule == "file_missing" and INJECTION in problem.file


@pytest.mark.slow
def test_dbt_build_on_a_hostile_folder_reads_it_exactly_and_writes_only_its_own_files(extracts, tmp_path):
    from mignet.warehouse.build import build_warehouse

    _, counts = extracts
    folder = _extract(extracts, tmp_path / "extracts" / COMBINED)
    assert (folder.parent / _decoy(COMBINED)).is_dir()
    settings = make_settings(tmp_path / "root", folder)
    before = _tree(tmp_path, ROOT)
    result = build_warehouse(settings)  # the whole `mignet build`: dbt build, then dbt docs generate
    assert result.ok, "\n".join(result.failures)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        raw_rows = dict(con.execute("select source_table, any_value(raw_rows) from audit.rpt_reconciliation "
                                    "group by all").fetchall())
        (recorded,) = con.execute("select value_json from audit.rpt_build_vars where var_name = 'raw_dir'").fetchall()[0]
        quarantined = con.execute("select count(*) from audit.rpt_quarantine").fetchall()[0][0]
    finally:
        con.close()
    # the named folder's rows, not the decoy's (half the moves and incomes) nor both
    assert raw_rows == counts
    assert quarantined == 0
    assert json.loads(recorded) == str(folder)
    # nothing written but the warehouse and the build's own artifacts
    new = _tree(tmp_path, ROOT) - before
    data = str(settings.data_dir) + os.sep
    assert new and all(path.startswith(data) for path in new), sorted(p for p in new if not p.startswith(data))
    assert settings.warehouse.is_file() and str(settings.warehouse) in new
    _no_pwned(tmp_path, ROOT)


@pytest.mark.slow
def test_dbt_build_refuses_what_check_raw_refuses_naming_the_same_file_column_row_and_rule(extracts, tmp_path):
    """One extract with a problem of each kind the build checks before any model runs; the build names each
    as check-raw does (file, column, row, rule)."""
    import pyarrow as pa

    from mignet.raw import RawContractError
    from mignet.warehouse.build import build_warehouse

    folder = _extract(extracts, tmp_path / "extracts" / "O'Brien [extract]")
    # persons.csv: an empty sex on data row 3 (NULL in a NOT NULL column, found by a scan)
    lines = (folder / "persons.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    fields = lines[3].split(",")
    fields[[h.strip('"') for h in header].index("sex")] = ""
    lines[3] = ",".join(fields)
    (folder / "persons.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # incomes.parquet: income_year as text, one value unreadable; moves.parquet: a decimal comma
    for table, column, row, value in (("incomes", "income_year", 99, "2O20"), ("moves", "origin_x", 9, "151234,5")):
        data = pq.read_table(folder / f"{table}.parquet")
        values = [None if v is None else str(v) for v in data[column].to_pylist()]
        values[row] = value
        data = data.set_column(data.schema.get_field_index(column), column, pa.array(values, pa.string()))
        pq.write_table(data, folder / f"{table}.parquet")
    # moves.parquet: a NULL person_id (the build finds it through the file's null counts)
    data = pq.read_table(folder / "moves.parquet")
    ids = data["person_id"].to_pylist()
    ids[14] = None
    pq.write_table(data.set_column(data.schema.get_field_index("person_id"), "person_id", pa.array(ids, pa.string())),
                   folder / "moves.parquet")
    # population.csv: the header only; municipalities.csv: a column under the reserved prefix
    (folder / "population.csv").write_text(
        (folder / "population.csv").read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    lines = (folder / "municipalities.csv").read_text(encoding="utf-8").splitlines()
    (folder / "municipalities.csv").write_text(
        "\n".join([lines[0] + f",{contract.RESERVED_PREFIX}note"] + [f"{line},x" for line in lines[1:]]) + "\n",
        encoding="utf-8")

    with pytest.raises(RawContractError) as info:
        check_raw(folder)
    problems = info.value.problems
    assert {p.rule for p in problems} == {"not_null", "type", "decimal_comma", "empty", "column_reserved"}
    result = build_warehouse(make_settings(tmp_path / "root", folder), docs=False)
    assert not result.ok
    text = "\n".join(result.failures)
    for problem in problems:
        where = ", ".join([problem.file] + ([f"column {problem.column}"] if problem.column else [])
                          + ([f"row {problem.row}"] if problem.row is not None else []))
        assert f"{where}: rule {problem.rule}:" in text, (str(problem), text)
