"""The arrival-neighbourhood report (reports/arrivals/index.html) and the study's example queries (analysis/),
on the session's one dbt build (test_quality_support.template: the synthetic country with its ~20,000 sectors),
validated once here.

- the page renders from the certified marts: self-contained, one path per sector with a boundary, a view per
  big city of seed big_cities, its settings those the build recorded, the register said to be synthetic;
- it refuses a mart that is not certified, naming it, and writes nothing;
- the map classes are mapclassify's on the mart values (natural breaks) and the fixed classes of a change;
- the example queries compile with `dbt compile` (the build's vars) and run in DuckDB on the warehouse;
- in Chromium, every map is drawn and nothing raises (skipped without Chromium).
"""

from __future__ import annotations

import json
import re
import subprocess

import duckdb
import mapclassify
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from mignet.report import TEMPORARY_GLOB
from mignet.report.arrivals import (ARRIVAL_MARTS, CHANGE_PP_BREAKS, CLASS_SEED, N_CLASSES, city_title,
                                    write_arrivals_report)
from mignet.report.data import ReportInputError
from mignet.warehouse.build import dbt_executable
from test_quality_support import REPO, certified_template, copy_warehouse

pytestmark = pytest.mark.slow

ANALYSES = sorted((REPO / "analysis").glob("arrivals_*.sql"))


