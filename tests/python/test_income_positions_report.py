"""The income-position report (reports/income_positions/index.html) and the study's example queries (analysis/),
on the session's one dbt build (test_quality_support.template), validated once here.

- the page renders from the certified marts: self-contained, its settings those the build recorded, the
  register said to be synthetic;
- it refuses a mart that is not certified, naming it, and writes nothing;
- the figures' numbers are the marts': bar heights and heat-map cells are compared with sums computed here in
  SQL (the whole period's bars with the sum of the yearly rows, the OD matrix with the balance);
- the example queries compile with `dbt compile` and run in DuckDB on the warehouse;
- in Chromium, every figure renders and nothing raises (skipped without Chromium).
"""

from __future__ import annotations

import json
import re
import subprocess

import duckdb
import numpy as np
import pytest
from markupsafe import escape

from mignet.report import TEMPORARY_GLOB
from mignet.report.data import ReportInputError
from mignet.report.income_positions import (MARTS, PAGE_DIR, exclusion_table, exclusions_figure,
                                            load_income_position_inputs, movers_figure, od_figure, rate_figure,
                                            write_income_positions_report, yearly_net_figure)
from mignet.report.figures import plt
from mignet.warehouse.build import dbt_executable
from test_quality_support import REPO, certified_template, copy_warehouse, template

pytestmark = pytest.mark.slow

ANALYSES = sorted((REPO / "analysis").glob("income_positions_*.sql"))


def _query(settings, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def certified():
    """The validated copy of the template warehouse (shared by the readers' tests): the income-position marts certified."""
    from mignet.warehouse import NotCertifiedError, Warehouse

    settings = certified_template()
    warehouse = Warehouse(settings)
    refused = {}
    with warehouse.connect() as con:
        for mart in MARTS:
            try:
                warehouse.certification(con, mart)
            except NotCertifiedError as exc:
                refused[mart] = str(exc)
    assert refused == {}, refused
    return settings


@pytest.fixture(scope="module")
def page(certified):
    return write_income_positions_report(certified)


@pytest.fixture(scope="module")
def inputs(certified):
    return load_income_position_inputs(certified)


# ---- the page ---------------------------------------------------------------------------------------------------

def test_the_page_renders_from_the_certified_marts(page, certified):
    assert page == certified.reports_dir / PAGE_DIR / "index.html"
    assert list(page.parent.glob(TEMPORARY_GLOB)) == []
    html = page.read_text(encoding="utf-8")
    # self-contained: five figures as PNG data URIs, nothing fetched from anywhere
    images = re.findall(r'<img src="([^"]*)"', html)
    assert len(images) == 5 and all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r'(src|href)="(https?:)?//', html) and "<script" not in html and "<link" not in html
    # the register is the generator's (its manifest lies in the raw folder the build read)
    assert 'class="synthetic" id="register-source"' in html and "Synthetic register" in html
    seed = json.loads((template().raw_dir / "manifest.json").read_text())["seed"]
    assert f"seed {seed}" in html


def test_the_methods_are_the_builds_settings(page, certified):
    html = page.read_text(encoding="utf-8")
    vars_ = dict(_query(certified, "select var_name, value_json from audit.rpt_build_vars"))
    for name in ("income_position_classification", "income_position_year"):
        assert f"<code>{name}</code> = <code>{json.loads(vars_[name])}</code>" in html
    for position, description in _query(certified, "select position, description from marts.dim_income_position"):
        assert f"<code>{position}</code>" in html and str(escape(description)) in html
    for reason, description in _query(certified, "select exclusion, description from staging.income_position_exclusions"):
        assert f"<code>{reason}</code>" in html and str(escape(description)) in html
    for (area_type,) in _query(certified, "select area_code from marts.dim_area where area_level = 'area_type'"):
        assert f'<td class="label">{area_type}' in html
    # the social minimum seed's amounts (euro per month) in its table
    amounts = _query(certified, "select distinct monthly_amount_eur from staging.social_minimum")
    table = html[html.index('id="social-minimum-table"'):]
    assert all(f"{amount:,.2f}" in table for (amount,) in amounts)


@pytest.mark.parametrize("damage, named", [
    ("update marts.mart_od_net set net_movers = net_movers + 1 where position = 'all' and area_type <> partner_area_type",
     "marts.mart_od_net is not certified: its content changed"),
    ("delete from quality.certifications", "marts.dim_income_position is not certified: no certification record"),
])
def test_an_uncertified_mart_is_refused_by_name(certified, tmp_path, damage, named):
    copy = copy_warehouse(certified, tmp_path)
    con = duckdb.connect(str(copy.warehouse))
    try:
        con.execute(damage)
    finally:
        con.close()
    with pytest.raises(ReportInputError, match=re.escape(named)):
        write_income_positions_report(copy)
    assert not (copy.reports_dir / PAGE_DIR / "index.html").exists()


