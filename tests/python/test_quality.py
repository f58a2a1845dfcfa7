"""Certification: a clean warehouse is certified, every defect is named, tampering is caught by readers.

Runs on private copies of a small real warehouse (test_quality_support.py); the end-to-end run on a dbt
build of a faulty register is in test_quality_e2e.py.
"""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import duckdb
import pytest

from mignet.db import content_hash
from mignet.quality.report import fmt_count, fmt_share
from mignet.quality.schemas import mart_models, validate_mart
from mignet.quality.validate import validate
from mignet.warehouse import NotCertifiedError, Warehouse
from test_quality_support import make_settings, make_warehouse, marts_of


def read_certified(settings, mart, columns=None):
    return Warehouse(settings).read_certified(mart, columns=columns)


def load_params(settings):
    return Warehouse(settings).build_settings()


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("clean"))
    build_id = make_warehouse(settings)
    result = validate(settings)
    return settings, build_id, result


def _sql(settings, sql):
    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute(sql)
    finally:
        con.close()


def test_clean_warehouse_is_certified(clean_run):
    settings, build_id, result = clean_run
    marts = marts_of(settings)
    assert result.build_id == build_id
    assert result.certified == {m: True for m in marts}, result.failed_checks()
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        rows = con.sql("select mart, status, build_id, row_count from quality.certifications").fetchall()
        sources = {r[0] for r in con.sql("select distinct source from quality.check_results").fetchall()}
    finally:
        con.close()
    assert {r[0] for r in rows} == marts
    assert {r[1] for r in rows} == {"certified"} and {r[2] for r in rows} == {build_id}
    assert sources == {"dbt", "pandera", "gx", "warehouse"}
    page = result.report_path.read_text()
    assert f"{len(marts)} of {len(marts)} tables certified" in page
    # the folder the build read (recorded by the build), not whatever the environment says now
    assert build_id in page and str(load_params(settings).var("raw_dir")) in page
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


def test_batched_pandera_counts_equal_whole_table_counts(clean_run, tmp_path):
    settings = make_settings(tmp_path)
    make_warehouse(settings)
    _sql(settings, """
        update marts.mart_network_dyads set distance_10km = distance_10km + 1
        where origin_nis in (select nis_code from marts.dim_municipality order by nis_code limit 3);
        update marts.mart_network_dyads set destination_nis = origin_nis
        where (origin_nis, destination_nis) = (select (min(nis_code), max(nis_code)) from marts.dim_municipality);
    """)
    model = mart_models(load_params(settings))["mart_network_dyads"]
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        n = con.sql("select count(*) from marts.mart_network_dyads").fetchall()[0][0]
        whole = {c.check_name: c for c in validate_mart(con, "mart_network_dyads", model, n, batch_rows=10**7)}
        batched = {c.check_name: c for c in validate_mart(con, "mart_network_dyads", model, n, batch_rows=1_000_003)}
        # the same batches validated in two spawned worker processes give the same results, samples included
        with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
            in_workers = {c.check_name: c for c in validate_mart(con, "mart_network_dyads", model, n, batch_rows=1_000_003,
                                                                 pool=pool, params=load_params(settings))}
    finally:
        con.close()
    failing = {k: v.failing_count for k, v in whole.items() if v.status == "fail"}
    assert failing == {k: v.failing_count for k, v in batched.items() if v.status == "fail"}
    assert in_workers == batched
    n_nodes = read_certified_count(settings, "dim_municipality")
    n_networks = read_certified_count(settings, "dim_network")
    assert failing["distance_10km_is_distance_km_over_10"] == 3 * (n_nodes - 1) * n_networks
    assert failing["no_self_loops"] == n_networks


def read_certified_count(settings, mart):
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(f"select count(*) from marts.{mart}").fetchall()[0][0]
    finally:
        con.close()


@pytest.fixture(scope="module")
def defect_run(tmp_path_factory):
    """One warehouse with a defect in every mart but dim_municipality, which fails a dbt test instead."""
    settings = make_settings(tmp_path_factory.mktemp("defects"))
    make_warehouse(settings, failing_tests={"dim_municipality": 2})
    _sql(settings, """
        -- fct_moves: a duplicated key, and a move to abroad that claims a destination municipality
        create or replace table marts.fct_moves as select * from marts.fct_moves
            union all (select * from marts.fct_moves where move_type = 'internal' order by move_id limit 1);
        update marts.fct_moves set destination_nis = (select min(nis_code) from marts.dim_municipality)
        where move_id = (select min(move_id) from marts.fct_moves where move_type = 'emigration');
        -- fct_incomes: an imputed income whose raw value is present
        update marts.fct_incomes set income_imputed = true, imputation_method = 'mean'
        where (person_id, income_year) = (select (min(person_id), 2020) from marts.fct_incomes
                                          where income_year = 2020 and disposable_income_raw is not null);
        -- dyads: a broken sum (moves that fct_moves does not have) and a tie that contradicts n_moves
        update marts.mart_network_dyads set n_moves = n_moves + 40, tie = true
        where (network_id, origin_nis, destination_nis) = (select (min(network_id), min(origin_nis), max(destination_nis))
                                                           from marts.mart_network_dyads where group_type = 'all');
        update marts.mart_network_dyads set tie = not tie
        where (network_id, origin_nis, destination_nis) = (select (max(network_id), min(origin_nis), max(destination_nis))
                                                           from marts.mart_network_dyads where group_type = 'all');
        -- shares: a share above one
        update marts.mart_destination_shares set share = 1.5
        where (period_label, group_type, group_value, destination_nis) = (
            select (min(period_label), 'age_band', min(group_value), min(destination_nis))
            from marts.mart_destination_shares where group_type = 'age_band');
        -- dim_municipality_year: a year lost
        delete from marts.dim_municipality_year where year = 2021;
    """)
    # through the worker processes that validate large marts, in batches small enough to split every mart
    return settings, validate(settings, workers=2, batch_rows=5_000)


