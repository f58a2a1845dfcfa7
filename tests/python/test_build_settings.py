"""The dbt vars are declared once (meta of model rpt_build_vars): the declaration lists exactly the vars of
dbt_project.yml, a bad value is refused on the command line before dbt starts and by dbt itself on a hand-run
build, both naming the var and what it accepts; `BuildSettings` reads back what a build recorded."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import duckdb
import pytest
import yaml

from fake_build import record_build
from mignet.warehouse.build_settings import BuildSettings, BuildSettingsError, BuildVarError, parse_var_assignments, \
    var_declarations

ROOT = Path(__file__).resolve().parents[2]


def test_every_var_of_dbt_project_is_declared_and_every_default_is_valid():
    project = yaml.safe_load((ROOT / "dbt_project.yml").read_text())
    declared = var_declarations(ROOT)
    assert list(declared) == list(project["vars"])
    for name, value in project["vars"].items():
        if isinstance(value, str) and "{{" in value:
            continue  # raw_dir: an env_var expression rendered by dbt
        assert declared[name].problem(value) is None, name


@pytest.mark.parametrize("item, message", [
    ("min_moves=abc", "min_moves must be an integer, >= 1"),
    ("min_moves=0", "min_moves must be an integer, >= 1"),
    ("min_moves=1.5", "min_moves must be an integer"),
    ("target_vintage=2020", "target_vintage must be an integer, one of 2019, 2025"),
    ("imputation_method=avg", "imputation_method must be a string, one of mean, median, none"),
    ("data_start_date=2018-02-30", "data_start_date must be a date YYYY-MM-DD"),
    ("imputed_share_max=1.5", "imputed_share_max must be a number, >= 0, <= 1"),
    ("min_move=2", "min_move: no such dbt var; the vars are raw_dir, "),
    ("imputation_method", "expected KEY=VALUE"),
    ("expected_municipalities={2019: 581", "not a readable value"),
])
def test_bad_command_line_vars_name_the_var_and_what_it_accepts(item, message):
    with pytest.raises(BuildVarError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_var_assignments([item], ROOT)


def test_good_command_line_vars_are_typed_by_their_declaration():
    assert parse_var_assignments(["min_moves=2", "target_vintage=2025", "imputation_method=median",
                                  "data_start_date=2019-01-01", "imputed_share_max=0.3"], ROOT) == {
        "min_moves": 2, "target_vintage": 2025, "imputation_method": "median", "data_start_date": "2019-01-01",
        "imputed_share_max": 0.3}
    # a string var keeps the text as written, even when it reads as a number
    assert parse_var_assignments(["raw_dir=2025"], ROOT) == {"raw_dir": "2025"}


def test_dbt_refuses_a_bad_var_of_a_hand_run_build_before_anything_runs(tmp_path):
    from mignet.warehouse.build import dbt_executable

    env = {**os.environ, "MIGNET_WAREHOUSE": str(tmp_path / "w.duckdb"), "MIGNET_RAW_DIR": str(tmp_path / "raw"),
           "DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(tmp_path / "logs"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    done = subprocess.run([dbt_executable(), "build", "--project-dir", str(ROOT), "--profiles-dir", str(ROOT),
                           "--vars", json.dumps({"min_moves": "two", "imputation_method": "avg"})],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "dbt var min_moves must be an integer, >= 1" in out and "got \"two\"" in out
    assert "dbt var imputation_method must be a string, one of mean, median, none" in out
    assert not (tmp_path / "raw").exists() and "raw views over" not in out  # refused before the raw views


def test_build_settings_are_read_from_the_warehouse_and_refused_when_incomplete(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        with pytest.raises(BuildSettingsError, match="does not say which settings built it"):
            BuildSettings.load(con)
        con.execute("create schema marts")
        record_build(con, vars_={"min_moves": 3, "target_vintage": 2025})
        settings = BuildSettings.load(con)
        assert settings.min_moves == 3 and settings.target_vintage == 2025
        assert settings.period_labels == ("pre_covid", "covid", "post_covid")
        assert settings.age_band_labels == ("18-30", "31-55", "56-75")
        assert settings.years == list(range(2018, 2024)) and settings.population_years[-1] == 2024
        with pytest.raises(BuildSettingsError, match="recorded no var 'no_such_var'"):
            settings.var("no_such_var")
        # vars of another build than the one that wrote rpt_build_info: a partial build
        con.execute("update audit.rpt_build_vars set build_id = 'other' where var_name = 'min_moves'")
        with pytest.raises(BuildSettingsError, match="is of build other"):
            BuildSettings.load(con)
    finally:
        con.close()
