"""Statistical sectors for the synthetic register (the arrival-neighbourhood study, docs/arrivals.md).

Sectors nest in the finest units of the simulation (the municipalities of 31-12-2018) with Belgian-like
counts and skew: a unit of population p gets about SECTORS_PER_POPULATION * p ** SECTOR_EXPONENT sectors
(20,000 over the synthetic Belgium: about 530 in Antwerp, 20 in a village of 10,000), drawn around the
unit's centre, so that a city has many small dense sectors and the countryside few large ones.

Geometry, in Belgian Lambert 72 metres, made offline without a GIS library:
- each unit's cell is its Voronoi cell among the units' centres, clipped to the convex hull of the centres
  widened by HULL_MARGIN_M;
- the sector centres of a unit are drawn inside its cell, closer to the centre in cities;
- a sector's polygon is its Voronoi cell among all sector centres of the country (cells that reach beyond
  the widened hull are clipped to it), so the sectors tile the country and a unit is the union of its
  sectors; each sector's area is its polygon's, scaled so that a unit's sectors sum to the unit's area.

Codes follow Statbel's shape (`<nis><letter><two characters><one more>`, e.g. 11002A00-): the section
letters run on over the units that merge into one municipality by 2025, so no two sectors of a future
municipality share the last four characters, and a sector of a merged municipality keeps them under the
new municipality's code (Nevele's 44049D00- is Deinze's 44083D00- from 2019), which is how the warehouse
maps sectors to a vintage (int_sector_code_vintage_map).

Immigrants settle preferentially in the arrival sectors of the urban units (ARRIVAL_SHARE of the sectors
nearest the centre of Brussels and of the most populous units), the more so when they move on to another
municipality within ONWARD_YEARS years, and move on: a mover's next origin is the sector they moved into.
The population stock by sector, 1 January and country (by nationality at birth, current nationality and
country of birth) gives the arrival sectors more foreign residents, growing faster. The true parameters
and the realised settlement and onward shares go into the manifest (`arrivals`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.spatial import ConvexHull, Voronoi

from mignet.generate.geography import CHANGE_2019, CHANGE_2025, FIRST_VALID_FROM, POPULATION_YEARS, Geography
from mignet.generate.simulate import COUNTRIES_IMMIGRATION, Register
from mignet.generate.tables import RawTables

# about 20,000 sectors over the synthetic Belgium of 11.4 million (Statbel: 19,795 in 2019)
SECTORS_PER_POPULATION = 0.01393
SECTOR_EXPONENT = 0.8
MIN_SECTORS = 2
SECTORS_PER_LETTER = 50
HULL_MARGIN_M = 6_000.0
# urban units: the Brussels-Capital Region and the most populous units elsewhere
URBAN_REGION = "04000"
N_URBAN_UNITS = 15
ARRIVAL_SHARE = 0.08  # of an urban unit's sectors, those nearest its centre
# the settlement and onward-move parameters (true_parameters in the manifest)
SETTLEMENT_WEIGHT = 6.0  # an immigrant's weight for an arrival sector, relative to its population weight
ONWARD_ODDS = 2.0  # extra weight for an immigrant who moves on to another municipality within ONWARD_YEARS
ONWARD_YEARS = 3
WITHIN_SECTOR_SHARE = 0.12  # of the moves within a municipality, those within one sector
# the stock: foreign shares at birth by kind of unit, the arrival sectors' lift, and the yearly trends
FOREIGN_SHARE = {"urban_region": 0.50, "urban": 0.28, "other": 0.11}
ARRIVAL_FOREIGN_LIFT = 1.8
FOREIGN_TREND = {"arrival": 0.010, "other": 0.003}  # added to the foreign share per year after 2018
NATURALISED_SHARE = {"arrival": 0.20, "other": 0.35}  # of the foreign-born by nationality, now home nationals
BORN_AT_HOME_SHARE = 0.25  # of the residents of foreign nationality at birth, born in the home country
HOME_BORN_ABROAD_SHARE = 0.03  # of the home nationals, born abroad
UNKNOWN_ORIGIN_SHARE = 0.001
MIX_CONCENTRATION = 4.0  # Dirichlet concentration of a sector's mix of countries (low: few countries each)
# the countries the arrival sectors draw more of (non-EU origins and the newer EU members)
ARRIVAL_COUNTRIES = {"MA": 3.0, "SY": 4.0, "AF": 4.0, "RO": 2.0, "BG": 2.5, "CD": 2.0, "CM": 2.0, "TR": 2.0,
                     "IN": 1.5, "UA": 1.5}
HOME_COUNTRY = "BE"
HOME_BORN_ABROAD_COUNTRIES = (("FR", 4), ("NL", 3), ("CD", 2), ("DE", 1))


@dataclass
class SectorData:
    """The sectors of a synthetic register: one row per sector of the simulation units, the raw tables
    `sectors` and `population_by_origin`, and what goes into the manifest."""

    unit: np.ndarray  # index into geo.units
    suffix: np.ndarray  # the last four characters of the code
    code_2018: np.ndarray
    code_2019: np.ndarray
    code_2025: np.ndarray
    is_arrival: np.ndarray
    sectors: pd.DataFrame
    population_by_origin: pd.DataFrame
    manifest: dict = field(default_factory=dict)


# ---- geometry ----------------------------------------------------------------------------------------------

def _orient(poly: np.ndarray) -> np.ndarray:
    """The polygon counter-clockwise."""
    return poly if _signed_area(poly) >= 0 else poly[::-1]


def _signed_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _clip(poly: np.ndarray, clipper: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman: the part of polygon `poly` inside the convex, counter-clockwise `clipper`."""
    out = poly
    for i in range(len(clipper)):
        if len(out) == 0:
            break
        a, b = clipper[i], clipper[(i + 1) % len(clipper)]
        edge = b - a
        side = edge[0] * (out[:, 1] - a[1]) - edge[1] * (out[:, 0] - a[0])  # >= 0: inside (left of the edge)
        inside = side >= 0
        if inside.all():
            continue
        points = []
        n = len(out)
        for j in range(n):
            k = (j + 1) % n
            p, q, sp, sq = out[j], out[k], side[j], side[k]
            if sp >= 0:
                points.append(p)
            if (sp >= 0) != (sq >= 0):
                points.append(p + (q - p) * (sp / (sp - sq)))
        out = np.array(points) if points else np.zeros((0, 2))
    return out


