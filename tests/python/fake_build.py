"""Test support: what a dbt build and `mignet validate` record, written by hand into a warehouse whose marts a
test wrote directly with DuckDB (so the layers above the warehouse can be tested in seconds without dbt).

`record_build` writes the audit tables of a build (rpt_build_info, rpt_build_vars, rpt_build_content) and the
seed tables the Python stages read the study's settings from; `certify` writes a certification record of
each mart with its real content hash; `record_results` registers a results table as the fit would.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pandas as pd

from mignet import db
from mignet.quality.store import ensure_schema, write_certification
from mignet.warehouse import RESULT_RECORDS_DDL

DEFAULT_VARS = {
    "raw_dir": "/nowhere/raw", "target_vintage": 2019, "data_start_date": "2018-01-01", "data_end_date": "2023-12-31",
    "imputation_method": "mean", "income_cutpoints_population": "all", "income_group_year": "move_year",
    "min_moves": 1, "imputed_share_max": 0.25, "disclosure_round_to": 10, "disclosure_suppress_below": 5,
}
PERIODS = pd.DataFrame({"period_label": ["pre_covid", "covid", "post_covid"],
                        "start_date": pd.to_datetime(["2018-01-01", "2020-01-01", "2022-01-01"]).date,
                        "end_date": pd.to_datetime(["2019-12-31", "2021-12-31", "2023-12-31"]).date})
AGE_BANDS = pd.DataFrame({"band_label": ["18-30", "31-55", "56-75"], "min_age": [18, 31, 56], "max_age": [30, 55, 75]})
INCOME_GROUPS = pd.DataFrame({"income_group": ["low", "lower_middle", "upper_middle", "high"], "group_order": [1, 2, 3, 4],
                              "lower_quantile": [0.0, 0.25, 0.5, 0.75], "upper_quantile": [0.25, 0.5, 0.75, 1.0]})


def record_build(con, build_id: str = "fake-build", vars_: dict | None = None, seeds: dict | None = None) -> str:
    seeds = {"periods": PERIODS, "age_bands": AGE_BANDS, "income_groups": INCOME_GROUPS, **(seeds or {})}
    con.execute("create schema if not exists staging; create schema if not exists audit")
    for name, frame in seeds.items():
        con.register("seed_rows", frame)
        con.execute(f"create or replace table staging.{name} as select * from seed_rows")
        con.unregister("seed_rows")
    con.execute("create or replace table audit.rpt_build_info as select ?::varchar as build_id, "
                "now()::timestamp as run_started_at, '1.11.16'::varchar as dbt_version, 'mignet' as project_name",
                [build_id])
    values = {**DEFAULT_VARS, **(vars_ or {})}
    con.execute("create or replace table audit.rpt_build_vars (build_id varchar, var_name varchar, value_type varchar, "
                "value_json varchar, description varchar)")
    con.executemany("insert into audit.rpt_build_vars values (?, ?, 'json', ?, '')",
                    [[build_id, k, json.dumps(v)] for k, v in values.items()])
    tables = [("seed", "staging", name) for name in seeds] + [
        ("model", "marts", t) for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()]
    con.execute("create or replace table audit.rpt_build_content (build_id varchar, resource_type varchar, "
                "table_schema varchar, table_name varchar, n_rows bigint, content_hash varchar)")
    for kind, schema, table in tables:
        n, digest = db.content_hash(con, schema, table)
        con.execute("insert into audit.rpt_build_content values (?, ?, ?, ?, ?, ?)", [build_id, kind, schema, table, n, digest])
    return build_id


def certify(con, marts=None, build_id: str = "fake-build") -> dict[str, str]:
    """A certified record of each mart (default: every table of schema marts); {mart: certification_id}."""
    ensure_schema(con)
    marts = marts or [t for (t,) in con.execute(
        "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()]
    out = {}
    for mart in marts:
        n, digest = db.content_hash(con, "marts", mart)
        out[mart] = write_certification(con, build_id=build_id, mart=mart, row_count=n, hash_=digest, checks=[]).certification_id
    return out


def record_results(con, table: str, inputs: dict[str, str]) -> str:
    con.execute(RESULT_RECORDS_DDL)
    n, digest = db.content_hash(con, "results", table)
    con.execute("delete from results.result_records where table_name = ?", [table])
    con.execute("insert into results.result_records values (?, ?, ?, ?, ?, ?)",
                [table, n, digest, json.dumps(inputs, sort_keys=True), "fake-build", datetime.now(timezone.utc)])
    return digest
