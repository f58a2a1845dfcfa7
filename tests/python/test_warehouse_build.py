"""dbt build on small generated registers: quarantine and marts against the generator's fault manifest,
exact reconciliation, the 24 networks of N(N-1) pairs, vintage 2025, the quarantine-share limit, and the
atomic swap of the file."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from conftest import make_settings
from mignet import contract
from mignet.generate import FAULT_TYPES
from mignet.warehouse.build import build_warehouse

pytestmark = pytest.mark.slow


def _query(settings, sql):
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def _municipalities(settings, when: str) -> int:
    """The generator's number of municipality codes valid `when` (manifest municipality_codes)."""
    manifest = json.loads((settings.raw_dir / "manifest.json").read_text())
    return manifest["municipality_codes"][when]


def _faults(register):
    with open(register / "faults.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_quarantine_matches_the_fault_manifest_row_by_row(built_faulty_warehouse, faulty_register):
    faults = _faults(faulty_register)
    expected = {(f["table"], f["key"], f["expected_rule"]) for f in faults if f["expected_outcome"] == "quarantine"}
    assert len(expected) > 100
    quarantined = _query(built_faulty_warehouse, "select source_table, source_key, rule from audit.rpt_quarantine")
    assert len(quarantined) == len(set(quarantined))
    got = set(quarantined)
    assert got - expected == set(), f"quarantined but not injected: {sorted(got - expected)[:10]}"
    assert expected - got == set(), f"injected but not quarantined as expected: {sorted(expected - got)[:10]}"
    # every quarantine fault the generator knows was exercised (the other rules of seed quarantine_rules have
    # hand-made cases in test_warehouse_contract.py)
    assert {rule for _, _, rule in expected} == {v[1] for v in FAULT_TYPES.values() if v[2] == "quarantine"}


def test_expired_codes_are_mapped_and_flagged_not_quarantined(built_faulty_warehouse, faulty_register):
    flagged = {f["key"] for f in _faults(faulty_register) if f["fault_type"] == "nis_expired_code"}
    assert flagged
    rows = _query(built_faulty_warehouse,
                  "select cast(move_id as varchar), code_remapped, origin_nis, destination_nis from marts.fct_moves "
                  "where code_remapped")
    assert {r[0] for r in rows} == flagged
    vintage_codes = {r[0] for r in _query(built_faulty_warehouse, "select nis_code from marts.dim_municipality")}
    assert all(code is None or code in vintage_codes for r in rows for code in r[2:])
    assert all(r[2] is not None or r[3] is not None for r in rows)


def test_reconciliation_is_exact_and_matches_the_manifest(built_faulty_warehouse, faulty_register):
    manifest = json.loads((faulty_register / "manifest.json").read_text())
    rows = _query(built_faulty_warehouse,
                  "select source_table, any_value(raw_rows), any_value(clean_rows), any_value(quarantined_rows), "
                  "sum(n_rows), bool_and(is_balanced) from audit.rpt_reconciliation group by source_table")
    faults = _faults(faulty_register)
    for table, raw, clean, quarantined, outcome_rows, balanced in rows:
        assert raw == manifest["row_counts"][table], table
        assert balanced and raw == clean + quarantined == outcome_rows, table
        injected = sum(f["table"] == table and f["expected_outcome"] == "quarantine" for f in faults)
        assert quarantined == injected, table
    assert {r[0] for r in rows} == set(contract.TABLE_NAMES)


def test_clean_register_quarantines_nothing_and_keeps_every_move(built_warehouse, small_register):
    manifest = json.loads((small_register / "manifest.json").read_text())
    assert _query(built_warehouse, "select count(*) from audit.rpt_quarantine") == [(0,)]
    assert _query(built_warehouse, "select count(*) from marts.fct_moves") == [(manifest["row_counts"]["moves"],)]
    assert _query(built_warehouse, "select count(*) from marts.fct_incomes") == [(manifest["row_counts"]["incomes"],)]


@pytest.mark.parametrize("which", ["built_warehouse", "built_faulty_warehouse"])
def test_24_networks_of_all_ordered_pairs(request, which):
    settings = request.getfixturevalue(which)
    n = _municipalities(settings, "valid_2019_01_01")
    assert _query(settings, "select count(*) from marts.dim_municipality") == [(n,)]
    networks = _query(settings, "select period_label, group_type, group_value, count(*), "
                                "count(*) filter (where origin_nis = destination_nis) "
                                "from marts.mart_network_dyads group by all")
    assert len(networks) == 24
    assert all(pairs == n * (n - 1) and loops == 0 for *_, pairs, loops in networks)
    assert {(g, v) for _, g, v, _, _ in networks} == {
        ("all", "all"), ("age_band", "18-30"), ("age_band", "31-55"), ("age_band", "56-75"),
        ("income_group", "low"), ("income_group", "lower_middle"), ("income_group", "upper_middle"),
        ("income_group", "high")}


def test_dyads_count_exactly_the_inter_municipal_moves_of_each_period(built_faulty_warehouse):
    dyads = dict(_query(built_faulty_warehouse, "select period_label, sum(n_moves) from marts.mart_network_dyads "
                                                 "where group_type = 'all' group by all"))
    moves = dict(_query(built_faulty_warehouse, "select period_label, count(*) from marts.fct_moves "
                                                 "where is_inter_municipal and period_label is not null group by all"))
    assert dyads == moves and sum(moves.values()) > 1000
    # the age-band networks hold the movers of the three bands only
    bands = _query(built_faulty_warehouse,
                   "select (select sum(n_moves) from marts.mart_network_dyads where group_type = 'age_band'), "
                   "(select count(*) from marts.fct_moves where is_inter_municipal and period_label is not null "
                   "and age_band in ('18-30', '31-55', '56-75'))")
    assert bands[0][0] == bands[0][1]


def test_harmonisation_flags_moves_that_become_intra_municipal(built_faulty_warehouse):
    rows = _query(built_faulty_warehouse,
                  "select origin_nis_raw, destination_nis_raw, origin_nis, destination_nis, move_date, is_inter_municipal "
                  "from marts.fct_moves where became_intra_by_harmonisation")
    assert rows, "the synthetic register has moves between 2019-merged municipalities in 2018"
    for origin_raw, destination_raw, origin, destination, move_date, inter in rows:
        assert origin_raw != destination_raw and origin == destination and not inter


def test_imputation_fills_missing_incomes_by_band_and_year(built_warehouse):
    rows = _query(built_warehouse,
                  "select count(*) filter (where disposable_income_raw is null), "
                  "count(*) filter (where income_imputed), count(*) filter (where disposable_income is null) "
                  "from marts.fct_incomes")
    missing, imputed, still_missing = rows[0]
    assert missing > 0 and imputed + still_missing == missing and imputed > 0
    # the imputed value is the mean of the observed incomes of the same band and year
    mismatch = _query(built_warehouse, """
        with means as (
            select income_year, age_band, avg(disposable_income_raw) as mean_income
            from marts.fct_incomes group by all
        )
        select count(*) from marts.fct_incomes join means using (income_year, age_band)
        where income_imputed and abs(disposable_income - mean_income) > 1e-6""")
    assert mismatch == [(0,)]


def test_income_groups_follow_the_yearly_quartiles(built_warehouse):
    # independent of the model: DuckDB's quantile_cont over everyone with an income that year
    wrong = _query(built_warehouse, """
        with cuts as (
            select income_year, quantile_cont(disposable_income, [0.25, 0.5, 0.75]) as q
            from marts.fct_incomes where disposable_income is not null group by income_year
        ),
        expected as (
            select income_group, case
                when disposable_income is null then 'unknown'
                when disposable_income < q[1] then 'low'
                when disposable_income < q[2] then 'lower_middle'
                when disposable_income < q[3] then 'upper_middle'
                else 'high' end as expected_group
            from marts.fct_incomes join cuts using (income_year)
        )
        select count(*), count(*) filter (where income_group <> expected_group) from expected""")
    n_rows, n_wrong = wrong[0]
    assert n_rows > 10_000 and n_wrong == 0
    groups = dict(_query(built_warehouse, "select income_group, count(*) from marts.fct_moves group by all"))
    assert {"low", "lower_middle", "upper_middle", "high"} <= set(groups)


def test_vintage_2025_build_while_the_old_warehouse_is_open(tmp_path, built_warehouse, small_register):
    settings = make_settings(tmp_path, small_register)
    settings.warehouse.parent.mkdir(parents=True)
    shutil.copy(built_warehouse.warehouse, settings.warehouse)
    analyst = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        result = build_warehouse(settings, dbt_vars={"target_vintage": 2025})
        assert result.ok, result.failures
        # the analyst's connection still reads the previous (2019) warehouse
        assert analyst.sql("select count(*) from marts.dim_municipality").fetchall() \
            == [(_municipalities(built_warehouse, "valid_2019_01_01"),)]
    finally:
        analyst.close()
    assert result.run_results_path.is_file()
    assert result.run_results_path.parent.name == result.build_id
    n = _municipalities(built_warehouse, "valid_2025_01_01")
    assert _query(settings, "select count(*), min(vintage) from marts.dim_municipality") == [(n, 2025)]
    assert _query(settings, "select count(distinct (period_label, group_type, group_value)), count(*) "
                            "from marts.mart_network_dyads") == [(24, 24 * n * (n - 1))]
    # Borsbeek (11007) is part of Antwerpen (11002) at vintage 2025
    assert _query(settings, "select count(*) from marts.dim_municipality where nis_code in ('11007', '23106')") \
        == [(1,)]


def test_a_rule_that_takes_most_rows_refuses_the_build_pointing_at_the_format(tmp_path):
    """Coordinates delivered in WGS84 degrees rather than Lambert 72 metres: every move with an address
    breaks coordinates_outside_belgium. The build refuses such an extract (above quarantine_share_max) with a
    message that points at a format problem, instead of certifying the few moves left."""
    from mignet.generate import generate_register

    raw = tmp_path / "raw"
    generate_register(raw, scale=0.002, seed=9)
    moves = pq.read_table(raw / "moves.parquet")
    for column in ("origin_x", "destination_x"):
        degrees = pc.divide(moves[column], 60_000.0)  # about 2.5 to 5: longitudes, not metres
        moves = moves.set_column(moves.schema.get_field_index(column), column, degrees)
    pq.write_table(moves, raw / "moves.parquet")
    result = build_warehouse(make_settings(tmp_path, raw), docs=False)
    assert not result.ok
    [failure] = [f for f in result.failures if "quarantine_share_within_limit" in f]
    assert "of the rows of raw table moves" in failure and "coordinates_outside_belgium" in failure
    assert "format problem" in failure and "quarantine_share_max" in failure and "decimal" in failure


def test_failed_build_leaves_the_previous_warehouse_untouched(tmp_path, built_warehouse):
    empty_raw = tmp_path / "empty_raw"
    empty_raw.mkdir()
    settings = make_settings(tmp_path, empty_raw)
    settings.warehouse.parent.mkdir(parents=True)
    shutil.copy(built_warehouse.warehouse, settings.warehouse)
    before = hashlib.sha256(settings.warehouse.read_bytes()).hexdigest()
    result = build_warehouse(settings)
    assert not result.ok
    assert any("moves.parquet" in failure for failure in result.failures), result.failures
    assert hashlib.sha256(settings.warehouse.read_bytes()).hexdigest() == before
    assert not list((settings.data_dir / "build").glob("warehouse-*.duckdb"))


def test_build_writes_its_dbt_docs_with_catalog_and_compiled_sql(built_warehouse):
    """`mignet build` runs `dbt docs generate --static --no-compile` on the fresh warehouse: one page that
    opens without a server, with the build's compiled SQL and the catalog of the tables it wrote."""
    pages = list((built_warehouse.data_dir / "build").glob("*/index.html"))
    assert len(pages) == 1
    page = pages[0].read_text()
    catalog = json.loads((pages[0].parent / "catalog.json").read_text())
    columns = catalog["nodes"]["model.mignet.fct_moves"]["columns"]
    assert "density_diff_per_1000" in columns and "move_id" in columns
    # compiled, not raw: the ephemeral model is inlined as dbt's CTE
    assert "__dbt__cte__int_moves_enriched" in page
    assert "One row per valid move (every raw move that broke no quarantine rule)" in page


def test_warehouse_names_the_build_that_wrote_it(built_warehouse):
    """audit.rpt_build_info holds dbt's invocation id, the name of the build's artifact folder."""
    folder = next((built_warehouse.data_dir / "build").glob("*/run_results.json")).parent
    invocation = json.loads((folder / "run_results.json").read_text())["metadata"]["invocation_id"]
    assert _query(built_warehouse, "select build_id from audit.rpt_build_info") == [(invocation,)]
    assert folder.name == invocation
    # every var of the build, with the value it used, under the same build id
    vars_ = dict(_query(built_warehouse, "select var_name, value_json from audit.rpt_build_vars"))
    assert vars_["target_vintage"] == "2019" and vars_["imputation_method"] == '"mean"' and vars_["min_moves"] == "1"
    assert _query(built_warehouse, "select distinct build_id from audit.rpt_build_vars") == [(invocation,)]
    # and the content it wrote: every seed and mart, with its content hash
    recorded = {t for t, in _query(built_warehouse, "select table_name from audit.rpt_build_content")}
    assert {"periods", "age_bands", "income_groups", "fct_moves", "mart_network_dyads", "dim_network"} <= recorded
