"""Every documented option and seed edit works end to end, through the command line: the build is the one
source of the study's settings, and every later stage takes them from the warehouse it reads.

- `mignet run --dbt-var ...`: vintage 2025, a tie threshold of 2 moves, median or no
  imputation, the income group of the year after the move; certified and fitted.
- a hand-run `dbt build --vars ...` then `mignet validate` and `mignet fit`: the same options certify.
- an edited project (six yearly periods, two age bands in the seeds): fit, gof, publish and the report carry
  exactly the networks the seeds define.
- a var the build did not use never reaches a check: neither dbt_project.yml nor a MIGNET_<VAR> variable
  changes what validation expects.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import duckdb
import pytest
from click.testing import CliRunner

from mignet.cli import main
from mignet.settings import Settings
from mignet.warehouse.build import dbt_executable

pytestmark = pytest.mark.slow
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests/dbt", "analysis")


def _env(root, **extra):
    env = {"MIGNET_DATA_DIR": str(root / "data"), "MIGNET_REPORTS_DIR": str(root / "reports"),
           "MIGNET_RAW_DIR": str(root / "raw"), "MIGNET_WAREHOUSE": str(root / "data" / "warehouse.duckdb")}
    env.update(extra)
    return env


def _query(settings_or_path, sql):
    path = settings_or_path.warehouse if isinstance(settings_or_path, Settings) else settings_or_path
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _clean_env(monkeypatch, env):
    for name in ("MIGNET_RELEASES_DIR", "MIGNET_ANALYTICS_DB", "MIGNET_SECURE_DIR", "DBT_TARGET_PATH", "DBT_LOG_PATH"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def _networks_fitted(warehouse) -> int:
    return _query(warehouse, "select count(distinct network_id) from results.model_estimates")[0][0]


def test_mignet_run_with_vintage_2025_min_moves_median_and_next_year(tmp_path, monkeypatch):
    env = _env(tmp_path, MIGNET_MIN_MOVES="9", MIGNET_TARGET_VINTAGE="2019")  # must not reach any check
    _clean_env(monkeypatch, env)
    result = CliRunner().invoke(main, [
        "run", "--scale", "0.01", "--seed", "5", "--geography", "synthetic-small", "--gof-sims", "5",
        "--dbt-var", "target_vintage=2025", "--dbt-var", "min_moves=2",
        "--dbt-var", "imputation_method=median", "--dbt-var", "income_group_year=next_year"])
    assert result.exit_code == 0, result.output[-4000:]
    settings = Settings.from_env()
    recorded = dict(_query(settings, "select var_name, value_json from audit.rpt_build_vars"))
    assert {k: json.loads(recorded[k]) for k in ("target_vintage", "min_moves", "imputation_method", "income_group_year")} \
        == {"target_vintage": 2025, "min_moves": 2, "imputation_method": "median", "income_group_year": "next_year"}
    # the municipalities of 1-1-2025 of the generated geography (565 in Belgium; synthetic-small keeps every code
    # change and 12 % of the others)
    n = json.loads((settings.raw_dir / "manifest.json").read_text())["municipality_codes"]["valid_2025_01_01"]
    assert _query(settings, "select count(*), min(vintage), max(vintage) from marts.dim_municipality") == [(n, 2025, 2025)]
    assert _query(settings, "select distinct imputation_method from marts.fct_incomes where income_imputed") == [("median",)]
    assert _query(settings, "select count(*) from marts.fct_moves where income_year <> move_year + 1") == [(0,)]
    # the tie rule of the build: one move is not a tie, two are
    assert _query(settings, "select bool_or(n_moves = 1 and not tie), bool_and(tie = (n_moves >= 2)) "
                            "from marts.mart_network_dyads") == [(True, True)]
    assert _networks_fitted(settings) == 24
    assert _query(settings, "select count(distinct n_nodes), min(n_nodes) from results.model_estimates") == [(1, n)]
    page = (settings.reports_dir / "models" / "index.html").read_text(encoding="utf-8")
    assert f"vintage 2025 ({n} municipalities)" in page


@pytest.mark.parametrize("dbt_vars", [
    {"imputation_method": "none", "min_moves": 2, "income_group_year": "next_year"},
    {"imputation_method": "median", "target_vintage": 2025},
], ids=["none-min2-next", "median-2025"])
def test_hand_run_dbt_build_with_vars_then_mignet_validate_and_fit(tmp_path, monkeypatch, dbt_vars):
    from mignet.generate import generate_register

    env = _env(tmp_path, DBT_TARGET_PATH=str(tmp_path / "target"), DBT_LOG_PATH=str(tmp_path / "logs"))
    generate_register(tmp_path / "raw", scale=0.01, seed=3, geography="synthetic-small")
    (tmp_path / "data").mkdir()
    root = Settings.from_env().project_root
    done = subprocess.run([dbt_executable(), "build", "--project-dir", str(root), "--profiles-dir", str(root),
                           "--vars", json.dumps(dbt_vars)],
                          cwd=root, env={**os.environ, **env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
    _clean_env(monkeypatch, {k: v for k, v in env.items() if not k.startswith("DBT_")})
    monkeypatch.setenv("DBT_TARGET_PATH", env["DBT_TARGET_PATH"])  # where validate finds the hand-run build's results
    runner = CliRunner()
    validated = runner.invoke(main, ["validate"])
    assert validated.exit_code == 0, validated.output[-3000:]
    fitted = runner.invoke(main, ["fit"])
    assert fitted.exit_code == 0, fitted.output[-3000:]
    warehouse = tmp_path / "data" / "warehouse.duckdb"
    assert _networks_fitted(warehouse) == 24
    recorded = {k: json.loads(v) for k, v in _query(warehouse, "select var_name, value_json from audit.rpt_build_vars")}
    assert {k: recorded[k] for k in dbt_vars} == dbt_vars
    imputed = _query(warehouse, "select count(*) filter (where income_imputed), count(*) filter (where "
                                "disposable_income is null) from marts.fct_incomes")[0]
    if dbt_vars["imputation_method"] == "none":
        assert imputed[0] == 0 and imputed[1] > 0
    else:
        assert imputed[0] > 0 and imputed[1] == 0


def test_edited_seeds_six_yearly_periods_and_two_age_bands_flow_through_every_stage(tmp_path, monkeypatch):
    project = tmp_path / "project"
    source = Settings.from_env().project_root
    for name in PROJECT_FILES:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, project / name)
        elif path.is_file():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, project / name)
    (project / "seeds" / "periods.csv").write_text(
        "period_label,start_date,end_date\n" + "".join(f"y{y},{y}-01-01,{y}-12-31\n" for y in range(2018, 2024)))
    (project / "seeds" / "age_bands.csv").write_text("band_label,min_age,max_age\nyoung,18,40\nolder,41,75\n")
    env = _env(tmp_path)
    _clean_env(monkeypatch, env)
    monkeypatch.chdir(project)  # mignet finds the dbt project above the working folder
    result = CliRunner().invoke(main, ["run", "--scale", "0.01", "--seed", "9", "--geography", "synthetic-small",
                                       "--gof-sims", "4"])
    assert result.exit_code == 0, result.output[-4000:]
    settings = Settings.from_env()
    assert settings.project_root == project
    n_groups = 1 + 2 + 4
    assert _query(settings, "select count(*) from marts.dim_network") == [(6 * n_groups,)]
    assert _networks_fitted(settings) == 6 * n_groups
    assert _query(settings, "select count(distinct (period_label, group_value)) from results.model_gof") == [(6 * n_groups,)]
    assert sorted(v for (v,) in _query(settings, "select distinct group_value from results.model_estimates "
                                                 "where group_type = 'age_band'")) == ["older", "young"]
    # the release carries the estimates of all 42 networks
    release = settings.releases_dir / "current"
    con = duckdb.connect()
    try:
        n = con.execute("select count(distinct network_id) from read_parquet(?)",
                        [str(release / "model_estimates.parquet")]).fetchall()[0][0]
    finally:
        con.close()
    assert n == 6 * n_groups
    page = (settings.reports_dir / "models" / "index.html").read_text(encoding="utf-8")
    for label in [f"y{y}" for y in range(2018, 2024)] + ["young", "older"]:
        assert label in page, label
