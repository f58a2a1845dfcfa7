"""Support for the quality and publishing tests: a small, internally consistent warehouse with the six
certified marts written directly in DuckDB, plus the dbt artifacts (run_results.json, manifest.json) a
build would leave. It lets the quality layer be tested in seconds, independently of the dbt models;
the end-to-end tests use the real dbt build (`built_warehouse` fixture) instead.

The one test here checks the support warehouse itself, so a broken fixture fails loudly.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import duckdb

from mignet.quality import CERTIFIED_MARTS
from mignet.settings import Settings

REPO = Path(__file__).resolve().parents[2]

MARTS_SQL = """
create schema if not exists marts;
create schema if not exists audit;
create or replace table marts.dim_municipality as
select lpad(cast(11000 + i as varchar), 5, '0') as nis_code,
       'Gemeente ' || i as name_nl, 'Commune ' || i as name_fr,
       '11000' as arrondissement_nis, '10000' as province_nis,
       case when i < 15 then '02000' else '03000' end as region_nis,
       case when i < 15 then 'Vlaams Gewest' else 'Région wallonne' end as region_name,
       20.0 + i as area_km2, 100000.0 + 9000 * (i % 6) as centroid_x, 150000.0 + 11000 * (i // 6) as centroid_y,
       cast(0 as integer) as n_predecessor_codes, cast(2019 as integer) as vintage
from range(30) r(i);

create or replace table marts.dim_municipality_year as
select m.nis_code, cast(y as integer) as year, cast(1000 + 100 * i + 5 * (y - 2018) as bigint) as population,
       m.area_km2, (1000 + 100 * i + 5 * (y - 2018)) / m.area_km2 as density_per_km2
from marts.dim_municipality m
join (select row_number() over (order by nis_code) - 1 as i, nis_code from marts.dim_municipality) k using (nis_code)
cross join range(2018, 2025) t(y);  -- 1 January of each year and of the year after the period

create or replace table marts.fct_incomes as
with base as (
  select 'p' || lpad(cast(p as varchar), 5, '0') as person_id, cast(y as integer) as income_year,
         18 + (p * 7) % 60 as age,
         case when hash(p, y, 'miss') % 100 < 4 then null else 12000.0 + (hash(p, y) % 40000) end as raw_income
  from range(400) a(p) cross join range(2018, 2024) b(y)
), banded as (
  select *, case when age between 18 and 30 then '18-30' when age between 31 and 55 then '31-55'
                 when age between 56 and 75 then '56-75' else 'other' end as age_band
  from base
), imputed as (
  select person_id, income_year, age_band, raw_income as disposable_income_raw,
         coalesce(raw_income, avg(raw_income) over (partition by income_year, age_band)) as disposable_income,
         raw_income is null as income_imputed,
         case when raw_income is null then 'mean' end as imputation_method
  from banded
)
select *, case ntile(4) over (partition by income_year order by disposable_income, person_id)
            when 1 then 'low' when 2 then 'lower_middle' when 3 then 'upper_middle' else 'high' end as income_group
from imputed;

create or replace table marts.fct_moves as
with raw as (
  select cast(1000000 + k as bigint) as move_id,
         'p' || lpad(cast(k % 400 as varchar), 5, '0') as person_id,
         date '2018-01-01' + cast(hash(k, 'd') % 2191 as integer) as move_date,
         case when k % 25 = 0 then 'immigration' when k % 25 = 1 then 'emigration' else 'internal' end as move_type,
         lpad(cast(11000 + hash(k, 'o') % 30 as varchar), 5, '0') as o,
         lpad(cast(11000 + hash(k, 'x') % 30 as varchar), 5, '0') as d,
         'M' as sex
  from range(1500) r(k)
), sided as (
  select move_id, person_id, move_date, cast(year(move_date) as integer) as move_year,
         case when move_date < date '2020-01-01' then 'pre_covid' when move_date < date '2022-01-01' then 'covid' else 'post_covid' end as period_label,
         move_type,
         case when move_type = 'immigration' then null else o end as origin_nis,
         case when move_type = 'emigration' then null else d end as destination_nis, sex
  from raw
)
select s.move_id, s.person_id, s.move_date, s.move_year, s.period_label, s.move_type,
       s.origin_nis, s.destination_nis, s.origin_nis as origin_nis_raw, s.destination_nis as destination_nis_raw,
       false as code_remapped,
       coalesce(s.move_type = 'internal' and s.origin_nis <> s.destination_nis, false) as is_inter_municipal,
       false as became_intra_by_harmonisation, s.sex,
       cast(18 + (cast(substr(s.person_id, 2) as integer) * 7) % 60 as integer) as age_at_move,
       i.age_band, 'BE' as country_of_birth, s.move_year as income_year, i.disposable_income, i.income_imputed,
       i.income_group,
       case when s.move_type = 'internal' and s.origin_nis <> s.destination_nis
            then sqrt(power(mo.centroid_x - md.centroid_x, 2) + power(mo.centroid_y - md.centroid_y, 2)) / 1000 end as distance_km,
       case when s.move_type = 'internal' and s.origin_nis <> s.destination_nis then 'centroid' end as distance_source,
       yo.density_per_km2 as density_origin_per_km2, yd.density_per_km2 as density_destination_per_km2,
       (yd.density_per_km2 - yo.density_per_km2) / 1000 as density_diff_per_1000
from sided s
left join marts.fct_incomes i on i.person_id = s.person_id and i.income_year = s.move_year
left join marts.dim_municipality mo on mo.nis_code = s.origin_nis
left join marts.dim_municipality md on md.nis_code = s.destination_nis
left join marts.dim_municipality_year yo on yo.nis_code = s.origin_nis and yo.year = s.move_year
left join marts.dim_municipality_year yd on yd.nis_code = s.destination_nis and yd.year = s.move_year;

create or replace table marts.mart_network_dyads as
with networks as (
  select p.period_label, g.group_type, g.group_value
  from (values ('pre_covid'), ('covid'), ('post_covid')) p(period_label)
  cross join (values ('all', 'all'), ('age_band', '18-30'), ('age_band', '31-55'), ('age_band', '56-75'),
                     ('income_group', 'low'), ('income_group', 'lower_middle'), ('income_group', 'upper_middle'),
                     ('income_group', 'high')) g(group_type, group_value)
), moves as (
  select period_label, 'all' as group_type, 'all' as group_value, origin_nis, destination_nis from marts.fct_moves where is_inter_municipal
  union all select period_label, 'age_band', age_band, origin_nis, destination_nis from marts.fct_moves where is_inter_municipal
  union all select period_label, 'income_group', income_group, origin_nis, destination_nis from marts.fct_moves where is_inter_municipal
), counts as (
  select period_label, group_type, group_value, origin_nis, destination_nis, count(*) as n from moves group by all
), grid as (
  select n.*, o.nis_code as origin_nis, d.nis_code as destination_nis,
         sqrt(power(o.centroid_x - d.centroid_x, 2) + power(o.centroid_y - d.centroid_y, 2)) / 1000 as distance_km
  from networks n cross join marts.dim_municipality o cross join marts.dim_municipality d
  where o.nis_code <> d.nis_code
), filled as (
  select g.*, cast(coalesce(c.n, 0) as bigint) as n_moves
  from grid g left join counts c using (period_label, group_type, group_value, origin_nis, destination_nis)
)
select f.period_label, f.group_type, f.group_value, f.origin_nis, f.destination_nis, f.n_moves,
       f.n_moves >= 1 as tie,
       coalesce(r.n_moves, 0) >= 1 as reverse_tie,
       0.1 as density_diff_per_1000, f.distance_km, f.distance_km / 10 as distance_10km
from filled f left join filled r
  on r.period_label = f.period_label and r.group_type = f.group_type and r.group_value = f.group_value
 and r.origin_nis = f.destination_nis and r.destination_nis = f.origin_nis;

create or replace table marts.mart_destination_shares as
with s as (
  select period_label, group_type, group_value, destination_nis, sum(n_moves) as movers_in
  from marts.mart_network_dyads group by all
)
select s.period_label, s.group_type, s.group_value, s.destination_nis, s.movers_in,
       a.movers_in as movers_in_all_groups,
       case when a.movers_in > 0 then s.movers_in / a.movers_in end as share
from s join s a on a.period_label = s.period_label and a.destination_nis = s.destination_nis and a.group_type = 'all';

create or replace table audit.rpt_reconciliation as
select * from (values
  ('moves', 'clean', null, 0, 1500, 1507, 1500, 7, true),
  ('moves', 'quarantined', 'move_date_invalid', 4, 7, 1507, 1500, 7, true),
  ('persons', 'clean', null, 0, 400, 400, 400, 0, true))
  t(source_table, outcome, rule, rule_order, n_rows, raw_rows, clean_rows, quarantined_rows, is_balanced);
"""


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
    shutil.copytree(source.data_dir / "build", settings.data_dir / "build",
                    ignore=shutil.ignore_patterns("*.duckdb", "*.wal", "work-*"))
    return settings


def write_dbt_artifacts(settings: Settings, failing_tests: dict[str, int] | None = None) -> str:
    """run_results.json + manifest.json as a successful `dbt build` of the six marts would leave them
    (one primary-key test per mart); `failing_tests` maps a mart to a number of failing rows of its test."""
    failing_tests = failing_tests or {}
    build_id = str(uuid.uuid4())
    folder = settings.data_dir / "build"
    folder.mkdir(parents=True, exist_ok=True)
    nodes, results = {}, []
    for mart in CERTIFIED_MARTS:
        model_id = f"model.mignet.{mart}"
        test_id = f"test.mignet.unique_{mart}_key.abc123"
        nodes[model_id] = {"resource_type": "model", "name": mart, "config": {"contract": {"enforced": True}}}
        nodes[test_id] = {
            "resource_type": "test", "name": f"unique_{mart}_key", "attached_node": model_id,
            "depends_on": {"nodes": [model_id]}, "config": {"severity": "ERROR"}, "column_name": None,
        }
        results.append({"unique_id": model_id, "status": "success", "failures": None, "message": "OK"})
        n_fail = failing_tests.get(mart, 0)
        results.append({
            "unique_id": test_id, "status": "fail" if n_fail else "pass", "failures": n_fail,
            "message": f"Got {n_fail} results, configured to fail if != 0" if n_fail else None,
        })
    (folder / "manifest.json").write_text(json.dumps({"nodes": nodes, "unit_tests": {}}))
    (folder / "run_results.json").write_text(json.dumps({
        "metadata": {"invocation_id": build_id, "dbt_version": "1.11.16", "generated_at": "2026-01-01T00:00:00Z"},
        "results": results,
    }))
    return build_id


def make_warehouse(settings: Settings, failing_tests: dict[str, int] | None = None) -> str:
    """Write the six marts into settings.warehouse and the dbt artifacts; return the build id."""
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute(MARTS_SQL)
    finally:
        con.close()
    return write_dbt_artifacts(settings, failing_tests)


def test_support_warehouse_holds_the_six_marts(tmp_path):
    settings = make_settings(tmp_path)
    make_warehouse(settings)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        counts = {m: con.sql(f"select count(*) from marts.{m}").fetchall()[0][0] for m in CERTIFIED_MARTS}
    finally:
        con.close()
    assert counts["dim_municipality"] == 30
    assert counts["mart_network_dyads"] == 24 * 30 * 29
    assert counts["fct_moves"] == 1500
