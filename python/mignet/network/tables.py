"""The study's appendix tables: per group of movers, for each period the log odds with significance
stars, the standard error and the odds ratio of every term; as Markdown, CSV and HTML."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

TERM_LABELS = {
    "edges": "Edges (baseline log odds of a tie)",
    "mutual": "Mutual (reciprocity)",
    "edgecov:density_diff_per_1000": "Density difference (origin - destination, per 1000 inhabitants/km²)",
    "edgecov:distance_10km": "Distance (per 10 km)",
}
GROUP_TITLES = {"all": "All movers", "age_band": "Age band", "income_group": "Income group"}
STARS_NOTE = "*** p < 0.001, ** p < 0.01, * p < 0.05 (two-sided Wald tests)."


def term_label(term: str) -> str:
    return TERM_LABELS.get(term, term)


def group_title(group_type: str, group_value: str) -> str:
    return GROUP_TITLES["all"] if group_type == "all" else f"{GROUP_TITLES.get(group_type, group_type)} {group_value}"


def _num(v: float, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "n.i."  # not identified (MLE does not exist along a combination of terms)
    if np.isinf(v):
        return "+inf" if v > 0 else "-inf"
    return f"{v:.{digits}f}"


def period_titles(catalogue: pd.DataFrame) -> dict[str, str]:
    """Period label -> "label (first year-last year)", in the order of the networks (dim_network)."""
    first = catalogue.sort_values("network_id").drop_duplicates("period_label")
    out = {}
    for _, r in first.iterrows():
        start, end = pd.Timestamp(r["period_start"]).year, pd.Timestamp(r["period_end"]).year
        out[str(r["period_label"])] = f"{r['period_label']} ({start}{'' if start == end else f'-{end}'})"
    return out


def group_table(est: pd.DataFrame, titles: dict[str, str]) -> pd.DataFrame:
    """Rows = terms, columns = (period, log odds | std error | odds ratio), formatted strings."""
    periods = [p for p in titles if p in set(est["period_label"])] + sorted(set(est["period_label"]) - set(titles))
    terms = list(dict.fromkeys(est["term"]))
    cols = pd.MultiIndex.from_product([periods, ["log odds", "std error", "odds ratio"]])
    out = pd.DataFrame(index=[term_label(t) for t in terms], columns=cols, dtype=object)
    for _, r in est.iterrows():
        label = term_label(r["term"])
        out.loc[label, (r["period_label"], "log odds")] = _num(r["estimate"]) + (r["stars"] or "")
        out.loc[label, (r["period_label"], "std error")] = _num(r["std_error"])
        out.loc[label, (r["period_label"], "odds ratio")] = _num(r["odds_ratio"])
    return out.fillna("")


def _footer(est: pd.DataFrame, titles: dict[str, str]) -> list[str]:
    lines = [STARS_NOTE]
    meta = est.drop_duplicates("period_label").set_index("period_label")
    for period, r in meta.iterrows():
        lines.append(f"{titles.get(period, period)}: {int(r['n_nodes'])} municipalities, {int(r['n_ties'])} ties, "
                     f"{int(r['n_mutual_pairs'])} mutual pairs, log-likelihood {r['loglik']:.1f}"
                     + ("" if r["mle_exists"] else " - MLE does not exist; +-inf terms diverge, others from the limiting model"))
    methods = sorted(set(est["method"]))
    lines.append("Method: " + ", ".join("exact maximum likelihood" if m == "mle" else "maximum pseudo-likelihood (ergm MPLE)"
                                        for m in methods) + f"; input certification {', '.join(sorted(set(map(str, est['certification_id']))))}.")
    return lines


def to_markdown(title: str, table: pd.DataFrame, footer: list[str], titles: dict[str, str]) -> str:
    periods = list(dict.fromkeys(table.columns.get_level_values(0)))
    head1 = "| Term | " + " | ".join(f"{titles.get(p, p)} {stat}" for p in periods for stat in ("log odds", "std error", "odds ratio")) + " |"
    sep = "|---|" + "---:|" * (3 * len(periods))
    rows = [f"| {idx} | " + " | ".join(str(v) for v in row) + " |" for idx, row in zip(table.index, table.to_numpy())]
    return "\n".join([f"### {title}", "", head1, sep, *rows, "", *[f"{line}  " for line in footer], ""])


def to_html(title: str, table: pd.DataFrame, footer: list[str], titles: dict[str, str]) -> str:
    periods = list(dict.fromkeys(table.columns.get_level_values(0)))
    e = html.escape
    top = "<tr><th rowspan='2'>Term</th>" + "".join(f"<th colspan='3'>{e(titles.get(p, p))}</th>" for p in periods) + "</tr>"
    sub = "<tr>" + "<th>log odds</th><th>std error</th><th>odds ratio</th>" * len(periods) + "</tr>"
    body = "".join("<tr><th>" + e(str(idx)) + "</th>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>"
                   for idx, row in zip(table.index, table.to_numpy()))
    notes = "".join(f"<p class='note'>{e(line)}</p>" for line in footer)
    return f"<h3>{e(title)}</h3><table class='ergm'><thead>{top}{sub}</thead><tbody>{body}</tbody></table>{notes}"


def write_tables(estimates: pd.DataFrame, catalogue: pd.DataFrame, folder: Path) -> list[Path]:
    """One Markdown, CSV and HTML file per group, plus appendix.md / appendix.html with all groups, in the
    order of the networks (catalogue: dim_network)."""
    titles = period_titles(catalogue)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written, md_parts, html_parts = [], ["# Appendix: ERGM estimates per group of movers", ""], []
    # groups in the order of dim_network (all movers, then the age bands, then the income groups)
    ordered = catalogue.sort_values("network_id")
    keys = list(dict.fromkeys(zip(ordered["group_type"], ordered["group_value"])))
    keys = [k for k in keys if ((estimates["group_type"] == k[0]) & (estimates["group_value"] == k[1])).any()]
    for group_type, group_value in keys:
        est = estimates[(estimates["group_type"] == group_type) & (estimates["group_value"] == group_value)]
        title = group_title(group_type, group_value)
        table = group_table(est, titles)
        footer = _footer(est, titles)
        stem = "all" if group_type == "all" else f"{group_type}_{group_value}"
        md = to_markdown(title, table, footer, titles)
        page = to_html(title, table, footer, titles)
        (folder / f"{stem}.md").write_text(md, encoding="utf-8")
        (folder / f"{stem}.html").write_text(_page(title, page), encoding="utf-8")
        flat = table.copy()
        flat.columns = [f"{p} {s}" for p, s in flat.columns]
        flat.index.name = "term"
        flat.to_csv(folder / f"{stem}.csv", encoding="utf-8")
        written += [folder / f"{stem}.{ext}" for ext in ("md", "html", "csv")]
        md_parts.append(md)
        html_parts.append(page)
    (folder / "appendix.md").write_text("\n".join(md_parts), encoding="utf-8")
    (folder / "appendix.html").write_text(_page("Appendix: ERGM estimates", "".join(html_parts)), encoding="utf-8")
    estimates.to_csv(folder / "estimates_long.csv", index=False, encoding="utf-8")
    return written + [folder / "appendix.md", folder / "appendix.html", folder / "estimates_long.csv"]


def _page(title: str, body: str) -> str:
    style = ("body{font-family:sans-serif;margin:2em}table.ergm{border-collapse:collapse;margin:1em 0}"
             "table.ergm td,table.ergm th{border:1px solid #ccc;padding:3px 8px}table.ergm td{text-align:right}"
             ".note{font-size:90%;color:#444;margin:0.2em 0}")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{body}</body></html>")
