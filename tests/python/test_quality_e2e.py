"""End to end on real dbt builds of generated registers (the shared session fixtures): a clean register is
certified and published; a register with generator faults is quarantined row by row and still certified,
and defects of our own on top of it are each refused and named in the report by the engine that owns the
rule; a copy of the project with edited seeds builds and certifies without a code change."""

from __future__ import annotations

import csv
import shutil

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from mignet.quality.publish import current_release, publish
from mignet.quality.validate import validate
from mignet.warehouse import NotCertifiedError, Warehouse
from test_quality import run_dbt_tests
from test_quality_support import REPO, copy_warehouse, make_settings, marts_of


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

    # defects of our own after the build, one per engine: a duplicated key and a broken sum between marts
    # (dbt's rules), a covariate missing from the frame the models read (pandera's), lost incomes (GX's)
    con = duckdb.connect(str(settings.warehouse))
    try:
        # the mart's enforced primary key refuses an insert, so the table is rebuilt by hand without it
        con.execute("create or replace table marts.fct_moves as select * from marts.fct_moves "
                    "union all (select * from marts.fct_moves order by move_id limit 1)")
        con.execute("""
            update marts.mart_network_dyads set n_moves = n_moves + 25, tie = true
            where (network_id, origin_nis, destination_nis) in (
                select network_id, origin_nis, destination_nis
                from marts.mart_network_dyads where group_type = 'all' order by all limit 1)
        """)
        con.execute("update marts.mart_network_dyads set density_diff_per_1000 = null where network_id = "
                    "(select max(network_id) from marts.mart_network_dyads) and origin_nis = "
                    "(select min(nis_code) from marts.dim_municipality)")
        con.execute("delete from marts.fct_incomes where income_year = (select min(income_year) from marts.fct_incomes) "
                    "and hash(person_id) % 10 < 7")
    finally:
        con.close()
    # before validating again, readers already refuse the tampered marts
    with pytest.raises(NotCertifiedError, match="content changed after certification"):
        read_certified(settings, "fct_moves")

    second = validate(settings)
    failed = second.failed_checks()
    assert set(failed) == {"fct_moves", "mart_network_dyads", "fct_incomes"}, failed
    # dbt's rules are not computed again: the content hash says the build's verdict no longer applies
    assert failed["fct_moves"] == ("warehouse:content_matches_build",)
    assert set(failed["mart_network_dyads"]) == {"warehouse:content_matches_build",
                                                 "pandera:density_diff_per_1000.not_nullable"}
    assert set(failed["fct_incomes"]) == {"warehouse:content_matches_build", "gx:incomes_per_year"}
    page = second.report_path.read_text()
    n_marts = len(marts_of(settings))
    assert f"{n_marts - 3} of {n_marts} tables certified" in page
    for checks in failed.values():
        for check in checks:
            assert check.split(":", 1)[1].replace("'", "&#39;") in page, check
    with pytest.raises(NotCertifiedError, match="content_matches_build"):
        read_certified(settings, "fct_moves")
    assert certified_moves > 0

    # dbt, run on the tampered content, names the rules it owns
    dbt = run_dbt_tests(settings, tmp_path / "dbt", select="fct_moves mart_network_dyads")
    failing = {c.check_name for checks in dbt.checks.values() for c in checks if c.status != "pass"}
    assert {"unique_fct_moves_move_id", "assert_dyad_moves_equal_inter_municipal_moves",
            "assert_movers_in_equals_dyad_moves_into_destination"} <= failing, failing


EDITED_SEEDS = {
    "periods.csv": "period_label,start_date,end_date\nearly,2018-01-01,2020-12-31\nlate,2021-01-01,2023-12-31\n",
    "age_bands.csv": "band_label,min_age,max_age\nyoung,18,40\nolder,41,75\n",
    "income_groups.csv": ("income_group,group_order,lower_quantile,upper_quantile\n"
                          "q1,1,0.0,0.2\nq2,2,0.2,0.4\nq3,3,0.4,0.6\nq4,4,0.6,0.8\nq5,5,0.8,1.0\n"),
}


def test_edited_seeds_build_and_certify_without_code_change(small_register, tmp_path):
    """Two periods, two age bands and five income groups instead of the study's 3 x 3 x 4: the allowed values,
    networks and plausibility checks all follow the seeds, so a copy of the project with edited seeds builds
    and certifies with no other change."""
    from mignet.settings import Settings
    from mignet.warehouse.build import build_warehouse

    project = tmp_path / "project"
    project.mkdir()
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy2(REPO / name, project / name)
    for folder in ("models", "macros", "seeds", "tests/dbt", "analysis"):
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, project / folder)
    for name, text in EDITED_SEEDS.items():
        (project / "seeds" / name).write_text(text)
    # the population by income position of the generated extract counts the study's four income groups too;
    # with five groups in the seed those rows would be quarantined (population_position_unknown) and, being
    # half the table, refuse the build: an extract for other groups is the user's to replace, so drop them
    raw = tmp_path / "raw"
    shutil.copytree(small_register, raw)
    positions = pq.read_table(raw / "population_positions.parquet")
    pq.write_table(positions.filter(pc.equal(positions["classification"], "social_minimum")),
                   raw / "population_positions.parquet")
    settings = Settings.from_env(project_root=project, environ={
        "MIGNET_DATA_DIR": str(tmp_path / "data"), "MIGNET_RAW_DIR": str(raw),
        "MIGNET_REPORTS_DIR": str(tmp_path / "reports")})
    build = build_warehouse(settings, docs=False)
    assert build.ok, build.failures

    result = validate(settings)
    assert result.all_certified, result.failed_checks()
    networks = read_certified(settings, "dim_network").frame
    assert len(networks) == 2 * (1 + 2 + 5)
    assert set(networks["group_value"]) == {"all", "young", "older", "q1", "q2", "q3", "q4", "q5"}
    assert set(networks["period_label"]) == {"early", "late"}
    checks = {c.check_name: c for c in result.certifications["fct_incomes"].checks}
    assert checks["income_group_share"].status == "pass"  # each quintile near 20 %, from the seed's quantiles
    assert checks["fct_incomes_income_group_in_seed_income_groups"].status == "pass"


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
