"""The analysis report `reports/models/index.html`: one self-contained page that answers the study's
question at a glance (did people leave dense areas during Covid-19, and for whom?) and then gives the
tables, scenario probabilities, maps, goodness of fit and a methods section taken from the run itself.
"""

from __future__ import annotations

import html
import math
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from mignet.network.counts import COUNT_SPECS, MAIN_SPEC
from mignet.network.pooled import COUNT_EFFECTS, ERGM_EFFECTS, ERGM_MODEL
from mignet.network.scenario import tie_probabilities
from mignet.report import PAGES, figures, maps, write_page
from mignet.report.data import ReportInputs, load_report_inputs
from mignet.settings import Settings

TEMPLATES = Path(__file__).with_name("templates")
# Units of the dyad covariates, by the column naming of docs/design.md (mart_network_dyads).
COVARIATES = {
    "density_diff_per_1000": (
        "Density difference",
        "population density of the origin minus that of the destination, in 1,000 inhabitants per km², "
        "densities of the period's first year",
    ),
    "distance_10km": ("Distance", "straight-line distance between the municipalities' centroids, in units of 10 km"),
    "distance_km": ("Distance", "straight-line distance between the municipalities' centroids, in km"),
}
# The count models' terms, for labels: (label, unit of the coefficient)
COUNT_TERMS = {
    "density_diff_per_1000": ("Density difference", "log rate per 1,000 inhabitants/km² (origin minus destination)"),
    "log_distance_km": ("Distance", "elasticity: % change in moves per 1 % more distance"),
    "log_population_destination": ("Destination population", "elasticity"),
    "log_population_origin": ("Origin population", "elasticity"),
}
BINARY_UNITS = {"density": "log odds per 1,000 inhabitants/km² (origin minus destination)",
                "distance": "log odds per 10 km"}
SPEC_LABELS = {
    "ppml_origin_fe": "Poisson PML, origin fixed effects",
    "ppml_node_covariates": "Poisson PML, node covariates",
    "negbin_node_covariates": "negative binomial, node covariates",
}
ALPHA = 0.05
# the pages of the other two studies, linked from this one's header
OTHER_PAGES = {"income_positions": "income positions in domestic migration (the second study)",
               "arrivals": "arrival neighbourhoods (the third study)"}
STRUCTURAL_TERMS = {
    "edges": ("Edges", "the baseline log odds of a tie (the network's density)"),
    "mutual": ("Mutual", "the extra log odds of a tie i→j when j→i is also present (reciprocity)"),
}


def term_label(term: str) -> str:
    if term in STRUCTURAL_TERMS:
        return STRUCTURAL_TERMS[term][0]
    kind, _, column = term.partition(":")
    if column in COVARIATES:
        return COVARIATES[column][0]
    return f"{column or term} ({kind})" if column else term


def term_description(term: str) -> str:
    if term in STRUCTURAL_TERMS:
        return STRUCTURAL_TERMS[term][1]
    kind, _, column = term.partition(":")
    what = COVARIATES.get(column, (None, f"the dyad column `{column}`"))[1]
    return {"edgecov": "edge covariate: ", "sender": "sender effect of ", "receiver": "receiver effect of "}.get(kind, "") + what


def _periods(inputs: ReportInputs) -> list[str]:
    seeded = [p for p in inputs.periods["period_label"].tolist()]
    present = list(dict.fromkeys(inputs.estimates["period_label"]))
    return [p for p in seeded if p in present] + [p for p in present if p not in seeded]


def _group_order(inputs: ReportInputs) -> dict[str, list[str]]:
    """Group values per group type in the order of dim_network (the seeds' order), for the groups fitted."""
    fitted = set(zip(inputs.estimates["group_type"], inputs.estimates["group_value"]))
    networks = inputs.networks.sort_values("network_id")
    order: dict[str, list[str]] = {}
    for group_type in dict.fromkeys(networks["group_type"].astype(str)):
        rows = networks[networks["group_type"] == group_type].sort_values(["group_order", "network_id"])
        values = [v for v in dict.fromkeys(rows["group_value"].astype(str)) if (group_type, v) in fitted]
        if values:
            order[group_type] = values
    return order


