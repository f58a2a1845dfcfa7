"""Figures of the analysis report: coefficient plots and goodness-of-fit plots.

Every figure is drawn with matplotlib's Agg backend and embedded into the page as a base64 PNG, so the
report is one self-contained file that opens anywhere, offline.
"""

from __future__ import annotations

import base64
import io
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

GROUP_TYPE_TITLES = {"all": "All movers", "age_band": "Age band", "income_group": "Income group"}
# The period palette is colour-blind safe (Okabe-Ito); periods beyond three cycle through it.
PERIOD_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]


def png_data_uri(fig, dpi: int = 110) -> str:
    """Render a matplotlib figure to a `data:image/png;base64,...` URI and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def period_colours(periods: list[str]) -> dict[str, str]:
    return {p: PERIOD_COLOURS[i % len(PERIOD_COLOURS)] for i, p in enumerate(periods)}


def coefficient_plot(
    estimates: pd.DataFrame,
    terms: list[str],
    term_labels: dict[str, str],
    periods: list[str],
    group_order: dict[str, list[str]],
) -> str:
    """Estimate and 95 % interval of each term, by period (colour) and group (x), one row per term and one
    column per group type. Models whose MLE does not exist are drawn as an open marker at zero with no
    interval and named in the legend text, never as a huge number."""
    group_types = [g for g in group_order if g in set(estimates["group_type"])]
    widths = [max(1, len(group_order.get(gt, []))) for gt in group_types]
    fig, axes = plt.subplots(
        len(terms), len(group_types), figsize=(2.2 + 1.25 * sum(widths), 2.9 * len(terms)),
        gridspec_kw={"width_ratios": widths}, squeeze=False, sharey="row",
    )
    colours = period_colours(periods)
    offsets = np.linspace(-0.25, 0.25, len(periods)) if len(periods) > 1 else np.zeros(1)
    for r, term in enumerate(terms):
        rows = estimates[estimates["term"] == term]
        for c, gt in enumerate(group_types):
            ax = axes[r][c]
            values = group_order.get(gt, [])
            for k, period in enumerate(periods):
                sub = rows[(rows["group_type"] == gt) & (rows["period_label"] == period)].set_index("group_value")
                for i, gv in enumerate(values):
                    if gv not in sub.index:
                        continue
                    row = sub.loc[gv]
                    x = i + offsets[k]
                    if not _estimable(row):
                        ax.plot([x], [0.0], marker="o", mfc="white", mec=colours[period], ms=6, ls="none")
                        continue
                    ax.errorbar(
                        [x], [row["estimate"]],
                        yerr=[[row["estimate"] - row["ci_low"]], [row["ci_high"] - row["estimate"]]],
                        fmt="o", color=colours[period], ms=5, capsize=2.5, lw=1.4,
                        label=period if (i == 0 and c == 0 and r == 0) else None,
                    )
            ax.axhline(0.0, color="#555555", lw=0.8, ls="--")
            ax.set_xticks(range(len(values)))
            ax.set_xticklabels(values, rotation=30 if len(values) > 3 else 0, ha="right" if len(values) > 3 else "center")
            ax.set_xlim(-0.6, len(values) - 0.4)
            ax.grid(axis="y", color="#dddddd", lw=0.6)
            if r == 0:
                ax.set_title(GROUP_TYPE_TITLES.get(gt, gt), fontsize=11)
            if c == 0:
                ax.set_ylabel(f"{term_labels.get(term, term)}\nlog odds (95 % CI)", fontsize=9)
    handles = [
        plt.Line2D([], [], color=colours[p], marker="o", ls="-", label=p.replace("_", " ")) for p in periods
    ]
    handles.append(plt.Line2D([], [], color="#777777", marker="o", mfc="white", ls="none", label="MLE does not exist"))
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), frameon=False, bbox_to_anchor=(0.5, 1.02))
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return png_data_uri(fig)


def _estimable(row) -> bool:
    exists = row.get("mle_exists", True)
    if exists is None or (isinstance(exists, float) and math.isnan(exists)):
        exists = True
    values = [row.get("estimate"), row.get("ci_low"), row.get("ci_high")]
    return bool(exists) and all(v is not None and np.isfinite(v) for v in values)


def gof_summary_plot(gof: pd.DataFrame, periods: list[str], group_labels: list[tuple[str, str]]) -> list[dict]:
    """One figure per scalar goodness-of-fit statistic: observed value (cross) against the simulated
    mean and 95 % band, for every network. Returns [{"statistic", "img"}]."""
    figures = []
    colours = period_colours(periods)
    for statistic, rows in gof.groupby("statistic", sort=True):
        fig, ax = plt.subplots(figsize=(10.5, 3.2))
        labels = []
        for i, (gt, gv) in enumerate(group_labels):
            labels.append("all" if gt == "all" else gv)
            for k, period in enumerate(periods):
                sub = rows[(rows["group_type"] == gt) & (rows["group_value"] == gv) & (rows["period_label"] == period)]
                if sub.empty:
                    continue
                row = sub.iloc[0]
                x = i + (k - (len(periods) - 1) / 2) * 0.22
                ax.vlines(x, row["sim_low"], row["sim_high"], color=colours[period], lw=5, alpha=0.35)
                ax.plot([x], [row["sim_mean"]], marker="_", color=colours[period], ms=12, mew=2)
                ax.plot([x], [row["observed"]], marker="x", color="black", ms=6, mew=1.6)
        ax.set_xticks(range(len(group_labels)))
        ax.set_xticklabels(labels, rotation=20, ha="right")
        ax.set_title(statistic.replace("_", " "), fontsize=11)
        ax.grid(axis="y", color="#dddddd", lw=0.6)
        handles = [plt.Line2D([], [], color=colours[p], lw=5, alpha=0.5, label=f"{p.replace('_', ' ')}: simulated 95 % band, mean") for p in periods]
        handles.append(plt.Line2D([], [], color="black", marker="x", ls="none", label="observed"))
        ax.legend(handles=handles, fontsize=8, ncol=len(handles), loc="upper center", bbox_to_anchor=(0.5, -0.28), frameon=False)
        fig.tight_layout()
        figures.append({"statistic": statistic, "img": png_data_uri(fig)})
    return figures


def gof_distribution_plot(dist: pd.DataFrame, statistic: str, periods: list[str]) -> str:
    """Observed distribution (line) against the simulated 95 % band, one panel per period, for the
    group `all`: e.g. the in-degree distribution."""
    fig, axes = plt.subplots(1, len(periods), figsize=(3.6 * len(periods), 2.8), squeeze=False, sharey=True)
    colours = period_colours(periods)
    for k, period in enumerate(periods):
        ax = axes[0][k]
        sub = dist[dist["period_label"] == period].sort_values("value")
        if sub.empty:
            ax.set_visible(False)
            continue
        ax.fill_between(sub["value"], sub["sim_low"], sub["sim_high"], color=colours[period], alpha=0.3, step="mid", label="simulated 95 %")
        ax.plot(sub["value"], sub["sim_mean"], color=colours[period], lw=1.2, drawstyle="steps-mid", label="simulated mean")
        ax.plot(sub["value"], sub["observed"], color="black", lw=1.2, marker=".", ms=3, label="observed")
        ax.set_title(period.replace("_", " "), fontsize=10)
        ax.set_xlabel(statistic.replace("_", " "), fontsize=9)
        ax.grid(color="#eeeeee", lw=0.6)
    axes[0][0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return png_data_uri(fig)
