"""Certification is bound to content: the build records the content hash of every mart and seed it wrote,
validate certifies a mart only while it holds that content, and every reader (fit, gof, scenario, publish,
report) refuses a mart or a results table that changed, naming the table and the check.

One small warehouse (synthetic-small geography, scale 0.01) is built, validated, fitted and simulated once;
each test tampers with its own copy."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from mignet.network.fit import fit_all
from mignet.network.gof import run_gof
from mignet.network.scenario import scenario
from mignet.quality.publish import PublishError, publish
from mignet.quality.validate import validate
from mignet.report.data import ReportInputError
from mignet.report.models import write_model_report
from mignet.warehouse import NotCertifiedError, StaleResultsError, Warehouse
from mignet.warehouse.build_settings import BuildSettingsError
from test_quality_support import copy_warehouse, make_settings

pytestmark = pytest.mark.slow

# one way to change each mart's content without breaking its columns
TAMPER = {
    "dim_municipality": "update marts.dim_municipality set area_km2 = area_km2 * 2 "
                        "where nis_code = (select min(nis_code) from marts.dim_municipality)",
    "dim_municipality_year": "delete from marts.dim_municipality_year where year = (select max(year) "
                             "from marts.dim_municipality_year)",
    "dim_network": "update marts.dim_network set density_year = density_year + 1 where network_id = 1",
    "fct_moves": "update marts.fct_moves set age_at_move = age_at_move + 1 "
                 "where move_id = (select min(move_id) from marts.fct_moves)",
    "fct_incomes": "update marts.fct_incomes set disposable_income = disposable_income + 1 "
                   "where disposable_income is not null and person_id = (select min(person_id) from marts.fct_incomes)",
    "mart_network_dyads": "update marts.mart_network_dyads set n_moves = n_moves + 1 "
                          "where network_id = 1 and origin_nis = (select min(origin_nis) from marts.mart_network_dyads)",
    "mart_destination_shares": "update marts.mart_destination_shares set movers_in = movers_in + 1 "
                               "where destination_nis = (select min(destination_nis) from marts.mart_destination_shares)",
}
# the marts of the income-position and arrival studies: one row fewer
TAMPER.update({
    mart: f"delete from marts.{mart} where rowid = (select min(rowid) from marts.{mart})"
    for mart in ("dim_area", "dim_income_position", "mart_migration_balance", "mart_od_net", "mart_position_exclusions",
                 "mart_position_population", "dim_sector", "fct_move_sectors", "mart_area_group_change",
                 "mart_area_inflow", "mart_area_net_migration", "mart_area_population_groups", "mart_area_turnover",
                 "mart_arrival_neighbourhoods", "mart_onward_destinations", "mart_onward_migration")
})


def _sql(settings, sql):
    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute(sql)
    finally:
        con.close()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A warehouse built, certified, fitted and with goodness of fit (never modified by the tests)."""
    from mignet.generate import generate_register
    from mignet.warehouse.build import build_warehouse

    root = tmp_path_factory.mktemp("binding")
    raw = root / "raw"
    generate_register(raw, scale=0.01, seed=11, geography="synthetic-small")
    settings = make_settings(root, raw_dir=raw)
    assert build_warehouse(settings, docs=False).ok
    assert validate(settings).all_certified
    fit_all(settings)
    run_gof(settings, n_sim=5, seed=3)
    return settings


@pytest.fixture
def copy(fitted, tmp_path):
    settings = copy_warehouse(fitted, tmp_path)
    shutil.copytree(fitted.reports_dir, settings.reports_dir, dirs_exist_ok=True)
    return settings


