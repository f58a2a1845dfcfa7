"""The synthetic register generator: determinism, the raw contract, geography, faults, planted effects."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from mignet import contract
from mignet.generate import FAULT_COLUMNS, generate_register
from mignet.generate.codes import CHANGES_2019, CHANGES_2025
from mignet.generate import FAULT_TYPES
from mignet.generate.tables import ARROW_TYPES
from mignet.raw import check_raw

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    manifest = generate_register(out, scale=0.01, seed=11)
    return out, manifest


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    out = tmp_path_factory.mktemp("faulty")
    manifest = generate_register(out, scale=0.01, seed=12, faults=0.01)
    return out, manifest


@pytest.fixture(scope="module")
def faulty_csv(tmp_path_factory):
    out = tmp_path_factory.mktemp("faulty_csv")
    manifest = generate_register(out, scale=0.004, seed=13, faults=0.02, fmt="csv")
    return out, manifest


def connect(folder: Path, fmt: str = "parquet") -> duckdb.DuckDBPyConnection:
    """Views over the raw files; CSV read as text and cast leniently, as the warehouse does."""
    con = duckdb.connect()
    for table in contract.TABLES.values():
        path = folder / f"{table.name}.{fmt}"
        if fmt == "parquet":
            con.execute(f"create view {table.name} as select * from read_parquet('{path}')")
        else:
            cols = ", ".join(f'try_cast("{c.name}" as {c.dtype}) as "{c.name}", "{c.name}" as "{c.name}__text"'
                             for c in table.columns)
            # a table, not a view: DuckDB may push a cast of a joined view into the CSV reader
            con.execute(f"create table {table.name} as select {cols} from read_csv('{path}', header=true, all_varchar=true)")
    con.execute(f"create view faults as select * from read_csv('{folder / 'faults.csv'}', header=true, all_varchar=true)")
    return con


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_register(a, scale=0.003, seed=5, faults=0.01)
    generate_register(b, scale=0.003, seed=5, faults=0.01)
    generate_register(c, scale=0.003, seed=6, faults=0.01)
    names = [f"{t}.parquet" for t in contract.TABLE_NAMES] + ["faults.csv", "manifest.json"]
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "moves.parquet").read_bytes() != (c / "moves.parquet").read_bytes()


@pytest.mark.parametrize("which", ["clean", "faulty", "faulty_csv"])
def test_tables_conform_to_contract(which, request):
    out, manifest = request.getfixturevalue(which)
    report = check_raw(out)
    for name, table in contract.TABLES.items():
        assert report["tables"][name]["rows"] == manifest["row_counts"][name]
        assert report["tables"][name]["extra_columns"] == []
    if which == "clean":
        assert report["warning_count"] == 0, report
    else:
        assert report["warning_count"] > 0
    if manifest["format"] == "parquet":
        for name, table in contract.TABLES.items():
            schema = pq.read_schema(out / f"{name}.parquet")
            assert schema.names == list(table.column_names)
            for col in table.columns:
                assert schema.field(col.name).type == ARROW_TYPES[col.dtype], (name, col.name)
            data = pq.read_table(out / f"{name}.parquet")
            for col in table.columns:
                if not col.nullable:
                    assert data[col.name].null_count == 0, (name, col.name)


def test_clean_register_keeps_every_rule(clean):
    out, manifest = clean
    con = connect(out)
    one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
    assert one("select count(*) from moves where move_date is null or move_date not between '2018-01-01' and '2023-12-31'") == 0
    # every code is valid on the move date
    assert one("""select count(*) from moves m, unnest([m.origin_nis, m.destination_nis]) as t(code)
                  left join municipalities c on c.nis_code = t.code
                  and m.move_date >= c.valid_from and (c.valid_to is null or m.move_date <= c.valid_to)
                  where t.code is not null and c.nis_code is null""") == 0
    assert one("""select count(*) from moves where not (
                    (move_type = 'internal' and origin_nis is not null and destination_nis is not null
                     and origin_country is null and destination_country is null)
                 or (move_type = 'immigration' and origin_nis is null and origin_country is not null
                     and destination_nis is not null and destination_country is null)
                 or (move_type = 'emigration' and destination_nis is null and destination_country is not null
                     and origin_nis is not null and origin_country is null))""") == 0
    assert one("select count(*) from moves m join persons p using (person_id) where p.birth_date >= m.move_date") == 0
    assert one("select count(distinct person_id) from moves") == one("select count(*) from persons")
    assert one("select count(*) from moves where person_id not in (select person_id from persons)") == 0
    # incomes of adults only, a realistic share missing
    assert one("""select count(*) from incomes i join persons p using (person_id)
                  where i.income_year - year(p.birth_date) < 18""") == 0
    missing = one("select avg((disposable_income is null)::int) from incomes")
    assert 0.05 <= missing <= 0.12
    assert one("select min(income_year) from incomes") == 2018 and one("select max(income_year) from incomes") == 2023
    # coordinates: about 20% missing, the rest inside Belgium's box
    share_null = one("select avg((origin_x is null)::int) from moves where origin_nis is not null")
    assert 0.15 <= share_null <= 0.25
    # volumes at scale 0.01: about 36,000 moves between municipalities, plus intra, immigration, emigration
    inter = one("select count(*) from moves where move_type = 'internal' and origin_nis <> destination_nis")
    assert 30_000 <= inter <= 42_000
    for move_type in ("immigration", "emigration"):
        assert one(f"select count(*) from moves where move_type = '{move_type}'") > 2_000
    assert one("select count(*) from moves where move_type = 'internal' and origin_nis = destination_nis") > 15_000
    # a share of moves goes back: reciprocal flows
    assert manifest["simulation"]["return_moves"] > 0


def test_geography_codes_and_population(clean):
    out, manifest = clean
    con = connect(out)

    def valid_on(day):
        return {r[0] for r in con.execute(
            "select nis_code from municipalities where valid_from <= ? and (valid_to is null or valid_to >= ?)",
            [day, day]).fetchall()}

    v2018, v2019, v2025 = valid_on(dt.date(2018, 12, 31)), valid_on(dt.date(2019, 1, 1)), valid_on(dt.date(2025, 1, 1))
    assert (len(v2018), len(v2019), len(v2025)) == (589, 581, 565)
    for old, _, new, *_ in CHANGES_2019:
        assert old in v2018 and old not in v2019 and new in v2019
    for old, _, new, *_ in CHANGES_2025:
        assert old in v2019 and new in v2025
        assert old == new or old not in v2025
    new_2025 = {c[2] for c in CHANGES_2025} - {"11002"}
    assert {r[0] for r in con.execute("select nis_code from municipalities where valid_from = '2025-01-01'").fetchall()} == new_2025
    brussels = con.execute("""select count(*), count(distinct arrondissement_nis), max(arrondissement_nis),
                              count(province_nis) from municipalities where region_nis = '04000'""").fetchone()
    assert brussels == (19, 1, "21000", 0)
    provinces = {r[0] for r in con.execute("select distinct province_nis from municipalities where province_nis is not null").fetchall()}
    assert provinces == {"10000", "20001", "20002", "30000", "40000", "50000", "60000", "70000", "80000", "90000"}
    assert con.execute("select count(*) from municipalities where arrondissement_nis <> substr(nis_code, 1, 2) || '000'").fetchone()[0] == 0
    per_year = dict(con.execute("select year(reference_date), count(*) from population group by 1").fetchall())
    assert per_year == {2018: 589, **{y: 581 for y in range(2019, 2025)}}
    total_2018 = con.execute("select sum(population) from population where reference_date = '2018-01-01'").fetchone()[0]
    assert 11_200_000 <= total_2018 <= 11_600_000
    # the population of a year is on the codes valid that day
    assert con.execute("""select count(*) from population p left join municipalities m on m.nis_code = p.nis_code
                          and p.reference_date >= m.valid_from and (m.valid_to is null or p.reference_date <= m.valid_to)
                          where m.nis_code is null""").fetchone()[0] == 0
    # skew: a dense capital region and a sparse south
    dens = dict(con.execute("""select m.region_nis, sum(p.population) / sum(m.area_km2) from population p
                               join municipalities m using (nis_code) where p.reference_date = '2019-01-01'
                               group by 1""").fetchall())
    assert dens["04000"] > 5_000 and dens["03000"] < 300 and dens["02000"] > dens["03000"]
    assert manifest["municipality_codes"] == {**manifest["municipality_codes"], "valid_2018_12_31": 589,
                                              "valid_2019_01_01": 581, "valid_2025_01_01": 565}
    assert manifest["extrapolated_population_years"] == []


def _fault_keys(con, fault_type):
    return {r[0] for r in con.execute("select key from faults where fault_type = ?", [fault_type]).fetchall()}


def _keys(con, sql):
    return {str(r[0]) for r in con.execute(sql).fetchall()}


@pytest.mark.parametrize("which", ["faulty", "faulty_csv"])
def test_fault_manifest_matches_files(which, request):
    out, manifest = request.getfixturevalue(which)
    fmt = manifest["format"]
    con = connect(out, fmt)
    with open(out / "faults.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and tuple(rows[0]) == FAULT_COLUMNS
    by_type = {}
    for r in rows:
        by_type.setdefault(r["fault_type"], []).append(r)
        assert (r["table"], r["expected_rule"], r["expected_outcome"]) == FAULT_TYPES[r["fault_type"]]
    assert set(by_type) == set(FAULT_TYPES), "every fault type appears"
    assert {t: len(v) for t, v in by_type.items()} == manifest["fault_counts"]
    assert by_type["nis_expired_code"][0]["expected_outcome"] == "flag"
    # one fault per row: keys are unique within each table
    for table in ("moves", "persons", "incomes"):
        keys = [r["key"] for r in rows if r["table"] == table]
        assert len(keys) == len(set(keys)), table

    def exact(fault_type, sql):
        assert _keys(con, sql) == _fault_keys(con, fault_type), fault_type

    def contains(fault_type, sql):
        missing = _fault_keys(con, fault_type) - _keys(con, sql)
        assert not missing, (fault_type, sorted(missing)[:5])

    # each defect is in the files on exactly the listed rows
    exact("move_date_missing", "select move_id from moves where move_date is null"
          + (" and move_date__text is null" if fmt == "csv" else ""))
    exact("move_date_invalid", "select move_id from moves where move_date not between '2018-01-01' and '2023-12-31'"
          + (" or (move_date is null and move_date__text is not null)" if fmt == "csv" else ""))
    exact("nis_malformed", """select move_id from moves where not regexp_full_match(origin_nis, '[0-9]{5}')
                              or not regexp_full_match(destination_nis, '[0-9]{5}')""")
    exact("nis_unknown", """select move_id from moves m, unnest([origin_nis, destination_nis]) t(code)
                            where regexp_full_match(code, '[0-9]{5}')
                            and code not in (select nis_code from municipalities)""")
    on_date = """select move_id from moves m, unnest([origin_nis, destination_nis]) t(code)
                 join municipalities c on c.nis_code = t.code where m.move_date is not null
                 and m.move_date between '2018-01-01' and '2023-12-31' and {cond}"""
    exact("nis_not_valid_on_date", on_date.format(cond="m.move_date < c.valid_from"))
    exact("nis_expired_code", on_date.format(cond="m.move_date > c.valid_to"))
    # the whole rule: which sides carry a NIS code and which a country must fit the type
    exact("move_type_inconsistent", """select move_id from moves where not (
                (move_type = 'internal' and origin_nis is not null and destination_nis is not null
                 and origin_country is null and destination_country is null)
             or (move_type = 'immigration' and origin_nis is null and origin_country is not null
                 and destination_nis is not null and destination_country is null)
             or (move_type = 'emigration' and origin_nis is not null and origin_country is null
                 and destination_nis is null and destination_country is not null))""")
    # and the fault takes every form of it: a wrong type, and each country-side inconsistency
    details = {r["detail"].split(" ")[0] + " " + r["detail"].split(" ")[1]
               for r in rows if r["fault_type"] == "move_type_inconsistent"}
    assert {"internal move", "immigration without", "emigration without", "immigration with",
            "emigration with", "move_type internal"} <= details, details
    exact("person_unknown", "select move_id from moves where person_id not in (select person_id from persons)")
    exact("birth_after_move", """select move_id from moves m join persons p using (person_id)
                                 where p.birth_date > m.move_date and m.move_date between '2018-01-01' and '2023-12-31'""")
    exact("coordinates_outside_belgium", """select move_id from moves m, unnest([origin_x, destination_x]) t(x),
                 unnest([origin_y, destination_y]) u(y)
                 where x not between 15000 and 300000 or y not between 15000 and 250000""")
    cols = [c for c in contract.MOVES.column_names if c != "move_id"]
    same = " and ".join(f"a.{c} is not distinct from b.{c}" for c in cols)
    exact("move_duplicate_exact", f"select a.move_id from moves a join moves b on b.move_id < a.move_id and {same}")
    key_cols = ("person_id", "move_date", "move_type", "origin_nis", "destination_nis")
    same_key = " and ".join(f"a.{c} is not distinct from b.{c}" for c in key_cols)
    exact("move_duplicate_near", f"""select a.move_id from moves a join moves b on b.move_id < a.move_id and {same_key}
                                     where not ({same})""")
    exact("person_duplicate", """select person_id from (select person_id, row_number() over () as r from persons)
                                 qualify r > min(r) over (partition by person_id)""")
    contains("person_value_invalid", """select person_id from persons where sex not in ('M', 'F')
                 or year(birth_date) < 1900 or birth_date > '2024-12-31'
                 or not regexp_full_match(country_of_birth, '[A-Z]{2}')
                 or not regexp_full_match(current_nationality, '[A-Z]{2}')""")
    ikey = "person_id || '|' || income_year"
    exact("income_negative", f"select {ikey} from incomes where disposable_income < 0")
    exact("income_absurd", f"select {ikey} from incomes where disposable_income > 5000000")
    exact("income_person_unknown", f"select {ikey} from incomes where person_id not in (select person_id from persons)")
    contains("income_duplicate", f"select {ikey} from incomes group by all having count(*) > 1")
    # the other side of a duplicate (the original) carries no fault
    originals = _keys(con, "select split_part(detail, ' ', 4) from faults where fault_type = 'move_duplicate_exact'")
    assert not originals & {r["key"] for r in rows if r["table"] == "moves"}


def test_every_fault_type_at_small_scale(faulty):
    _, manifest = faulty
    assert manifest["scale"] == 0.01
    assert all(n >= 1 for n in manifest["fault_counts"].values())
    assert set(manifest["fault_counts"]) == set(FAULT_TYPES)


def _toward_denser(folder: Path) -> dict:
    con = connect(folder)
    return {(r[0], r[1]): r[2] for r in con.execute("""
        with dens as (
            select p.nis_code, max(p.population / m.area_km2) as density from population p
            join municipalities m using (nis_code) where year(p.reference_date) in (2018, 2019) group by 1),
        aged as (
            select m.*, date_diff('year', p.birth_date, m.move_date)
                   - (strftime(m.move_date, '%m%d') < strftime(p.birth_date, '%m%d'))::int as age
            from moves m join persons p using (person_id)
            where m.move_type = 'internal' and m.origin_nis <> m.destination_nis)
        select case when age between 18 and 30 then '18-30' when age between 31 and 55 then '31-55'
                    when age between 56 and 75 then '56-75' else 'other' end as band,
               case when year(move_date) <= 2019 then 'pre_covid' when year(move_date) <= 2021 then 'covid'
                    else 'post_covid' end as period,
               avg((d.density > o.density)::int) as share
        from aged a join dens o on o.nis_code = a.origin_nis join dens d on d.nis_code = a.destination_nis
        group by all""").fetchall()}


def test_planted_effects_are_in_the_moves(clean):
    out, manifest = clean
    share = _toward_denser(out)
    for period in ("pre_covid", "covid", "post_covid"):
        assert share[("18-30", period)] > share[("56-75", period)] + 0.1, period
        assert share[("18-30", period)] > 0.5
    assert share[("31-55", "covid")] < share[("31-55", "pre_covid")] - 0.02
    # the manifest states the true parameters that produce these effects
    gravity = manifest["true_parameters"]["gravity"]
    assert len(gravity) == 3 * 4 * 4
    gamma = {(g["period_label"], g["age_band"], g["income_quartile"]): g["gamma_density"] for g in gravity}
    assert gamma[("pre_covid", "18-30", "low")] > 0 > gamma[("pre_covid", "56-75", "low")]
    assert gamma[("covid", "31-55", "high")] < gamma[("pre_covid", "31-55", "high")]
    coast = {(g["age_band"]) for g in gravity if g["delta_coast"] >= 0.5}
    assert coast == {"56-75"}


def test_older_movers_go_to_the_coast(clean):
    out, manifest = clean
    con = connect(out)
    coastal = manifest["municipality_codes"]["coastal"]
    assert len(coastal) >= 8
    rows = dict(con.execute(f"""
        select case when date_diff('year', p.birth_date, m.move_date) between 56 and 75 then 'old'
                    when date_diff('year', p.birth_date, m.move_date) between 18 and 30 then 'young' end as g,
               avg((m.destination_nis in ({', '.join(repr(c) for c in coastal)}))::int)
        from moves m join persons p using (person_id)
        where m.move_type = 'internal' and m.origin_nis <> m.destination_nis group by 1""").fetchall())
    assert rows["old"] > 1.5 * rows["young"]


def test_cli_generate_writes_folder(tmp_path):
    from mignet.cli import main

    result = CliRunner().invoke(main, ["generate", "--out", str(tmp_path / "x"), "--scale", "0.002",
                                       "--faults", "0.01", "--format", "csv", "--seed", "3"])
    assert result.exit_code == 0, result.output
    for name in contract.TABLE_NAMES:
        assert (tmp_path / "x" / f"{name}.csv").is_file()
    manifest = json.loads((tmp_path / "x" / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["format"] == "csv"
    assert "faults.csv" in result.output


def test_switching_format_removes_the_other_files(tmp_path):
    generate_register(tmp_path, scale=0.002, seed=1)
    generate_register(tmp_path, scale=0.002, seed=1, fmt="csv")
    assert not list(tmp_path.glob("*.parquet"))
    check_raw(tmp_path)


@pytest.mark.parametrize("kwargs, message", [
    (dict(fmt="xlsx"), "fmt"), (dict(scale=0), "scale"), (dict(faults=0.5), "faults")])
def test_bad_arguments_are_refused(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_register(tmp_path, **kwargs)


@pytest.mark.skipif(not (REFERENCE / "municipalities_2019.csv").is_file(), reason="no ../shared/reference")
def test_reference_geography(tmp_path):
    messages = []
    manifest = generate_register(tmp_path, scale=0.002, seed=2, geography=REFERENCE, progress=messages.append)
    assert manifest["extrapolated_population_years"] == [2021, 2022, 2023, 2024]
    assert any("extrapolated" in m for m in messages)
    codes = manifest["municipality_codes"]
    assert (codes["valid_2018_12_31"], codes["valid_2019_01_01"], codes["valid_2025_01_01"]) == (589, 581, 565)
    con = connect(tmp_path)
    name = con.execute("select name_nl from municipalities where nis_code = '44021'").fetchone()[0]
    assert name == "Gent"
    pop_2020 = con.execute("select sum(population) from population where reference_date = '2020-01-01'").fetchone()[0]
    assert pop_2020 == 11_492_641
    check_raw(tmp_path)
