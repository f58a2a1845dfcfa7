"""The arrival-neighbourhood report `reports/arrivals/index.html` (issue 14, docs/arrivals.md): where newcomers
from abroad settle, how the population of those places turns over, and where the newcomers move on to.

One self-contained page (no external asset; it works offline): choropleth maps of the areas of the build
(statistical sectors from `dim_sector.boundary_wkt`, or the municipalities when the build ran without sectors)
drawn as inline SVG by a small script from one copy of the geometry, zoomable on the big cities of seed
`big_cities`; class breaks by natural breaks (`mapclassify.NaturalBreaks`) for levels, the fixed diverging
classes `CHANGE_PP_BREAKS` for changes in percentage points; tables of the top arrival areas with the criteria
that flag them, of onward migration and of the foreign arrivals by where they came from.

Everything comes from certified marts (`Warehouse.reading`) and the build's settings (vars and seeds, through
`BuildSettings`); nothing about the study is written here but how it is drawn.
"""

from __future__ import annotations

import html
import json
import os
import re
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import mapclassify
import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from threadpoolctl import threadpool_limits

from mignet.quality.disclosure import DisclosureRule
from mignet.report import write_page
from mignet.report.data import ReportInputError
from mignet.settings import Settings
from mignet.warehouse import Warehouse, WarehouseError
from mignet.warehouse.build_settings import BuildSettings

TEMPLATES = Path(__file__).with_name("templates")
# The certified marts the page reads, in the order they are verified.
ARRIVAL_MARTS = ("dim_municipality", "dim_sector", "mart_area_population_groups", "mart_area_group_change",
                 "mart_area_turnover", "mart_area_net_migration", "mart_arrival_neighbourhoods",
                 "mart_onward_migration", "mart_onward_destinations", "mart_area_inflow")
MANIFEST = "manifest.json"  # what the generator writes beside a synthetic register (mignet.generate)
GENERATOR = "mignet.generate"

# ---- how the maps are drawn (presentation, not study settings) ------------------------------------------
N_CLASSES = 5  # natural-breaks classes of a level
# mapclassify.NaturalBreaks is k-means in one dimension from random starts: seeded, so a page is a function
# of the warehouse alone (the tests reproduce the classes with the same seed)
CLASS_SEED = 20190101
# the fixed diverging classes of a change in percentage points: (-inf, -10], (-10, -5], ..., (10, inf)
CHANGE_PP_BREAKS = (-10.0, -5.0, -2.0, -1.0, 1.0, 2.0, 5.0, 10.0)
SEQUENTIAL = ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494")
DIVERGING = ("#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d", "#b2182b")
CRITERIA_COLOURS = ("#f7f7f7", "#fee8c8", "#fdbb84", "#e34a33", "#67000d")
NO_VALUE = "#c8c8c8"
GRID_M = 10.0  # coordinates are written on a 10 m grid (sub-pixel even when a city fills the map)
SIMPLIFY_GRID = 1.0  # Douglas-Peucker tolerance, in grid units, for rings of more than SIMPLIFY_MIN points
SIMPLIFY_MIN = 12
VIEW_PADDING = 0.06
# a tiling whose neighbours share their vertices has few edges of one area only (the country's outline);
# above this share the polygons do not share vertices and municipality borders cannot be traced from them
SHARED_EDGE_MAX_SINGLE = 0.5
TOP_AREAS = 20
# the flag's criteria: column of mart_arrival_neighbourhoods, name, short name for a table's header
CRITERIA = (("meets_population", "population", "pop."), ("meets_recent_immigrants", "recent immigrants", "recent"),
            ("meets_foreign_net", "foreign net migration", "net"), ("meets_moving_intensity", "moving intensity", "moves"))
RING = re.compile(r"\(([^()]+)\)")
CLASS_CHARS = np.array(list("0123456789"))  # a class as the page writes it, one character per area


# ---- inputs ---------------------------------------------------------------------------------------------

@dataclass
class ArrivalInputs:
    build: BuildSettings
    level: str  # "sector" or "municipality": the finest level of the arrival marts in this build
    areas: pd.DataFrame  # area_code, nis_code, area_name, municipality_name, region_nis, is_unknown, geometry
    municipalities: pd.DataFrame  # dim_municipality
    cities: pd.DataFrame  # seed big_cities with the NIS codes of each city's municipalities
    groups: pd.DataFrame  # mart_area_population_groups of the level on 1 January of the compared to-year
    change: pd.DataFrame  # mart_area_group_change of the level
    neighbourhoods: pd.DataFrame  # mart_arrival_neighbourhoods of both levels
    net: pd.DataFrame  # mart_area_net_migration of the level: foreigners, the last year, every counterpart
    onward: pd.DataFrame  # mart_onward_migration summed over the areas of the level
    onward_areas: pd.DataFrame  # mart_onward_migration per area of the level, summed over arrival years
    destinations: pd.DataFrame  # mart_onward_destinations summed over the areas of the level
    inflow: pd.DataFrame  # mart_area_inflow summed over the municipalities
    nationality_groups: pd.DataFrame  # seed nationality_groups
    certifications: dict  # mart -> certification id
    register: dict = field(default_factory=dict)  # the generator's manifest when the register is synthetic

    def var(self, name: str):
        return self.build.var(name)