# ---- the figures are the marts ----------------------------------------------------------------------------------

def _bars(ax) -> dict[str, np.ndarray]:
    """{position (the series' label): bar heights} of an axis of grouped or stacked bars."""
    return {container.get_label(): np.asarray(container.datavalues, dtype=float) for container in ax.containers}


def _axes(fig) -> dict[str, object]:
    return {ax.get_gid(): ax for ax in fig.axes if ax.get_gid()}


def test_the_movers_bars_are_the_sums_of_the_yearly_rows(certified, inputs):
    yearly = {(t, p): (i, o, n) for t, p, i, o, n in _query(certified, """
        select area_code, position, sum(movers_in), sum(movers_out), sum(net_movers)
        from marts.mart_migration_balance where area_level = 'area_type' and n_years = 1 group by all""")}
    types = [t for (t,) in _query(certified, "select area_code from marts.dim_area where area_level = 'area_type'")]
    assert sorted(inputs.area_types) == sorted(types)
    fig = movers_figure(inputs)
    axes = _axes(fig)
    for k, measure in enumerate(("movers_in", "movers_out", "net_movers")):
        bars = _bars(axes[measure])
        assert sorted(bars) == sorted(p for (p,) in _query(certified, "select position from marts.dim_income_position"))
        for position, heights in bars.items():
            expected = [yearly[(t, position)][k] for t in inputs.area_types]
            assert heights.tolist() == expected, (measure, position)
    plt.close(fig)
    fig = yearly_net_figure(inputs)
    for area_type, ax in _axes(fig).items():
        for position, heights in _bars(ax).items():
            expected = dict(_query(certified, "select year_from, net_movers from marts.mart_migration_balance "
                                   "where area_level = 'area_type' and n_years = 1 and area_code = ? and position = ?",
                                   [area_type, position]))
            assert heights.tolist() == [expected[y] for y in inputs.study_years]
    plt.close(fig)


def test_the_relative_net_is_net_per_1000_of_the_population_per_year(certified, inputs):
    first, last = inputs.whole_span
    rows = _query(certified, """
        select area_code, position, 1000.0 * net_movers / population_total / n_years,
            1000.0 * net_movers / population / n_years
        from marts.mart_migration_balance
        where area_level = 'area_type' and year_from = ? and year_to = ?""", [first, last])
    expected = {"net_rate_total": {(t, p): a for t, p, a, _ in rows},
                "net_rate_position": {(t, p): b for t, p, _, b in rows}}
    fig = rate_figure(inputs)
    axes = _axes(fig)
    for measure, values in expected.items():
        bars = _bars(axes[measure])
        assert len(bars) == len(inputs.position_labels) + 1  # every position and the total
        for position, heights in bars.items():
            want = np.array([np.nan if values[(t, position)] is None else values[(t, position)]
                             for t in inputs.area_types], dtype=float)
            np.testing.assert_allclose(heights, want, rtol=1e-9, equal_nan=True)
    plt.close(fig)


def test_the_od_heat_maps_are_the_od_net_and_sum_to_the_balance(certified, inputs):
    first, last = inputs.whole_span
    od = {(a, b, p): n for a, b, p, n in _query(certified, """
        select area_type, partner_area_type, position, net_movers from marts.mart_od_net
        where year_from = ? and year_to = ?""", [first, last])}
    balance = {(a, p): n for a, p, n in _query(certified, """
        select area_code, position, net_movers from marts.mart_migration_balance
        where area_level = 'area_type' and year_from = ? and year_to = ?""", [first, last])}
    fig = od_figure(inputs)
    axes = _axes(fig)
    assert sorted(axes) == sorted({p for _, _, p in od})
    types = inputs.area_types
    for position, ax in axes.items():
        shown = np.asarray(ax.images[0].get_array(), dtype=float)
        assert shown.tolist() == [[od[(a, b, position)] for b in types] for a in types]
        assert (shown == -shown.T).all()
        assert shown.sum(axis=1).tolist() == [balance[(a, position)] for a in types]
    plt.close(fig)