def _covariate_terms(estimates: pd.DataFrame) -> list[str]:
    terms = list(dict.fromkeys(estimates["term"]))
    covariates = [t for t in terms if t not in STRUCTURAL_TERMS]
    density = [t for t in covariates if "density" in t]
    return density + [t for t in covariates if t not in density]


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    return f"{float(value):.{digits}f}"


def _day(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "?"
    return str(pd.Timestamp(value).date())


def _estimable(row) -> bool:
    exists = row.get("mle_exists", True)
    if exists is None or (isinstance(exists, float) and math.isnan(exists)):
        exists = True
    return bool(exists) and row.get("estimate") is not None and math.isfinite(float(row.get("estimate")))


def study_tables(inputs: ReportInputs, periods: list[str], group_order: dict[str, list[str]]) -> list[dict]:
    """The study's appendix tables: per group, for each period log odds with stars, s.e. and odds ratio,
    and the size of each network."""
    est = inputs.estimates
    terms = list(dict.fromkeys(est["term"]))
    structural = [t for t in ("edges", "mutual") if t in terms]
    terms = structural + [t for t in terms if t not in structural]
    tables = []
    for gt in group_order:
        for gv in group_order[gt]:
            rows = est[(est["group_type"] == gt) & (est["group_value"] == gv)]
            body = []
            for term in terms:
                cells = []
                for period in periods:
                    hit = rows[(rows["term"] == term) & (rows["period_label"] == period)]
                    if hit.empty:
                        cells.append({"estimate": "–", "se": "–", "or": "–", "note": "not fitted"})
                        continue
                    r = hit.iloc[0]
                    if not _estimable(r):
                        cells.append({"estimate": "MLE does not exist", "se": "–", "or": "–", "note": ""})
                        continue
                    stars = r.get("stars") or ""
                    cells.append({
                        "estimate": f"{_fmt(r['estimate'])}{stars if isinstance(stars, str) else ''}",
                        "se": _fmt(r.get("std_error")),
                        "or": _fmt(r.get("odds_ratio")),
                        "note": "",
                    })
                body.append({"term": term_label(term), "code": term, "cells": cells})
            footer = []
            for label, column, digits in (("nodes", "n_nodes", 0), ("ties", "n_ties", 0),
                                          ("mutual pairs", "n_mutual_pairs", 0), ("log-likelihood", "loglik", 1)):
                if column not in rows.columns:
                    continue
                values = []
                for period in periods:
                    hit = rows[rows["period_label"] == period]
                    v = hit[column].iloc[0] if not hit.empty else None
                    values.append("–" if v is None or pd.isna(v) else (f"{int(v):,}" if digits == 0 else f"{float(v):,.{digits}f}"))
                footer.append({"label": label, "cells": values})
            not_converged = [p for p in periods
                             if "converged" in rows.columns and not rows[rows["period_label"] == p].empty
                             and not bool(rows[rows["period_label"] == p]["converged"].iloc[0])]
            tables.append({
                "title": "All movers" if gt == "all" else f"{figures.GROUP_TYPE_TITLES.get(gt, gt)} {gv}",
                "anchor": f"table-{gt}-{gv}".replace("_", "-"),
                "rows": body, "footer": footer, "not_converged": not_converged,
            })
    return tables


def _pooled_lookup(inputs: ReportInputs) -> dict:
    """{(model, group_type, group_value, effect, period_from, period_to or None): test row} of the pooled
    tests; the joint test ("all periods equal") under period_to None."""
    tests = inputs.change_tests
    if tests is None or tests.empty:
        return {}
    out = {}
    for r in tests.to_dict("records"):
        joint = r["contrast"] == "all periods equal"
        out[(r["model"], r["group_type"], r["group_value"], r["effect"], r["period_from"],
             None if joint else r["period_to"])] = r
    return out


def _change_cell(row: dict | None) -> dict:
    if row is None or row.get("z") is None or not math.isfinite(float(row["z"])):
        return {"text": "–", "significant": False, "direction": "", "z": None, "p": None}
    diff, z, p = float(row["difference"]), float(row["z"]), float(row["p_value"])
    return {"text": f"{diff:+.3f} (z = {z:+.1f})", "significant": bool(p < ALPHA),
            "direction": "up" if diff > 0 else "down", "z": z, "p": p, "diff": diff}


def findings(inputs: ReportInputs, periods: list[str], group_order: dict[str, list[str]], term: str) -> dict:
    """Change of one term between consecutive periods for every group. With the pooled tests
    (results.period_change_tests) the change, its z and the summaries come from the stacked ERGM's
    pair-clustered Wald test, and the count model's pooled test and the naive z that treats the periods as
    independent stand beside it; without them only the naive z (labelled so)."""
    est = inputs.estimates[inputs.estimates["term"] == term]
    pairs = list(zip(periods, periods[1:]))
    effect = next((e for e, t in ERGM_EFFECTS.items() if t == term), None)
    pooled = _pooled_lookup(inputs) if effect else {}
    has_pooled = bool(pooled)
    rows = []
    for gt in group_order:
        for gv in group_order[gt]:
            sub = est[(est["group_type"] == gt) & (est["group_value"] == gv)].set_index("period_label")
            cells = []
            for period in periods:
                cells.append(_fmt(sub.loc[period, "estimate"]) + (sub.loc[period, "stars"] or "")
                             if period in sub.index and _estimable(sub.loc[period]) else "–")
            changes = []
            for a, b in pairs:
                if a in sub.index and b in sub.index and _estimable(sub.loc[a]) and _estimable(sub.loc[b]):
                    diff = float(sub.loc[b, "estimate"] - sub.loc[a, "estimate"])
                    se = math.hypot(float(sub.loc[a, "std_error"]), float(sub.loc[b, "std_error"]))
                    z = diff / se if se > 0 else float("nan")
                    naive = {"diff": diff, "z": z, "text": f"{diff:+.3f} (z = {z:+.1f})",
                             "significant": bool(abs(z) >= 1.96), "direction": "up" if diff > 0 else "down"}
                else:
                    naive = {"diff": None, "z": None, "text": "–", "significant": False, "direction": ""}
                change = dict(naive)
                change["naive"] = naive
                if has_pooled:
                    test = _change_cell(pooled.get((ERGM_MODEL, gt, gv, effect, a, b)))
                    change.update({k: test[k] for k in ("text", "significant", "direction")})
                    change["count"] = _change_cell(pooled.get((MAIN_SPEC, gt, gv, effect, a, b)))
                changes.append(change)
            joint = {}
            if has_pooled and len(periods) > 2:
                for model in (ERGM_MODEL, MAIN_SPEC):
                    r = pooled.get((model, gt, gv, effect, periods[0], None))
                    joint[model] = (f"{float(r['p_value']):.3g}" if r is not None and r.get("p_value") is not None
                                    and math.isfinite(float(r["p_value"])) else "–")
            rows.append({"group": "all movers" if gt == "all" else gv, "group_type": gt, "cells": cells,
                         "changes": changes, "joint": joint})
    summaries = []
    for k, (a, b) in enumerate(pairs):
        up = [r["group"] for r in rows if r["changes"][k]["significant"] and r["changes"][k]["direction"] == "up"]
        down = [r["group"] for r in rows if r["changes"][k]["significant"] and r["changes"][k]["direction"] == "down"]
        summary = {"from": a, "to": b, "up": up, "down": down}
        if has_pooled:
            # where the naive comparison and the pooled test reach different verdicts
            summary["naive_only"] = [r["group"] for r in rows if r["changes"][k]["naive"]["significant"]
                                     and not r["changes"][k]["significant"]]
            summary["pooled_only"] = [r["group"] for r in rows if r["changes"][k]["significant"]
                                      and not r["changes"][k]["naive"]["significant"]]
        summaries.append(summary)
    return {"term": term, "label": term_label(term), "periods": periods, "pairs": pairs, "rows": rows,
            "summaries": summaries, "pooled": has_pooled, "effect": effect,
            "count_model": SPEC_LABELS.get(MAIN_SPEC, MAIN_SPEC)}


def _significance(estimate, p) -> tuple[bool, int]:
    ok = estimate is not None and p is not None and math.isfinite(float(estimate)) and math.isfinite(float(p))
    return (bool(ok and float(p) < ALPHA), (1 if float(estimate) > 0 else -1) if ok else 0)


def agreement(binary: tuple, count: tuple) -> tuple[str, str]:
    """(verdict, css class) of two models' conclusions about one effect, each (estimate, p-value): they agree
    when both find it significant with the same sign or neither finds it significant; "sign differs" when both
    find it significant with opposite signs; otherwise one model alone finds it."""
    (b_sig, b_sign), (c_sig, c_sign) = _significance(*binary), _significance(*count)
    if binary[0] is None or count[0] is None or not b_sign or not c_sign:
        return "–", ""
    if b_sig and c_sig:
        return ("agree", "") if b_sign == c_sign else ("sign differs", "disagree")
    if not b_sig and not c_sig:
        return "agree (neither significant)", ""
    return ("significant in the binary model only" if b_sig else "significant in the count model only"), "partial"


def comparison_tables(inputs: ReportInputs, periods: list[str], group_order: dict[str, list[str]]) -> dict:
    """Per group and period, what the binary ERGM and the main count model conclude about the density and
    distance effects (sign, size, significance), with a verdict, and whether the alternative count models
    reach the count model's conclusion."""
    counts = inputs.counts
    if counts is None or counts.empty:
        return {"available": False, "groups": [], "n_disagree": 0, "n_partial": 0, "n_cells": 0}
    est = inputs.estimates
    binary = {(r["period_label"], r["group_type"], r["group_value"], r["term"]): r for r in est.to_dict("records")}
    count = {(r["model"], r["period_label"], r["group_type"], r["group_value"], r["term"]): r
             for r in counts.to_dict("records")}
    alternatives = [m for m in dict.fromkeys(counts["model"]) if m != MAIN_SPEC]
    groups, n_disagree, n_partial, n_cells = [], 0, 0, 0
    for gt in group_order:
        for gv in group_order[gt]:
            rows = []
            for period in periods:
                cells = []
                for effect, ergm_term in ERGM_EFFECTS.items():
                    count_term = COUNT_EFFECTS[effect]
                    b = binary.get((period, gt, gv, ergm_term))
                    c = count.get((MAIN_SPEC, period, gt, gv, count_term))
                    b_pair = (b["estimate"], b["p_value"]) if b is not None and _estimable(b) else (None, None)
                    c_pair = (c["estimate"], c["p_value"]) if c is not None else (None, None)
                    verdict, css = agreement(b_pair, c_pair)
                    n_cells += verdict != "–"
                    n_disagree += css == "disagree"
                    n_partial += css == "partial"
                    others = []
                    for alt in alternatives:
                        a = count.get((alt, period, gt, gv, count_term))
                        if a is None:
                            continue
                        verdict_alt, css_alt = agreement(c_pair, (a["estimate"], a["p_value"]))
                        if verdict_alt == "–":
                            continue
                        text = {"": "agrees", "disagree": "sign differs"}.get(css_alt) or (
                            "not significant" if _significance(*c_pair)[0] else "significant")
                        others.append(f"{SPEC_LABELS.get(alt, alt)}: {text}")
                    cells.append({
                        "binary": (_fmt(b["estimate"]) + (b.get("stars") or "")) if b_pair[0] is not None else "–",
                        "binary_ratio": _fmt(b.get("odds_ratio")) if b_pair[0] is not None else "–",
                        "count": (_fmt(c["estimate"]) + (c.get("stars") or "")) if c is not None else "–",
                        "count_se": _fmt(c.get("std_error")) if c is not None else "–",
                        "verdict": verdict, "css": css, "alternatives": "; ".join(others),
                    })
                rows.append({"period": period, "cells": cells})
            groups.append({"title": "All movers" if gt == "all" else f"{figures.GROUP_TYPE_TITLES.get(gt, gt)} {gv}",
                           "rows": rows})
    return {"available": True, "groups": groups, "n_disagree": n_disagree, "n_partial": n_partial, "n_cells": n_cells,
            "effects": [{"effect": e, "label": term_label(t), "count_unit": COUNT_TERMS[COUNT_EFFECTS[e]][1],
                         "binary_unit": BINARY_UNITS.get(e, term_description(t))} for e, t in ERGM_EFFECTS.items()],
            "count_model": SPEC_LABELS.get(MAIN_SPEC, MAIN_SPEC), "count_formula": COUNT_SPECS[MAIN_SPEC].formula,
            "alternatives": [SPEC_LABELS.get(a, a) for a in alternatives],
            "n_clusters": int(counts["n_clusters"].max()) if "n_clusters" in counts.columns and len(counts) else None}


def methods(inputs: ReportInputs, periods: list[str]) -> dict:
    facts, state = inputs.facts, (inputs.run_state.get("run") or {})
    applied_vars = dict(inputs.build.vars)  # the vars the build recorded, --vars overrides included
    est = inputs.estimates
    period_rows = []
    for _, r in inputs.periods.iterrows():
        period_rows.append({"label": r["period_label"], "start": _day(r.get("start_date")), "end": _day(r.get("end_date"))})
    offsets = facts.get("income_year_offsets") or []
    offset_text = None
    if offsets:
        total = sum(n for _, n in offsets)
        main_offset, main_n = offsets[0]
        which = {0: "the year of the move", 1: "the year after the move", -1: "the year before the move"}.get(
            main_offset, f"{main_offset:+d} years from the move")
        offset_text = f"{which} ({main_n / total:.1%} of moves with an income)"
    imputation = facts.get("imputation") or []
    terms = list(dict.fromkeys(est["term"]))
    methods_used = sorted(set(est["method"].dropna())) if "method" in est.columns else []
    cert_ids = sorted(set(est["certification_id"].dropna())) if "certification_id" in est.columns else []
    fitted = est["fitted_at"].dropna() if "fitted_at" in est.columns else pd.Series(dtype=object)
    return {
        "first_move": facts.get("first_move"), "last_move": facts.get("last_move"),
        "n_moves": facts.get("n_moves"), "n_inter_municipal": facts.get("n_inter_municipal"),
        "n_became_intra": facts.get("n_became_intra"), "n_code_remapped": facts.get("n_code_remapped"),
        "vintages": facts.get("vintages") or [], "n_municipalities": facts.get("n_municipalities"),
        "imputation": [{"method": m, "n": n, "n_imputed": k, "share": (k / n if n else 0.0)} for m, n, k in imputation],
        "income_years": facts.get("income_years"),
        "income_year_text": offset_text,
        "distance_sources": facts.get("distance_sources") or [],
        "periods": period_rows,
        "terms": [{"code": t, "label": term_label(t), "description": term_description(t)} for t in terms],
        "fit_methods": methods_used,
        "certification_ids": cert_ids,
        "fitted_at": str(fitted.max()) if len(fitted) else None,
        "min_moves": applied_vars.get("min_moves"),
        "vars": {k: v for k, v in applied_vars.items() if k != "raw_tables"},
        "build_id": inputs.build.build_id,
        "run_state": state,
        "n_networks": est.groupby(["period_label", "group_type", "group_value"]).ngroups,
    }


def gof_section(inputs: ReportInputs, periods: list[str], group_order: dict[str, list[str]]) -> dict:
    gof = inputs.gof
    if gof is None or gof.empty:
        return {"available": False, "figures": []}
    labels = [(gt, gv) for gt in group_order for gv in group_order[gt]]
    scalar = gof[gof["value"].isna()] if "value" in gof.columns else gof
    out = figures.gof_summary_plot(scalar, periods, labels) if not scalar.empty else []
    if "value" in gof.columns:
        dist = gof[gof["value"].notna() & (gof["group_type"] == "all")]
        for statistic, rows in dist.groupby("statistic", sort=True):
            out.append({"statistic": f"{statistic} (all movers)", "img": figures.gof_distribution_plot(rows, statistic, periods)})
    return {"available": True, "figures": out}


def scenario_section(inputs: ReportInputs, periods: list[str]) -> dict:
    """Tie probabilities of the scenario pairs under each period's model for all movers."""
    section = {"rows": [], "periods": [], "why": inputs.scenario_why, "group_note": ""}
    dyads = inputs.scenario_dyads
    if not inputs.scenario_pairs or dyads is None or dyads.empty:
        section["why"] = (inputs.scenario_why + " " if inputs.scenario_why else "") + (
            "No dyad rows for these pairs in marts.mart_network_dyads, so no probabilities.")
        return section
    est = inputs.estimates[inputs.estimates["group_type"] == "all"]
    names = dict(zip(inputs.municipalities["nis_code"].astype(str), inputs.municipalities["name_nl"]))
    usable = []
    for period in periods:
        rows = est[est["period_label"] == period]
        if not rows.empty and all(_estimable(r) for _, r in rows.iterrows()):
            usable.append((period, dict(zip(rows["term"], rows["estimate"].astype(float)))))
    section["periods"] = [p for p, _ in usable]
    keyed = dyads.set_index(["period_label", "origin_nis", "destination_nis"])
    for origin, destination in inputs.scenario_pairs:
        cells, density, distance = [], "–", "–"
        for period, params in usable:
            try:
                forward = keyed.loc[(period, origin, destination)]
                reverse = keyed.loc[(period, destination, origin)]
            except KeyError:
                cells.append({"conditional": "–", "marginal": "–"})
                continue
            probabilities = tie_probabilities(params, forward, reverse)
            cells.append({"conditional": f"{probabilities['p_given_no_reverse']:.3g}",
                          "marginal": f"{probabilities['p_marginal']:.3g}"})
            density = _fmt(forward.get("density_diff_per_1000"), 2)
            distance = f"{float(forward['distance_km']):.0f} km" if "distance_km" in forward else "–"
        section["rows"].append({"origin": names.get(origin, origin), "destination": names.get(destination, destination),
                                "density": density, "distance": distance, "cells": cells})
    return section


def render(inputs: ReportInputs, settings: Settings) -> str:
    periods = _periods(inputs)
    group_order = _group_order(inputs)
    cov_terms = _covariate_terms(inputs.estimates)
    coef_img = figures.coefficient_plot(
        inputs.estimates, cov_terms, {t: term_label(t) for t in cov_terms}, periods, group_order
    )
    geometry = maps.choose_geometry(inputs.municipalities, settings.reference_dir)
    map_figures = []
    change_from, change_to = (periods[0], periods[1]) if len(periods) > 1 else (None, None)
    for gt in ("age_band", "income_group"):
        # The maps show the groups that have networks (not `other` ages nor `unknown` incomes).
        values = [v for v in group_order.get(gt, []) if v in set(inputs.shares["group_value"])]
        if not values:
            continue
        map_figures.append({
            "title": figures.GROUP_TYPE_TITLES[gt],
            "img": maps.share_maps(inputs.shares, inputs.municipalities, gt, values, periods, geometry,
                                   change_from, change_to),
        })
    density_terms = [t for t in cov_terms if "density" in t]
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "j2"]))
    template = env.get_template("models.html.j2")
    return template.render(
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        periods=periods,
        coef_img=coef_img,
        cov_terms=[{"code": t, "label": term_label(t), "description": term_description(t)} for t in cov_terms],
        findings=[findings(inputs, periods, group_order, t) for t in density_terms + [t for t in cov_terms if t not in density_terms]],
        comparison=comparison_tables(inputs, periods, group_order),
        scenarios=scenario_section(inputs, periods),
        tables=study_tables(inputs, periods, group_order),
        maps=map_figures, geometry=geometry,
        gof=gof_section(inputs, periods, group_order),
        methods=methods(inputs, periods),
        certifications=(inputs.certifications.to_dict("records") if inputs.certifications is not None else []),
        quality_report=os.path.relpath(settings.reports_dir / "quality" / "index.html", settings.reports_dir / "models"),
        other_pages=[{"title": title, "what": OTHER_PAGES[name],
                      "href": os.path.relpath(settings.reports_dir / name / "index.html", settings.reports_dir / "models")}
                     for name, title in PAGES.items() if name in OTHER_PAGES],
        esc=html.escape,
    )


def write_model_report(settings: Settings) -> Path:
    """Write `reports/models/index.html` from the warehouse and return its path."""
    inputs = load_report_inputs(settings)
    page = render(inputs, settings)
    return write_page(settings.reports_dir / "models", page)