def _frame(con, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def read_register_origin(build: BuildSettings) -> dict:
    """The generator's manifest when the build's raw folder holds one written by mignet.generate, else {}."""
    raw_dir = build.vars.get("raw_dir")
    if not raw_dir:
        return {}
    path = Path(str(raw_dir)) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return manifest if isinstance(manifest, dict) and manifest.get("generator") == GENERATOR else {}


def load_arrival_inputs(settings: Settings) -> ArrivalInputs:
    warehouse = Warehouse(settings)
    if not warehouse.exists():
        raise ReportInputError(f"no warehouse at {settings.warehouse}: run `mignet run` (or build and validate) first")
    try:
        with warehouse.reading(marts=ARRIVAL_MARTS) as (con, verified):
            inputs = _load(con, warehouse.build_settings(con))
            inputs.certifications = {m: verified[m].certification_id for m in ARRIVAL_MARTS}
    except WarehouseError as exc:
        raise ReportInputError(f"the arrival report reads only certified marts: {exc}") from exc
    inputs.register = read_register_origin(inputs.build)
    return inputs


def _load(con, build: BuildSettings) -> ArrivalInputs:
    levels = {r[0] for r in con.execute("select distinct area_level from marts.mart_area_turnover").fetchall()}
    level = "sector" if "sector" in levels else "municipality"
    municipalities = _frame(con, "select * from marts.dim_municipality order by nis_code")
    if level == "sector":
        areas = _frame(con, """
            select s.sector_code as area_code, s.nis_code, coalesce(s.name_nl, s.name_fr) as area_name,
                m.name_nl as municipality_name, m.region_nis, s.is_unknown_sector as is_unknown,
                s.boundary_wkt, s.centroid_x, s.centroid_y, s.area_km2
            from marts.dim_sector s join marts.dim_municipality m using (nis_code)
            order by s.sector_code""")
    else:
        areas = _frame(con, """
            select nis_code as area_code, nis_code, name_nl as area_name, name_nl as municipality_name, region_nis,
                false as is_unknown, cast(null as varchar) as boundary_wkt, centroid_x, centroid_y, area_km2
            from marts.dim_municipality order by nis_code""")
    cities = build.seed_frame(con, "big_cities", order="city_order")
    members = []
    for city in cities.itertuples():
        # the rule of int_big_city_municipalities: a city is the municipalities of its region or the municipality
        column = "region_nis" if city.area_type == "region" else "nis_code"
        members.append(sorted(municipalities.loc[municipalities[column] == city.area_code, "nis_code"]))
    cities = cities.assign(nis_codes=members)

    to_year = int(build.var("arrival_compare_to_year"))
    groups = _frame(con, """
        select area_code, classification, group_label, group_order, is_foreign_group, population_group,
            population_total, share
        from marts.mart_area_population_groups where area_level = ? and year = ?""", [level, to_year])
    change = _frame(con, """
        select area_code, classification, group_label, group_order, is_foreign_group, share_from, share_to, change_pp
        from marts.mart_area_group_change where area_level = ?""", [level])
    neighbourhoods = _frame(con, "select * from marts.mart_arrival_neighbourhoods")
    last_year = int(neighbourhoods["year"].max()) if len(neighbourhoods) else build.data_end.year
    net = _frame(con, """
        select area_code, counterpart, counterpart_order, net, population, net_per_1000, net_per_1000_window
        from marts.mart_area_net_migration
        where area_level = ? and population_group = 'foreign' and year = ?""", [level, last_year])
    onward = _frame(con, """
        select arrival_year, horizon_years, sum(n_immigrants) as n_immigrants, sum(n_moved_on) as n_moved_on
        from marts.mart_onward_migration where area_level = ? group by all order by all""", [level])
    onward_areas = _frame(con, """
        select area_code, horizon_years, sum(n_immigrants) as n_immigrants, sum(n_moved_on) as n_moved_on
        from marts.mart_onward_migration where area_level = ? group by all""", [level])
    destinations = _frame(con, """
        select arrival_year, horizon_years, destination, destination_order, sum(n_moved_on) as n_moved_on
        from marts.mart_onward_destinations where area_level = ? group by all order by all""", [level])
    inflow = _frame(con, """
        select year, source, source_order, sum(n_arrivals) as n_arrivals
        from marts.mart_area_inflow where area_level = 'municipality' group by all order by all""")
    nationality_groups = build.seed_frame(con, "nationality_groups", order="group_order")
    return ArrivalInputs(
        build=build, level=level, areas=areas, municipalities=municipalities, cities=cities, groups=groups,
        change=change, neighbourhoods=neighbourhoods, net=net, onward=onward, onward_areas=onward_areas,
        destinations=destinations, inflow=inflow, nationality_groups=nationality_groups, certifications={},
    )


# ---- geometry -------------------------------------------------------------------------------------------

@dataclass
class MapGeometry:
    """The drawn areas in SVG user units (GRID_M metres, y down): one path per area, municipality borders,
    the views a map can zoom to, and what was not drawn."""

    codes: list[str]
    names: list[str]
    municipality: list[int]  # index into municipality_names
    municipality_names: list[str]
    paths: list[str]
    borders: str
    width: int
    height: int
    views: list[dict]
    kind: str  # what the areas are drawn as, for the page
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"codes": self.codes, "names": self.names, "municipality": self.municipality,
                "municipality_names": self.municipality_names, "paths": self.paths, "borders": self.borders,
                "width": self.width, "height": self.height, "views": self.views}


def wkt_ring_texts(wkt) -> list[str]:
    """The coordinate lists of the rings of a WKT POLYGON or MULTIPOLYGON (exteriors and holes alike: the
    maps fill even-odd)."""
    return RING.findall(wkt) if isinstance(wkt, str) else []


def simplify(ring: np.ndarray, tolerance: float) -> np.ndarray:
    """Douglas-Peucker on a ring (its first point repeated at the end): which points keep it within
    `tolerance` of the original, as a mask."""
    n = len(ring)
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        a, b = stack.pop()
        if b <= a + 1:
            continue
        chord = ring[b] - ring[a]
        rel = ring[a + 1:b] - ring[a]
        length = float(np.hypot(*chord))
        dist = (np.abs(chord[0] * rel[:, 1] - chord[1] * rel[:, 0]) / length if length > 0
                else np.hypot(rel[:, 0], rel[:, 1]))
        i = int(np.argmax(dist))
        if dist[i] > tolerance:
            keep[a + 1 + i] = True
            stack.extend([(a, a + 1 + i), (a + 1 + i, b)])
    return keep