def _inside_convex(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Which points lie inside the convex, counter-clockwise polygon."""
    a = poly
    b = np.roll(poly, -1, axis=0)
    edge = b - a
    side = edge[None, :, 0] * (points[:, None, 1] - a[None, :, 1]) - edge[None, :, 1] * (points[:, None, 0] - a[None, :, 0])
    return (side >= 0).all(axis=1)


def _widened_hull(points: np.ndarray, margin: float) -> np.ndarray:
    """The convex hull of `points` moved `margin` metres outward (each vertex along its bisector),
    counter-clockwise."""
    hull = points[ConvexHull(points).vertices]
    hull = _orient(hull)
    prev, nxt = np.roll(hull, 1, axis=0), np.roll(hull, -1, axis=0)

    def outward(d):
        n = np.stack([d[:, 1], -d[:, 0]], axis=1)
        return n / np.linalg.norm(n, axis=1, keepdims=True)

    normal = outward(hull - prev) + outward(nxt - hull)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    return hull + normal * margin


def _voronoi_cells(points: np.ndarray, frame_radius: float) -> list[np.ndarray]:
    """The Voronoi cell of every point (counter-clockwise vertices); frame points far away make every cell
    of `points` bounded."""
    centre = points.mean(axis=0)
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    frame = centre + frame_radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    vor = Voronoi(np.vstack([points, frame]))
    cells = []
    for i in range(len(points)):
        region = vor.regions[vor.point_region[i]]
        poly = vor.vertices[region]
        # vertices of a 2-d region come in order around it; sort by angle in case of a degenerate one
        c = poly.mean(axis=0)
        poly = poly[np.argsort(np.arctan2(poly[:, 1] - c[1], poly[:, 0] - c[0]))]
        cells.append(poly)
    return cells


def _wkt(poly: np.ndarray) -> str:
    ring = np.vstack([poly, poly[:1]])
    return "POLYGON((" + ", ".join(f"{x:.0f} {y:.0f}" for x, y in ring) + "))"


def _flat(polygons: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every vertex of `polygons` in one array, the index of each vertex's successor in its ring, and the
    start of each polygon's vertices."""
    sizes = np.array([len(p) for p in polygons])
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    vertices = np.vstack(polygons)
    successor = np.arange(len(vertices)) + 1
    successor[starts + sizes - 1] = starts
    return vertices, successor, starts


def _areas_and_centroids(polygons: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Signed area (counter-clockwise positive) and centroid of every polygon, at once."""
    v, nxt, starts = _flat(polygons)
    x, y, x1, y1 = v[:, 0], v[:, 1], v[nxt, 0], v[nxt, 1]
    cross = x * y1 - x1 * y
    area = np.add.reduceat(cross, starts) / 2.0
    cx = np.add.reduceat((x + x1) * cross, starts)
    cy = np.add.reduceat((y + y1) * cross, starts)
    safe = np.where(np.abs(area) < 1e-9, 1.0, area)
    centroid = np.stack([cx / (6 * safe), cy / (6 * safe)], axis=1)
    return area, centroid


def _outside_any(polygons: list[np.ndarray], convex: np.ndarray) -> np.ndarray:
    """Which polygons have a vertex outside the convex, counter-clockwise polygon."""
    v, _, starts = _flat(polygons)
    return np.maximum.reduceat((~_inside_convex(v, convex)).astype(np.int8), starts).astype(bool)


# ---- sectors -------------------------------------------------------------------------------------------------

def _urban(units: pd.DataFrame) -> np.ndarray:
    order = np.argsort(-units["pop_2018"].to_numpy(float), kind="stable")
    top = np.zeros(len(units), dtype=bool)
    top[order[:N_URBAN_UNITS]] = True
    return top | units["region_nis"].eq(URBAN_REGION).to_numpy()


def _suffixes(units: pd.DataFrame, n_sectors: np.ndarray, rng: np.random.Generator) -> list[list[str]]:
    """Sector code suffixes per unit: section letters run on over the units that form one municipality by
    2025, so no two sectors of a future municipality share a suffix."""
    letters = [chr(ord("A") + i) for i in range(26)]
    out: list[list[str]] = [[] for _ in range(len(units))]
    for _, group in units.groupby("code_2025", sort=True):
        next_letter = 0
        for i in group.sort_values("code_2018").index:
            n = int(n_sectors[i])
            need = -(-n // SECTORS_PER_LETTER)
            if next_letter + need > len(letters):
                raise ValueError(f"municipality {units.loc[i, 'code_2025']}: too many sectors for the section letters")
            codes = []
            for k in range(n):
                letter = letters[next_letter + k // SECTORS_PER_LETTER]
                last = "-" if rng.random() > 0.1 or k == 0 else str(int(rng.integers(1, 10)))
                codes.append(f"{letter}{k % SECTORS_PER_LETTER:02d}{last}")
            out[i] = codes
            next_letter += need
    return out


def _unit_populations(geo: Geography) -> np.ndarray:
    """Population of each simulation unit on 1 January of each of POPULATION_YEARS (units x years): the
    extract's figure of its code that day, shared out over the units of a merged code by their 2018
    population, in whole persons (largest remainders), so the units of a code sum to its figure."""
    units = geo.units
    pop = geo.population.assign(year=lambda f: pd.to_datetime(f["reference_date"]).dt.year)
    out = np.zeros((len(units), len(POPULATION_YEARS)), dtype=np.int64)
    weight = units["pop_2018"].to_numpy(float)
    for j, year in enumerate(POPULATION_YEARS):
        key = units["code_2018"] if year < 2019 else units["code_2019"]
        figures = pop[pop["year"] == year].set_index("nis_code")["population"]
        for code, rows in key.groupby(key).groups.items():
            rows = np.asarray([units.index.get_loc(r) for r in rows])
            out[rows, j] = _apportion(int(figures.get(code, 0)), weight[rows])
    return out


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """`total` whole units shared out in proportion to `weights` by largest remainders."""
    if total <= 0 or len(weights) == 0:
        return np.zeros(len(weights), dtype=np.int64)
    w = np.asarray(weights, dtype=float)
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / len(w))
    exact = total * w
    base = np.floor(exact).astype(np.int64)
    rest = total - int(base.sum())
    if rest:
        base[np.argsort(-(exact - base), kind="stable")[:rest]] += 1
    return base


def _apportion_by_group(totals: np.ndarray, group: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each group's whole total shared out over its members (`group`: the group of each member, sorted) in
    proportion to their weights, by largest remainders: the members of a group sum to its total."""
    w_sum = np.bincount(group, weights=weights, minlength=len(totals))
    exact = totals[group] * weights / np.where(w_sum[group] > 0, w_sum[group], 1.0)
    base = np.floor(exact).astype(np.int64)
    rest = totals - np.bincount(group, weights=base, minlength=len(totals)).astype(np.int64)
    order = np.lexsort((-(exact - base), group))
    rank = np.arange(len(group)) - np.searchsorted(group[order], group[order], side="left")
    base[order[rank < rest[group[order]]]] += 1
    return base


def build_sectors(geo: Geography, rng: np.random.Generator) -> dict:
    """The sectors of every simulation unit: their unit, code suffix, centre, polygon, area, population
    weight and whether they are an arrival sector."""
    units = geo.units
    n_units = len(units)
    pop = units["pop_2018"].to_numpy(float)
    n_sectors = np.maximum(MIN_SECTORS, np.round(SECTORS_PER_POPULATION * pop ** SECTOR_EXPONENT)).astype(int)
    centres = units[["x", "y"]].to_numpy(float)
    hull = _widened_hull(centres, HULL_MARGIN_M)
    span = float(np.ptp(centres, axis=0).max())
    unit_cells = [_clip(_orient(c), hull) for c in _voronoi_cells(centres, 10 * span)]
    urban = _urban(units)

    unit_of, points = [], []
    for i in range(n_units):
        cell = unit_cells[i]
        radius = np.sqrt(max(abs(_signed_area(cell)), 1.0) / np.pi)
        spread = 0.45 if urban[i] else 0.6
        chosen = np.zeros((0, 2))
        while len(chosen) < n_sectors[i]:
            draw = centres[i] + rng.normal(0, spread * radius, (4 * n_sectors[i] + 8, 2))
            chosen = np.vstack([chosen, draw[_inside_convex(draw, cell)]])
        points.append(chosen[: n_sectors[i]])
        unit_of.append(np.full(n_sectors[i], i, dtype=np.int32))
    points = np.vstack(points)
    unit = np.concatenate(unit_of)

    cells = _voronoi_cells(points, 10 * span)
    signed, _ = _areas_and_centroids(cells)
    cells = [c if a >= 0 else c[::-1] for c, a in zip(cells, signed)]
    # only the cells at the edge of the country reach beyond the widened hull
    polygons = [_clip(c, hull) if out else c for c, out in zip(cells, _outside_any(cells, hull))]
    signed, centroid = _areas_and_centroids(polygons)
    poly_area = np.abs(signed)
    # areas scaled so that a unit's sectors sum to its area
    unit_poly_area = np.bincount(unit, weights=poly_area, minlength=n_units)
    area_km2 = poly_area / unit_poly_area[unit] * units["area_km2"].to_numpy(float)[unit]

    # within each unit, sectors numbered from the centre outward; the arrival sectors are the nearest
    distance = np.hypot(*(centroid - centres[unit]).T)
    order = np.lexsort((distance, unit))
    unit, polygons = unit[order], [polygons[k] for k in order]
    area_km2, centroid, distance = area_km2[order], centroid[order], distance[order]
    rank = np.arange(len(unit)) - np.searchsorted(unit, unit, side="left")
    n_arrival = np.where(urban, np.maximum(1, np.round(ARRIVAL_SHARE * n_sectors)), 0).astype(int)
    is_arrival = rank < n_arrival[unit]
    # population weights: uneven, a few sectors nearly empty (industry, woods, a park)
    weight = rng.lognormal(0.0, 0.6, len(unit)) * np.where(rng.random(len(unit)) < 0.03, 0.02, 1.0)
    suffix_lists = _suffixes(units, n_sectors, rng)
    suffix = np.array([s for i in range(n_units) for s in suffix_lists[i]], dtype=object)
    return dict(unit=unit, suffix=suffix, polygons=polygons, area_km2=area_km2, centroid=centroid,
                weight=weight, is_arrival=is_arrival, urban=urban, n_sectors=n_sectors)


def sectors_table(geo: Geography, s: dict) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """The raw sectors table (every code valid at some time from 2018 on, with its validity, as the
    municipalities table has it) and the codes of each sector in 2018, 2019 and 2025."""
    units = geo.units
    unit = s["unit"]
    code_2018 = units["code_2018"].to_numpy()[unit] + s["suffix"]
    code_2019 = units["code_2019"].to_numpy()[unit] + s["suffix"]
    code_2025 = units["code_2025"].to_numpy()[unit] + s["suffix"]
    names = units["name_nl"].to_numpy()[unit]
    end_2018 = CHANGE_2019 - dt.timedelta(days=1)
    end_2024 = CHANGE_2025 - dt.timedelta(days=1)
    rows = []
    for k in range(len(unit)):
        geometry = dict(area_km2=round(float(s["area_km2"][k]), 6), centroid_x=round(float(s["centroid"][k, 0]), 1),
                        centroid_y=round(float(s["centroid"][k, 1]), 1), boundary_wkt=_wkt(s["polygons"][k]))
        name = f"{names[k]} {s['suffix'][k].rstrip('-')}"
        changed_2019 = code_2018[k] != code_2019[k]
        changed_2025 = code_2019[k] != code_2025[k]
        if changed_2019:
            rows.append(dict(sector_code=code_2018[k], nis_code=code_2018[k][:5], name_nl=name, name_fr=name,
                             valid_from=FIRST_VALID_FROM, valid_to=end_2018, **geometry))
        rows.append(dict(sector_code=code_2019[k], nis_code=code_2019[k][:5], name_nl=name, name_fr=name,
                         valid_from=CHANGE_2019 if changed_2019 else FIRST_VALID_FROM,
                         valid_to=end_2024 if changed_2025 else None, **geometry))
        if changed_2025:
            rows.append(dict(sector_code=code_2025[k], nis_code=code_2025[k][:5], name_nl=name, name_fr=name,
                             valid_from=CHANGE_2025, valid_to=None, **geometry))
    frame = pd.DataFrame(rows).sort_values("sector_code", kind="stable").reset_index(drop=True)
    return frame, code_2018, code_2019, code_2025


# ---- where the movers live -------------------------------------------------------------------------------

def _draw_within(units_of_rows: np.ndarray, weights_by_unit: list[np.ndarray], first_by_unit: np.ndarray,
                 rng: np.random.Generator, arrival_by_unit: list[np.ndarray] | None = None,
                 factor: np.ndarray | None = None) -> np.ndarray:
    """A sector (global index) in the unit of each row, drawn by the unit's sector weights; with
    `arrival_by_unit` and `factor`, the weight of an arrival sector is multiplied by the row's factor."""
    out = np.full(len(units_of_rows), -1, dtype=np.int64)
    order = np.argsort(units_of_rows, kind="stable")
    bounds = np.flatnonzero(np.diff(units_of_rows[order])) + 1
    for rows in np.split(order, bounds):
        if not len(rows):
            continue
        u = int(units_of_rows[rows[0]])
        w = weights_by_unit[u]
        groups = [(rows, 1.0)] if factor is None else [(rows[factor[rows] == f], f) for f in np.unique(factor[rows])]
        for sub, f in groups:
            ww = w * np.where(arrival_by_unit[u], f, 1.0) if factor is not None else w
            cum = np.cumsum(ww) / ww.sum()
            pick = np.minimum(np.searchsorted(cum, rng.random(len(sub)), side="right"), len(ww) - 1)
            out[sub] = first_by_unit[u] + pick
    return out


def _next_day_of(flag: np.ndarray, person: np.ndarray, day: np.ndarray) -> np.ndarray:
    """For each move (sorted by person and day), the day of the person's next move after it with `flag`,
    or the largest int64 when there is none."""
    n = len(flag)
    positions = np.flatnonzero(flag)
    out = np.full(n, np.iinfo(np.int64).max)
    if not len(positions):
        return out
    k = np.searchsorted(positions, np.arange(n), side="right")
    found = k < len(positions)
    j = positions[np.minimum(k, len(positions) - 1)]
    found &= person[j] == person
    out[found] = day[j[found]]
    return out


def assign_move_sectors(reg: Register, raw: RawTables, s: dict, rng: np.random.Generator) -> dict:
    """The origin and destination sector (global sector index, -1 abroad) of every raw move, written into
    `raw.moves` as `o_sector` and `d_sector`: destinations by population weight (an immigrant's arrival
    sectors weighted up, more so when the person moves on to another municipality within ONWARD_YEARS), a
    move's origin the sector the person moved into last when that was in the same unit (else drawn by
    weight), and WITHIN_SECTOR_SHARE of the moves within a unit in one sector. Returns the realised
    settlement and onward shares for the manifest."""
    m = raw.moves
    n = len(m["move_id"])
    unit = s["unit"]
    n_units = len(s["n_sectors"])
    first = np.searchsorted(unit, np.arange(n_units), side="left")
    slices = [slice(first[u], first[u] + s["n_sectors"][u]) for u in range(n_units)]
    weights = [s["weight"][sl] for sl in slices]
    arrival = [s["is_arrival"][sl] for sl in slices]
    # the moves of each person in order of time
    seq = np.lexsort((m["day"], m["person_idx"]))
    person, day = m["person_idx"][seq], m["day"][seq].astype(np.int64)
    mtype, uo, ud = m["type"][seq], m["unit_o"][seq], m["unit_d"][seq]
    same_person = np.r_[False, person[1:] == person[:-1]]

    immigration = mtype == 1
    inter = (mtype == 0) & (uo != ud)
    moves_on = immigration & (_next_day_of(inter, person, day) - day <= ONWARD_YEARS * 365)
    factor = np.where(immigration, SETTLEMENT_WEIGHT * np.where(moves_on, ONWARD_ODDS, 1.0), 1.0)

    dest = np.full(n, -1, dtype=np.int64)
    has_d = ud >= 0
    imm_rows = np.flatnonzero(has_d & immigration)
    other_rows = np.flatnonzero(has_d & ~immigration)
    dest[other_rows] = _draw_within(ud[other_rows], weights, first, rng)
    dest[imm_rows] = _draw_within(ud[imm_rows], weights, first, rng, arrival, factor[imm_rows])
    has_o = uo >= 0
    drawn = np.full(n, -1, dtype=np.int64)
    o_rows = np.flatnonzero(has_o)
    drawn[o_rows] = _draw_within(uo[o_rows], weights, first, rng)
    intra = (mtype == 0) & (uo == ud)
    stay = intra & (rng.random(n) < WITHIN_SECTOR_SHARE)
    origin = drawn
    for _ in range(3):  # a move within one sector changes the next move's origin: settle in a few rounds
        prev_dest, prev_unit = np.r_[-1, dest[:-1]], np.r_[-1, ud[:-1]]
        continues = same_person & has_o & (prev_unit == uo) & (prev_dest >= 0)
        origin = np.where(continues, prev_dest, drawn)
        dest = np.where(stay, origin, dest)
        # a move within the unit that is not a stay goes to another sector of it
        clash = intra & ~stay & (dest == origin)
        if clash.any():
            size = s["n_sectors"][ud[clash]]
            dest[clash] = first[ud[clash]] + (dest[clash] - first[ud[clash]] + 1) % size
    prev_dest, prev_unit = np.r_[-1, dest[:-1]], np.r_[-1, ud[:-1]]
    origin = np.where(same_person & has_o & (prev_unit == uo) & (prev_dest >= 0), prev_dest, drawn)

    out_o, out_d = np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
    out_o[seq], out_d[seq] = origin, dest
    m["o_sector"], m["d_sector"] = out_o, out_d

    settled = dest[imm_rows]
    in_arrival = s["is_arrival"][settled]
    urban_dest = s["urban"][ud[imm_rows]]
    onward = moves_on[imm_rows]

    def share(mask):
        return round(float(mask.mean()), 4) if len(mask) else None

    return {
        "immigrations_into_urban_units": int(urban_dest.sum()),
        "share_settling_in_arrival_sectors_of_urban_units": share(in_arrival[urban_dest]),
        "population_weight_share_of_arrival_sectors_in_urban_units": round(float(
            s["weight"][s["is_arrival"]].sum() / s["weight"][s["urban"][unit]].sum()), 4),
        f"onward_share_within_{ONWARD_YEARS}_years_settled_in_arrival_sectors": share(onward[in_arrival]),
        f"onward_share_within_{ONWARD_YEARS}_years_settled_elsewhere_in_urban_units": share(onward[urban_dest & ~in_arrival]),
    }


# ---- the population stock ------------------------------------------------------------------------------------

def population_by_origin(geo: Geography, s: dict, codes_by_year: dict[int, np.ndarray],
                         rng: np.random.Generator) -> pd.DataFrame:
    """Residents on 1 January of each population year per sector and per municipality and country: the
    unit's population shared over its sectors by their weights, each sector's foreign share (higher and
    growing faster in arrival sectors) and its own mix of countries, naturalisation for the current
    nationality and birth at home or abroad for the country of birth. Rows only for non-zero counts; the
    residents of unknown origin under country NULL."""
    units = geo.units
    unit = s["unit"]
    n_sec = len(unit)
    unit_pop = _unit_populations(geo)
    countries = [c for c, _ in COUNTRIES_IMMIGRATION]
    general = np.array([w for _, w in COUNTRIES_IMMIGRATION], dtype=float)
    lift = np.array([ARRIVAL_COUNTRIES.get(c, 1.0) for c in countries])
    alpha = np.where(s["is_arrival"][:, None], general * lift, general)
    alpha = MIX_CONCENTRATION * alpha / alpha.sum(axis=1, keepdims=True)
    mix = rng.gamma(alpha)
    mix /= mix.sum(axis=1, keepdims=True)
    kind = np.where(units["region_nis"].to_numpy() == URBAN_REGION, "urban_region",
                    np.where(s["urban"], "urban", "other"))[unit]
    base_share = np.array([FOREIGN_SHARE[k] for k in kind]) * rng.lognormal(0, 0.3, n_sec)
    base_share = np.where(s["is_arrival"], base_share * ARRIVAL_FOREIGN_LIFT, base_share)
    trend = np.where(s["is_arrival"], FOREIGN_TREND["arrival"], FOREIGN_TREND["other"])
    naturalised = np.where(s["is_arrival"], NATURALISED_SHARE["arrival"], NATURALISED_SHARE["other"])
    home_abroad = np.array([w for _, w in HOME_BORN_ABROAD_COUNTRIES], dtype=float)
    home_abroad /= home_abroad.sum()
    home_abroad_idx = np.array([countries.index(c) for c, _ in HOME_BORN_ABROAD_COUNTRIES])
    # columns of the count matrices: the home country, the countries of origin, unknown (NULL)
    column_country = np.array([HOME_COUNTRY, *countries, None], dtype=object)
    names = ("by_nationality_at_birth", "by_current_nationality", "by_country_of_birth")
    parts = []
    for j, year in enumerate(POPULATION_YEARS):
        # the unit's residents shared over its sectors, in whole persons
        residents = _apportion_by_group(unit_pop[:, j], unit, s["weight"])
        share = np.clip(base_share + trend * (year - POPULATION_YEARS[0]), 0.0, 0.9)
        unknown = rng.binomial(residents, UNKNOWN_ORIGIN_SHARE)
        known = residents - unknown
        foreign = rng.binomial(known, share)
        birth = rng.multinomial(foreign, mix)  # sectors x countries: nationality at birth
        current = birth - rng.binomial(birth, naturalised[:, None])
        born_home = rng.binomial(birth, BORN_AT_HOME_SHARE)
        home = known - foreign
        home_born_abroad = rng.multinomial(rng.binomial(home, HOME_BORN_ABROAD_SHARE), home_abroad)
        cob = birth - born_home
        cob[:, home_abroad_idx] += home_born_abroad
        counts = np.stack([
            np.column_stack([home, birth, unknown]),
            np.column_stack([home + (birth - current).sum(axis=1), current, unknown]),
            np.column_stack([home - home_born_abroad.sum(axis=1) + born_home.sum(axis=1), cob, unknown]),
        ])  # definition x sectors x columns
        codes = codes_by_year[year]
        # the municipality of each sector that day, numbered; a municipality's counts are its sectors' sums
        municipality_codes, municipality_of = np.unique(np.array([c[:5] for c in codes], dtype=object),
                                                        return_inverse=True)
        municipal = np.zeros((3, len(municipality_codes), counts.shape[2]), dtype=np.int64)
        np.add.at(municipal, (slice(None), municipality_of), counts)
        for area_codes, matrix in ((codes, counts), (municipality_codes, municipal)):
            rows, cols = np.nonzero((matrix > 0).any(axis=0))
            parts.append(pd.DataFrame({
                "area_code": np.asarray(area_codes, dtype=object)[rows],
                "reference_date": dt.date(year, 1, 1),
                "country": column_country[cols],
                **{name: matrix[k, rows, cols] for k, name in enumerate(names)},
            }))
    return pd.concat(parts, ignore_index=True)


# ---- the whole ------------------------------------------------------------------------------------------------

def synthesize_sectors(geo: Geography, reg: Register, raw: RawTables, rng: np.random.Generator) -> SectorData:
    """Sectors, the sectors of every move (into `raw.moves` as `o_sector`/`d_sector`, indices into
    `raw.sector_codes` for the day of the move) and the population stock; the manifest's `arrivals`."""
    s = build_sectors(geo, rng)
    table, code_2018, code_2019, code_2025 = sectors_table(geo, s)
    realised = assign_move_sectors(reg, raw, s, rng)
    # the code each move carries: the one valid on its day (2018 codes before 2019)
    codes = list(np.concatenate([code_2018, code_2019]))
    raw.sector_codes = codes
    n_sec = len(code_2018)
    before = raw.moves["day"] < (CHANGE_2019 - dt.date(1970, 1, 1)).days
    for column in ("o_sector", "d_sector"):
        idx = raw.moves[column]
        raw.moves[column] = np.where(idx < 0, -1, np.where(before, idx, idx + n_sec)).astype(np.int64)
    codes_by_year = {year: (code_2018 if year < 2019 else code_2019) for year in POPULATION_YEARS}
    stock = population_by_origin(geo, s, codes_by_year, rng)
    arrival_codes = sorted(code_2019[s["is_arrival"]].tolist())
    manifest = {
        "sectors": {"simulation_units": int(len(geo.units)), "sectors": int(n_sec),
                    "sector_codes_in_table": int(len(table)),
                    "sectors_per_unit": {"min": int(s["n_sectors"].min()), "median": float(np.median(s["n_sectors"])),
                                         "max": int(s["n_sectors"].max())},
                    "rule": f"{SECTORS_PER_POPULATION} * population_2018 ** {SECTOR_EXPONENT}, at least {MIN_SECTORS}",
                    "geometry": "Voronoi cells of the sector centres (Lambert 72 m), clipped to the widened hull of the "
                                "municipality centres; areas scaled to the municipality's area"},
        "arrival_sectors": {"count": len(arrival_codes), "codes_2019": arrival_codes,
                            "rule": f"the {ARRIVAL_SHARE:.0%} of the sectors nearest the centre (at least one) of the "
                                    f"units of region {URBAN_REGION} and of the {N_URBAN_UNITS} most populous units"},
        "true_parameters": {
            "settlement_weight": SETTLEMENT_WEIGHT, "onward_odds": ONWARD_ODDS, "onward_years": ONWARD_YEARS,
            "within_sector_share": WITHIN_SECTOR_SHARE, "foreign_share_at_birth": FOREIGN_SHARE,
            "arrival_foreign_lift": ARRIVAL_FOREIGN_LIFT, "foreign_trend_per_year": FOREIGN_TREND,
            "naturalised_share": NATURALISED_SHARE, "born_at_home_share": BORN_AT_HOME_SHARE,
            "home_born_abroad_share": HOME_BORN_ABROAD_SHARE, "unknown_origin_share": UNKNOWN_ORIGIN_SHARE,
            "mix_concentration": MIX_CONCENTRATION, "arrival_countries_lift": ARRIVAL_COUNTRIES,
            "formula": ("an immigrant into a unit with arrival sectors picks sector k with probability proportional to "
                        "weight_k * (settlement_weight * (onward_odds if the person moves to another municipality "
                        f"within {ONWARD_YEARS} years else 1) if k is an arrival sector else 1); every other move's "
                        "destination sector by weight_k alone"),
        },
        "realised": realised,
        "population_by_origin_rows": int(len(stock)),
    }
    return SectorData(unit=s["unit"], suffix=s["suffix"], code_2018=code_2018, code_2019=code_2019,
                      code_2025=code_2025, is_arrival=s["is_arrival"], sectors=table, population_by_origin=stock,
                      manifest=manifest)