def _query(settings, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _vars(settings) -> dict:
    return {name: json.loads(value) for name, value in
            _query(settings, "select var_name, value_json from audit.rpt_build_vars")}


def _script(html: str, element_id: str):
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    assert found, element_id
    return json.loads(found.group(1))


@pytest.fixture(scope="module")
def certified():
    """The validated copy of the template warehouse (shared by the readers' tests): the arrival marts certified."""
    from mignet.warehouse import NotCertifiedError, Warehouse

    settings = certified_template()
    warehouse = Warehouse(settings)
    refused = {}
    with warehouse.connect() as con:
        for mart in ARRIVAL_MARTS:
            try:
                warehouse.certification(con, mart)
            except NotCertifiedError as exc:
                refused[mart] = str(exc)
    assert refused == {}, refused
    return settings


@pytest.fixture(scope="module")
def page(certified):
    return write_arrivals_report(certified)


@pytest.fixture(scope="module")
def parts(page):
    html = page.read_text(encoding="utf-8")
    return html, _script(html, "arrival-geometry"), _script(html, "arrival-maps"), _script(html, "arrival-sources")


# ---- the page ---------------------------------------------------------------------------------------------------

def test_the_page_renders_from_the_certified_marts(page, certified, parts):
    html, geometry, maps, _ = parts
    assert page == certified.reports_dir / "arrivals" / "index.html"
    assert list(page.parent.glob(TEMPORARY_GLOB)) == []
    # self-contained: nothing fetched from anywhere, the script inline
    assert not re.search(r'(src|href)="(https?:)?//', html) and "<link" not in html and "url(" not in html
    assert not re.search(r"<script[^>]+src=", html)
    assert "Synthetic register" in html and 'class="synthetic"' in html
    # one path per sector with a boundary (the unknown sectors <nis>ZZZZ have none), in a tiling whose
    # municipality borders could be traced
    sectors = {c for (c,) in _query(certified, "select sector_code from marts.dim_sector "
                                               "where not is_unknown_sector and boundary_wkt is not null")}
    assert len(sectors) > 1000 and set(geometry["codes"]) == sectors
    assert len(geometry["paths"]) == len(sectors) and all(p.startswith("M") for p in geometry["paths"])
    assert geometry["borders"].startswith("M")
    # a view per big city of the seed, each inside the whole country's
    cities = [city_title(c) for (c,) in _query(certified, "select city_label from staging.big_cities order by city_order")]
    views = {v["label"]: v["box"] for v in geometry["views"]}
    assert list(views)[1:] == cities
    x, y, w, h = geometry["views"][0]["box"]
    assert all(bx >= x and by >= y and bw < w / 3 and bh < h / 3 for bx, by, bw, bh in list(views.values())[1:])
    # every map: a layer per option, one class character per drawn sector
    assert [m["id"] for m in maps] == ["composition", "change", "arrival", "flag"]
    assert all(len(layer["classes"]) == len(sectors) for m in maps for layer in m["layers"])
    # a page of reasonable size at ~20,000 sectors
    assert page.stat().st_size < 6_000_000


def test_the_settings_are_the_builds(page, certified, parts):
    html, _, maps, _ = parts
    recorded = _vars(certified)
    for name in ("arrival_min_population", "arrival_min_recent_immigrants_per_1000", "arrival_max_foreign_net_per_1000",
                 "arrival_min_moving_intensity", "arrival_window_years", "arrival_onward_horizon_years"):
        assert re.search(rf"<code>{name}</code></td><td class=\"label\">{re.escape(str(recorded[name]))}</td>", html), name
    first, last = recorded["arrival_compare_from_year"], recorded["arrival_compare_to_year"]
    assert f"Change of the share, {first} to {last}" in html and f"Residents by origin, 1 January {last}" in html
    (end,) = _query(certified, "select max(year) from marts.mart_arrival_neighbourhoods")[0]
    window = recorded["arrival_window_years"]
    assert f"Arrival indicators, {end - window + 1}-{end}" in html
    flag = next(m for m in maps if m["id"] == "flag")
    assert f"at least {recorded['arrival_min_recent_immigrants_per_1000']}" in next(
        m for m in maps if m["id"] == "arrival")["layers"][0]["note"]
    assert [layer["label"] for layer in flag["layers"]][0] == f"window ending {end}"


@pytest.mark.parametrize("damage, named", [
    ("update marts.mart_onward_destinations set n_moved_on = n_moved_on + 1 where destination_order = 1",
     "marts.mart_onward_destinations is not certified: its content changed"),
    ("update quality.certifications set status = 'refused' where mart = 'mart_arrival_neighbourhoods'",
     "marts.mart_arrival_neighbourhoods is not certified"),
])
def test_an_uncertified_mart_is_refused_by_name(certified, tmp_path, damage, named):
    copy = copy_warehouse(certified, tmp_path)
    con = duckdb.connect(str(copy.warehouse))
    try:
        con.execute(damage)
    finally:
        con.close()
    with pytest.raises(ReportInputError, match=re.escape(named)):
        write_arrivals_report(copy)
    assert not (copy.reports_dir / "arrivals" / "index.html").exists()


# ---- the classes are mapclassify's on the marts ----------------------------------------------------------------

def _mart_values(settings, source: dict, codes: list[str]) -> np.ndarray:
    """The values of a layer's source, one per drawn area (NaN without a row), read here from the mart."""
    where = {k: v for k, v in source.items() if k not in ("mart", "column", "group_label") and v is not None}
    where["area_level"] = source["area_level"]
    sql = (f"select area_code, {source['column']} from marts.{source['mart']} where "
           + " and ".join(f"{k} = ?" for k in where))
    params = list(where.values())
    if source.get("group_label") is not None:
        sql += " and group_label = ?"
        params.append(source["group_label"])
    values = dict(_query(settings, sql, params))
    return np.array([np.nan if values.get(c) is None else values[c] for c in codes], dtype=float)


def _classes(values: np.ndarray, classified: np.ndarray) -> str:
    out = np.full(len(values), "-", dtype="<U1")
    out[np.isfinite(values)] = [str(int(c)) for c in classified]
    return "".join(out)


def test_the_map_classes_are_mapclassifys_on_the_mart_values(certified, parts):
    _, geometry, maps, sources = parts
    codes = geometry["codes"]
    layers = {(m["id"], layer["label"]): layer for m in maps for layer in m["layers"]}
    checked = 0
    for map_id in ("composition", "arrival"):
        for source in sources[map_id]:
            src = source["source"]
            if src["mart"] == "mart_area_population_groups" and src["group_label"] is None:
                continue  # the sum of the foreign groups: not a mart column
            values = _mart_values(certified, src, codes)
            finite = values[np.isfinite(values)]
            state = np.random.get_state()
            np.random.seed(CLASS_SEED)
            try:
                with threadpool_limits(limits=1):
                    expected = mapclassify.NaturalBreaks(finite, k=min(N_CLASSES, len(np.unique(finite))))
            finally:
                np.random.set_state(state)
            assert source["method"] == "natural_breaks"
            assert np.allclose(source["bins"], expected.bins, rtol=1e-12), source["label"]
            assert layers[(map_id, source["label"])]["classes"] == _classes(values, expected.yb), source["label"]
            checked += 1
    assert checked >= 4
    # the change maps: the fixed diverging classes, (lower, upper] as mapclassify bins them
    for source in sources["change"]:
        if source["source"]["group_label"] is None:
            continue
        values = _mart_values(certified, source["source"], codes)
        finite = values[np.isfinite(values)]
        expected = np.searchsorted(np.asarray(CHANGE_PP_BREAKS), finite, side="left")
        assert source["bins"] == list(CHANGE_PP_BREAKS)
        assert layers[("change", source["label"])]["classes"] == _classes(values, expected)


# ---- the example queries ----------------------------------------------------------------------------------------

def test_the_example_queries_compile_and_run(certified, tmp_path):
    assert {p.stem for p in ANALYSES} >= {"arrivals_top_sectors_last_year", "arrivals_onward_destinations_of_a_cohort"}
    copy = copy_warehouse(certified, tmp_path / "warehouse")  # dbt opens its warehouse for writing
    env = copy.dbt_env()
    env.update(DBT_TARGET_PATH=str(tmp_path / "target"), DBT_LOG_PATH=str(tmp_path / "logs"))
    recorded = _vars(certified)
    done = subprocess.run([dbt_executable(), "compile", "--select", *(p.stem for p in ANALYSES), "--vars",
                           json.dumps(recorded), "--project-dir", str(REPO), "--profiles-dir", str(REPO)],
                          cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
    compiled = {p.stem: p.read_text() for p in (tmp_path / "target" / "compiled").rglob("analysis/arrivals_*.sql")}
    assert sorted(compiled) == [p.stem for p in ANALYSES]
    assert not any("{{" in sql or "ref(" in sql for sql in compiled.values())
    con = duckdb.connect(str(copy.warehouse), read_only=True)
    try:
        results = {name: con.execute(sql).df() for name, sql in compiled.items()}
        end = con.execute("select max(year) from marts.mart_arrival_neighbourhoods").fetchall()[0][0]
        best = con.execute(
            "select max(recent_immigrants_per_1000) from marts.mart_arrival_neighbourhoods "
            "where area_level = 'sector' and year = ? and not is_arrival_neighbourhood and "
            "meets_population::int + meets_recent_immigrants::int + meets_foreign_net::int "
            "+ meets_moving_intensity::int = (select max(meets_population::int + meets_recent_immigrants::int "
            "+ meets_foreign_net::int + meets_moving_intensity::int) from marts.mart_arrival_neighbourhoods "
            "where area_level = 'sector' and year = ?)", [end, end]).fetchall()[0][0]
        n_flagged = con.execute("select count(*) from marts.mart_arrival_neighbourhoods where area_level = 'sector' "
                                "and year = ? and is_arrival_neighbourhood", [end]).fetchall()[0][0]
        cohort = con.execute(
            "select horizon_years, sum(n_moved_on) from marts.mart_onward_migration where area_level = 'municipality' "
            "and arrival_year = (select min(arrival_year) from marts.mart_onward_migration) group by 1").fetchall()
    finally:
        con.close()
    top = results["arrivals_top_sectors_last_year"]
    assert len(top) > 0 and (top["area_level"] == "sector").all() and (top["window_end_year"] == end).all()
    assert (top["min_recent_immigrants_per_1000"] == recorded["arrival_min_recent_immigrants_per_1000"]).all()
    assert top["criteria_met"].is_monotonic_decreasing or top["is_arrival_neighbourhood"].iloc[0]
    if n_flagged == 0:
        assert top["recent_immigrants_per_1000"].iloc[0] == pytest.approx(round(best, 1))
    onward = results["arrivals_onward_destinations_of_a_cohort"]
    by_horizon = onward.groupby("horizon_years")["n_moved_on"].sum().to_dict()
    assert by_horizon == {int(h): int(n) for h, n in cohort}
    assert np.allclose(onward.groupby("horizon_years")["share_of_movers_on"].sum(), 1.0, atol=1e-3)
    if "arrivals_net_migration_with_big_cities" in results:
        net = results["arrivals_net_migration_with_big_cities"]
        assert len(net) > 0 and (net["window_years"] == recorded["arrival_window_years"]).all()


# ---- in a browser -----------------------------------------------------------------------------------------------

@pytest.mark.browser
def test_every_map_is_drawn_in_chromium(page, parts, tmp_path):
    from test_browser import CHROMIUM, PROBE, _chromium

    if CHROMIUM is None:
        pytest.skip("chromium is not installed (scripts/ensure_chromium.sh installs Debian's chromium)")
    _, geometry, maps, _ = parts
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    done = _chromium(["--virtual-time-budget=20000", "--dump-dom", probed.as_uri()], timeout=180)
    match = re.search(r'<pre id="mignet-check">(.*?)</pre>', done.stdout, re.S)
    assert match, f"the in-page check did not run; chromium said:\n{done.stderr[-2000:]}"
    check = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    assert check["errors"] == []
    # every map an SVG laid out with a real size, holding a drawn path per sector, coloured by its first layer
    assert len(check["svgs"]) == len(maps) and all(s["width"] > 200 and s["height"] > 100 for s in check["svgs"])
    drawn = re.findall(r'<svg[^>]*data-drawn="(\d+)"', done.stdout)
    assert drawn == [str(len(geometry["paths"]))] * len(maps)
    assert len(re.findall(r'<path class="area" data-i="\d+" d="[^"]+" fill="#', done.stdout)) == len(maps) * len(geometry["paths"])
    # the legends were written (one entry per class and "no value")
    assert len(re.findall(r'<div class="entry">', done.stdout)) >= len(maps) * 3
    assert check["tables"] >= 5
