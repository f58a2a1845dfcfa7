"""The raw data contract has one home (the dbt source `register`) and what check-raw promises, the warehouse
does.

Fast tests hold the pieces together without dbt: the contract's rules are the seed's and the checked models'
(each through macro contract_breaks), staging keeps the text of unreadable values exactly where the contract
quarantines them, no dbt var repeats a bound of the contract, and the build's CSV header split is check-raw's.

One build (`contract_build`) runs on a small extract on the real Belgian codes into which one violating
value was written for every check of every column of the contract (and a repeated key per table), plus the
defects found by hand: country-side move-type inconsistencies, duplicates whose copy comes first in the file
with the higher move_id and the other way round, a population of 9e15, a repeated Antwerpen population row, an
extra Parquet column named source_row, a 2025 municipality without a French name. Every planted row must be
in audit.rpt_quarantine under the rule the contract names, check-raw must report every contract rule with the
same count, and nothing else may be quarantined.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import types
from collections import Counter
from pathlib import Path

import duckdb
import jinja2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import make_settings
from mignet import contract
from mignet.raw import check_raw, split_header

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT.parent / "shared" / "reference"
CHECKED_MODEL = "models/intermediate/quality/int_{table}_checked.sql"


def _seed_rules() -> dict[str, list[str]]:
    with open(ROOT / "seeds/quarantine_rules.csv", newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: (r["source_table"], int(r["rule_order"])))
    out: dict[str, list[str]] = {}
    for row in rows:
        out.setdefault(row["source_table"], []).append(row["rule"])
    return out


# ---- the contract's one home, held together (fast) -------------------------------------------------------

def test_contract_is_the_dbt_source_definition():
    spec = yaml.safe_load((ROOT / "models/staging/register/_register__sources.yml").read_text())
    (source,) = spec["sources"]
    assert source["name"] == contract.SOURCE_NAME and source["schema"] == "raw"
    assert [t["name"] for t in source["tables"]] == list(contract.TABLE_NAMES)
    for table in source["tables"]:
        declared = [(c["name"], c["data_type"].upper(), c["config"]["meta"]["nullable"]) for c in table["columns"]]
        loaded = contract.TABLES[table["name"]]
        assert declared == [(c.name, c.dtype, c.nullable) for c in loaded.columns], table["name"]
    assert contract.SOURCE_ROW.startswith(contract.RESERVED_PREFIX)
    # the names the generator and the mart checks import are read from the contract
    assert contract.LAMBERT72_X_RANGE == (15_000.0, 300_000.0) and contract.NIS_PATTERN == "^[0-9]{5}$"


def test_every_contract_rule_is_in_the_seed_and_applied_by_its_checked_model():
    seed = _seed_rules()
    assert set(seed) == set(contract.TABLE_NAMES)
    for name, table in contract.TABLES.items():
        sql = (ROOT / CHECKED_MODEL.format(table=name)).read_text()
        for rule in table.quarantine_rules():
            assert rule in seed[name], (name, rule)
            if rule != table.duplicate_rule:
                assert f"contract_breaks('{name}', '{rule}')" in sql, (name, rule)
        # and every rule of the seed is one the model can give
        for rule in seed[name]:
            assert f"'{rule}'" in sql, (name, rule)


def test_every_contract_check_has_its_rule():
    for table in contract.TABLES.values():
        for col in table.columns:
            assert {kind for kind, _ in col.checks()} <= set(col.quarantine), (table.name, col.name)


def test_staging_selects_every_contract_column_and_keeps_unreadable_text_where_the_contract_quarantines_it():
    for name, table in contract.TABLES.items():
        sql = (ROOT / f"models/staging/register/stg_register__{name}.sql").read_text()
        for column in table.column_names:
            assert re.search(rf"\bas {column}\b", sql), f"stg_register__{name} lacks {column}"
        unparsed = set(re.findall(r"as (\w+)_unparsed\b", sql))
        assert unparsed == {c.name for c in table.columns if c.rule_for("unreadable")}, name
        assert "raw_row_column()" in sql


def test_audit_models_cover_every_contract_table():
    reconciliation = (ROOT / "models/marts/audit/rpt_reconciliation.sql").read_text()
    quarantine = (ROOT / "models/marts/audit/rpt_quarantine.sql").read_text()
    for name in contract.TABLE_NAMES:
        assert f"source('register', '{name}')" in reconciliation, name
        assert f"ref('int_{name}_checked')" in quarantine, name


def test_no_dbt_var_repeats_the_contract():
    project = yaml.safe_load((ROOT / "dbt_project.yml").read_text())
    for gone in ("lambert72_x_range", "lambert72_y_range", "income_max_eur", "birth_date_min", "raw_tables"):
        assert gone not in project["vars"], gone
    assert 0 < project["vars"]["quarantine_share_max"] < 0.2
    sql = "".join(p.read_text() for p in (ROOT / "models").rglob("*.sql"))
    for gone in ("lambert72_x_range", "income_max_eur", "birth_date_min", "raw_tables"):
        assert gone not in sql, gone


class _Returned(Exception):
    def __init__(self, value):
        self.value = value


def _dbt_macro(path: Path, name: str):
    """A macro of the project rendered with plain Jinja and the few dbt globals it uses."""
    env = jinja2.Environment(extensions=["jinja2.ext.do"])

    def returned(value):
        raise _Returned(value)

    env.globals.update({"return": returned, "modules": types.SimpleNamespace(re=re)})
    macro = getattr(env.from_string(path.read_text()).module, name)

    def call(*args):
        try:
            macro(*args)
        except _Returned as result:
            return result.value
        raise AssertionError(f"macro {name} returned nothing")

    return call


@pytest.mark.parametrize("line", [
    "move_id,person_id", '"move_id","person_id"', '"a, b",c', '"say ""hi""",x', "a,,c", "", "single",
    '"unterminated,b', "a;b;c", "a\tb",
])
def test_the_build_splits_a_csv_header_as_check_raw_does(line):
    fields = _dbt_macro(ROOT / "macros/create_raw_views.sql", "csv_header_fields")
    for delimiter in (",", ";", "\t", "|"):
        assert fields(line, delimiter) == split_header(line, delimiter), (line, delimiter)


