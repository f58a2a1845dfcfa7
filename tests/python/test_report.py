"""The analysis report from fixture tables: content planted in the warehouse must appear in the page, the
page must be self-contained, and the methods section must come from the data."""

from __future__ import annotations

import html
import math
import re

import duckdb
import pandas as pd
import pytest

from mignet.report import scenarios
from mignet.report.data import ReportInputError
from mignet.report.models import write_model_report
from test_report_fixtures import make_synthetic, real_fixture, synthetic_fixture  # noqa: F401  (pytest fixtures)


def _page(settings) -> str:
    path = write_model_report(settings)
    assert path == settings.reports_dir / "models" / "index.html"
    return html.unescape(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def synthetic_report(tmp_path_factory):
    """(settings, page) of the synthetic-geography fixture, rendered once for the read-only tests."""
    settings = make_synthetic(tmp_path_factory.mktemp("report"))
    return settings, _page(settings)


def test_report_is_self_contained_and_shows_the_planted_finding(synthetic_report):
    _, page = synthetic_report
    # Every image is embedded; nothing is fetched from disk or network.
    sources = re.findall(r'src="([^"]+)"', page)
    assert len(sources) >= 5
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<script" not in page and "http://" not in page and "https://" not in page
    # The planted rise of the density effect for 31-55 during covid, and its fall afterwards.
    assert re.search(r"From <b>pre covid</b> to <b>covid</b>:\s*significantly higher for 31-55\.", page)
    assert re.search(r"From <b>covid</b> to <b>post covid</b>:\s*significantly lower for 31-55\.", page)
    assert "+0.500 (z = +8.8)" in page
    # The network whose mutual MLE does not exist is reported as such, not as a number.
    assert "MLE does not exist" in page
    # 8 group tables, each with 3 periods.
    assert page.count('<h3 id="table-') == 8


def test_binary_and_count_models_side_by_side_flag_the_planted_disagreement(synthetic_report):
    _, page = synthetic_report
    section = page.split('<h2 id="counts">')[1].split('<h2 id="scenarios">')[0]
    assert "Binary and count models side by side" in page and 'href="#counts"' in page
    # 31-55 during covid: the binary density effect is +0.55***, the count model's -0.40*** (COUNT_DENSITY)
    table = section.split("<h3>Age band 31-55</h3>")[1].split("</table>")[0]
    covid = re.search(r'<tr><td class="label">covid</td>(.*?)</tr>', table, re.S).group(1)
    assert "0.550***" in covid and "-0.400***" in covid
    assert '<td class="label disagree">sign differs' in covid
    assert "<b>1</b> disagree in\nsign" in section
    # the fixture's alternative count models follow the binary estimate there, so they contradict the main
    # count model, and the cell says so; nowhere else does anything differ in sign
    assert "Poisson PML, node covariates: sign differs; negative binomial, node covariates: sign differs" in covid
    assert section.count("sign differs") == 3


def test_pooled_tests_replace_the_naive_change_and_stand_beside_it(synthetic_report):
    _, page = synthetic_report
    density = page.split("<h3>Density difference: change between periods</h3>")[1].split("<h3>")[0]
    assert "Tested in the ERGM stacked over the periods" in density
    assert "<th>ERGM, pooled</th><th>naive (independent)</th><th>count model, pooled</th>" in density
    # the planted distance change of all movers: naive z = 0.05 / (0.04 sqrt 2) = 0.9, pooled 0.3 times that s.e.
    distance = page.split("<h3>Distance: change between periods</h3>")[1].split("<h3>")[0]
    row = re.search(r'<tr><td class="label">all movers</td>(.*?)</tr>', distance, re.S).group(1)
    assert '<td class="sig-up">+0.050 (z = +2.9)</td>' in row and '<td class="sub">+0.050 (z = +0.9)</td>' in row
    assert re.search(r"From <b>pre covid</b> to <b>covid</b>:.*Only the pooled test finds all movers", distance)


def test_without_count_results_the_change_table_says_it_is_naive(tmp_path):
    settings = make_synthetic(tmp_path, counts=False)
    page = _page(settings)
    assert 'id="counts"' not in page
    assert "Periods treated as independent (naive z)" in page and "mignet fit --counts" in page
    assert "+0.500 (z = +8.8)" in page


def test_methods_come_from_the_warehouse(synthetic_report):
    settings, page = synthetic_report
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    first, last = con.execute("select min(move_date), max(move_date) from marts.fct_moves").fetchall()[0]
    con.close()
    assert f"moves dated {first} to {last}" in page
    assert "vintage 2019 (40 municipalities)" in page
    assert "method <code>mean_age_band_year</code>; 375 of\n  3,000 person-years imputed (12.5 %)" in page
    assert "the year after the move (95.0% of moves with an income)" in page
    assert "pre_covid 2018-01-01 to 2019-12-31" in page
    assert "<code>edgecov:distance_10km</code>: edge covariate: straight-line distance" in page
    assert "cert-dyads-1" in page


def test_synthetic_geography_gets_point_maps_and_chosen_scenario_pairs(synthetic_report):
    _, page = synthetic_report
    assert "drawn as points on their centroids" in page
    assert "toward the most populous municipality" in page
    scenario_table = page.split('id="scenarios"')[1].split('id="tables"')[0]
    assert scenario_table.count("<tr>") == 1 + 4  # header + densest, sparsest, nearest, farthest


def test_report_without_model_results_says_which_command_to_run(synthetic_fixture):  # noqa: F811
    con = duckdb.connect(str(synthetic_fixture.warehouse))
    con.execute("drop table results.model_estimates")
    con.close()
    with pytest.raises(ReportInputError, match="mignet fit"):
        write_model_report(synthetic_fixture)


@pytest.mark.slow
def test_real_geography_gets_choropleths_the_study_pairs_and_their_probabilities(real_fixture):  # noqa: F811
    page = _page(real_fixture)
    assert "real 2019 municipalities: polygons from" in page
    assert "The study's pairs" in page
    for name in ("Beveren", "Leuven", "Damme", "Virton", "Mechelen", "Gent"):
        assert f'<td class="label">{name}</td>' in page
    con = duckdb.connect(str(real_fixture.warehouse), read_only=True)
    est = con.execute("select term, estimate from results.model_estimates "
                      "where period_label = 'covid' and group_type = 'all'").fetchall()
    dyads = con.execute(
        "select d.origin_nis, d.density_diff_per_1000, d.distance_10km from marts.mart_network_dyads d "
        "join marts.dim_municipality o on o.nis_code = d.origin_nis "
        "join marts.dim_municipality t on t.nis_code = d.destination_nis "
        "where d.period_label = 'covid' and d.group_type = 'all' and "
        "((o.name_nl = 'Damme' and t.name_nl = 'Gent') or (o.name_nl = 'Gent' and t.name_nl = 'Damme'))"
    ).fetchall()
    origin = [r for r in dyads if r[0] != "44021"][0]
    reverse = [r for r in dyads if r[0] == "44021"][0]
    con.close()
    params = dict(est)

    def eta(row):
        return params["edges"] + params["edgecov:density_diff_per_1000"] * row[1] + params["edgecov:distance_10km"] * row[2]

    # The four states of the pair (y_ij, y_ji), enumerated.
    a, b = eta(origin), eta(reverse)
    weights = {(i, j): math.exp(i * a + j * b + i * j * params["mutual"]) for i in (0, 1) for j in (0, 1)}
    conditional = weights[1, 0] / (weights[0, 0] + weights[1, 0])
    marginal = (weights[1, 0] + weights[1, 1]) / sum(weights.values())
    row = re.search(r'<tr><td class="label">Damme</td><td class="label">Gent</td>(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r"<td>([^<]*)</td>", row)
    # density, distance, then (given no reverse, marginal) for pre_covid, covid, post_covid
    assert cells[4] == f"{conditional:.3g}" and cells[5] == f"{marginal:.3g}"


def test_choose_pairs_on_a_synthetic_geography_names_the_extremes():
    m = pd.DataFrame({
        "nis_code": ["1", "2", "3", "4"], "name_nl": ["Big", "Dense", "Sparse", "Far"],
        "population": [100_000, 5_000, 800, 2_000], "density_per_km2": [2000.0, 9000.0, 20.0, 300.0],
        "centroid_x": [0.0, 1_000.0, 5_000.0, 90_000.0], "centroid_y": [0.0, 0.0, 0.0, 0.0],
    })
    pairs, why = scenarios.choose_pairs(m)
    assert pairs == [("2", "1"), ("3", "1"), ("4", "1")]  # nearest is Dense, already listed
    assert "densest (Dense)" in why and "sparsest (Sparse)" in why and "farthest (Far)" in why