@dataclass
class Rings:
    """Rings as flat arrays: the points `xy` (n, 2), ring by ring; each ring's first point and area."""

    xy: np.ndarray
    start: np.ndarray
    area: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(np.append(self.start, len(self.xy)))

    @property
    def ring_of_point(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.start)), self.lengths)

    def subset(self, keep: np.ndarray) -> "Rings":
        """The points where `keep`, and the rings that keep at least 3 of them."""
        ring = self.ring_of_point[keep]
        counts = np.bincount(ring, minlength=len(self.start))
        enough = counts >= 3
        keep = keep.copy()
        keep[keep] = enough[ring]
        counts = counts[enough]
        return Rings(self.xy[keep], _starts(counts), self.area[enough])

    def next_point(self) -> np.ndarray:
        """The index of the point after each point along its ring (the first after the last)."""
        nxt = np.arange(1, len(self.xy) + 1)
        last = self.start + self.lengths - 1
        nxt[last] = self.start
        return nxt


def _starts(lengths) -> np.ndarray:
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.cumsum(lengths) - lengths


def rings_from_wkt(wkts) -> Rings:
    """The rings of each area's WKT (one per area, None without a boundary)."""
    tokens, lengths, owners = [], [], []
    for i, wkt in enumerate(wkts):
        for text in wkt_ring_texts(wkt):
            values = text.replace(",", " ").split()
            if len(values) >= 6 and len(values) % 2 == 0:
                tokens += values
                lengths.append(len(values) // 2)
                owners.append(i)
    xy = np.array(tokens, dtype=float).reshape(-1, 2) if tokens else np.zeros((0, 2))
    return Rings(xy, _starts(lengths), np.asarray(owners, dtype=np.int64))


def rings_from_arrays(rings_by_area: list[list[np.ndarray]]) -> Rings:
    parts = [(i, r) for i, rings in enumerate(rings_by_area) for r in rings if len(r) >= 3]
    if not parts:
        return Rings(np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(0, np.int64))
    return Rings(np.vstack([r for _, r in parts]).astype(float), _starts([len(r) for _, r in parts]),
                 np.asarray([i for i, _ in parts], dtype=np.int64))


def grid_rings(rings: Rings, x0: float, y1: float) -> Rings:
    """The rings on the grid (y down), without the closing point nor repeated consecutive points; rings of
    more than SIMPLIFY_MIN points simplified (Douglas-Peucker, SIMPLIFY_GRID); rings left with fewer than 3
    points dropped."""
    g = np.column_stack([np.round((rings.xy[:, 0] - x0) / GRID_M), np.round((y1 - rings.xy[:, 1]) / GRID_M)])
    g = Rings(g.astype(np.int64), rings.start, rings.area)
    ring = g.ring_of_point
    same_as_previous = np.zeros(len(g.xy), dtype=bool)
    same_as_previous[1:] = (g.xy[1:] == g.xy[:-1]).all(axis=1) & (ring[1:] == ring[:-1])
    closing = (g.xy == g.xy[g.start[ring]]).all(axis=1)
    closing[g.start] = False
    g = g.subset(~same_as_previous & ~closing)
    keep = np.ones(len(g.xy), dtype=bool)
    for r in np.flatnonzero(g.lengths > SIMPLIFY_MIN):
        a, n = g.start[r], g.lengths[r]
        keep[a:a + n] = simplify(np.vstack([g.xy[a:a + n], g.xy[a:a + 1]]), SIMPLIFY_GRID)[:-1]
    return g.subset(keep) if not keep.all() else g


def ring_paths(g: Rings, n_areas: int) -> list[str]:
    """One SVG path per area (relative moves on the grid), '' for an area without rings."""
    d = np.diff(g.xy, axis=0)  # the steps between rings are never written
    tokens = list(map(str, d.ravel().tolist()))
    firsts = g.xy[g.start].tolist()
    out = [[] for _ in range(n_areas)]
    for r, (a, n) in enumerate(zip(g.start.tolist(), g.lengths.tolist())):
        out[g.area[r]].append(f"M{firsts[r][0]} {firsts[r][1]}l" + " ".join(tokens[2 * a:2 * (a + n - 1)]) + "z")
    return ["".join(parts).replace(" -", "-") for parts in out]


def _polyline(points: list[tuple[int, int]]) -> str:
    pts = np.asarray(points, dtype=np.int64)
    steps = np.diff(pts, axis=0).ravel()
    return (f"M{pts[0, 0]} {pts[0, 1]}l" + " ".join(map(str, steps))).replace(" -", "-")


def _chains(segments: list[tuple]) -> list[list[tuple[int, int]]]:
    """Border segments joined into polylines (so each shared vertex is written once)."""
    neighbours: dict[tuple, list[tuple]] = defaultdict(list)
    for a, b in segments:
        neighbours[a].append(b)
        neighbours[b].append(a)
    used: set[tuple] = set()
    chains = []

    def walk(start):
        chain, here = [start], start
        while True:
            step = next((p for p in neighbours[here] if (min(here, p), max(here, p)) not in used), None)
            if step is None:
                return chain
            used.add((min(here, step), max(here, step)))
            chain.append(step)
            here = step

    # open chains start at an end (a point of odd degree); what remains are closed rings
    starts = [p for p, n in neighbours.items() if len(n) % 2] + list(neighbours)
    for p in starts:
        while any((min(p, q), max(p, q)) not in used for q in neighbours[p]):
            chains.append(walk(p))
    return chains


def municipality_borders(g: Rings, municipality_of_area: np.ndarray, height: int) -> tuple[str, bool]:
    """The municipality borders of a tiling of sectors, as one SVG path: the ring edges that one sector only
    has (the country's outline) or that sectors of two municipalities share. ("", False) when the sectors do
    not share their vertices (most edges belong to one sector only), so no border can be traced."""
    a, b = g.xy, g.xy[g.next_point()]
    owner = municipality_of_area[g.area[g.ring_of_point]]
    ka, kb = a[:, 0] * (height + 1) + a[:, 1], b[:, 0] * (height + 1) + b[:, 1]
    edges = pd.DataFrame({"lo": np.minimum(ka, kb), "hi": np.maximum(ka, kb), "owner": owner})
    per_edge = edges.groupby(["lo", "hi"], sort=False)["owner"].agg(["size", "nunique"]).reset_index()
    if (per_edge["size"] == 1).sum() > SHARED_EDGE_MAX_SINGLE * len(per_edge):
        return "", False
    border = per_edge[(per_edge["size"] == 1) | (per_edge["nunique"] > 1)]
    lo, hi = border["lo"].to_numpy(), border["hi"].to_numpy()
    points = lambda k: list(zip((k // (height + 1)).tolist(), (k % (height + 1)).tolist()))  # noqa: E731
    return "".join(_polyline(c) for c in _chains(list(zip(points(lo), points(hi))))), True


def _circle(cx: float, cy: float, r: float) -> str:
    r = max(int(round(r)), 1)
    cx, cy = int(round(cx)), int(round(cy))
    return f"M{cx - r} {cy}a{r} {r} 0 1 0 {2 * r} 0a{r} {r} 0 1 0 {-2 * r} 0z".replace(" -", "-")


def _reference_rings(inputs: ArrivalInputs, reference_dir: Path) -> tuple[dict[str, list[np.ndarray]], str]:
    """Municipality polygons of the real 2019 geography (the reference folder), projected to metres, when the
    warehouse's municipalities are those; else {} and why not."""
    from mignet.report.maps import choose_geometry

    geometry = choose_geometry(inputs.municipalities, reference_dir)
    if geometry.kind != "choropleth":
        return {}, geometry.reason
    lat0 = np.radians(np.mean([ring[:, 1].mean() for rings in geometry.polygons.values() for ring in rings]))
    # an equirectangular projection at the mean latitude: metres, good to a few per cent over Belgium
    scale = np.array([111_320.0 * np.cos(lat0), 110_540.0])
    return {code: [ring * scale for ring in rings] for code, rings in geometry.polygons.items()}, geometry.reason


def build_geometry(inputs: ArrivalInputs, reference_dir: Path) -> MapGeometry:
    """The areas of the maps: dim_sector's boundaries (sector level), or the municipalities' (the real
    geography's polygons from the reference folder; else a disc of each one's area on its centroid)."""
    unknown = inputs.areas["is_unknown"].astype(bool)
    areas = inputs.areas[~unknown].reset_index(drop=True)
    notes = []
    if unknown.any():
        notes.append(f"{int(unknown.sum()):,} unknown sectors (residents and moves without a known sector) have no "
                     "place on the map; the tables and the marts count them")
    if inputs.level == "municipality":
        reference, why = _reference_rings(inputs, reference_dir)
        notes.append(why if reference else f"No municipality polygons ({why.split(': ')[0]}): each municipality is "
                     "drawn as a disc of its area on its centroid")
        rings = rings_from_arrays([reference.get(code, []) for code in areas["area_code"]])
    else:
        rings = rings_from_wkt(areas["boundary_wkt"].tolist())
    has_rings = np.zeros(len(areas), dtype=bool)
    has_rings[rings.area] = True
    cx, cy = areas["centroid_x"].to_numpy(dtype=float), areas["centroid_y"].to_numpy(dtype=float)
    radius = np.sqrt(np.clip(areas["area_km2"].to_numpy(dtype=float), 0, None) / np.pi) * 1000.0
    disc = ~has_rings & np.isfinite(cx) & np.isfinite(cy)
    radius = np.where(np.isfinite(radius), radius, 0.0)
    if inputs.level == "sector" and disc.any():
        notes.append(f"{int(disc.sum()):,} sectors without a boundary in the extract are drawn as discs of their area")
    if (~has_rings & ~disc).any():
        notes.append(f"{int((~has_rings & ~disc).sum()):,} areas have neither a boundary nor a centroid and are not drawn")
    xs = np.concatenate([rings.xy[:, 0], cx[disc] - radius[disc], cx[disc] + radius[disc]])
    ys = np.concatenate([rings.xy[:, 1], cy[disc] - radius[disc], cy[disc] + radius[disc]])
    if len(xs) == 0:
        raise ReportInputError("no area of the arrival marts has a boundary or a centroid to draw")
    x0, y1 = float(xs.min()), float(ys.max())
    width = int(np.ceil((xs.max() - x0) / GRID_M)) + 1
    height = int(np.ceil((y1 - ys.min()) / GRID_M)) + 1

    g = grid_rings(rings, x0, y1)
    paths = ring_paths(g, len(areas))
    boxes = np.full((len(areas), 4), np.nan)
    if len(g.xy):
        point_area = g.area[g.ring_of_point]
        boxes[:, 0], boxes[:, 1] = np.inf, np.inf
        boxes[:, 2], boxes[:, 3] = -np.inf, -np.inf
        np.minimum.at(boxes[:, 0], point_area, g.xy[:, 0])
        np.minimum.at(boxes[:, 1], point_area, g.xy[:, 1])
        np.maximum.at(boxes[:, 2], point_area, g.xy[:, 0])
        np.maximum.at(boxes[:, 3], point_area, g.xy[:, 1])
    for i in np.flatnonzero(disc & np.array([not p for p in paths])):
        x, y, r = (cx[i] - x0) / GRID_M, (y1 - cy[i]) / GRID_M, radius[i] / GRID_M
        paths[i] = _circle(x, y, r)
        boxes[i] = (x - r, y - r, x + r, y + r)
    drawn = np.array([bool(p) for p in paths], dtype=bool)

    municipality_codes = sorted(set(areas["nis_code"]))
    index = {c: i for i, c in enumerate(municipality_codes)}
    municipality = np.array([index[c] for c in areas["nis_code"]], dtype=np.int64)
    borders = ""
    if inputs.level == "sector" and len(g.xy):
        borders, shared = municipality_borders(g, municipality, height)
        if not shared:
            notes.append("the sector boundaries do not share their vertices, so municipality borders are not drawn")
    names_of = dict(zip(inputs.municipalities["nis_code"], inputs.municipalities["name_nl"].fillna("")))
    codes = areas["area_code"].to_numpy()[drawn].tolist()
    owners = municipality[drawn]
    boxes = boxes[drawn]
    views = [{"label": "Whole country", "box": _view(boxes, width, height)}]
    for city in inputs.cities.itertuples():
        members = np.isin(np.asarray(municipality_codes, dtype=object)[owners], list(city.nis_codes))
        if members.any():
            views.append({"label": city_title(city.city_label), "box": _view(boxes[members], width, height)})
        else:
            notes.append(f"big city {city.city_label} (seed big_cities: {city.area_type} {city.area_code}) has no "
                         "municipality in this warehouse, so the maps cannot zoom on it")
    kind = {"sector": "statistical sectors", "municipality": "municipalities"}[inputs.level]
    return MapGeometry(
        codes=codes, names=areas["area_name"].fillna("").astype(str).to_numpy()[drawn].tolist(),
        municipality=owners.tolist(), municipality_names=[f"{names_of.get(c, '')} ({c})" for c in municipality_codes],
        paths=[p for p in paths if p], borders=borders, width=width, height=height, views=views, kind=kind, notes=notes)


def _view(boxes: np.ndarray, width: int, height: int) -> list[int]:
    """A viewBox around `boxes` with the whole country's aspect ratio, padded."""
    b = np.asarray(boxes, dtype=float)
    x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    w, h = (x1 - x0) * (1 + 2 * VIEW_PADDING), (y1 - y0) * (1 + 2 * VIEW_PADDING)
    aspect = width / height
    w, h = max(w, h * aspect, 1.0), max(h, w / aspect, 1.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return [int(round(cx - w / 2)), int(round(cy - h / 2)), int(round(w)), int(round(h))]


def city_title(label: str) -> str:
    return str(label).replace("_", " ").title()


def label_text(label: str, cities: pd.DataFrame) -> str:
    """A city of seed big_cities by its name, any other label (abroad, other_municipality) as words."""
    return city_title(label) if label in set(cities["city_label"]) else str(label).replace("_", " ")


# ---- classes --------------------------------------------------------------------------------------------

def natural_breaks(values: np.ndarray, k: int = N_CLASSES) -> mapclassify.NaturalBreaks | None:
    """mapclassify's natural breaks of the finite `values`, seeded with CLASS_SEED (the global NumPy state is
    restored after) and on one thread (scikit-learn's k-means on a few thousand values is many times slower on
    more). None without values."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return None
    state = np.random.get_state()
    try:
        np.random.seed(CLASS_SEED)
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            warnings.simplefilter("ignore", UserWarning)  # fewer distinct values than classes: k shrinks
            return mapclassify.NaturalBreaks(values, k=min(k, len(np.unique(values))))
    finally:
        np.random.set_state(state)


def _number(x: float, scale: float = 1.0) -> str:
    v = float(x) * scale
    if v == 0:
        return "0"
    digits = max(0, 2 - int(np.floor(np.log10(abs(v)))))
    return f"{v:,.{min(digits, 4)}f}"


def _classes_string(codes: list[str], values: pd.Series, classify) -> tuple[str, np.ndarray, np.ndarray]:
    """One character per drawn area, its class ('0' is the first) or '-' without a value, from `classify`
    (the finite values, in the order of `codes` -> their classes); the classes and the values classified."""
    v = values.reindex(codes).to_numpy(dtype=float)
    finite = np.isfinite(v)
    out = np.full(len(codes), "-", dtype="<U1")
    cls = np.asarray(classify(v[finite]), dtype=int) if finite.any() else np.zeros(0, dtype=int)
    if len(cls):
        out[finite] = CLASS_CHARS[cls]
    return "".join(out), cls, v[finite]


def breaks_layer(label: str, unit: str, codes: list[str], values: pd.Series, source: dict, scale: float = 1.0,
                 signed: bool = False, note: str = "") -> dict:
    """A map layer of a level: natural-breaks classes (mapclassify.NaturalBreaks) of the values of the drawn
    areas. `scale` multiplies the legend's numbers (100 for a share shown in %); `signed` colours the classes
    below 0 blue and those above red."""
    fitted = {}

    def classify(x):
        fitted["nb"] = natural_breaks(x)
        return fitted["nb"].yb

    classes, cls, finite = _classes_string(codes, values, classify)
    nb = fitted.get("nb")
    if nb is None:
        return {"label": label, "unit": unit, "note": note or "no value", "classes": classes, "legend": [],
                "bins": [], "method": "natural_breaks", "source": source}
    bins = np.asarray(nb.bins, dtype=float)
    lower = np.concatenate([[float(finite.min())], bins[:-1]])
    colours = _signed_colours(lower, bins) if signed else _sequential_colours(len(bins))
    counts = np.bincount(cls, minlength=len(bins))
    legend = [{"colour": c, "label": f"{_number(lo, scale)} to {_number(hi, scale)}", "count": int(n)}
              for c, lo, hi, n in zip(colours, lower, bins, counts)]
    return {"label": label, "unit": unit, "note": note, "classes": classes, "legend": legend,
            "bins": [float(b) for b in bins], "method": "natural_breaks", "source": source}


def fixed_layer(label: str, unit: str, codes: list[str], values: pd.Series, source: dict, note: str = "") -> dict:
    """A map layer of a change in percentage points: the fixed diverging classes CHANGE_PP_BREAKS
    (mapclassify.UserDefined; the last class is open)."""
    edges = list(CHANGE_PP_BREAKS)
    classes, cls, _ = _classes_string(codes, values, lambda x: mapclassify.UserDefined(x, bins=edges + [np.inf]).yb)
    counts = np.bincount(cls, minlength=len(edges) + 1)
    labels = ([f"{edges[0]:g} or less"] + [f"{lo:g} to {hi:g}" for lo, hi in zip(edges, edges[1:])]
              + [f"more than {edges[-1]:g}"])
    legend = [{"colour": c, "label": t.replace("-", "\u2212"), "count": int(n)}
              for c, t, n in zip(DIVERGING, labels, counts)]
    return {"label": label, "unit": unit, "note": note, "classes": classes, "legend": legend,
            "bins": edges, "method": "fixed", "source": source}


def _sequential_colours(k: int) -> list[str]:
    return [SEQUENTIAL[int(round(i))] for i in np.linspace(0, len(SEQUENTIAL) - 1, k)] if k > 1 else [SEQUENTIAL[-1]]


def _signed_colours(lower: np.ndarray, upper: np.ndarray) -> list[str]:
    """Blues for the classes below 0 (darker further from it), reds above, the neutral middle for a class
    that holds 0."""
    mid = len(DIVERGING) // 2
    below = [i for i, hi in enumerate(upper) if hi < 0]
    above = [i for i, lo in enumerate(lower) if lo > 0]
    colours = [DIVERGING[mid]] * len(upper)
    for rank, i in enumerate(reversed(below)):
        colours[i] = DIVERGING[max(mid - 1 - rank, 0)]
    for rank, i in enumerate(above):
        colours[i] = DIVERGING[min(mid + 1 + rank, len(DIVERGING) - 1)]
    return colours


# ---- the maps -------------------------------------------------------------------------------------------

def _group_options(inputs: ArrivalInputs) -> list[dict]:
    """The foreign groups of every classification in the seed's order, and all foreign residents."""
    frame = inputs.groups if len(inputs.groups) else inputs.change
    if frame.empty:
        return []
    options = frame[frame["is_foreign_group"].astype(bool)][["classification", "group_label", "group_order"]]
    options = options.drop_duplicates().sort_values(["classification", "group_order"])
    first = str(options["classification"].iloc[0]) if len(options) else None
    out = [{"classification": first, "group_label": None,
            "label": "foreign origin (every group but home and unknown)"}] if first else []
    out += [{"classification": r.classification, "group_label": r.group_label,
             "label": f"{r.group_label.replace('_', ' ')} ({r.classification.replace('_', ' ')})"}
            for r in options.itertuples()]
    return out


def _group_values(frame: pd.DataFrame, column: str, option: dict) -> pd.Series:
    rows = frame[frame["classification"] == option["classification"]]
    if option["group_label"] is None:
        rows = rows[rows["is_foreign_group"].astype(bool)]
        return rows.groupby("area_code")[column].sum(min_count=1)
    return rows[rows["group_label"] == option["group_label"]].set_index("area_code")[column]


def build_maps(inputs: ArrivalInputs, geometry: MapGeometry) -> list[dict]:
    codes = geometry.codes
    level = inputs.level
    from_year, to_year = int(inputs.var("arrival_compare_from_year")), int(inputs.var("arrival_compare_to_year"))
    origin = str(inputs.var("origin_definition")).replace("_", " ")
    maps = []
    options = _group_options(inputs)
    if options and len(inputs.groups):
        maps.append({"id": "composition", "title": f"Residents by origin, 1 January {to_year}",
                     "caption": f"Share of the residents of each area whose origin ({origin}) is in the group; "
                                "classes by natural breaks.",
                     "layers": [breaks_layer(o["label"], "% of residents", codes, _group_values(inputs.groups, "share", o),
                                             {"mart": "mart_area_population_groups", "column": "share",
                                              "area_level": level, "year": to_year, "classification": o["classification"],
                                              "group_label": o["group_label"]}, scale=100.0) for o in options]})
    if options and len(inputs.change):
        maps.append({"id": "change", "title": f"Change of the share, {from_year} to {to_year}",
                     "caption": f"Share on 1 January {to_year} minus share on 1 January {from_year} (vars "
                                "arrival_compare_from_year, arrival_compare_to_year), in percentage points; fixed "
                                "diverging classes.",
                     "layers": [fixed_layer(o["label"], "percentage points", codes, _group_values(inputs.change, "change_pp", o),
                                            {"mart": "mart_area_group_change", "column": "change_pp", "area_level": level,
                                             "classification": o["classification"], "group_label": o["group_label"]})
                                for o in options]})
    hood = inputs.neighbourhoods[inputs.neighbourhoods["area_level"] == level]
    if len(hood):
        last = int(hood["year"].max())
        window = int(inputs.var("arrival_window_years"))
        span = f"{last - window + 1}-{last}" if window > 1 else f"{last}"
        rows = hood[hood["year"] == last].set_index("area_code")
        src = {"mart": "mart_arrival_neighbourhoods", "area_level": level, "year": last}
        layers = [
            breaks_layer(f"recent immigrants per 1,000, {span}", "recent immigrants per 1,000 inhabitants a year", codes,
                         rows["recent_immigrants_per_1000"], {**src, "column": "recent_immigrants_per_1000"},
                         note=f"flag: at least {inputs.var('arrival_min_recent_immigrants_per_1000')} "
                              "(var arrival_min_recent_immigrants_per_1000)"),
            breaks_layer(f"moving intensity, {span}", "moves in, out and within per inhabitant a year", codes,
                         rows["moving_intensity"], {**src, "column": "moving_intensity"},
                         note=f"flag: at least {inputs.var('arrival_min_moving_intensity')} "
                              "(var arrival_min_moving_intensity)"),
            breaks_layer(f"net internal migration of foreigners per 1,000, {span}", "per 1,000 inhabitants a year",
                         codes, rows["foreign_net_per_1000"], {**src, "column": "foreign_net_per_1000"}, signed=True,
                         note=f"flag: at most {inputs.var('arrival_max_foreign_net_per_1000')} "
                              "(var arrival_max_foreign_net_per_1000)"),
        ]
        for counterpart, part in inputs.net[inputs.net["counterpart"] != "all"].groupby("counterpart_order"):
            city = str(part["counterpart"].iloc[0])
            layers.append(breaks_layer(
                f"net migration of foreigners with {city_title(city)} per 1,000, {span}", "per 1,000 inhabitants a year",
                codes, part.set_index("area_code")["net_per_1000_window"],
                {"mart": "mart_area_net_migration", "column": "net_per_1000_window", "area_level": level,
                 "year": last, "population_group": "foreign", "counterpart": city}, signed=True,
                note="arrivals from the city's municipalities minus departures to them"))
        maps.append({"id": "arrival", "title": f"Arrival indicators, {span}",
                     "caption": f"The indicators of the arrival-neighbourhood flag over the window of {window} years "
                                f"(var arrival_window_years) ending in {last}; classes by natural breaks.",
                     "layers": layers})
        flag_layers = []
        for year, rows in hood.groupby("year"):
            met = sum(rows[c].astype(int) for c, _, _ in CRITERIA).set_axis(rows["area_code"])
            classes, cls, _ = _classes_string(codes, met, lambda x: x.astype(int))
            counts = np.bincount(cls, minlength=len(CRITERIA) + 1)
            labels = ["none"] + [f"{n} of {len(CRITERIA)}" for n in range(1, len(CRITERIA))] + [
                f"all {len(CRITERIA)}: arrival neighbourhood"]
            flag_layers.append({
                "label": f"window ending {year}", "unit": "criteria met", "method": "criteria",
                "note": "criteria: " + ", ".join(t for _, t, _ in CRITERIA), "classes": classes, "bins": [],
                "legend": [{"colour": c, "label": t, "count": int(n)} for c, t, n in zip(CRITERIA_COLOURS, labels, counts)],
                "source": {"mart": "mart_arrival_neighbourhoods", "area_level": level, "year": int(year)}})
        maps.append({"id": "flag", "title": "Arrival neighbourhoods",
                     "caption": "How many of the flag's criteria each area meets; an arrival neighbourhood meets all.",
                     "layers": list(reversed(flag_layers))})
    return maps


# ---- tables ---------------------------------------------------------------------------------------------

def _count(rule: DisclosureRule, n) -> str:
    """A count as the disclosure rule of the build shows it: 0, a small count as `<t`, else rounded."""
    if pd.isna(n):
        return ""
    n = int(n)
    if n == 0:
        return "0"
    if rule.is_small(np.array([n]))[0]:
        return f"<{rule.suppress_below}"
    return f"{int(rule.rounded(np.array([n]))[0]):,}"


def _pct(x) -> str:
    return "" if pd.isna(x) else f"{100.0 * float(x):.1f}"


def _fmt(x, digits: int = 1) -> str:
    return "" if pd.isna(x) else f"{float(x):,.{digits}f}"


def top_areas(inputs: ArrivalInputs, geometry: MapGeometry) -> dict:
    hood = inputs.neighbourhoods[inputs.neighbourhoods["area_level"] == inputs.level]
    if hood.empty:
        return {"rows": [], "year": None}
    last = int(hood["year"].max())
    rows = hood[hood["year"] == last].copy()
    rows["criteria_met"] = sum(rows[c].astype(int) for c, _, _ in CRITERIA)
    rows = rows.sort_values(["is_arrival_neighbourhood", "criteria_met", "recent_immigrants_per_1000", "area_code"],
                            ascending=[False, False, False, True]).head(TOP_AREAS)
    names = inputs.areas.set_index("area_code")
    onward = inputs.onward_areas[inputs.onward_areas["horizon_years"] == 1].set_index("area_code")
    out = []
    for r in rows.itertuples():
        n_imm = onward["n_immigrants"].get(r.area_code)
        n_on = onward["n_moved_on"].get(r.area_code)
        out.append({
            "code": r.area_code, "name": names["area_name"].get(r.area_code, ""),
            "municipality": names["municipality_name"].get(r.area_code, ""),
            "population": _fmt(r.mean_population, 0),
            "recent": _fmt(r.recent_immigrants_per_1000), "net": _fmt(r.foreign_net_per_1000),
            "intensity": _fmt(r.moving_intensity, 3),
            "criteria": [bool(getattr(r, c)) for c, _, _ in CRITERIA], "flag": bool(r.is_arrival_neighbourhood),
            "onward_share": "" if not n_imm else _pct(n_on / n_imm),
        })
    planted = None
    codes = inputs.register.get("arrivals", {}).get("arrival_sectors", {}).get(f"codes_{inputs.build.target_vintage}")
    if codes is not None and inputs.level == "sector":
        flagged = set(hood.loc[(hood["year"] == last) & hood["is_arrival_neighbourhood"].astype(bool), "area_code"])
        planted = {"n_planted": len(codes), "n_flagged": len(flagged), "n_both": len(flagged & set(codes))}
    return {"rows": out, "year": last, "planted": planted}


def flag_counts(inputs: ArrivalInputs) -> list[dict]:
    out = []
    for (level, year), rows in inputs.neighbourhoods.groupby(["area_level", "year"]):
        out.append({"level": level, "year": int(year), "n": len(rows),
                    "criteria": [int(rows[c].sum()) for c, _, _ in CRITERIA],
                    "flagged": int(rows["is_arrival_neighbourhood"].sum())})
    order = {"sector": 0, "municipality": 1}
    return sorted(out, key=lambda r: (order.get(r["level"], 2), r["year"]))


def onward_tables(inputs: ArrivalInputs, rule: DisclosureRule) -> dict:
    onward = inputs.onward
    horizons = sorted(int(h) for h in onward["horizon_years"].unique())
    cohorts = []
    for year, rows in onward.groupby("arrival_year"):
        by_h = rows.set_index("horizon_years")
        n = int(by_h["n_immigrants"].max())
        cohorts.append({"year": int(year), "immigrants": _count(rule, n),
                        "shares": [_pct(by_h["n_moved_on"].get(h) / n) if h in by_h.index and n else "" for h in horizons]})
    dest = inputs.destinations
    names = (dest[["destination", "destination_order"]].drop_duplicates().sort_values("destination_order")["destination"]
             .tolist())
    where = []
    for year, rows in dest.groupby("arrival_year"):
        longest = rows[rows["horizon_years"] == rows["horizon_years"].max()]
        total = longest["n_moved_on"].sum()
        by_d = longest.set_index("destination")["n_moved_on"]
        where.append({"year": int(year), "horizon": int(longest["horizon_years"].iloc[0]), "moved_on": _count(rule, total),
                      "shares": [_pct(by_d.get(d, 0) / total) if total else "" for d in names]})
    return {"horizons": horizons, "cohorts": cohorts, "destinations": [label_text(d, inputs.cities) for d in names],
            "where": where}


def inflow_table(inputs: ArrivalInputs, rule: DisclosureRule) -> dict:
    inflow = inputs.inflow
    sources = inflow[["source", "source_order"]].drop_duplicates().sort_values("source_order")["source"].tolist()
    rows = []
    for year, part in inflow.groupby("year"):
        total = part["n_arrivals"].sum()
        by_s = part.set_index("source")["n_arrivals"]
        rows.append({"year": int(year), "total": _count(rule, total),
                     "shares": [_pct(by_s.get(s, 0) / total) if total else "" for s in sources]})
    return {"sources": [label_text(s, inputs.cities) for s in sources], "rows": rows}


def settings_rows(inputs: ArrivalInputs) -> list[dict]:
    v = inputs.var
    rows = [
        ("arrival_area_level", f"{v('arrival_area_level')} (this build: {inputs.level} level)", "finest level of the areas"),
        ("origin_definition", v("origin_definition"), "a person's origin, and the counts of the composition"),
        ("home_country", v("home_country"), "everyone of another origin is foreign"),
        ("arrival_compare_from_year / _to_year", f"{v('arrival_compare_from_year')} / {v('arrival_compare_to_year')}",
         "the two 1 Januaries whose shares are compared"),
        ("arrival_window_years", v("arrival_window_years"), "length of the rolling windows"),
        ("arrival_onward_horizon_years", v("arrival_onward_horizon_years"), "longest horizon of onward migration"),
        ("arrival_min_population", v("arrival_min_population"), "flag: smallest mean population"),
        ("arrival_min_recent_immigrants_per_1000", v("arrival_min_recent_immigrants_per_1000"),
         "flag: smallest recent immigrants per 1,000 a year"),
        ("arrival_max_foreign_net_per_1000", v("arrival_max_foreign_net_per_1000"),
         "flag: largest net internal migration of foreigners per 1,000 a year"),
        ("arrival_min_moving_intensity", v("arrival_min_moving_intensity"), "flag: smallest moving intensity"),
        ("target_vintage", v("target_vintage"), "sectors and municipalities harmonised to 1 January of it"),
    ]
    return [{"name": a, "value": b, "meaning": c} for a, b, c in rows]


def group_rows(inputs: ArrivalInputs) -> list[dict]:
    seed = inputs.nationality_groups
    out = []
    for (classification, label), part in seed.groupby(["classification", "group_label"], sort=False):
        out.append({"classification": classification, "group": label, "order": int(part["group_order"].iloc[0]),
                    "n_countries": int(part["country_code"].nunique()),
                    "countries": ", ".join(sorted(part["country_code"].astype(str).unique()))})
    return sorted(out, key=lambda r: (r["classification"], r["order"]))


# ---- the page -------------------------------------------------------------------------------------------

def _script_json(value) -> str:
    """JSON for a <script type="application/json"> block: nothing in it can close the element."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")


def render(inputs: ArrivalInputs, settings: Settings) -> str:
    geometry = build_geometry(inputs, settings.reference_dir)
    maps = build_maps(inputs, geometry)
    rule = DisclosureRule.of(inputs.build)
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "j2"]))
    template = env.get_template("arrivals.html.j2")
    register = inputs.register
    return template.render(
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        build=inputs.build, level=inputs.level, geometry=geometry, maps=maps,
        geometry_json=_script_json(geometry.as_json()),
        maps_json=_script_json([{"id": m["id"], "layers": [{k: layer[k] for k in ("label", "unit", "note", "classes", "legend")}
                                                          for layer in m["layers"]]} for m in maps]),
        sources_json=_script_json({m["id"]: [{"label": layer["label"], "method": layer["method"], "bins": layer["bins"],
                                               "source": layer["source"]} for layer in m["layers"]] for m in maps}),
        level_plural={"sector": "sectors", "municipality": "municipalities"}[inputs.level], no_value=NO_VALUE, top=top_areas(inputs, geometry), criteria=[t for _, t, _ in CRITERIA], criteria_short=[c for _, _, c in CRITERIA],
        flag_counts=flag_counts(inputs), onward=onward_tables(inputs, rule), inflow=inflow_table(inputs, rule),
        settings_rows=settings_rows(inputs), groups=group_rows(inputs), rule=rule,
        synthetic=bool(register), register=register, certifications=inputs.certifications,
        change_breaks=CHANGE_PP_BREAKS, n_classes=N_CLASSES,
        data_start=inputs.build.data_start, data_end=inputs.build.data_end,
        quality_report=os.path.relpath(settings.reports_dir / "quality" / "index.html", settings.reports_dir / "arrivals"),
        models_report=os.path.relpath(settings.reports_dir / "models" / "index.html", settings.reports_dir / "arrivals"),
        esc=html.escape,
    )


def write_arrivals_report(settings: Settings) -> Path:
    """Write `reports/arrivals/index.html` from the certified arrival marts and return its path."""
    inputs = load_arrival_inputs(settings)
    page = render(inputs, settings)
    return write_page(settings.reports_dir / "arrivals", page)
