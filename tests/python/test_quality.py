"""Certification, and each rule in its one engine (docs/quality.md, "which engine owns which rule").

Runs on private copies of a small real warehouse (test_quality_support.py). Each engine is tested honestly:

- dbt owns keys, relationships, allowed values, row rules and rules between marts. Its verdict reaches
  validation through the build's run_results.json, which describes the content the build wrote, so the
  test breaks one rule per defect in a copy and runs `dbt test` on that copy: exactly the tests of the
  broken rules fail, each under its name. Validating the same tampered content shows that neither pandera
  nor GX checks those rules again (only the content hash notices the change).
- pandera owns the types and nullability of the frames the Python stages read; GX owns distributions and
  plausibility. Their defects are made in copies and validated: exactly those checks fail, by name.

The end-to-end runs on dbt builds (a faulty register, an edited seed) are in test_quality_e2e.py.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from mignet import contract
from mignet.db import content_hash
from mignet.quality.dbt_results import load_dbt_build
from mignet.quality.expectations import BOUNDED_CHECKS, _fmt_values, aggregates, run_expectations
from mignet.quality.report import fmt_count, fmt_share
from mignet.quality.schemas import FRAMES, validate_frame
from mignet.quality.validate import validate
from mignet.warehouse import BuildSettingsError, NotCertifiedError, Warehouse
from mignet.warehouse.build import dbt_executable
from test_quality_support import REPO, geography_vars, make_settings, make_warehouse, mark_failing, marts_of, template


def read_certified(settings, mart, columns=None, categorical=False):
    return Warehouse(settings).read_certified(mart, columns=columns, categorical=categorical)


def _sql(settings, sql):
    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute(sql)
    finally:
        con.close()


def _count(settings, sql):
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


def _failing(result, source):
    """{check name: CheckResult} of the failed (or errored) checks of `source`, over every mart."""
    return {c.check_name: c for cert in result.certifications.values() for c in cert.checks
            if c.source == source and c.status != "pass"}


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("clean"))
    build_id = make_warehouse(settings)
    return settings, build_id, validate(settings)


def test_clean_warehouse_is_certified(clean_run):
    settings, build_id, result = clean_run
    marts = marts_of(settings)
    assert result.build_id == build_id
    assert result.certified == {m: True for m in marts}, result.failed_checks()
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        rows = con.sql("select mart, status, build_id, row_count from quality.certifications").fetchall()
        by_source = dict(con.sql("select source, count(distinct mart) from quality.check_results group by 1").fetchall())
        pandera_marts = {m for (m,) in con.sql("select distinct mart from quality.check_results where source = 'pandera'").fetchall()}
    finally:
        con.close()
    assert {r[0] for r in rows} == marts
    assert {r[1] for r in rows} == {"certified"} and {r[2] for r in rows} == {build_id}
    assert set(by_source) == {"dbt", "pandera", "gx", "warehouse"}
    # pandera checks the frames Python reads, and no other mart
    assert pandera_marts == set(FRAMES)
    page = result.report_path.read_text()
    assert f"{len(marts)} of {len(marts)} tables certified" in page
    # the folder the build read (recorded by the build), not whatever the environment says now
    assert build_id in page and str(Warehouse(settings).build_settings().var("raw_dir")) in page
    assert (result.report_path.parent / "gx" / "index.html").exists()
    assert 'href="gx/index.html"' in page


def test_read_certified_returns_the_certified_rows(clean_run):
    settings, _, result = clean_run
    frame = read_certified(settings, "mart_network_dyads", columns=["origin_nis", "n_moves"])
    assert list(frame.frame.columns) == ["origin_nis", "n_moves"]
    n = read_certified(settings, "dim_municipality").row_count
    assert frame.row_count == read_certified(settings, "dim_network").row_count * n * (n - 1)
    assert frame.certification_id == result.certifications["mart_network_dyads"].certification_id
    with pytest.raises(KeyError, match="no_such_column"):
        read_certified(settings, "mart_network_dyads", columns=["no_such_column"])


def test_frame_contracts_are_the_frames_the_readers_produce(clean_run):
    """The contracts describe the frames as the Python stages really read them: the dyads fit and gof
    read (categorical strings) and the other marts as the report and the scenario read them."""
    from mignet.network.fit import DYAD_COLUMNS

    settings, _, _ = clean_run
    assert set(DYAD_COLUMNS) == set(FRAMES["mart_network_dyads"].columns)
    for mart, frame in FRAMES.items():
        read = read_certified(settings, mart, columns=frame.columns, categorical=frame.categorical).frame
        frame.model.validate(read, lazy=True)  # raises on any mismatch


def test_frame_contracts_hold_types_and_nullability_only():
    """pandera owns no value rule: no contract has a check beyond dtype and nullability, none needs a
    study setting, and a key column's not-null is left to its dbt test."""
    for frame in FRAMES.values():
        schema = frame.model.to_schema()
        assert schema.checks == [], frame.mart
        for name, column in schema.columns.items():
            assert column.checks == [] and not column.unique, (frame.mart, name)
        for key in frame.sample_columns:
            assert schema.columns[key].nullable, (frame.mart, key, "the key's not_null is a dbt test")