def test_defects_are_refused_and_named(defect_run):
    settings, result = defect_run
    failed = result.failed_checks()
    assert set(failed) == {"dim_municipality", "fct_moves", "fct_incomes", "mart_network_dyads",
                           "mart_destination_shares", "dim_municipality_year"}, result.certified
    assert any(c.startswith("dbt:") for c in failed["dim_municipality"])
    for mart in set(failed) - {"dim_municipality"}:
        assert "warehouse:content_matches_build" in failed[mart], mart
    assert "gx:primary_key.expect_column_values_to_be_between(duplicate_keys)" in failed["fct_moves"]
    assert "pandera:move_type_matches_belgian_sides" in failed["fct_moves"]
    assert "pandera:income_imputed_implies_raw_income_missing" in failed["fct_incomes"]
    assert "pandera:tie_iff_n_moves_at_least_min_moves" in failed["mart_network_dyads"]
    assert "gx:moves_agree_with_fct_moves.expect_column_values_to_be_between(difference)" in failed["mart_network_dyads"]
    assert "pandera:share.less_than_or_equal_to(1)" in failed["mart_destination_shares"]
    assert "gx:movers_agree_with_dyads.expect_column_values_to_be_between(destinations_disagreeing)" in failed["mart_destination_shares"]
    assert "gx:municipalities_per_year.expect_column_distinct_values_to_equal_set(year)" in failed["dim_municipality_year"]
    page = result.report_path.read_text()
    assert f"{len(result.certified) - 6} of {len(result.certified)} tables certified" in page
    for mart, checks in failed.items():
        for check in checks:
            assert check.split(":", 1)[1].replace("'", "&#39;") in page, check


def test_report_hides_small_counts_and_shows_only_pseudonymised_ids(defect_run):
    settings, result = defect_run
    cert = result.certifications["fct_moves"]
    sides = next(c for c in cert.checks if c.check_name == "move_type_matches_belgian_sides")
    assert sides.failing_count == 1 and len(sides.sample_ids) == 1 and sides.sample_ids[0].startswith("P")
    page = result.report_path.read_text()
    row = page[page.index("move_type_matches_belgian_sides"):][:600]
    assert "&lt;10" in row and ">1<" not in row
    assert fmt_count(0) == "0" and fmt_count(9) == "<10" and fmt_count(10) == "10" and fmt_count(12345) == "12,345"
    assert fmt_share(0.001, 3) == "–" and fmt_share(0.25, 250) == "25%"


def test_reader_refuses_refused_and_tampered_marts(defect_run, tmp_path):
    settings, _ = defect_run
    with pytest.raises(NotCertifiedError, match="tie_iff_n_moves_at_least_min_moves"):
        read_certified(settings, "mart_network_dyads")

    fresh = make_settings(tmp_path)
    make_warehouse(fresh)
    with pytest.raises(NotCertifiedError, match="no certification record"):
        read_certified(fresh, "fct_moves")
    # without the GX suites, distributions are unchecked: nothing is certified
    assert not any(validate(fresh, run_gx=False).certified.values())
    result = validate(fresh)
    assert result.certified["fct_moves"]
    assert read_certified(fresh, "fct_moves").row_count == read_certified_count(fresh, "fct_moves")
    _sql(fresh, "update marts.fct_moves set age_at_move = age_at_move + 1 "
                "where move_id = (select min(move_id) from marts.fct_moves)")
    with pytest.raises(NotCertifiedError, match="content changed after certification") as err:
        read_certified(fresh, "fct_moves")
    assert err.value.failed_checks == ("warehouse:content_hash",)


def test_missing_dbt_results_block_certification(tmp_path):
    settings = make_settings(tmp_path)
    make_warehouse(settings)
    import shutil

    shutil.rmtree(settings.data_dir / "build")
    result = validate(settings, run_gx=False)
    assert not any(result.certified.values())
    assert all("dbt:run_results" in checks for checks in result.failed_checks().values())


def test_report_reconciles_raw_tables_with_small_counts_masked(clean_run):
    settings, _, result = clean_run
    page = result.report_path.read_text()
    section = page[page.index("every row accounted for"):page.index("Checks per table")]
    assert "move_date_invalid" in section
    assert section.count(">yes<") == 5  # every raw table balances


def test_validate_says_clearly_when_the_warehouse_is_held_open(tmp_path):
    import subprocess
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


def test_gx_details_mask_small_counts(defect_run):
    _, result = defect_run
    dup = next(c for c in result.certifications["fct_moves"].checks
               if c.check_name == "primary_key.expect_column_values_to_be_between(duplicate_keys)")
    assert dup.status == "fail" and "unexpected values <10" in dup.detail


def test_parallel_validation_works_from_a_script_without_a_main_guard(tmp_path):
    """The pandera workers must not re-run the caller's main module (spawned workers would, and a user's
    plain script calling validate() would then start itself again): they are forked where possible."""
    import subprocess
    import sys
    import textwrap

    settings = make_settings(tmp_path)
    make_warehouse(settings)
    script = tmp_path / "certify.py"
    script.write_text(textwrap.dedent(f"""
        from mignet.quality.validate import validate
        from mignet.settings import Settings
        settings = Settings.from_env(environ={{"MIGNET_DATA_DIR": {str(settings.data_dir)!r},
                                              "MIGNET_REPORTS_DIR": {str(settings.reports_dir)!r}}})
        result = validate(settings, workers=2, batch_rows=5_000)
        print("certified", sum(result.certified.values()))
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("certified") == 1 and f"certified {len(marts_of(settings))}" in done.stdout