def test_the_build_and_check_raw_share_the_csv_dialect_and_the_decimal_comma():
    from mignet import raw

    macro = (ROOT / "macros/create_raw_views.sql").read_text()
    assert raw.DECIMAL_COMMA in macro
    unescaped = macro.replace('\\"', '"')  # a Jinja string writes " as \"
    assert raw.CSV_DIALECT in unescaped and raw.CSV_CONTRACT in unescaped


def test_seed_code_changes_list_the_real_2019_and_2025_changes():
    with open(ROOT / "seeds/nis_code_changes.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_year = {}
    for row in rows:
        by_year.setdefault(row["valid_from"], []).append(row)
    assert len(by_year["2019-01-01"]) == 26
    assert len(by_year["2025-01-01"]) == 30
    assert {r["change_type"] for r in rows} == {"merger", "renumbering"}
    assert sum(r["change_type"] == "renumbering" for r in rows) == 11
    changes = {(r["old_nis"], r["new_nis"]) for r in rows}
    assert ("44049", "44083") in changes  # Nevele -> Deinze
    assert ("52043", "55086") in changes  # Manage renumbered
    assert ("11007", "11002") in changes and ("11002", "11002") in changes  # Antwerpen keeps its code
    assert ("11056", "46030") in changes  # Zwijndrecht changes province
    old_2019 = {r["old_nis"] for r in by_year["2019-01-01"]}
    new_2019 = {r["new_nis"] for r in by_year["2019-01-01"]}
    # 589 codes before 2019 -> 581 after: 26 old codes replaced by 18 new ones
    assert len(old_2019) == 26 and len(new_2019) == 18
    new_2025 = {r["new_nis"] for r in by_year["2025-01-01"]}
    old_2025 = {r["old_nis"] for r in by_year["2025-01-01"]}
    # 581 -> 565
    assert len(old_2025 - new_2025) - len(new_2025 - old_2025) == 16


# ---- one build: every contract rule planted once ------------------------------------------------------------

def _violating_value(col: contract.Column, kind: str) -> str:
    """A text value of `col` that breaks check `kind` and nothing else."""
    if kind == "missing":
        return ""
    if kind == "unreadable":
        return {"DATE": "2021-02-30", "DOUBLE": "12.5.3", "INTEGER": "2O20", "BIGINT": "1e", "BOOLEAN": "maybe"}[col.dtype]
    if kind == "pattern":
        value = next(v for v in ("4401", "BEL", "   ") if not re.fullmatch(col.pattern, v))
        return value
    if kind == "allowed":
        return "not_allowed"
    bound = col.min if kind == "below_min" else col.max
    step = -1 if kind == "below_min" else 1
    if col.dtype == "DATE":
        return str(bound + dt.timedelta(days=step))
    if col.dtype == "BIGINT" and kind == "above_max":
        return str(9 * 10**15)  # the population of 9e15 that was once certified
    if col.dtype in ("INTEGER", "BIGINT"):
        return str(int(bound) + step)
    return repr(float(bound) - 1.0) if kind == "below_min" else repr(float(bound) * 1000)


def _read(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write_csv(path: Path, table: contract.Table, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(table.column_names))
        writer.writeheader()
        writer.writerows(rows)


def _write_parquet_text(path: Path, table: contract.Table, rows: list[dict], extra: dict | None = None) -> None:
    """Every column as text (the contract accepts a type whose values cast), '' as NULL, plus extra columns."""
    columns = {c: pa.array([r[c] or None for r in rows], pa.string()) for c in table.column_names}
    for name, values in (extra or {}).items():
        columns[name] = pa.array(values)
    pq.write_table(pa.table(columns), path)


class Planted:
    """The rows planted in the extract: {(table, source_key): rule}, and which contract checks they cover."""

    def __init__(self):
        self.expected: dict[tuple[str, str], str] = {}
        self.checks: set[tuple[str, str, str]] = set()
        self.rows: dict[str, int] = {}
        self.names: dict[str, str] = {}
        self.by_contract: set[tuple[str, str]] = set()  # the rows planted for a check of the contract

    def add(self, table: str, key: str, rule: str, check: tuple[str, str] | None = None) -> None:
        assert (table, key) not in self.expected, (table, key)
        self.expected[(table, key)] = rule
        if check:
            self.checks.add((table, *check))
            self.by_contract.add((table, key))


def _plant(folder: Path) -> Planted:
    planted = Planted()
    moves, persons = _read(folder / "moves.csv"), _read(folder / "persons.csv")
    incomes, municipalities = _read(folder / "incomes.csv"), _read(folder / "municipalities.csv")
    population = _read(folder / "population.csv")
    used: set[int] = set()

    def move_row(where) -> dict:
        i = next(i for i, r in enumerate(moves) if i not in used and i > 20 and where(r))
        used.add(i)
        return moves[i]

    # moves: one existing row per check, changed in place (no copy, so no duplicate of anything)
    for col in contract.MOVES.columns:
        for kind in [k for k in ("missing", "unreadable") if col.rule_for(k)] + [k for k, _ in col.checks()]:
            row = move_row(lambda r: r[col.name] != "" and r["move_type"] != "internal"
                           if col.name in ("origin_country", "destination_country") else r[col.name] != "")
            row[col.name] = _violating_value(col, kind)
            planted.add("moves", row["move_id"], col.rule_for(kind), (col.name, kind))
    first, later = move_row(lambda r: True), move_row(lambda r: True)
    later["move_id"] = first["move_id"]  # move_id_duplicate: the later row of the file is the duplicate
    planted.add("moves", later["move_id"], "move_id_duplicate", ("move_id", "duplicate"))
    # exact duplicates: the later row of the file is the copy, whichever has the higher move_id
    a, b = move_row(lambda r: True), move_row(lambda r: True)
    a.update({k: v for k, v in b.items() if k != "move_id"})
    a["move_id"], b["move_id"] = b["move_id"], a["move_id"]  # the first row has the higher move_id
    planted.add("moves", b["move_id"], "move_duplicate_exact")
    c, d = move_row(lambda r: True), move_row(lambda r: True)
    d.update({k: v for k, v in c.items() if k != "move_id"})  # the first row has the lower move_id
    planted.add("moves", d["move_id"], "move_duplicate_exact")
    # the country side of the move type (found by hand on the real codes)
    for move_type, column, value in (("internal", "destination_country", "FR"), ("immigration", "origin_country", ""),
                                     ("emigration", "destination_country", ""), ("immigration", "destination_country", "FR"),
                                     ("emigration", "origin_country", "FR")):
        row = move_row(lambda r: r["move_type"] == move_type)
        row[column] = value
        planted.add("moves", row["move_id"], "move_type_inconsistent")
    _write_csv(folder / "moves.csv", contract.MOVES, moves)

    # persons: new rows, one per check (no move points at them), and a later copy of an existing row
    template = persons[0]
    for n, col in enumerate(contract.PERSONS.columns):
        for kind in [k for k in ("missing", "unreadable") if col.rule_for(k)] + [k for k, _ in col.checks()]:
            row = dict(template, person_id=f"PX{n:02d}{kind}")
            row[col.name] = _violating_value(col, kind)
            persons.append(row)
            planted.add("persons", row["person_id"], col.rule_for(kind), (col.name, kind))
    persons.append(dict(persons[5]))
    planted.add("persons", persons[5]["person_id"], "person_duplicate", ("person_id", "duplicate"))
    planted.rows["person_duplicate"] = len(persons)
    # Parquet, every column text, with an extra column named source_row (once every row's row number)
    (folder / "persons.csv").unlink()
    _write_parquet_text(folder / "persons.parquet", contract.PERSONS, persons,
                        {"source_row": pa.array([1] * len(persons), pa.int64())})

    # incomes: new (person, year) pairs of persons without incomes, one per check, and a later copy
    with_income = {r["person_id"] for r in incomes}
    children = [p["person_id"] for p in persons[:-1] if p["person_id"] not in with_income and p["person_id"].startswith("P0")]
    pairs = iter((person, year) for person in children for year in range(2018, 2024))
    for col in contract.INCOMES.columns:
        for kind in [k for k in ("missing", "unreadable") if col.rule_for(k)] + [k for k, _ in col.checks()]:
            person, year = next(pairs)
            row = dict(incomes[0], person_id=person, income_year=str(year))
            row[col.name] = _violating_value(col, kind)
            incomes.append(row)
            planted.add("incomes", f"{person}|{row['income_year']}", col.rule_for(kind), (col.name, kind))
    incomes.append(dict(incomes[3]))
    planted.add("incomes", f"{incomes[3]['person_id']}|{incomes[3]['income_year']}", "income_duplicate",
                ("income_year", "duplicate"))
    _write_csv(folder / "incomes.csv", contract.INCOMES, incomes)

    # municipalities: new codes 99xxx, one per check, and a later copy of an existing row
    brussels = next(r for r in municipalities if r["nis_code"] == "21004")
    new_codes = iter(range(99001, 99100))
    for col in contract.MUNICIPALITIES.columns:
        for kind in [k for k in ("missing", "unreadable") if col.rule_for(k)] + [k for k, _ in col.checks()]:
            row = dict(brussels, nis_code=str(next(new_codes)))
            row[col.name] = _violating_value(col, kind)
            municipalities.append(row)
            planted.add("municipalities", row["nis_code"], col.rule_for(kind), (col.name, kind))
    municipalities.append(dict(municipalities[10]))
    planted.add("municipalities", municipalities[10]["nis_code"], "municipality_duplicate", ("nis_code", "duplicate"))
    # 23106 Pajottegem (1-1-2025) has no French name in the reference lists; the generator's synthetic
    # geography gives it one, so it is removed here in either case
    for row in municipalities:
        if row["nis_code"] == "23106":
            row["name_fr"] = ""
            planted.names["23106"] = row["name_nl"]
    _write_csv(folder / "municipalities.csv", contract.MUNICIPALITIES, municipalities)

    # population: Antwerpen's row of 2019 again (once summed twice), and new rows breaking each check
    antwerpen = next(r for r in population if r["nis_code"] == "11002" and r["reference_date"] == "2019-01-01")
    # at vintage 2025 Antwerpen (11002) includes Borsbeek (11007)
    planted.rows["antwerpen_2019"] = sum(int(r["population"]) for r in population
                                         if r["reference_date"] == "2019-01-01" and r["nis_code"] in ("11002", "11007"))
    population.append(dict(antwerpen))
    planted.add("population", "11002|2019-01-01", "population_duplicate", ("nis_code", "duplicate"))
    codes = iter(["21004", "11002", "44021", "62063"])
    for col in contract.POPULATION.columns:
        for kind in [k for k in ("missing", "unreadable") if col.rule_for(k)] + [k for k, _ in col.checks()]:
            row = dict(antwerpen, nis_code=next(codes), reference_date="2025-01-01")
            row[col.name] = _violating_value(col, kind)
            population.append(row)
            planted.add("population", f"{row['nis_code']}|{row['reference_date']}", col.rule_for(kind), (col.name, kind))
    (folder / "population.csv").unlink()
    _write_parquet_text(folder / "population.parquet", contract.POPULATION, population)

    # the optional tables of the two other studies: new rows, one per check, each with a key of its own (the
    # value varied), and a later copy of an existing row
    varied = {"area_types": ("nis_code", (str(n) for n in range(99001, 99100))),
              "population_positions": ("nis_code", (str(n) for n in range(99101, 99200))),
              "sectors": ("sector_code", (f"99{n:03d}A00-" for n in range(201, 300))),
              "population_by_origin": ("country", (f"Q{chr(c)}" for c in range(ord("A"), ord("Z") + 1)))}
    for name, (column, values) in varied.items():
        table = contract.TABLES[name]
        rows = _read(folder / f"{name}.csv")
        template = rows[0]
        for col in table.columns:
            for kind in [k for k in ("missing", "unreadable") if col.rule_for(k)] + [k for k, _ in col.checks()]:
                row = dict(template, **{column: next(values)})
                row[col.name] = _violating_value(col, kind)
                rows.append(row)
                # the key as rpt_quarantine writes it: a value that does not read is NULL there
                key = "|".join("" if c == col.name and kind in ("missing", "unreadable") else row[c]
                               for c in table.primary_key)
                planted.add(name, key, col.rule_for(kind), (col.name, kind))
        rows.append(dict(rows[3]))
        planted.add(name, "|".join(rows[3][c] for c in table.primary_key), table.duplicate_rule,
                    (table.primary_key[0], "duplicate"))
        _write_csv(folder / f"{name}.csv", table, rows)
    return planted


@pytest.fixture(scope="module")
def contract_build(tmp_path_factory):
    from mignet.generate import generate_register
    from mignet.warehouse.build import build_warehouse

    root = tmp_path_factory.mktemp("contract_build")
    raw = root / "raw"
    geography = REFERENCE if (REFERENCE / "municipalities_2019.csv").is_file() else "synthetic"
    generate_register(raw, scale=0.002, seed=31, geography=geography, fmt="csv")
    planted = _plant(raw)
    report = check_raw(raw)
    settings = make_settings(root, raw)
    result = build_warehouse(settings, dbt_vars={"target_vintage": 2025}, docs=False)
    assert result.ok, "\n".join(result.failures)
    return settings, planted, report


def _query(settings, sql, params=None):
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_every_contract_rule_is_quarantined_as_check_raw_reports_it(contract_build):
    settings, planted, report = contract_build
    # every check of every column of the contract, and a repeated key of every table, was planted
    every_check = {(t.name, c.name, kind) for t in contract.TABLES.values() for c in t.columns
                   for kind in [k for k in ("missing", "unreadable") if c.rule_for(k)] + [k for k, _ in c.checks()]}
    assert every_check <= planted.checks
    assert {t for t, _, kind in planted.checks if kind == "duplicate"} == set(contract.TABLE_NAMES)
    # the warehouse quarantines exactly the planted rows, each under its rule
    got = {(t, k): rule for t, k, rule in _query(settings, "select source_table, source_key, rule from audit.rpt_quarantine")}
    assert got == planted.expected
    # check-raw reported every contract rule with the same count as the warehouse quarantined for it (the
    # rows planted for the warehouse's own rules, some under the same rule names, check-raw cannot see)
    contract_rules = {(t.name, rule) for t in contract.TABLES.values() for rule in t.quarantine_rules()}
    warehouse = Counter((t, got[(t, k)]) for t, k in planted.by_contract)
    reported = Counter({(t, rule): n for t, table in report["tables"].items() for rule, n in table["quarantine"].items()})
    assert reported == warehouse
    assert set(reported) == contract_rules
    assert all(balanced for (balanced,) in _query(settings, "select is_balanced from audit.rpt_reconciliation"))


@pytest.mark.slow
def test_an_extra_source_row_column_does_not_collide_with_the_row_number(contract_build):
    settings, planted, _ = contract_build
    rows = dict(_query(settings, "select rule, source_row from audit.rpt_quarantine where source_table = 'persons'"
                                 " and rule = 'person_duplicate'"))
    assert rows == {"person_duplicate": planted.rows["person_duplicate"]}
    assert _query(settings, "select count(distinct source_row) = count(*) from audit.rpt_quarantine "
                            "where source_table = 'persons'") == [(True,)]


@pytest.mark.slow
def test_duplicate_population_rows_and_absurd_populations_are_not_summed(contract_build):
    settings, planted, _ = contract_build
    assert _query(settings, "select population from marts.dim_municipality_year where nis_code = '11002' "
                            "and year = 2019") == [(planted.rows["antwerpen_2019"],)]
    (largest,) = _query(settings, "select max(population) from marts.dim_municipality_year")[0]
    assert largest < 10_000_000


@pytest.mark.slow
def test_a_new_municipality_keeps_its_own_names(contract_build):
    settings, planted, _ = contract_build
    # 23106 Pajottegem (Galmaarden, Gooik, Herne) has no French name: it does not take Herne's
    assert _query(settings, "select name_nl, name_fr, vintage from marts.dim_municipality where nis_code = '23106'") \
        == [(planted.names["23106"], None, 2025)]
    if (REFERENCE / "municipalities_2025.csv").is_file():
        assert planted.names["23106"] == "Pajottegem"