def test_content_hash_ignores_row_order_but_sees_every_change(tmp_path):
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.a as select range as k, range % 7 as v from range(1000)")
    con.execute("create table marts.b as select * from marts.a order by v desc, k")
    n_a, h_a = content_hash(con, "marts", "a")
    assert content_hash(con, "marts", "b") == (n_a, h_a)
    con.execute("update marts.b set v = v + 1 where k = 500")
    assert content_hash(con, "marts", "b")[1] != h_a
    con.execute("update marts.b set v = v - 1 where k = 500")
    con.execute("insert into marts.b select * from marts.a where k = 3")  # a duplicated row
    assert content_hash(con, "marts", "b")[0] == n_a + 1 and content_hash(con, "marts", "b")[1] != h_a
    con.execute("create table marts.c as select k, cast(v as double) as v from marts.a")  # same values, other type
    assert content_hash(con, "marts", "c")[1] != h_a


# ---- dbt: the rules of rows and between marts ------------------------------------------------------------

# One defect per rule, each breaking exactly one dbt test (two for the moves added to one dyad, which two
# sums between marts see). Moves abroad are not in any network, so their defects leave the sums alone.
DBT_DEFECTS = """
    -- a tie without the moves that make one (the reverse dyad's reverse_tie kept consistent)
    create temp table tie_pair as select network_id, origin_nis, destination_nis from marts.mart_network_dyads
        where network_id = 1 and n_moves = 0 order by origin_nis, destination_nis limit 1;
    update marts.mart_network_dyads d set tie = true from tie_pair p
        where d.network_id = p.network_id and d.origin_nis = p.origin_nis and d.destination_nis = p.destination_nis;
    update marts.mart_network_dyads d set reverse_tie = true from tie_pair p
        where d.network_id = p.network_id and d.origin_nis = p.destination_nis and d.destination_nis = p.origin_nis;
    -- a reverse_tie that is not the reverse dyad's tie
    update marts.mart_network_dyads set reverse_tie = not reverse_tie
        where network_id = 2 and (origin_nis, destination_nis) = (
            select (min(origin_nis), min(destination_nis)) from marts.mart_network_dyads
            where network_id = 2 and origin_nis = (select min(nis_code) from marts.dim_municipality));
    -- moves that fct_moves does not have (the tie stays a tie)
    update marts.mart_network_dyads set n_moves = n_moves + 1
        where network_id = 3 and (origin_nis, destination_nis) = (
            select (min(origin_nis), min(destination_nis)) from marts.mart_network_dyads
            where network_id = 3 and n_moves > 0 and origin_nis = (
                select min(origin_nis) from marts.mart_network_dyads where network_id = 3 and n_moves > 0));
    -- moves abroad with an income group of no seed row, a wrong age band and a wrong period
    update marts.fct_moves set income_group = 'no_such_group' where move_id = (
        select min(move_id) from marts.fct_moves where move_type = 'emigration' and disposable_income is not null);
    update marts.fct_moves set age_band = (select max_by(band_label, min_age) from staging.age_bands)
        where move_id = (select min(move_id) from marts.fct_moves where move_type = 'emigration'
                         and age_band = (select min_by(band_label, min_age) from staging.age_bands));
    update marts.fct_moves set period_label = (select max_by(period_label, start_date) from staging.periods)
        where move_id = (select min(move_id) from marts.fct_moves where move_type = 'immigration'
                         and period_label = (select min_by(period_label, start_date) from staging.periods));
    -- an income marked imputed whose raw value is present
    update marts.fct_incomes set income_imputed = true
        where (person_id, income_year) = (select (min(person_id), min(income_year)) from marts.fct_incomes
                                          where disposable_income_raw is not null and person_id = (
                                              select min(person_id) from marts.fct_incomes where disposable_income_raw is not null));
    -- a share that is not movers_in / movers_in_all_groups
    update marts.mart_destination_shares set share = share / 2 + 0.1
        where (period_label, group_type, group_value, destination_nis) = (
            select (min(period_label), 'all', 'all', min(destination_nis)) from marts.mart_destination_shares
            where group_type = 'all' and movers_in_all_groups > 0 and period_label = (
                select min(period_label) from marts.mart_destination_shares));
    -- a municipality missing in one year
    delete from marts.dim_municipality_year where (nis_code, year) = (
        select (max(nis_code), max(year)) from marts.dim_municipality_year);
    -- a network whose group order is not the seed's
    update marts.dim_network set group_order = group_order + 10 where network_id = (select max(network_id) from marts.dim_network);
    -- a region of no seed row
    update marts.dim_municipality set region_nis = '09000' where nis_code = (select min(nis_code) from marts.dim_municipality);
"""

