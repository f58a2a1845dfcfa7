"""The dbt sources declare exactly the raw contract's tables, columns and types (fast, no dbt run)."""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from mignet import contract

ROOT = Path(__file__).resolve().parents[2]


def _sources() -> dict:
    spec = yaml.safe_load((ROOT / "models/staging/register/_register__sources.yml").read_text())
    (source,) = spec["sources"]
    assert source["schema"] == "raw"
    return {table["name"]: table for table in source["tables"]}


def test_sources_declare_the_contract_tables_columns_and_types():
    sources = _sources()
    assert set(sources) == set(contract.TABLES)
    for name, table in contract.TABLES.items():
        declared = [(c["name"], c["data_type"].upper()) for c in sources[name]["columns"]]
        assert declared == [(c.name, c.dtype.upper()) for c in table.columns], name
        nullable = {c["name"]: c["config"]["meta"]["nullable"] for c in sources[name]["columns"]}
        assert nullable == {c.name: c.nullable for c in table.columns}, name


def test_staging_models_select_every_contract_column():
    for name, table in contract.TABLES.items():
        sql = (ROOT / f"models/staging/register/stg_register__{name}.sql").read_text()
        for column in table.column_names:
            assert f"as {column}" in sql or f"as {column}\n" in sql, f"stg_register__{name} lacks {column}"


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
