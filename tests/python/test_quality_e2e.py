"""End to end on real dbt builds of generated registers (the shared session fixtures): a clean register is
certified and published; a register with generator faults is quarantined row by row and still certified,
and defects of our own on top of it are each refused and named in the report."""

from __future__ import annotations

import csv

import duckdb
import pytest

from mignet.quality.publish import current_release, publish
from mignet.quality.validate import validate
from mignet.warehouse import NotCertifiedError, Warehouse
from test_quality_support import copy_warehouse, make_settings, marts_of


def read_certified(settings, mart, columns=None):
    return Warehouse(settings).read_certified(mart, columns=columns)

pytestmark = pytest.mark.slow


def test_clean_register_is_certified_and_published(built_warehouse, tmp_path):
    settings = copy_warehouse(built_warehouse, tmp_path)
    result = validate(settings)
    assert result.all_certified, result.failed_checks()
    dyads = read_certified(settings, "mart_network_dyads", columns=["n_moves", "tie"])
    assert dyads.row_count > 0
    release = publish(settings)
    assert current_release(settings) == release
    con = duckdb.connect(str(settings.analytics_db), read_only=True)
    try:
        n = con.execute("select count(*) from mart_network_dyads").fetchall()[0][0]
        small = con.execute("select count(*) from mart_network_dyads where n_moves between 1 and 4").fetchall()[0][0]
    finally:
        con.close()
    assert n == dyads.row_count and small == 0

    # a build that fails (here: an empty raw folder) leaves the release, analytics.duckdb and the
    # certified warehouse as they were
    from mignet.warehouse.build import build_warehouse

    empty = tmp_path / "empty_raw"
    empty.mkdir()
    broken = make_settings(tmp_path, raw_dir=empty)
    before = {p.name: p.stat().st_mtime_ns for p in (settings.releases_dir / release).iterdir()}
    assert not build_warehouse(broken).ok
    assert current_release(settings) == release
    assert {p.name: p.stat().st_mtime_ns for p in (settings.releases_dir / release).iterdir()} == before
    con = duckdb.connect(str(settings.analytics_db), read_only=True)
    try:
        assert con.execute("select count(*) from mart_network_dyads").fetchall()[0][0] == n
    finally:
        con.close()
    assert read_certified(settings, "fct_moves", columns=["move_id"]).row_count > 0


def test_faulty_register_with_defects_is_refused_and_every_problem_named(built_faulty_warehouse, tmp_path):
    settings = copy_warehouse(built_faulty_warehouse, tmp_path)
    # the generator's faults are quarantined by the warehouse, so the marts themselves are sound
    first = validate(settings)
    assert first.all_certified, first.failed_checks()
    page = first.report_path.read_text()
    with open(settings.raw_dir / "faults.csv", newline="") as f:
        rules = {r["expected_rule"] for r in csv.DictReader(f) if r["expected_outcome"] == "quarantine"}
    assert rules and all(rule in page for rule in rules), rules - {r for r in rules if r in page}
    certified_moves = read_certified(settings, "fct_moves", columns=["move_id"]).row_count

    # defects of our own, after the build: a duplicated key, a broken sum between marts, a broken row rule
    con = duckdb.connect(str(settings.warehouse))
    try:
        # the mart's enforced primary key refuses an insert, so the table is rebuilt by hand without it
        con.execute("create or replace table marts.fct_moves as select * from marts.fct_moves "
                    "union all (select * from marts.fct_moves order by move_id limit 1)")
        con.execute("""
            update marts.mart_network_dyads set n_moves = n_moves + 25, tie = true
            where (period_label, group_type, group_value, origin_nis, destination_nis) in (
                select period_label, group_type, group_value, origin_nis, destination_nis
                from marts.mart_network_dyads where group_type = 'all' order by all limit 1)
        """)
        con.execute("update marts.fct_incomes set disposable_income = -1 where person_id = "
                    "(select min(person_id) from marts.fct_incomes)")
    finally:
        con.close()
    # before validating again, readers already refuse the tampered marts
    with pytest.raises(NotCertifiedError, match="content changed after certification"):
        read_certified(settings, "fct_moves")

    second = validate(settings)
    failed = second.failed_checks()
    assert set(failed) == {"fct_moves", "mart_network_dyads", "fct_incomes", "mart_destination_shares"}, failed
    assert "gx:primary_key.expect_column_values_to_be_between(duplicate_keys)" in failed["fct_moves"]
    assert "gx:moves_agree_with_fct_moves.expect_column_values_to_be_between(difference)" in failed["mart_network_dyads"]
    assert "pandera:disposable_income.greater_than_or_equal_to(0)" in failed["fct_incomes"]
    assert "gx:movers_agree_with_dyads.expect_column_values_to_be_between(destinations_disagreeing)" in failed["mart_destination_shares"]
    page = second.report_path.read_text()
    n_marts = len(marts_of(settings))
    assert f"{n_marts - 4} of {n_marts} tables certified" in page
    for checks in failed.values():
        for check in checks:
            assert check.split(":", 1)[1].replace("'", "&#39;") in page, check
    with pytest.raises(NotCertifiedError, match="duplicate_keys"):
        read_certified(settings, "fct_moves")
    assert certified_moves > 0


def test_hand_run_dbt_build_is_validated_with_its_own_results_and_no_other(built_warehouse, small_register, tmp_path):
    """Users run `dbt build` themselves: the warehouse names its build (audit.rpt_build_info), so validate
    takes the run_results.json of exactly that build from the dbt target folder, and refuses another's."""
    import json
    import os
    import subprocess

    from mignet.settings import Settings
    from mignet.warehouse.build import dbt_executable

    target = tmp_path / "target"
    env = dict(os.environ, MIGNET_DATA_DIR=str(tmp_path / "data"), MIGNET_RAW_DIR=str(small_register),
               MIGNET_WAREHOUSE=str(tmp_path / "data" / "warehouse.duckdb"), MIGNET_REPORTS_DIR=str(tmp_path / "reports"),
               DBT_TARGET_PATH=str(target), DBT_LOG_PATH=str(tmp_path / "logs"), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    settings = Settings.from_env(environ=env)
    settings.data_dir.mkdir(parents=True)  # DuckDB does not create the warehouse's folder
    done = subprocess.run([dbt_executable(), "build", "--project-dir", str(settings.project_root), "--profiles-dir",
                           str(settings.project_root)], cwd=settings.project_root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
    invocation = json.loads((target / "run_results.json").read_text())["metadata"]["invocation_id"]
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        assert con.execute("select build_id from audit.rpt_build_info").fetchall() == [(invocation,)]
    finally:
        con.close()

    result = validate(settings)  # no --artifacts: found in the target folder by the build id
    assert result.build_id == invocation and result.all_certified, result.failed_checks()

    # the results of another build (the session's `mignet build`) are refused, naming both builds
    other = next((built_warehouse.data_dir / "build").glob("*/run_results.json")).parent
    refused = validate(settings, artifacts_dir=other)
    assert not any(refused.certified.values())
    detail = next(c.detail for c in refused.certifications["fct_moves"].checks if c.source == "dbt")
    assert f"are of build {other.name}" in detail and invocation in detail