DBT_EXPECTED_FAILURES = {
    "mart_network_dyads_tie_iff_n_moves_at_least_min_moves": 1,
    "mart_network_dyads_reverse_tie_is_tie_of_reverse_dyad": 1,
    "assert_dyad_moves_equal_inter_municipal_moves": 1,
    "assert_movers_in_equals_dyad_moves_into_destination": 1,
    "fct_moves_income_group_in_seed_income_groups": 1,
    "fct_moves_age_band_matches_age_at_move": 1,
    "fct_moves_period_label_matches_move_date": 1,
    "fct_incomes_imputed_iff_raw_missing_and_income_present": 1,
    "mart_destination_shares_share_is_movers_in_over_all_groups": 1,
    "assert_every_municipality_in_every_population_year": 1,
    "assert_dim_network_is_every_period_and_group_of_the_seeds": 1,
    "dim_municipality_region_nis_in_seed_regions": 1,
}
DBT_DEFECT_MARTS = {"mart_network_dyads", "fct_moves", "fct_incomes", "mart_destination_shares",
                    "dim_municipality_year", "dim_network", "dim_municipality"}


def run_dbt_tests(settings, tmp_path: Path, select: str = "test_type:data"):
    """`dbt test --select <select>` (default: every data test) on the warehouse of `settings`; the DbtBuild
    of its run_results.json. (Its on-run-end hook records no content, since it writes no table: the copy is
    not validated after.)"""
    env = settings.dbt_env()
    env.update(DBT_TARGET_PATH=str(tmp_path / "target"), DBT_LOG_PATH=str(tmp_path / "logs"))
    # the vars of the build (the template's geography)
    done = subprocess.run([dbt_executable(), "test", "--select", *select.split(), "--project-dir", str(REPO),
                           "--profiles-dir", str(REPO), "--vars", json.dumps(geography_vars(settings.raw_dir))],
                          cwd=REPO, env=env, capture_output=True, text=True)
    run_results = tmp_path / "target" / "run_results.json"
    assert run_results.is_file(), done.stdout[-3000:]
    shutil.copy2(tmp_path / "target" / "manifest.json", tmp_path / "manifest.json")
    shutil.copy2(run_results, tmp_path / "run_results.json")
    return load_dbt_build(tmp_path)


@pytest.fixture(scope="module")
def dbt_defects(tmp_path_factory):
    """A copy with one defect per dbt rule; the same content validated, and `dbt test` run on it."""
    settings = make_settings(tmp_path_factory.mktemp("dbt_defects"), raw_dir=template().raw_dir)
    make_warehouse(settings)
    _sql(settings, DBT_DEFECTS)
    validated = make_settings(tmp_path_factory.mktemp("dbt_defects_validated"))
    make_warehouse(validated)
    shutil.copy2(settings.warehouse, validated.warehouse)
    result = validate(validated)
    dbt = run_dbt_tests(settings, tmp_path_factory.mktemp("dbt_defects_run"))
    return result, dbt


def test_each_dbt_rule_fails_in_dbt_under_its_name(dbt_defects):
    _, dbt = dbt_defects
    assert dbt.problem is None
    results = {c.check_name: c for checks in dbt.checks.values() for c in checks if c.check_name != "model_build"}
    failed = {name: c.failing_count for name, c in results.items() if c.status != "pass"}
    assert failed == DBT_EXPECTED_FAILURES
    assert len(results) > 100  # every data test of the marts ran, and all others passed


