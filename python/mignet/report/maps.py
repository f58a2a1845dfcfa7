"""Maps of destination shares per group: choropleths on the real municipality polygons when the run's
geography is the real Belgian one, point maps on the warehouse's centroids otherwise.

The polygons are read from the reference folder (`settings.reference_dir`,
`municipalities_2019_polygons_wgs84.geojson`); they are never copied into the repository or the report
folder, only drawn into the embedded images.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.colors import Normalize, TwoSlopeNorm  # noqa: E402

from mignet.report.figures import png_data_uri  # noqa: E402

POLYGONS_FILE = "municipalities_2019_polygons_wgs84.geojson"
# The polygons are of the 2019 boundaries; names must agree for most codes before we call a geography real
# (the synthetic geography reuses real NIS codes of the code changes, with invented names).
REAL_NAME_AGREEMENT = 0.9


@dataclass(frozen=True)
class Geometry:
    """How the maps are drawn: `kind` is "choropleth" or "points"; `reason` says why, for the report."""

    kind: str
    reason: str
    polygons: dict[str, list[np.ndarray]] | None = None  # nis_code -> rings (lon, lat)


def load_polygons(path: Path) -> tuple[dict[str, list[np.ndarray]], dict[str, str]]:
    """nis_code -> list of exterior rings as (n, 2) arrays of lon/lat; and nis_code -> name_nl."""
    with open(path, encoding="utf-8") as fh:
        collection = json.load(fh)
    polygons: dict[str, list[np.ndarray]] = {}
    names: dict[str, str] = {}
    for i, feature in enumerate(collection.get("features", [])):
        props = feature.get("properties") or {}
        code = props.get("nis_code")
        geom = feature.get("geometry") or {}
        if code is None:
            raise ValueError(f"{path}: feature {i} has no properties.nis_code")
        if geom.get("type") == "Polygon":
            parts = [geom["coordinates"]]
        elif geom.get("type") == "MultiPolygon":
            parts = geom["coordinates"]
        else:
            raise ValueError(f"{path}: feature {i} (nis_code {code}) has geometry type {geom.get('type')!r}")
        polygons[str(code)] = [np.asarray(part[0], dtype=float) for part in parts]
        names[str(code)] = props.get("name_nl") or ""
    return polygons, names


def choose_geometry(municipalities: pd.DataFrame, reference_dir: Path) -> Geometry:
    """Choropleth when every municipality of the warehouse has a polygon whose name agrees (real
    geography), point map on centroids otherwise."""
    path = Path(reference_dir) / POLYGONS_FILE
    if not path.is_file():
        return Geometry("points", f"no polygon file {path}; municipalities drawn as points on their centroids")
    polygons, names = load_polygons(path)
    codes = municipalities["nis_code"].astype(str)
    missing = sorted(set(codes) - set(polygons))
    if missing:
        return Geometry(
            "points",
            f"{len(missing)} of {len(codes)} warehouse municipalities have no polygon in {path.name} "
            f"(e.g. {', '.join(missing[:3])}): not the real 2019 geography, so drawn as points on their centroids",
        )
    same = sum(
        1 for code, name in zip(codes, municipalities["name_nl"].astype(str))
        if names.get(code, "").casefold() == name.casefold()
    )
    if same < REAL_NAME_AGREEMENT * len(codes):
        return Geometry(
            "points",
            f"the NIS codes match {path.name} but only {same} of {len(codes)} names do: a synthetic geography, "
            "so drawn as points on its centroids",
        )
    return Geometry("choropleth", f"real 2019 municipalities: polygons from {path}", polygons)


def share_maps(
    shares: pd.DataFrame,
    municipalities: pd.DataFrame,
    group_type: str,
    group_values: list[str],
    periods: list[str],
    geometry: Geometry,
    change_from: str | None = None,
    change_to: str | None = None,
) -> str:
    """A grid of maps: one row per group value, one column per period (share of the destination's
    in-movers who belong to the group), plus a last column with the change `change_to - change_from` in
    percentage points when both periods are given."""
    with_change = change_from in periods and change_to in periods and change_from != change_to
    ncols = len(periods) + (1 if with_change else 0)
    fig, axes = plt.subplots(
        len(group_values), ncols, figsize=(3.1 * ncols, 2.55 * len(group_values) + 0.4), squeeze=False,
    )
    data = shares[shares["group_type"] == group_type]
    for r, gv in enumerate(group_values):
        rows = data[data["group_value"] == gv]
        by_period = {p: rows[rows["period_label"] == p].set_index("destination_nis")["share"] for p in periods}
        values = pd.concat(by_period.values()) if by_period else pd.Series(dtype=float)
        values = values[np.isfinite(values.astype(float))] if len(values) else values
        vmin, vmax = (float(values.quantile(0.02)), float(values.quantile(0.98))) if len(values) else (0.0, 1.0)
        if vmax <= vmin:
            vmax = vmin + 1e-9
        norm = Normalize(vmin, vmax)
        mappable = None
        for c, period in enumerate(periods):
            mappable = _draw(axes[r][c], municipalities, by_period[period], norm, "viridis", geometry)
            if r == 0:
                axes[r][c].set_title(period.replace("_", " "), fontsize=10)
        fig.colorbar(mappable, ax=[axes[r][c] for c in range(len(periods))], shrink=0.8, pad=0.01,
                     label="share")
        axes[r][0].text(-0.05, 0.5, gv, transform=axes[r][0].transAxes, rotation=90, va="center", ha="right", fontsize=10)
        if with_change:
            diff = (by_period[change_to] - by_period[change_from]) * 100.0
            finite = diff[np.isfinite(diff)]
            limit = float(np.nanquantile(np.abs(finite), 0.98)) if len(finite) else 1.0
            limit = limit if limit > 0 else 1.0
            ax = axes[r][ncols - 1]
            m = _draw(ax, municipalities, diff, TwoSlopeNorm(0.0, -limit, limit), "RdBu_r", geometry)
            fig.colorbar(m, ax=ax, shrink=0.8, pad=0.01, label="pct points")
            if r == 0:
                ax.set_title(f"{change_to.replace('_', ' ')} minus {change_from.replace('_', ' ')}", fontsize=10)
    return png_data_uri(fig, dpi=90)


def _draw(ax, municipalities: pd.DataFrame, values: pd.Series, norm, cmap_name: str, geometry: Geometry):
    cmap = plt.get_cmap(cmap_name).with_extremes(bad="#e8e8e8")
    ax.set_axis_off()
    codes = municipalities["nis_code"].astype(str).tolist()
    colour_values = np.array([values.get(code, np.nan) for code in codes], dtype=float)
    if geometry.kind == "choropleth":
        rings, owner = [], []
        for i, code in enumerate(codes):
            for ring in geometry.polygons.get(code, []):
                rings.append(ring)
                owner.append(i)
        per_ring = np.ma.masked_invalid(colour_values[np.asarray(owner, dtype=int)])
        collection = PolyCollection(rings, array=per_ring, cmap=cmap, norm=norm, edgecolors="white", linewidths=0.15)
        ax.add_collection(collection)
        all_points = np.concatenate(rings)
        ax.set_xlim(all_points[:, 0].min(), all_points[:, 0].max())
        ax.set_ylim(all_points[:, 1].min(), all_points[:, 1].max())
        # Degrees of longitude shrink with latitude; correct the aspect at the map's mean latitude.
        ax.set_aspect(1.0 / math.cos(math.radians(float(all_points[:, 1].mean()))))
    else:
        x = municipalities["centroid_x"].to_numpy(dtype=float)
        y = municipalities["centroid_y"].to_numpy(dtype=float)
        finite = np.isfinite(colour_values)
        ax.scatter(x[~finite], y[~finite], s=4, color="#e8e8e8", linewidths=0)
        ax.scatter(x[finite], y[finite], s=7, c=colour_values[finite], cmap=cmap, norm=norm, linewidths=0)
        ax.set_aspect("equal")
    mappable = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    mappable.set_array([])
    return mappable
