"""Publishing: certified data only, disclosure rule on flow counts, atomic switch of releases, and analysts'
open sessions never breaking a publish nor seeing a half-written release."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap

import duckdb
import pytest

from mignet.quality import publish as publish_module
from mignet.quality.publish import PublishError, _publish_lock, current_release, publish
from mignet.quality.validate import validate
from test_quality_support import make_settings, make_warehouse, marts_of


def _sql(db, sql, read_only=False):
    con = duckdb.connect(str(db), read_only=read_only)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def certified_once(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("certified"))
    make_warehouse(settings)
    assert validate(settings).all_certified
    return settings


@pytest.fixture()
def certified(certified_once, tmp_path):
    """A private copy of a validated warehouse (certifications travel with the file)."""
    settings = make_settings(tmp_path)
    shutil.copy2(certified_once.warehouse, settings.warehouse)
    shutil.copytree(certified_once.data_dir / "build", settings.data_dir / "build")
    return settings


def test_publish_writes_a_release_and_views(certified):
    settings = certified
    release = publish(settings)
    folder = settings.releases_dir / release
    assert current_release(settings) == release
    assert (settings.releases_dir / "current").resolve() == folder.resolve()
    marts = marts_of(settings)
    assert {p.name for p in folder.glob("*.parquet")} == {f"{m}.parquet" for m in marts} | {"release_info.parquet"}
    assert not list(settings.releases_dir.glob(".tmp-*"))
    views = {r[0] for r in _sql(settings.analytics_db, "select table_name from information_schema.tables "
                                 "where table_type = 'VIEW'", read_only=True)}
    assert views == marts | {"release_info"}
    assert _sql(settings.analytics_db, "select count(*) from fct_moves", read_only=True)[0][0] == \
        _sql(settings.warehouse, "select count(*) from marts.fct_moves", read_only=True)[0][0]
    info = _sql(settings.analytics_db, "select distinct release_id from release_info", read_only=True)
    assert info == [(release,)]


def test_published_flow_counts_follow_the_disclosure_rule(certified):
    settings = certified
    publish(settings)
    exact = dict(((r[0], r[1], r[2], r[3], r[4]), r[5]) for r in _sql(
        settings.warehouse, "select period_label, group_type, group_value, origin_nis, destination_nis, n_moves "
        "from marts.mart_network_dyads", read_only=True))
    published = _sql(settings.analytics_db, "select period_label, group_type, group_value, origin_nis, destination_nis, "
                     "n_moves, n_moves_suppressed from mart_network_dyads", read_only=True)
    assert len(published) == len(exact)
    seen_small = seen_rounded = False
    for *key, n, suppressed in published:
        true_n = exact[tuple(key)]
        if 0 < true_n < 5:
            assert n is None and suppressed, (key, true_n, n)
            seen_small = True
        else:
            assert not suppressed and n % 10 == 0 and abs(n - true_n) <= 5 and (true_n == 0) == (n == 0)
            seen_rounded |= true_n != n
    assert seen_small and seen_rounded  # the support warehouse holds both kinds of count
    shares = _sql(settings.analytics_db, "select movers_in, movers_in_all_groups, share, movers_in_suppressed "
                  "from mart_destination_shares", read_only=True)
    for movers_in, all_groups, share, suppressed in shares:
        assert movers_in is None or movers_in % 10 == 0
        if movers_in is not None and all_groups:
            assert share == pytest.approx(movers_in / all_groups)
        else:
            assert share is None
    # the warehouse keeps exact counts for the models
    assert _sql(settings.warehouse, "select count(*) from marts.mart_network_dyads where n_moves between 1 and 4",
                read_only=True)[0][0] > 0


def test_publish_refuses_uncertified_data_and_keeps_the_previous_release(certified):
    settings = certified
    first = publish(settings)
    before = _digest(settings.releases_dir / first)
    _sql(settings.warehouse, "update marts.fct_incomes set disposable_income = disposable_income * 2 where income_year = 2019")
    with pytest.raises(PublishError, match=rf"(?s)stays current.*fct_incomes.*content changed after certification"):
        publish(settings)
    assert current_release(settings) == first
    assert _digest(settings.releases_dir / first) == before
    assert sorted(p.name for p in settings.releases_dir.iterdir() if not p.name.startswith(".")) == sorted([first, "current"])


def test_a_publish_failing_half_way_leaves_the_previous_release(certified, monkeypatch):
    settings = certified
    first = publish(settings)
    before = _digest(settings.releases_dir / first)
    real_export = publish_module._export_table
    calls = []

    def failing_export(con, sql, path):
        calls.append(path.name)
        if len(calls) == 3:
            raise OSError("disk full (simulated)")
        return real_export(con, sql, path)

    monkeypatch.setattr(publish_module, "_export_table", failing_export)
    with pytest.raises(OSError, match="simulated"):
        publish(settings)
    assert len(calls) == 3
    assert current_release(settings) == first
    assert _digest(settings.releases_dir / first) == before
    assert not [p for p in settings.releases_dir.iterdir() if p.name.startswith(".tmp-")]
    assert _sql(settings.analytics_db, "select count(*) from fct_moves", read_only=True)[0][0] == _moves(settings)
    monkeypatch.setattr(publish_module, "_export_table", real_export)
    second = publish(settings)
    assert second != first and current_release(settings) == second


READER = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    def ask():
        release = con.execute("select distinct release_id from release_info").fetchall()[0][0]
        n = con.execute("select count(*) from fct_moves").fetchall()[0][0]
        print(release, n, flush=True)
    ask()
    sys.stdin.readline()
    ask()
    sys.stdin.readline()
""")