def test_dbt_rules_are_not_checked_again_by_pandera_or_gx(dbt_defects):
    result, _ = dbt_defects
    assert _failing(result, "pandera") == {}
    assert {n: c.severity for n, c in _failing(result, "gx").items()} in ({}, {"population_change": "warn"})
    # the defects are caught at validation only because the content is not what the build wrote
    failed = result.failed_checks()
    assert set(failed) == DBT_DEFECT_MARTS
    assert all(checks == ("warehouse:content_matches_build",) for checks in failed.values()), failed


def test_a_failed_dbt_test_refuses_its_mart_by_name(tmp_path):
    """validate reads dbt's verdict of the build: a failing test refuses the mart it is attached to."""
    settings = make_settings(tmp_path)
    make_warehouse(settings)
    mark_failing(settings, {"dim_municipality": 2})
    result = validate(settings, run_gx=False)
    refused = result.failed_checks()
    failed = refused.pop("dim_municipality")
    assert len(failed) == 2 and failed[0].startswith("dbt:") and failed[1] == "gx:suites_run"
    assert set(refused.values()) == {("gx:suites_run",)}  # the others lack only the skipped GX suites
    page = result.report_path.read_text()
    assert failed[0].split(":", 1)[1] in page


def test_mart_tests_repeat_no_seed_value():
    """Allowed values come from the seeds: no label of seeds periods, age_bands or income_groups is
    written into a mart's tests (an edited seed must build and certify unchanged)."""
    labels = set()
    for seed, column in (("periods", "period_label"), ("age_bands", "band_label"), ("income_groups", "income_group")):
        with open(REPO / "seeds" / f"{seed}.csv", newline="") as fh:
            labels |= {row[column] for row in csv.DictReader(fh)}
    files = [*(REPO / "models" / "marts").rglob("*.yml"), *(REPO / "tests" / "dbt").glob("*.sql"),
             *(REPO / "macros" / "generic_tests").glob("*.sql")]
    for path in files:
        quoted = set(re.findall(r"""['"]([^'"\s]+)['"]""", path.read_text()))
        assert not quoted & labels, (path.name, quoted & labels)


# ---- pandera: the frames Python reads ---------------------------------------------------------------------

PANDERA_DEFECTS = """
    -- a covariate of the model missing on 7 dyads
    update marts.mart_network_dyads set density_diff_per_1000 = null
        where network_id = 1 and origin_nis = (select min(nis_code) from marts.dim_municipality)
        and destination_nis in (select nis_code from marts.dim_municipality order by nis_code limit 8);
    -- a column of another type than the readers expect
    create or replace table marts.dim_network as
        select * replace (cast(density_year as bigint) as density_year) from marts.dim_network;
    -- a name the report shows, missing
    update marts.dim_municipality set region_name = null where nis_code = (select max(nis_code) from marts.dim_municipality);
"""


@pytest.fixture(scope="module")
def pandera_defects(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("pandera_defects"))
    make_warehouse(settings)
    _sql(settings, PANDERA_DEFECTS)
    return settings, validate(settings, batch_rows=100_003)


def test_each_frame_contract_fails_in_pandera_under_its_name(pandera_defects):
    settings, result = pandera_defects
    failing = _failing(result, "pandera")
    assert set(failing) == {"density_diff_per_1000.not_nullable", "density_year.dtype('int32')", "region_name.not_nullable"}
    assert failing["density_diff_per_1000.not_nullable"].failing_count == 7
    first = _count(settings, "select min(nis_code) from marts.dim_municipality")
    assert all(s.startswith(f"1|{first}|") for s in failing["density_diff_per_1000.not_nullable"].sample_ids)
    assert "int64" in failing["density_year.dtype('int32')"].detail
    assert _failing(result, "gx") == {}
    failed = result.failed_checks()
    assert "pandera:density_diff_per_1000.not_nullable" in failed["mart_network_dyads"]
    assert "pandera:density_year.dtype('int32')" in failed["dim_network"]
    with pytest.raises(NotCertifiedError, match="density_diff_per_1000.not_nullable"):
        read_certified(settings, "mart_network_dyads")


