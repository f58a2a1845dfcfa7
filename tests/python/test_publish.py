"""Publishing: two tiers (the secure tier with the certified marts as they are, the public tier with aggregates
under the disclosure rule), certified data only, an independent check that refuses a public release breaking
the rule, secondary suppression against differencing, atomic switch of releases, and analysts' open
sessions never breaking a publish nor seeing a half-written release."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import numpy as np
import pytest

from mignet.quality import disclosure as dc
from mignet.quality import publish as publish_module
from mignet.quality.publish import PublishError, _publish_lock, current_release, publish, tiers
from mignet.quality.release_check import check_public_release
from mignet.quality.validate import validate
from mignet.settings import Settings
from mignet.warehouse import Warehouse
from test_quality_support import make_settings, make_warehouse, marts_of

PUBLIC_MARTS = {"dim_municipality", "dim_municipality_year", "dim_network", "mart_network_dyads",
                "mart_destination_shares",
                # the income-position study: area types and the territory, rounded, with secondary suppression
                "dim_area", "dim_income_position", "mart_migration_balance", "mart_od_net", "mart_position_population",
                "mart_position_exclusions"}


def _sql(db, sql, read_only=False, params=None):
    con = duckdb.connect(str(db), read_only=read_only)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _secure(settings):
    return tiers(settings)[0]


@pytest.fixture(scope="module")
def certified_once(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("certified"))
    make_warehouse(settings)
    assert validate(settings).all_certified
    return settings


def _copy(source, tmp_path):
    settings = make_settings(tmp_path)
    shutil.copy2(source.warehouse, settings.warehouse)
    shutil.copytree(source.data_dir / "build", settings.data_dir / "build")
    return settings


@pytest.fixture()
def certified(certified_once, tmp_path):
    """A private copy of a validated warehouse (certifications travel with the file)."""
    return _copy(certified_once, tmp_path)


@pytest.fixture(scope="module")
def published_once(certified_once, tmp_path_factory):
    """One publish of the validated warehouse, for the tests that only read what it wrote."""
    settings = _copy(certified_once, tmp_path_factory.mktemp("published"))
    return settings, publish(settings)


# ---- what each tier holds ---------------------------------------------------------------------------------

def test_publish_writes_both_tiers_and_their_views(published_once):
    settings, release = published_once
    secure = _secure(settings)
    marts = marts_of(settings)
    assert current_release(settings) == release == current_release(settings, "secure")
    assert (settings.releases_dir / "current").resolve() == (settings.releases_dir / release).resolve()
    # the secure tier: every certified mart as it is; the public tier: the catalogue's tables only
    secure_files = {p.stem for p in (secure.releases_dir / release).glob("*.parquet")}
    public_files = {p.stem for p in (settings.releases_dir / release).glob("*.parquet")}
    assert secure_files == marts | {"release_info"}
    assert public_files == PUBLIC_MARTS | {"release_info"}
    assert not (settings.releases_dir / release / "fct_moves.parquet").exists()
    assert secure.releases_dir.parent == settings.data_dir / "secure"
    assert (os.stat(secure.releases_dir.parent).st_mode & 0o007) == 0  # no access for others
    for tier, db, tables in (("secure", secure.analytics_db, marts), ("public", settings.analytics_db, PUBLIC_MARTS)):
        views = {r[0] for r in _sql(db, "select table_name from information_schema.tables where table_type = 'VIEW'",
                                    read_only=True)}
        assert views == tables | {"release_info", "tier"}, tier
        assert _sql(db, "select tier from tier", read_only=True) == [(tier,)]
        assert _sql(db, "select distinct tier, release_id from release_info", read_only=True) == [(tier, release)]
        manifest = json.loads(((secure.releases_dir if tier == "secure" else settings.releases_dir) / release
                               / "release.json").read_text())
        assert manifest["tier"] == tier and manifest["release_id"] == release
    assert _sql(secure.analytics_db, "select count(*) from fct_moves", read_only=True) == \
        _sql(settings.warehouse, "select count(*) from marts.fct_moves", read_only=True)
    manifest = json.loads((settings.releases_dir / release / "release.json").read_text())
    # the person-level marts, and the arrival study's (their public disclosure is not designed yet)
    assert set(manifest["not_published"]["tables"]) == marts - PUBLIC_MARTS
    assert {"fct_moves", "fct_incomes", "dim_sector", "mart_area_turnover"} <= marts - PUBLIC_MARTS
    assert manifest["disclosure"]["rule"]["round_to"] == 10 and manifest["disclosure"]["check"]["hidden_counts_pinned"] == 0
    assert manifest["tables"]["mart_network_dyads"]["columns"]["n_moves"] == dc.CONTROLLED
    assert "content_hash" not in json.dumps(manifest)  # a hash of exact counts is an oracle for guesses


def test_published_flow_counts_follow_the_disclosure_rule(published_once):
    settings, release = published_once
    con = duckdb.connect()
    try:
        con.execute(f"attach '{settings.warehouse}' as wh (read_only)")
        folder = settings.releases_dir / release
        # per kind of published count, the rows that break what that kind promises
        kinds = dict(con.execute(f"""
            select case when p.n_moves_withheld then 'withheld' when p.n_moves_suppressed then 'suppressed'
                        when p.n_moves = d.n_moves then 'exact' else 'rounded' end as kind,
                   count(*) filter (where not (
                       case when p.n_moves_withheld then p.n_moves is null and not p.n_moves_suppressed and d.n_moves >= 1
                            when p.n_moves_suppressed then p.n_moves is null and d.n_moves between 1 and 4
                            else p.n_moves % 10 = 0 and p.n_moves - d.n_moves between -4 and 5
                                 and (p.n_moves = 0) = (d.n_moves = 0) and d.n_moves not between 1 and 4 end
                       and p.tie = (d.n_moves > 0) and p.reverse_tie = d.reverse_tie)) as wrong
            from read_parquet('{folder / 'mart_network_dyads.parquet'}') p
            join wh.marts.mart_network_dyads d using (network_id, origin_nis, destination_nis)
            group by all""").fetchall())
        n_rows = con.execute("select count(*) from wh.marts.mart_network_dyads").fetchall()[0][0]
        assert con.execute(f"select count(*) from read_parquet('{folder / 'mart_network_dyads.parquet'}')").fetchall()[0][0] == n_rows
        assert set(kinds) == {"withheld", "suppressed", "exact", "rounded"}  # every kind of count occurs
        assert all(wrong == 0 for wrong in kinds.values()), kinds
        wrong_shares = con.execute(f"""
            select count(*) from read_parquet('{folder / 'mart_destination_shares.parquet'}') s
            join read_parquet('{folder / 'mart_destination_shares.parquet'}') a using (period_label, destination_nis)
            join wh.marts.mart_destination_shares w on w.period_label = s.period_label and w.group_type = s.group_type
                and w.group_value = s.group_value and w.destination_nis = s.destination_nis
            where a.group_type = 'all' and not (
                (s.movers_in is null or s.movers_in % 10 = 0)
                and s.movers_in_all_groups is not distinct from a.movers_in
                and (s.movers_in is null) = (s.movers_in_suppressed or s.movers_in_withheld)
                and (not s.movers_in_suppressed or w.movers_in between 1 and 4)
                and s.share is not distinct from (case when s.movers_in is not null and s.movers_in_all_groups > 0
                                                       then s.movers_in / s.movers_in_all_groups end))""").fetchall()[0][0]
        assert wrong_shares == 0
        # the warehouse keeps exact counts for the models
        assert con.execute("select count(*) from wh.marts.mart_network_dyads where n_moves between 1 and 4").fetchall()[0][0] > 0
    finally:
        con.close()


# ---- the differencing attack ---------------------------------------------------------------------------------

def _reader_interval(value, suppressed, withheld, round_to, suppress_below):
    """What the documented rule lets a reader conclude from one published value (the attacker's own code)."""
    if withheld:
        return 1, 10**12
    if suppressed:
        return 1, suppress_below - 1
    if value == 0:
        return 0, 0
    low = suppress_below if value == round_to else value - round_to // 2
    return max(low, suppress_below, 1), value + round_to - round_to // 2 - 1


def microdata_attack(release: Path, network: tuple[str, str, str], origin: str, destination: str) -> int | None:
    """Count the moves of one dyad cell from released microdata; None when the release holds none."""
    moves = release / "fct_moves.parquet"
    if not moves.exists():
        return None
    period, group_type, group_value = network
    group = {"all": "true", "age_band": "age_band = ?", "income_group": "income_group = ?"}[group_type]
    params = [period, origin, destination] + ([] if group_type == "all" else [group_value])
    return duckdb.execute(
        f"select count(*) from read_parquet('{moves}') where is_inter_municipal and period_label = ? "
        f"and origin_nis = ? and destination_nis = ? and {group}", params).fetchall()[0][0]


def margin_attack(release: Path, network: tuple[str, str, str], destination: str, round_to: int,
                  suppress_below: int) -> dict[str, tuple[int, int]]:
    """Differencing: the group's movers_in into `destination` minus the published dyads from every other origin.
    Returns, for each hidden dyad cell of that column, the interval of values the margin leaves it."""
    period, group_type, group_value = network
    (m_value, m_s, m_w), = duckdb.execute(
        f"select movers_in, movers_in_suppressed, movers_in_withheld from read_parquet('{release / 'mart_destination_shares.parquet'}') "
        "where period_label = ? and group_type = ? and group_value = ? and destination_nis = ?",
        [period, group_type, group_value, destination]).fetchall()
    m_lo, m_hi = _reader_interval(m_value, m_s, m_w, round_to, suppress_below)
    cells = duckdb.execute(
        f"select origin_nis, n_moves, n_moves_suppressed, n_moves_withheld from read_parquet('{release / 'mart_network_dyads.parquet'}') "
        "where period_label = ? and group_type = ? and group_value = ? and destination_nis = ?",
        [period, group_type, group_value, destination]).fetchall()
    bounds = {o: _reader_interval(v, s, w, round_to, suppress_below) for o, v, s, w in cells}
    out = {}
    for o, v, s, w in cells:
        if v is not None:
            continue
        others_lo = sum(lo for k, (lo, _) in bounds.items() if k != o)
        others_hi = sum(hi for k, (_, hi) in bounds.items() if k != o)
        lo, hi = bounds[o]
        out[o] = (max(lo, m_lo - others_hi), min(hi, m_hi - others_lo))
    return out


def _target(settings, alone: bool = False):
    """A dyad cell with 1..4 moves whose destination column has the fewest non-zero cells; with `alone`, the
    only such cell of a column whose other cells are shown (so its margin is shown too)."""
    having = "n_small = 1 and total >= 5" if alone else "true"
    return _sql(settings.warehouse, f"""
        with columns as (
            select network_id, destination_nis, count(*) filter (where n_moves > 0) as n_nonzero,
                   count(*) filter (where n_moves between 1 and 4) as n_small, sum(n_moves) as total
            from marts.mart_network_dyads group by all
        )
        select d.period_label, d.group_type, d.group_value, d.origin_nis, d.destination_nis, d.n_moves
        from marts.mart_network_dyads d join columns c using (network_id, destination_nis)
        where d.n_moves between 1 and 4 and {having}
        order by c.n_nonzero, d.network_id, d.origin_nis, d.destination_nis limit 1""", read_only=True)[0]


def test_the_differencing_attack_of_today_fails_on_the_public_release(published_once):
    """Before the tiers, the analysts' release held fct_moves (the secure tier now holds exactly those files):
    counting a suppressed cell's moves there gives its exact value. The public release has no microdata, and
    the margin of the cell's column leaves an interval."""
    settings, release = published_once
    period, group_type, group_value, origin, destination, exact = _target(settings)
    network = (period, group_type, group_value)
    secure_release = _secure(settings).releases_dir / release
    public_release = settings.releases_dir / release
    assert microdata_attack(secure_release, network, origin, destination) == exact
    assert microdata_attack(public_release, network, origin, destination) is None
    low, high = margin_attack(public_release, network, destination, 10, 5)[origin]
    assert low <= exact <= high and high > low


@pytest.fixture(scope="module")
def unrounded_once(certified_once, tmp_path_factory):
    """The validated warehouse as if built with --dbt-var disclosure_round_to=1 (no rounding). The var is read
    by publish alone (no mart depends on it), so setting it in the build's record is what such a build records."""
    settings = _copy(certified_once, tmp_path_factory.mktemp("unrounded"))
    _sql(settings.warehouse, "update audit.rpt_build_vars set value_json = '1' where var_name = 'disclosure_round_to'")
    assert Warehouse(settings).build_settings().disclosure_round_to == 1
    return settings


def _primary_only(design, cell_network, cell_origin, cell_destination, cell_exact, margin_network,
                  margin_destination, margin_exact, rule, progress=None):
    """An export that forgets secondary suppression: the rule's suppression of small counts only."""
    return dc.Protection(np.where(rule.is_small(cell_exact), dc.SUPPRESSED, dc.SHOWN).astype(np.int8),
                         np.where(rule.is_small(margin_exact), dc.SUPPRESSED, dc.SHOWN).astype(np.int8), 0, 0)


def _write_public_release(settings, folder: Path, protect):
    warehouse = Warehouse(settings)
    folder.mkdir(parents=True)
    with warehouse.connect() as con:
        build = warehouse.build_settings(con)
        certs = {m: warehouse.certification(con, m) for m in build.marts}
        rule = dc.DisclosureRule.of(build)
        publish_module._write_public(con, folder, build.marts, certs, {}, rule, lambda m: None, protect=protect)
        return check_public_release(folder, con, rule)


def test_without_rounding_differencing_works_unless_secondary_suppression_is_applied(unrounded_once, tmp_path):
    settings = unrounded_once
    # a suppressed cell alone in its column with shown neighbours: the exact margin gives it away
    unprotected = tmp_path / "unprotected"
    check = _write_public_release(settings, unprotected, protect=_primary_only)
    assert not check.ok
    assert any("pin to one value" in str(v) for v in check.violations), check.violations
    period, group_type, group_value, origin, destination, exact = _target(settings, alone=True)
    network = (period, group_type, group_value)
    assert margin_attack(unprotected, network, destination, 1, 5)[origin] == (exact, exact)
    # publish applies secondary suppression: the same attack now yields an interval, for every hidden cell
    release = publish(settings)
    public_release = settings.releases_dir / release
    low, high = margin_attack(public_release, network, destination, 1, 5)[origin]
    assert low <= exact <= high and high > low
    shown = _sql(settings.analytics_db, "select count(*) filter (where n_moves is not null and n_moves > 0), "
                 "count(*) filter (where n_moves % 10 <> 0) from mart_network_dyads", read_only=True)[0]
    assert shown[0] > 0 and shown[1] > 0  # exact counts shown, as the rule says
    columns = _sql(settings.warehouse, "select distinct period_label, group_type, group_value, destination_nis "
                   "from marts.mart_network_dyads where n_moves between 1 and 4 order by all limit 60", read_only=True)
    for *network, destination in columns:
        for low, high in margin_attack(public_release, tuple(network), destination, 1, 5).values():
            assert high > low, (network, destination)


# ---- the independent check refuses a corrupted release -----------------------------------------------------

ROUNDED = "case when d.n_moves < 5 then null else greatest((d.n_moves + 5) // 10 * 10, 10) end"
# (file, query over the written file `t` and the warehouse `wh`, what the check must say)
RULE_BREAKS = {
    "an unrounded count and a count of 3": (
        "mart_network_dyads",
        "select * replace (case when n_moves = 10 and network_id = 1 then 13 "
        "when n_moves_suppressed and network_id = 2 then 3 else n_moves end as n_moves, "
        "n_moves_suppressed and network_id <> 2 as n_moves_suppressed) from t",
        [r"n_moves: shown counts off the rounding base 10 \([\d,]+\), e\.g\. [12] \d{5} \d{5}",
         r"n_moves: shown counts from 1 to 4 \(must be suppressed\) \([\d,]+\), e\.g\. 2 \d{5} \d{5}"]),
    "a person_id column": ("mart_destination_shares", "select *, 'p000001' as person_id from t",
                           [r"mart_destination_shares: person-level columns \(1\), e\.g\. person_id"]),
    "a microdata table": ("fct_moves", "select * from wh.marts.fct_moves", [r"fct_moves: not public \(person-level"]),
}
# the withheld dyad counts shown again as the rule alone would show them: secondary suppression undone
UNDO_SECONDARY = f"""select t.* replace (
        case when t.n_moves_withheld then {ROUNDED} else t.n_moves end as n_moves,
        case when t.n_moves_withheld then d.n_moves < 5 else t.n_moves_suppressed end as n_moves_suppressed,
        false as n_moves_withheld)
    from t join wh.marts.mart_network_dyads d using (network_id, origin_nis, destination_nis)"""


def _corrupt_copy(settings, release_folder: Path, target: Path, changes: dict[str, str]) -> None:
    """A copy of a release (hard links: the original files are never written) with each table of `changes`
    replaced by its query over the table's file (`t`) and the warehouse (`wh`)."""
    shutil.copytree(release_folder, target, copy_function=os.link)
    for table, sql in changes.items():
        path = target / f"{table}.parquet"
        con = duckdb.connect()
        try:
            con.execute(f"attach '{settings.warehouse}' as wh (read_only)")
            if path.exists():
                con.execute(f"create view t as select * from read_parquet('{path}')")
            con.execute(f"copy ({sql}) to '{path.with_suffix('.new')}' (format parquet)")
        finally:
            con.close()
        os.replace(path.with_suffix(".new"), path)


def _check(settings, folder: Path):
    warehouse = Warehouse(settings)
    with warehouse.connect() as con:
        return check_public_release(folder, con, dc.DisclosureRule.of(warehouse.build_settings(con)))


def test_the_check_refuses_a_release_that_breaks_the_rule(published_once, tmp_path):
    settings, release = published_once
    folder = tmp_path / "corrupted"
    _corrupt_copy(settings, settings.releases_dir / release, folder, {t: sql for t, sql, _ in RULE_BREAKS.values()})
    check = _check(settings, folder)
    said = [str(v) for v in check.violations]
    for corruption, (_, _, expected) in RULE_BREAKS.items():
        for pattern in expected:
            assert any(re.search(pattern, line) for line in said), (corruption, pattern, said)


def test_the_check_refuses_a_release_with_a_pinned_cell(published_once, tmp_path):
    settings, release = published_once
    folder = tmp_path / "corrupted"
    _corrupt_copy(settings, settings.releases_dir / release, folder, {"mart_network_dyads": UNDO_SECONDARY})
    check = _check(settings, folder)
    assert [v.rule for v in check.violations] == \
        ["suppressed or withheld n_moves that the published values pin to one value"], check.violations
    assert check.violations[0].examples  # named: period/group, origin->destination


def test_the_check_passes_the_release_as_written(published_once):
    settings, release = published_once
    check = _check(settings, settings.releases_dir / release)
    assert check.ok, check.violations
    assert check.summary["withheld_dyad_counts"] > 0 and check.summary["hidden_counts_pinned"] == 0


def test_a_refused_publish_leaves_the_previous_releases_byte_identical(certified, monkeypatch):
    settings = certified
    first = publish(settings)
    before = {tier.name: _digest(tier.releases_dir / first) for tier in tiers(settings)}

    def unchanged():
        for tier in tiers(settings):
            assert publish_module._current_of(tier.releases_dir) == first, tier.name
            assert _digest(tier.releases_dir / first) == before[tier.name], tier.name
            assert sorted(p.name for p in tier.releases_dir.iterdir() if not p.name.startswith(".")) == [first, "current"]
        assert _sql(settings.analytics_db, "select distinct release_id from release_info", read_only=True) == [(first,)]

    real_write = publish_module._write_public

    def corrupting_write(con, folder, *args, **kwargs):
        """The real export, then the RULE_BREAKS applied to its files (on the publish's own connection, where
        the warehouse's schemas need no `wh.`)."""
        out = real_write(con, folder, *args, **kwargs)
        for table, sql, _ in RULE_BREAKS.values():
            path = folder / f"{table}.parquet"
            if path.exists():
                con.execute(f"create or replace temp view t as select * from read_parquet('{path}')")
            con.execute(f"copy ({sql.replace('wh.', '')}) to '{path.with_suffix('.new')}' (format parquet)")
            con.execute("drop view if exists t")
            os.replace(path.with_suffix(".new"), path)
        return out

    # the independent check refuses a release whose files break the rule after the export wrote them ...
    monkeypatch.setattr(publish_module, "_write_public", corrupting_write)
    with pytest.raises(PublishError, match=rf"(?s)release {first} stays current: the public release breaks the "
                                          r"disclosure rule:.*fct_moves: not public.*person-level columns.*"
                                          r"shown counts from 1 to 4"):
        publish(settings)
    unchanged()
    # ... and an export that forgot secondary suppression
    monkeypatch.setattr(publish_module, "_write_public",
                        lambda *args, **kwargs: real_write(*args, **{**kwargs, "protect": _primary_only}))
    with pytest.raises(PublishError, match=rf"(?s)release {first} stays current: the public release breaks the "
                                          r"disclosure rule:.*pin to one value"):
        publish(settings)
    unchanged()
    monkeypatch.setattr(publish_module, "_write_public", real_write)
    # uncertified data is refused before anything is written
    _sql(settings.warehouse, "update marts.fct_incomes set disposable_income = disposable_income * 2 where income_year = 2019")
    with pytest.raises(PublishError, match=rf"(?s)release {first} stays current.*fct_incomes.*content changed after certification"):
        publish(settings)
    unchanged()


# ---- atomic switch, open sessions, one at a time, pruning ---------------------------------------------------

def test_a_publish_failing_half_way_leaves_the_previous_release(certified, monkeypatch):
    settings = certified
    first = publish(settings)
    before = {tier.name: _digest(tier.releases_dir / first) for tier in tiers(settings)}
    real_export = publish_module._export_table
    calls = []

    def failing_export(con, sql, path):
        calls.append(path.name)
        if len(calls) == 3:  # in the public tier: the secure tier was written (its unchanged files linked)
            raise OSError("disk full (simulated)")
        return real_export(con, sql, path)

    monkeypatch.setattr(publish_module, "_export_table", failing_export)
    with pytest.raises(OSError, match="simulated"):
        publish(settings)
    assert len(calls) == 3 and not any(c.startswith('fct_') for c in calls)
    for tier in tiers(settings):
        assert publish_module._current_of(tier.releases_dir) == first
        assert _digest(tier.releases_dir / first) == before[tier.name]
        assert not [p for p in tier.releases_dir.iterdir() if p.name.startswith(".tmp-")]
    assert _sql(_secure(settings).analytics_db, "select count(*) from fct_moves", read_only=True)[0][0] == _moves(settings)


READER = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    def ask():
        release = con.execute("select distinct release_id from release_info").fetchall()[0][0]
        n = con.execute("select count(*) from mart_network_dyads where n_moves > 0").fetchall()[0][0]
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

    settings = certified
    first = publish(settings)
    shown = str(_sql(settings.analytics_db, "select count(*) from mart_network_dyads where n_moves > 0", read_only=True)[0][0])
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(settings.analytics_db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert reader.stdout.readline().split() == [first, shown]
        # a new table in the release forces analytics.duckdb to be rewritten while the analyst holds it
        Warehouse(settings).write_results(
            "model_estimates", pd.DataFrame({"period_label": ["covid"], "term": ["edges"], "estimate": [-3.2]}), inputs={})
        messages = []
        second = publish(settings, progress=messages.append)
        assert any("was open in process" in m for m in messages), messages
        reader.stdin.write("\n")
        reader.stdin.flush()
        # the open session reads the new release through `current`, without reconnecting
        assert reader.stdout.readline().split() == [second, shown]
        # a publish with the same tables leaves analytics.duckdb alone even while it is held
        messages.clear()
        third = publish(settings, progress=messages.append)
        assert any("public" in m and "views unchanged" in m for m in messages), messages
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.wait(timeout=30) == 0, reader.stderr.read()
    finally:
        if reader.poll() is None:
            reader.kill()
    for db in (settings.analytics_db, _secure(settings).analytics_db):
        assert _sql(db, "select count(*) from model_estimates", read_only=True)[0][0] == 1
    assert current_release(settings) == third


def test_two_publishes_at_once_are_refused(certified):
    settings = certified
    with _publish_lock(settings.releases_dir):
        with pytest.raises(PublishError, match="another `mignet publish` is running"):
            publish(settings)


def test_old_releases_are_pruned_but_current_kept_and_untiered_ones_removed(certified):
    settings = certified
    # a release of the version before the tiers: every mart, microdata included, in the public folder
    legacy = settings.releases_dir / "20200101T000000Z-legacy00"
    legacy.mkdir(parents=True)
    _sql(settings.warehouse, f"copy (select * from marts.fct_moves limit 3) to '{legacy / 'fct_moves.parquet'}'",
         read_only=True)
    (legacy / "release.json").write_text(json.dumps({"release_id": legacy.name, "tables": {}}))
    releases = [publish(settings, keep=1) for _ in range(2)]
    assert not legacy.exists()
    for tier in tiers(settings):
        on_disk = sorted(p.name for p in tier.releases_dir.iterdir() if p.is_dir() and not p.is_symlink()
                         and not p.name.startswith("."))
        assert on_disk == [releases[-1]], tier.name
        assert publish_module._current_of(tier.releases_dir) == releases[-1]
        assert os.path.islink(tier.releases_dir / "current")


def test_a_secure_folder_inside_the_public_one_is_refused(certified):
    settings = make_settings(certified.data_dir.parent)
    inside = Settings.from_env(project_root=settings.project_root,
                               environ={**settings.env, "MIGNET_SECURE_DIR": str(settings.releases_dir / "secure")})
    with pytest.raises(PublishError, match="overlap; set MIGNET_SECURE_DIR to a folder outside"):
        publish(inside)
    assert not (settings.releases_dir / "secure").exists()


def test_cli_validate_and_publish(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from mignet.cli import main

    settings = make_settings(tmp_path)
    make_warehouse(settings, failing_tests={"fct_incomes": 3})
    for var, value in {"MIGNET_DATA_DIR": settings.data_dir, "MIGNET_REPORTS_DIR": settings.reports_dir,
                       "MIGNET_RAW_DIR": settings.raw_dir}.items():
        monkeypatch.setenv(var, str(value))
    for var in ("MIGNET_WAREHOUSE", "MIGNET_RELEASES_DIR", "MIGNET_ANALYTICS_DB", "MIGNET_SECURE_DIR"):
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
    release = published.output.strip().splitlines()[-1]
    assert current_release(settings) == release == current_release(settings, "secure")
    assert f"public: {settings.analytics_db}: views written" in published.output
    assert f"secure: {tiers(settings)[0].analytics_db}: views written" in published.output


# ---- the rule and the attacker model, without a warehouse -------------------------------------------------

@pytest.mark.parametrize("round_to,suppress_below", [(10, 5), (1, 5), (5, 3), (10, 0), (3, 11), (10, 20), (2, 2)])
def test_a_shown_value_stands_for_exactly_the_counts_that_round_to_it(round_to, suppress_below):
    rule = dc.DisclosureRule(round_to, suppress_below)
    counts = np.arange(0, 400)
    shown_counts = counts[~rule.is_small(counts)]
    shown = np.where(shown_counts == 0, 0, rule.rounded(shown_counts))
    values = np.arange(0, 300)
    lo, hi = rule.interval(values)
    for value in values:
        preimage = shown_counts[shown == value]
        if len(preimage):
            assert (lo[value], hi[value]) == (preimage.min(), preimage.max()), value
        else:
            assert lo[value] > hi[value], value  # a value the rule never shows
    # the export's SQL is the same function
    got = duckdb.execute(f"select {rule.sql_value('x', 'false')} from range(0, 400) t(x) order by x").fetchall()
    assert [v for (v,) in got] == [None if rule.is_small(c) else (0 if c == 0 else int(rule.rounded(c)))
                                   for c in counts]


@pytest.mark.parametrize("min_moves", [1, 3, 4, 5, 12])
def test_derived_ties_say_no_more_than_the_published_count(min_moves):
    rule = dc.DisclosureRule(10, 5, min_moves)
    tie = rule.sql_tie(f"({rule.sql_value('x', 'false')})", rule.sql_suppressed("x", "w"), "w")
    rows = duckdb.execute(f"select x, w, {tie} from range(0, 60) t(x), (values (false), (true)) f(w) "
                          "where not (w and x = 0)").fetchall()
    for x, withheld, got in rows:
        if withheld:
            lo, hi = 1, int(dc.UNBOUNDED)
        elif rule.is_small(x):
            lo, hi = rule.suppressed_interval
        else:
            lo, hi = (int(v[0]) for v in rule.interval(np.array([0 if x == 0 else rule.rounded(x)])))
        expected = {1: True, 0: False, -1: None}[int(rule.tie_of_interval(np.array(lo), np.array(hi)))]
        assert got == expected, (x, withheld)
        assert got is None or got == (x >= min_moves)  # a tie it states is the true one


def _tiny(rule, cells, margins=None, n_age=3, n_income=4):
    """A one-period design and its counts: cells {(group, origin, destination): n} with group 'all',
    'a0'.. (age bands) or 'i0'.. (income groups); margins default to the column sums."""
    rows = [(1, "p", "all", "all")] + [(2 + k, "p", "age_band", f"a{k}") for k in range(n_age)] + \
        [(2 + n_age + k, "p", "income_group", f"i{k}") for k in range(n_income)]
    network = {r[3]: r[0] for r in rows}
    design = dc.NetworkDesign.from_rows(rows)
    c = np.array([(network[g], o, d, n) for (g, o, d), n in cells.items()], dtype=np.int64)
    sums: dict = {}
    for (g, o, d), n in cells.items():
        sums[(network[g], d)] = sums.get((network[g], d), 0) + n
    sums.update({(network[g], d): n for (g, d), n in (margins or {}).items()})
    m = np.array([(k[0], k[1], n) for k, n in sums.items()], dtype=np.int64)
    return design, c, m


def _audit(rule, design, c, m, cell_state=None, margin_state=None):
    cs = np.where(rule.is_small(c[:, 3]), dc.SUPPRESSED, dc.SHOWN) if cell_state is None else cell_state
    ms = np.where(rule.is_small(m[:, 2]), dc.SUPPRESSED, dc.SHOWN) if margin_state is None else margin_state
    c_lo, c_hi = dc.bounds(rule, c[:, 3], cs)
    m_lo, m_hi = dc.bounds(rule, m[:, 2], ms)
    return dc.audit(design, dc.FlowCounts(c[:, 0], c[:, 1], c[:, 2], c_lo, c_hi, c[:, 3], m[:, 0], m[:, 1], m_lo, m_hi,
                                          m[:, 2]))


def _protected(rule, design, c, m):
    p = dc.protect(design, c[:, 0], c[:, 1], c[:, 2], c[:, 3], m[:, 0], m[:, 1], m[:, 2], rule)
    pinned_cells, pinned_margins = _audit(rule, design, c, m, p.cell_state, p.margin_state)
    assert not (pinned_cells & (p.cell_state != dc.SHOWN)).any()
    assert not (pinned_margins & (p.margin_state != dc.SHOWN)).any()
    return p


PATTERNS = {
    # four movers from o0 to d0, one in each income group, and nobody outside them: the income counts
    # (each suppressed, so each at least 1) sum to at most the suppressed all-movers count (at most 4)
    "one mover in each income group": (dc.DisclosureRule(10, 5), {
        ("all", 0, 0): 4, ("i0", 0, 0): 1, ("i1", 0, 0): 1, ("i2", 0, 0): 1, ("i3", 0, 0): 1,
        ("all", 1, 0): 20, ("i0", 1, 0): 20}),
    # fourteen origins with one mover each: movers_in 14 is shown as 10 (at most 14), each cell is at least 1
    "as many suppressed ones as the rounded margin allows": (dc.DisclosureRule(10, 5),
                                                              {("all", o, 0): 1 for o in range(14)}),
    # no rounding: a suppressed 3 beside a shown 10 under the exact margin 13
    "one suppressed count in an exact column": (dc.DisclosureRule(1, 5), {("all", 0, 0): 3, ("all", 1, 0): 10}),
}


@pytest.mark.parametrize("pattern", PATTERNS)
def test_the_attacker_model_finds_each_pin_and_secondary_suppression_removes_it(pattern):
    rule, cells = PATTERNS[pattern]
    design, c, m = _tiny(rule, cells)
    pinned_cells, _ = _audit(rule, design, c, m)
    suppressed = rule.is_small(c[:, 3])
    assert (pinned_cells & suppressed).any()
    p = _protected(rule, design, c, m)
    assert p.cells_withheld + p.margins_withheld > 0


def test_a_suppressed_count_among_rounded_ones_is_not_pinned():
    rule = dc.DisclosureRule(10, 5)
    design, c, m = _tiny(rule, {("all", 0, 0): 3, ("all", 1, 0): 12, ("a0", 0, 0): 3, ("a0", 1, 0): 12})
    pinned_cells, pinned_margins = _audit(rule, design, c, m)
    assert not pinned_cells.any() and not pinned_margins.any()
    p = _protected(rule, design, c, m)
    assert p.cells_withheld == p.margins_withheld == 0 and p.rounds == 1


def _milp_fixed(design, counts):
    """Independent oracle: each count's least and greatest value over the integer points of the relations."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    n_cells, n_margins = len(counts.cell_lo), len(counts.margin_lo)
    family = design.family[design.index(counts.cell_network)]
    period = design.period[design.index(counts.cell_network)]
    dyads = {(period[i], counts.cell_origin[i], counts.cell_destination[i]) for i in range(n_cells) if family[i] == 0}
    dyads = {k: j for j, k in enumerate(sorted(dyads))}
    n = n_cells + n_margins + 2 * len(dyads)
    rows = []
    for j in range(n_margins):
        row = np.zeros(n)
        row[n_cells + j] = -1
        row[:n_cells] = (counts.cell_network == counts.margin_network[j]) & (counts.cell_destination == counts.margin_destination[j])
        rows.append(row)
    for key, j in dyads.items():
        for f in (1, 2):
            row = np.zeros(n)
            row[n_cells + n_margins + 2 * j + f - 1] = 1
            for i in range(n_cells):
                if (period[i], counts.cell_origin[i], counts.cell_destination[i]) == key:
                    row[i] += -1 if family[i] == 0 else (1 if family[i] == f else 0)
            rows.append(row)
    cap = 10**6
    lo = np.r_[counts.cell_lo, counts.margin_lo, np.zeros(2 * len(dyads))]
    hi = np.minimum(np.r_[counts.cell_hi, counts.margin_hi, np.full(2 * len(dyads), cap)], cap)
    constraints = LinearConstraint(np.array(rows), 0, 0)
    fixed = []
    for i in range(n_cells + n_margins):
        ends = []
        for sign in (1, -1):
            objective = np.zeros(n)
            objective[i] = sign
            result = milp(objective, constraints=constraints, integrality=np.ones(n), bounds=Bounds(lo, hi))
            assert result.success, result.message
            ends.append(round(result.x[i]))
        fixed.append(ends[0] == ends[1])
    return np.array(fixed[:n_cells], dtype=bool), np.array(fixed[n_cells:], dtype=bool)


def test_the_attacker_model_agrees_with_integer_programming_on_random_tables():
    rng = np.random.default_rng(11)
    checked = pinned = 0
    for _ in range(12):
        rule = dc.DisclosureRule(int(rng.choice([1, 3, 10])), int(rng.choice([2, 3, 5])))
        cells = {}
        for d in range(2):
            for o in range(3):
                if rng.random() < 0.25:
                    continue
                total = int(rng.choice([1, 1, 2, 3, 4, 6, 12]))
                cells[("all", o, d)] = total
                for prefix, k in (("a", 2), ("i", 3)):
                    split = rng.multinomial(total, rng.dirichlet(np.ones(k + 1)))
                    cells.update({(f"{prefix}{g}", o, d): int(split[g]) for g in range(k) if split[g]})
        if not cells:
            continue
        design, c, m = _tiny(rule, cells, n_age=2, n_income=3)
        cs = np.where(rule.is_small(c[:, 3]), dc.SUPPRESSED, dc.SHOWN)
        ms = np.where(rule.is_small(m[:, 2]), dc.SUPPRESSED, dc.SHOWN)
        cs[rng.random(len(cs)) < 0.15] = dc.WITHHELD
        ms[rng.random(len(ms)) < 0.15] = dc.WITHHELD
        c_lo, c_hi = dc.bounds(rule, c[:, 3], cs)
        m_lo, m_hi = dc.bounds(rule, m[:, 2], ms)
        counts = dc.FlowCounts(c[:, 0], c[:, 1], c[:, 2], c_lo, c_hi, c[:, 3], m[:, 0], m[:, 1], m_lo, m_hi, m[:, 2])
        got = dc.audit(design, counts)
        want = _milp_fixed(design, counts)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]), (rule, cells, cs, ms)
        checked += len(c) + len(m)
        pinned += int(want[0].sum() + want[1].sum())
    assert checked > 100 and 0 < pinned < checked  # both verdicts occur


def test_counts_that_break_the_relations_are_refused():
    rule = dc.DisclosureRule(10, 5)
    design, c, m = _tiny(rule, {("all", 0, 0): 3, ("i0", 0, 0): 2, ("i1", 0, 0): 2})
    with pytest.raises(dc.DisclosureModelError, match="income_group counts of 1 dyads sum to more than"):
        _audit(rule, design, c, m)
    design, c, m = _tiny(rule, {("all", 0, 0): 3}, margins={("all", 0): 30})
    with pytest.raises(dc.DisclosureModelError, match="not the sum of its column"):
        _audit(rule, design, c, m)
    with pytest.raises(dc.DisclosureModelError, match="at most two"):
        dc.NetworkDesign.from_rows([(1, "p", "all", "all"), (2, "p", "a", "x"), (3, "p", "b", "y"), (4, "p", "c", "z")])


def test_ties_in_the_public_dyads_are_what_the_published_counts_determine(tmp_path):
    """min_moves 3: a tie is not determined by a suppressed count (1..4) nor by a withheld one; the export
    shows NULL there, and the check refuses a file that shows the exact tie instead."""
    from mignet.quality import release_check

    rule = dc.DisclosureRule(10, 5, min_moves=3)
    con = duckdb.connect()
    con.execute("create schema marts")
    # (origin, destination, n_moves); exact tie = n_moves >= 3
    counts = [("A", "B", 2), ("B", "A", 12), ("A", "C", 0), ("C", "A", 0), ("B", "C", 7), ("C", "B", 4)]
    con.execute("create table marts.mart_network_dyads as select 1 as network_id, 'p' as period_label, "
                "'all' as group_type, 'all' as group_value, o as origin_nis, d as destination_nis, n::bigint as n_moves, "
                "n >= 3 as tie, 0.0 as density_diff_per_1000, 1.0 as distance_km, 0.1 as distance_10km "
                "from (values " + ", ".join(f"('{o}', '{d}', {n})" for o, d, n in counts) + ") t(o, d, n)")
    con.execute("alter table marts.mart_network_dyads add column reverse_tie boolean")
    con.execute("update marts.mart_network_dyads m set reverse_tie = r.tie from marts.mart_network_dyads r "
                "where r.origin_nis = m.destination_nis and r.destination_nis = m.origin_nis")
    con.execute("create temp table withheld_dyads as select 1::int as network_id, 'B' as origin_nis, "
                "'C' as destination_nis")
    columns = [c for c, _ in con.execute("select column_name, 1 from information_schema.columns "
                                         "where table_name = 'mart_network_dyads' order by ordinal_position").fetchall()]
    path = tmp_path / "mart_network_dyads.parquet"
    con.execute(f"copy ({publish_module.public_dyads_sql(columns, rule)}) to '{path}' (format parquet)")
    got = {(o, d): (n, tie, rtie) for o, d, n, tie, rtie in con.execute(
        f"select origin_nis, destination_nis, n_moves, tie, reverse_tie from read_parquet('{path}')").fetchall()}
    assert got == {("A", "B"): (None, None, True), ("B", "A"): (10, True, None), ("A", "C"): (0, False, False),
                   ("C", "A"): (0, False, False), ("B", "C"): (None, None, None), ("C", "B"): (None, None, None)}
    written = [c for c, *_ in con.execute(f"describe select * from read_parquet('{path}')").fetchall()]
    check = release_check.ReleaseCheck(tmp_path, rule)
    release_check._check_ties(con, tmp_path, written, rule, check)
    assert check.ok, check.violations
    # the exact ties instead: they tell that the suppressed 2 is under 3 and the suppressed 4 is not
    con.execute(f"copy (select p.* replace (m.tie as tie, m.reverse_tie as reverse_tie) from read_parquet('{path}') p "
                f"join marts.mart_network_dyads m using (origin_nis, destination_nis)) to '{tmp_path / 'x.parquet'}' (format parquet)")
    os.replace(tmp_path / "x.parquet", path)
    check = release_check.ReleaseCheck(tmp_path, rule)
    release_check._check_ties(con, tmp_path, written, rule, check)
    assert [v.rule for v in check.violations] == [
        "tie says more than the published n_moves",
        "reverse_tie is not what the published n_moves of the reverse pair determines"], check.violations
