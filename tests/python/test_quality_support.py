"""Support for the quality and publishing tests: private copies of a real warehouse, built once per test
process by `mignet build` from a small generated register (scale 0.01, the synthetic-small geography: every
code change, 12 % of the other municipalities), with its dbt artifacts.

`make_warehouse(settings)` copies that warehouse and its build folder into `settings`'s paths, so a test may
damage its copy freely; `failing_tests` marks dbt tests of chosen marts as failed in the copied
run_results.json, to exercise how validation maps dbt's verdicts (the build itself passed). The one test
here checks the template itself, so a broken fixture fails loudly.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import duckdb

from mignet.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def make_settings(tmp_path: Path, raw_dir: Path | None = None) -> Settings:
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    return Settings.from_env(
        project_root=REPO,
        environ={
            "MIGNET_DATA_DIR": str(data),
            "MIGNET_REPORTS_DIR": str(tmp_path / "reports"),
            "MIGNET_RAW_DIR": str(raw_dir or data / "raw"),
        },
    )


def copy_warehouse(source: Settings, tmp_path: Path) -> Settings:
    """A private copy of a built warehouse and its dbt artifacts, so tests may damage it freely
    (the session fixtures are shared with other test modules)."""
    settings = make_settings(tmp_path, raw_dir=source.raw_dir)
    shutil.copy2(source.warehouse, settings.warehouse)
    shutil.copytree(source.data_dir / "build", settings.data_dir / "build", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.duckdb", "*.wal", "work-*"))
    return settings


def geography_vars(raw: Path) -> dict:
    """The dbt vars that describe the generated geography (var expected_municipalities is Belgium's 581 and 565
    municipalities; the synthetic-small geography has fewer), from the register's manifest."""
    codes = json.loads((raw / "manifest.json").read_text())["municipality_codes"]
    return {"expected_municipalities": {"2019": codes["valid_2019_01_01"], "2025": codes["valid_2025_01_01"]}}


@lru_cache(maxsize=1)
def template() -> Settings:
    """One warehouse built by `mignet build` from a clean scale-0.01 synthetic-small register, for this test process."""
    from mignet.generate import generate_register
    from mignet.warehouse.build import build_warehouse

    root = Path(tempfile.mkdtemp(prefix="mignet-template-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    raw = root / "raw"
    generate_register(raw, scale=0.01, seed=7, faults=0.0, geography="synthetic-small")
    settings = make_settings(root, raw_dir=raw)
    result = build_warehouse(settings, dbt_vars=geography_vars(raw))
    if not result.ok:
        raise RuntimeError("dbt build of the template warehouse failed:\n" + "\n".join(result.failures))
    return settings


@lru_cache(maxsize=1)
def certified_template() -> Settings:
    """A copy of the template warehouse, validated once for this test process (readers' tests: never modify it;
    copy it with copy_warehouse to damage it)."""
    from mignet.quality.validate import validate

    root = Path(tempfile.mkdtemp(prefix="mignet-certified-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    settings = make_settings(root, raw_dir=template().raw_dir)
    make_warehouse(settings)
    validate(settings)
    return settings


def mark_failing(settings: Settings, failing_tests: dict[str, int]) -> None:
    """Mark, in the copied run_results.json, the first data test of each mart as failed with that many rows."""
    folder = next((settings.data_dir / "build").glob("*/run_results.json")).parent
    run_results = json.loads((folder / "run_results.json").read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    for mart, n_fail in failing_tests.items():
        model = f"model.mignet.{mart}"
        test = next(r for r in run_results["results"] if r["unique_id"].startswith("test.")
                    and manifest["nodes"][r["unique_id"]].get("attached_node") == model)
        test.update(status="fail", failures=n_fail, message=f"Got {n_fail} results, configured to fail if != 0")
    (folder / "run_results.json").write_text(json.dumps(run_results))


def make_warehouse(settings: Settings, failing_tests: dict[str, int] | None = None) -> str:
    """A copy of the template warehouse and its build artifacts under `settings`; returns the build id."""
    source = template()
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    for stale in (settings.data_dir / "build",):
        shutil.rmtree(stale, ignore_errors=True)
    shutil.copy2(source.warehouse, settings.warehouse)
    shutil.copytree(source.data_dir / "build", settings.data_dir / "build",
                    ignore=shutil.ignore_patterns("*.duckdb", "*.wal", "work-*"))
    if failing_tests:
        mark_failing(settings, failing_tests)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute("select build_id from audit.rpt_build_info").fetchall()[0][0]
    finally:
        con.close()


def marts_of(settings: Settings) -> set[str]:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()}
    finally:
        con.close()


def test_template_warehouse_holds_the_marts(tmp_path):
    settings = make_settings(tmp_path)
    build_id = make_warehouse(settings)
    assert (settings.data_dir / "build" / build_id / "run_results.json").is_file()
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        n_nodes = con.sql("select count(*) from marts.dim_municipality").fetchall()[0][0]
        n_networks = con.sql("select count(*) from marts.dim_network").fetchall()[0][0]
        n_dyads = con.sql("select count(*) from marts.mart_network_dyads").fetchall()[0][0]
    finally:
        con.close()
    assert n_dyads == n_networks * n_nodes * (n_nodes - 1)
    assert {"fct_moves", "fct_incomes", "dim_municipality_year", "mart_destination_shares"} <= marts_of(settings)