def test_batched_frame_validation_equals_whole_table_validation(pandera_defects):
    settings, _ = pandera_defects
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        n = con.execute("select count(*) from marts.mart_network_dyads").fetchall()[0][0]
        whole = validate_frame(con, FRAMES["mart_network_dyads"], n, batch_rows=10 ** 8)
        batched = validate_frame(con, FRAMES["mart_network_dyads"], n, batch_rows=77_777)
    finally:
        con.close()
    assert whole == batched


def test_report_hides_small_counts_and_shows_only_keys(pandera_defects):
    settings, result = pandera_defects
    name = next(c for c in result.certifications["dim_municipality"].checks if c.check_name == "region_name.not_nullable")
    last = _count(settings, "select max(nis_code) from marts.dim_municipality")
    assert name.failing_count == 1 and name.sample_ids == (last,)
    page = result.report_path.read_text()
    row = page[page.index("region_name.not_nullable"):][:600]
    assert "&lt;10" in row and ">1<" not in row
    assert fmt_count(0) == "0" and fmt_count(9) == "<10" and fmt_count(10) == "10" and fmt_count(12345) == "12,345"
    assert fmt_share(0.001, 3) == "–" and fmt_share(0.25, 250) == "25%"
    assert _fmt_values([3, 12, 0.5, 2.0]) == "<10, 12, 0.5, 2"


# ---- Great Expectations: distributions and plausibility --------------------------------------------------

GX_DEFECTS = """
    -- the last network: everyone moves everywhere
    update marts.mart_network_dyads set tie = true, reverse_tie = true
        where network_id = (select max(network_id) from marts.dim_network);
    -- most moves of one year lost
    delete from marts.fct_moves where move_year = (select min(move_year) + 1 from marts.fct_moves) and move_id % 10 < 7;
    -- the incomes of the last year lost
    delete from marts.fct_incomes where income_year = (select max(income_year) from marts.fct_incomes);
    -- every income of one year and band imputed
    update marts.fct_incomes set income_imputed = true where income_year = (select min(income_year) from marts.fct_incomes)
        and age_band = (select min_by(band_label, min_age) from staging.age_bands);
    -- the highest income group of one year moved into the lowest
    update marts.fct_incomes set income_group = (select min_by(income_group, group_order) from staging.income_groups)
        where income_year = (select min(income_year) + 2 from marts.fct_incomes)
        and income_group = (select max_by(income_group, group_order) from staging.income_groups);
    -- the population doubles in the last year (a warning only)
    update marts.dim_municipality_year set population = population * 2 where year = (select max(year) from marts.dim_municipality_year);
"""


@pytest.fixture(scope="module")
def gx_defects(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("gx_defects"))
    make_warehouse(settings)
    _sql(settings, GX_DEFECTS)
    return settings, validate(settings)


def test_each_plausibility_check_fails_in_gx_under_its_name(gx_defects):
    settings, result = gx_defects
    failing = _failing(result, "gx")
    assert {n: c.severity for n, c in failing.items()} == {
        "tie_density": "error", "reciprocity": "error", "moves_per_year": "error", "incomes_years_present": "error",
        "imputed_share": "error", "income_group_share": "error", "population_change": "warn",
    }
    assert _failing(result, "pandera") == {}
    failed = result.failed_checks()
    assert "gx:tie_density" in failed["mart_network_dyads"] and "gx:moves_per_year" in failed["fct_moves"]
    # a warning does not block: only the changed content refuses the table
    assert failed["dim_municipality_year"] == ("warehouse:content_matches_build",)
    last = _count(settings, "select max(network_id) from marts.dim_network")
    key = _count(settings, f"select period_label || '|' || group_type || '|' || group_value from marts.dim_network "
                           f"where network_id = {last}")
    assert failing["tie_density"].sample_ids == (key,)
    assert "<= 0.8" in failing["tie_density"].detail  # the band of seed plausibility_bounds
    page = result.report_path.read_text()
    for checks in failed.values():
        for check in checks:
            assert check.split(":", 1)[1].replace("'", "&#39;") in page, check