def test_the_exclusions_are_the_mart_and_reconcile_with_the_moves(certified, inputs):
    mart = {(y, r): n for y, r, n in _query(certified, "select move_year, exclusion, movers from marts.mart_position_exclusions")}
    fig = exclusions_figure(inputs)
    ax = _axes(fig)["exclusions"]
    years = [int(t.get_text()) for t in ax.get_xticklabels()]
    reasons = [r for (r,) in _query(certified, "select exclusion from staging.income_position_exclusions order by exclusion_order")]
    bars = _bars(ax)
    assert list(bars) == [r.replace("_", " ") for r in reasons]
    for reason in reasons:
        assert bars[reason.replace("_", " ")].tolist() == [mart[(y, reason)] for y in years]
    plt.close(fig)
    # classified (the page's count) + excluded = every inter-municipal move of the year
    moves = dict(_query(certified, "select move_year, count(*) from marts.fct_moves where is_inter_municipal group by 1"))
    table = exclusion_table(inputs)
    assert {int(y): int(n) for y, n in table["all_moves"].items()} == moves


# ---- the example queries ----------------------------------------------------------------------------------------

def test_the_example_queries_compile_and_run(certified, tmp_path):
    assert {p.stem for p in ANALYSES} >= {"income_positions_net_by_area_type", "income_positions_od_net_matrix"}
    copy = copy_warehouse(certified, tmp_path / "warehouse")  # dbt opens its warehouse for writing
    env = copy.dbt_env()
    env.update(DBT_TARGET_PATH=str(tmp_path / "target"), DBT_LOG_PATH=str(tmp_path / "logs"))
    done = subprocess.run([dbt_executable(), "compile", "--select", *(p.stem for p in ANALYSES), "--project-dir",
                           str(REPO), "--profiles-dir", str(REPO)], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
    compiled = {p.stem: p.read_text() for p in (tmp_path / "target" / "compiled").rglob("analysis/*.sql")}
    assert sorted(compiled) == [p.stem for p in ANALYSES]
    assert not any("{{" in sql or "ref(" in sql for sql in compiled.values())
    con = duckdb.connect(str(copy.warehouse), read_only=True)
    try:
        results = {name: con.execute(sql).df() for name, sql in compiled.items()}
        first, last = con.execute("select min(year_from), max(year_to) from marts.mart_migration_balance").fetchall()[0]
        n_positions = con.execute("select count(*) + 1 from marts.dim_income_position").fetchall()[0][0]
        types = [t for (t,) in con.execute(
            "select area_code from marts.dim_area where area_level = 'area_type' order by 1").fetchall()]
        lowest = con.execute("select position from marts.dim_income_position where not is_student_position "
                             "order by position_order limit 1").fetchall()[0][0]
    finally:
        con.close()
    net = results["income_positions_net_by_area_type"]
    assert len(net) == len(types) * n_positions
    assert (net["year_from"] == first).all() and (net["year_to"] == last).all()
    assert (net["net_movers"] == net["movers_in"] - net["movers_out"]).all()
    matrix = results["income_positions_od_net_matrix"]
    assert len(matrix) == len(types) * n_positions
    for _, block in matrix.groupby("position"):
        cells = block.set_index("area_type").loc[types, types].to_numpy(dtype=float)
        assert (cells == -cells.T).all()
        by_type = net[net["position"] == block["position"].iloc[0]].set_index("area_type")["net_movers"]
        assert cells.sum(axis=1).tolist() == by_type.loc[types].tolist()
    low = results["income_positions_low_income_concentration"]
    assert set(low["position"]) == {lowest} and set(low["area_type"]) == set(types)
    shares = low[["share_among_movers_in", "share_among_movers_out", "share_among_residents"]].to_numpy(dtype=float)
    assert ((shares >= 0) & (shares <= 1)).all()


# ---- in a browser -----------------------------------------------------------------------------------------------

@pytest.mark.browser
def test_every_figure_renders_in_chromium(page, tmp_path):
    from test_browser import CHROMIUM, PROBE, _chromium

    if CHROMIUM is None:
        pytest.skip("chromium is not installed (scripts/ensure_chromium.sh installs Debian's chromium)")
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    done = _chromium(["--virtual-time-budget=15000", "--dump-dom", probed.as_uri()])
    match = re.search(r'<pre id="mignet-check">(.*?)</pre>', done.stdout, re.S)
    assert match, f"the in-page check did not run; chromium said:\n{done.stderr[-2000:]}"
    check = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    assert check["errors"] == []
    assert len(check["images"]) == 5
    broken = [img for img in check["images"] if not img["complete"] or img["width"] < 50 or img["height"] < 50
              or img["shown"] < 50]
    assert broken == []
    assert check["tables"] >= 8
    import matplotlib.image as mpimg

    shot = tmp_path / "page.png"
    done = _chromium(["--window-size=1280,2400", f"--screenshot={shot}", page.as_uri()])
    assert shot.is_file(), done.stderr[-2000:]
    pixels = mpimg.imread(shot)[:, :, :3]
    assert (pixels.mean(axis=2) < 0.9).mean() > 0.02  # not a blank page: text, the glance table, the bars
