"""Shared pytest fixtures: small generated registers and warehouses built from them once per session.

- `small_register`: folder with a clean synthetic register (scale 0.01, seed 7, no faults, geography
  synthetic-small: every code change, 12 % of the other municipalities).
- `faulty_register`: the same with faults at rate 0.01 (faults.csv lists every injected row).
- `built_warehouse`: Settings whose warehouse was built by `build_warehouse` from `small_register`.
- `built_faulty_warehouse`: the same from `faulty_register`.
Each Settings points every path (data, raw, warehouse, reports) at its own temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mignet.settings import Settings


def make_settings(root: Path, raw_dir: Path) -> Settings:
    """Settings with every path under `root` (the raw extract at `raw_dir`)."""
    data = root / "data"
    environ = dict(os.environ)
    environ.update(
        MIGNET_DATA_DIR=str(data),
        MIGNET_RAW_DIR=str(raw_dir),
        MIGNET_WAREHOUSE=str(data / "warehouse.duckdb"),
        MIGNET_REPORTS_DIR=str(root / "reports"),
    )
    for name in ("MIGNET_RELEASES_DIR", "MIGNET_ANALYTICS_DB", "MIGNET_SECURE_DIR"):
        environ.pop(name, None)
    return Settings.from_env(environ=environ)


def _generate(folder: Path, faults: float) -> Path:
    from mignet.generate import generate_register

    generate_register(folder, scale=0.01, seed=7, faults=faults, geography="synthetic-small")
    return folder


def _build(settings: Settings, dbt_vars: dict | None = None) -> Settings:
    from mignet.warehouse.build import build_warehouse

    result = build_warehouse(settings, dbt_vars=dbt_vars)
    if not result.ok:
        raise RuntimeError("dbt build of the test warehouse failed:\n" + "\n".join(result.failures))
    return settings


@pytest.fixture(scope="session")
def small_register() -> Path:
    """The clean register of the template warehouse (test_quality_support.template): do not modify it."""
    from test_quality_support import template

    return template().raw_dir


@pytest.fixture(scope="session")
def faulty_register(tmp_path_factory) -> Path:
    return _generate(tmp_path_factory.mktemp("faulty_register"), faults=0.01)


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory) -> Settings:
    """A copy of the template warehouse (built once per test process) with its dbt artifacts."""
    from test_quality_support import copy_warehouse, template

    return copy_warehouse(template(), tmp_path_factory.mktemp("built_warehouse"))


@pytest.fixture(scope="session")
def built_faulty_warehouse(tmp_path_factory, faulty_register) -> Settings:
    from test_quality_support import geography_vars

    return _build(make_settings(tmp_path_factory.mktemp("built_faulty_warehouse"), faulty_register),
                  dbt_vars=geography_vars(faulty_register))