def test_plausibility_bands_are_the_seed_rows(tmp_path):
    """The bands are the rows of seed plausibility_bounds as the build recorded them: a narrower band is
    applied, a check without a row cannot run, a row of no check is reported, a changed seed is refused."""
    settings = make_settings(tmp_path)
    make_warehouse(settings)
    with open(REPO / "seeds" / "plausibility_bounds.csv", newline="") as fh:
        assert {row["check_name"] for row in csv.DictReader(fh)} == set(BOUNDED_CHECKS)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        build = Warehouse(settings).build_settings(con)
        bounds = build.plausibility_bounds(con)
        assert set(bounds) == set(BOUNDED_CHECKS)
        edited = {**bounds, "tie_density": replace(bounds["tie_density"], upper=1e-5), "tie_densty": bounds["tie_density"]}
        del edited["reciprocity"]
        expectations = {e.name: e for a in aggregates(build, edited) for e in a.expectations}
        assert expectations["tie_density"].kwargs == {"min_value": bounds["tie_density"].lower, "max_value": 1e-5}
        results, _ = run_expectations(con, build, edited, {"mart_network_dyads"}, tmp_path / "gx", tmp_path / "docs")
    finally:
        con.close()
    checks = {c.check_name: c for c in results["mart_network_dyads"]}
    assert checks["tie_density"].status == "fail"
    assert checks["reciprocity"].status == "error" and "no row with check_name 'reciprocity'" in checks["reciprocity"].detail
    assert checks["plausibility_bounds"].status == "error" and "'tie_densty'" in checks["plausibility_bounds"].detail

    _sql(settings, "update staging.plausibility_bounds set upper = 0.9 where check_name = 'tie_density'")
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        with pytest.raises(BuildSettingsError, match="plausibility_bounds changed after the build"):
            Warehouse(settings).build_settings(con).plausibility_bounds(con)
    finally:
        con.close()


# ---- certification and readers ---------------------------------------------------------------------------

def test_reader_refuses_unvalidated_and_tampered_marts(tmp_path):
    fresh = make_settings(tmp_path)
    make_warehouse(fresh)
    with pytest.raises(NotCertifiedError, match="no certification record"):
        read_certified(fresh, "fct_moves")
    # without the GX suites, distributions are unchecked: nothing is certified
    assert not any(validate(fresh, run_gx=False).certified.values())
    result = validate(fresh)
    assert result.certified["fct_moves"]
    assert read_certified(fresh, "fct_moves").row_count == _count(fresh, "select count(*) from marts.fct_moves")
    _sql(fresh, "update marts.fct_moves set age_at_move = age_at_move + 1 "
                "where move_id = (select min(move_id) from marts.fct_moves)")
    with pytest.raises(NotCertifiedError, match="content changed after certification") as err:
        read_certified(fresh, "fct_moves")
    assert err.value.failed_checks == ("warehouse:content_hash",)


def test_missing_dbt_results_block_certification(tmp_path):
    settings = make_settings(tmp_path)
    make_warehouse(settings)
    shutil.rmtree(settings.data_dir / "build")
    result = validate(settings, run_gx=False)
    assert not any(result.certified.values())
    assert all("dbt:run_results" in checks for checks in result.failed_checks().values())


def test_report_reconciles_raw_tables_with_small_counts_masked(clean_run):
    settings, _, result = clean_run
    page = result.report_path.read_text()
    section = page[page.index("every row accounted for"):page.index("Checks per table")]
    assert "move_date_invalid" in section
    assert section.count(">yes<") == len(contract.TABLE_NAMES)  # every raw table balances


def test_every_named_rule_is_in_the_table_of_docs_quality(clean_run):
    """docs/quality.md lists every rule with its engine: each named dbt test and singular test of the build,
    each GX check and each frame contract appears there."""
    settings, build_id, result = clean_run
    table = (REPO / "docs" / "quality.md").read_text()
    manifest = json.loads((settings.data_dir / "build" / build_id / "manifest.json").read_text())
    generated = re.compile(r"^(unique|not_null|relationships|accepted_values)_")
    named = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "test" and not generated.match(n["name"])}
    gx = {c.check_name for cert in result.certifications.values() for c in cert.checks if c.source == "gx"}
    contracts = {frame.model.__name__ for frame in FRAMES.values()}
    missing = sorted(name for name in named | gx | contracts if f"`{name}`" not in table)
    assert not missing, missing


def test_validate_says_clearly_when_the_warehouse_is_held_open(tmp_path):
    import sys

    from mignet.warehouse import WarehouseBusyError

    settings = make_settings(tmp_path)
    make_warehouse(settings)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, duckdb; c = duckdb.connect(sys.argv[1]); print('open', flush=True); "
         "sys.stdin.readline()", str(settings.warehouse)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(WarehouseBusyError, match=r"is open in process \d+"):
            validate(settings, run_gx=False)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