def test_every_mart_is_bound_to_the_content_the_build_wrote(copy):
    warehouse = Warehouse(copy)
    marts = warehouse.build_settings().marts
    assert set(TAMPER) == set(marts), "every mart the build writes has a way to tamper with it here"
    for sql in TAMPER.values():
        _sql(copy, sql)
    # every reader refuses at once, naming the mart and the check
    for mart in marts:
        with pytest.raises(NotCertifiedError, match=rf"marts\.{mart} is not certified: its content changed") as err:
            warehouse.read_certified(mart)
        assert err.value.failed_checks == ("warehouse:content_hash",)
    with pytest.raises(NotCertifiedError, match="mart_network_dyads|dim_network"):
        fit_all(copy)
    with pytest.raises(NotCertifiedError):
        scenario(copy, _first_code(copy), _last_code(copy))
    with pytest.raises(PublishError, match="content changed after certification"):
        publish(copy)
    with pytest.raises(ReportInputError, match="not certified"):
        write_model_report(copy)
    # validating again does not certify it: the build's dbt results describe other rows
    result = validate(copy)
    for mart in marts:
        assert not result.certified[mart]
        assert "warehouse:content_matches_build" in result.certifications[mart].failed_checks, mart
    detail = next(c.detail for c in result.certifications["fct_moves"].checks if c.check_name == "content_matches_build")
    assert "changed after build" in detail and "rebuild the warehouse" in detail


def _first_code(settings):
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute("select min(nis_code) from marts.dim_municipality").fetchall()[0][0]
    finally:
        con.close()


def _last_code(settings):
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute("select max(nis_code) from marts.dim_municipality").fetchall()[0][0]
    finally:
        con.close()


@pytest.mark.parametrize("table", ["model_estimates", "model_gof"])
def test_every_results_table_is_bound_to_what_was_written(copy, table):
    _sql(copy, f"update results.{table} set observed = observed + 1 where statistic = 'reciprocity'"
         if table == "model_gof" else
         f"update results.{table} set estimate = estimate + 0.5 where term = 'edges' and network_id = 1")
    warehouse = Warehouse(copy)
    with pytest.raises(StaleResultsError, match=rf"results\.{table} cannot be used \(results:content_hash\)"):
        warehouse.read_results(table)
    with pytest.raises(PublishError, match=rf"results\.{table}"):
        publish(copy)
    with pytest.raises(ReportInputError, match=rf"results\.{table}"):
        write_model_report(copy)
    if table == "model_estimates":
        with pytest.raises(StaleResultsError, match="results:content_hash"):
            run_gof(copy, n_sim=3)
        with pytest.raises(StaleResultsError):
            scenario(copy, _first_code(copy), _last_code(copy))


def test_results_of_an_earlier_certification_are_stale(copy):
    """A new validation makes new certifications: estimates fitted on the earlier ones must be refitted."""
    assert validate(copy).all_certified
    with pytest.raises(StaleResultsError, match=r"results:inputs_current.*computed from certification"):
        Warehouse(copy).read_results("model_estimates")
    with pytest.raises(ReportInputError, match="run its stage again"):
        write_model_report(copy)
    fit_all(copy)
    # goodness of fit was computed from the earlier certifications and estimates: stale too
    with pytest.raises(StaleResultsError, match=r"results\.model_gof cannot be used \(results:inputs_current\)"):
        Warehouse(copy).read_results("model_gof")
    run_gof(copy, n_sim=3)
    assert Warehouse(copy).read_results("model_gof").frame.shape[0] > 0


def test_a_seed_changed_after_the_build_is_refused(copy):
    _sql(copy, "update staging.periods set end_date = end_date + interval 1 day "
               "where period_label = (select min(period_label) from staging.periods)")
    with pytest.raises(BuildSettingsError, match=r"seed table staging\.periods changed after the build"):
        Warehouse(copy).build_settings()
    result = validate(copy)
    assert not any(result.certified.values())
    assert all("warehouse:build_settings" in c.failed_checks for c in result.certifications.values())


def test_the_untouched_copy_serves_every_reader(copy):
    """The control: the same readers accept the copy as it was built, certified and fitted."""
    warehouse = Warehouse(copy)
    assert warehouse.read_results("model_estimates").frame.shape[0] > 0
    assert warehouse.read_results("model_gof").frame.shape[0] > 0
    s = scenario(copy, _first_code(copy), _last_code(copy))
    assert 0 <= s.p_marginal <= 1
    assert publish(copy)
    assert write_model_report(copy).is_file()