def _moves(settings):
    return _sql(settings.warehouse, "select count(*) from marts.fct_moves", read_only=True)[0][0]


def test_analyst_holding_analytics_db_open_during_a_publish(certified):
    import pandas as pd

    from mignet.warehouse import Warehouse

    settings = certified
    n_moves = str(_moves(settings))
    first = publish(settings)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(settings.analytics_db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert reader.stdout.readline().split() == [first, n_moves]
        # a new table in the release forces analytics.duckdb to be rewritten while the analyst holds it
        Warehouse(settings).write_results(
            "model_estimates", pd.DataFrame({"period_label": ["covid"], "term": ["edges"], "estimate": [-3.2]}), inputs={})
        messages = []
        second = publish(settings, progress=messages.append)
        assert any("was open in process" in m for m in messages), messages
        reader.stdin.write("\n")
        reader.stdin.flush()
        # the open session reads the new release through `current`, without reconnecting
        assert reader.stdout.readline().split() == [second, n_moves]
        # a publish with the same tables leaves analytics.duckdb alone even while it is held
        third = publish(settings, progress=messages.append)
        assert "views unchanged" in messages[-1] or any("views unchanged" in m for m in messages[-3:])
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.wait(timeout=30) == 0, reader.stderr.read()
    finally:
        if reader.poll() is None:
            reader.kill()
    assert _sql(settings.analytics_db, "select count(*) from model_estimates", read_only=True)[0][0] == 1
    assert current_release(settings) == third


def test_two_publishes_at_once_are_refused(certified):
    settings = certified
    with _publish_lock(settings.releases_dir):
        with pytest.raises(PublishError, match="another `mignet publish` is running"):
            publish(settings)


def test_old_releases_are_pruned_but_current_kept(certified):
    settings = certified
    releases = [publish(settings, keep=2) for _ in range(4)]
    on_disk = sorted(p.name for p in settings.releases_dir.iterdir() if p.is_dir() and not p.is_symlink()
                     and not p.name.startswith("."))
    assert on_disk == sorted(releases[-2:])
    assert current_release(settings) == releases[-1]
    assert os.path.islink(settings.releases_dir / "current")


def test_cli_validate_and_publish(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from mignet.cli import main

    settings = make_settings(tmp_path)
    make_warehouse(settings, failing_tests={"fct_incomes": 3})
    for var, value in {"MIGNET_DATA_DIR": settings.data_dir, "MIGNET_REPORTS_DIR": settings.reports_dir,
                       "MIGNET_RAW_DIR": settings.raw_dir}.items():
        monkeypatch.setenv(var, str(value))
    for var in ("MIGNET_WAREHOUSE", "MIGNET_RELEASES_DIR", "MIGNET_ANALYTICS_DB"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()
    refused = runner.invoke(main, ["validate", "--no-gx"])
    assert refused.exit_code == 1, refused.output
    assert "fct_incomes" in refused.output and "NOT certified: dbt:" in refused.output
    not_published = runner.invoke(main, ["publish"])
    assert not_published.exit_code == 1 and "no release exists yet" in not_published.output
    assert not settings.releases_dir.joinpath("current").exists()

    make_warehouse(settings)  # a new, clean build
    assert runner.invoke(main, ["validate"]).exit_code == 0
    published = runner.invoke(main, ["publish"])
    assert published.exit_code == 0, published.output
    assert current_release(settings) == published.output.strip().splitlines()[-1]
