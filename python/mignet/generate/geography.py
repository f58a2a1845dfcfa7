"""Municipalities for the generator: a synthetic Belgium (default) or the real one from a reference folder.

Both give a `Geography`: the finest units the register is simulated on (the municipalities of
31-12-2018, 589 of them), how each unit is coded before 2019, from 2019 and from 2025, and the
municipalities and population tables of the extract.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mignet import contract
from mignet.generate import codes

POPULATION_YEARS = tuple(range(2018, 2025))
BELGIUM_POPULATION_2018 = 11_376_070
CHANGE_2019 = dt.date(2019, 1, 1)
CHANGE_2025 = dt.date(2025, 1, 1)
FIRST_VALID_FROM = dt.date(1977, 1, 1)  # the big merger of Belgian municipalities


@dataclass
class Geography:
    """units: one row per municipality of 31-12-2018 with columns code_2018, code_2019, code_2025, x, y,
    area_km2, pop_2018, density, coast (bool), region_nis; municipalities and population: the raw
    tables as DataFrames with the contract's columns."""

    source: str
    units: pd.DataFrame
    municipalities: pd.DataFrame
    population: pd.DataFrame
    extrapolated_years: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def codes_2018(self) -> np.ndarray:
        return self.units["code_2018"].to_numpy()

    @property
    def codes_2019(self) -> np.ndarray:
        return self.units["code_2019"].to_numpy()


def _arr_region(code: str) -> tuple[str, str | None, str]:
    arr = code[:2]
    return arr + "000", codes.PROVINCE_OF_ARRONDISSEMENT[arr], codes.region_of_arrondissement(arr)


_SYLLABLES_NL = ("aar", "bee", "berg", "bos", "dijk", "dorp", "eke", "gem", "hout", "kerk", "laar", "lo",
                 "mol", "rode", "schot", "sel", "ter", "veld", "vliet", "wijk", "zele", "ber", "de", "hem")
_SYLLABLES_FR = ("bel", "bois", "chap", "court", "fon", "mont", "mar", "ron", "sart", "ville", "val", "ham",
                 "gne", "tain", "roy", "lez", "ber", "cy", "mes", "vaux", "no", "ri", "ba", "lin")


def _synthetic_name(rng: np.random.Generator, region: str, taken: set[str]) -> tuple[str, str]:
    syl = _SYLLABLES_NL if region == "02000" else _SYLLABLES_FR
    while True:
        k = int(rng.integers(2, 4))
        name = "".join(syl[int(i)] for i in rng.integers(0, len(syl), k)).capitalize()
        if name not in taken:
            taken.add(name)
            return name, name


SMALL_FRACTION = 0.12
GEOGRAPHIES = ("synthetic", "synthetic-small")


def synthetic_geography(seed: int, fraction: float = 1.0) -> Geography:
    """589 municipalities before 1-1-2019 and 581 after, including every real code changed on 1-1-2019
    and 1-1-2025, with Belgian-like skew: a dense capital region of 19 small municipalities, a few
    dense cities, a coast and a sparse south.

    With `fraction` < 1 only that share of each arrondissement's ordinary municipalities is drawn (the
    changed codes and the anchor cities are always there), and the population is that share of Belgium's:
    a small country of the same shape, with every code change, for fast tests ("synthetic-small")."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], not {fraction!r}")
    rng = np.random.default_rng([seed, 589])
    old2019 = {c[0]: c for c in codes.CHANGES_2019}
    old2025 = {c[0]: c for c in codes.CHANGES_2025}
    anchors = {a[0]: a for a in codes.ANCHORS}
    reserved = set(old2019) | {c[2] for c in codes.CHANGES_2019} | set(old2025) | {c[2] for c in codes.CHANGES_2025}
    reserved |= set(anchors)
    fixed_2018 = (set(old2019) | set(old2025) | set(anchors))

    rows = []
    names_taken = {c[1] for c in codes.CHANGES_2019} | {c[1] for c in codes.CHANGES_2025} | {a[1] for a in codes.ANCHORS}
    for arr, cx, cy, radius_km, n_units, density in codes.ARRONDISSEMENTS:
        region = codes.region_of_arrondissement(arr)
        fixed = sorted(c for c in fixed_2018 if c.startswith(arr))
        if fraction < 1:
            n_units = max(len(fixed), int(np.ceil(n_units * fraction)))
        if len(fixed) > n_units:
            raise ValueError(f"arrondissement {arr}: {len(fixed)} fixed codes but only {n_units} municipalities")
        fillers = []
        number = 1
        while len(fixed) + len(fillers) < n_units:
            code = f"{arr}{number:03d}"
            if code not in reserved:
                fillers.append(code)
            number += 1
        for code in fixed + fillers:
            kind = "ordinary"
            if code in anchors:
                _, name_nl, name_fr, x, y, pop, area, kind = anchors[code]
            else:
                if code in old2019:
                    name_nl = name_fr = old2019[code][1]
                    x, y = old2019[code][5], old2019[code][6]
                elif code in old2025:
                    name_nl = name_fr = old2025[code][1]
                    x, y = old2025[code][4], old2025[code][5]
                else:
                    name_nl, name_fr = _synthetic_name(rng, region, names_taken)
                    while True:
                        r = radius_km * 1000 * np.sqrt(rng.random())
                        theta = rng.random() * 2 * np.pi
                        x, y = cx + r * np.cos(theta), cy + r * np.sin(theta)
                        # the ring around Brussels leaves the capital region to its own municipalities
                        if arr == "23" and np.hypot(x - 149_000, y - 170_000) < 9_000:
                            continue
                        if 25_000 < x < 290_000 and 25_000 < y < 240_000:
                            break
                typical_area = 32.0 if region == "02000" else (70.0 if arr[0] in "89" else 50.0)
                area = float(np.clip(typical_area * rng.lognormal(0, 0.45), 3.0, 240.0))
                pop = float(area * density * rng.lognormal(0, 0.35))
            rows.append(dict(code_2018=code, name_nl=name_nl, name_fr=name_fr, x=float(x), y=float(y),
                             area_km2=float(area), pop_2018=float(pop), kind=kind))
    units = pd.DataFrame(rows)
    # ordinary municipalities absorb the difference to Belgium's population of 1-1-2018
    ordinary = units["kind"].eq("ordinary") & ~units["code_2018"].isin(set(old2019) | set(old2025))
    # a small country has its cities and changed municipalities at the same share of their size
    units.loc[~ordinary, "pop_2018"] *= fraction
    gap = BELGIUM_POPULATION_2018 * fraction - units.loc[~ordinary, "pop_2018"].sum()
    units.loc[ordinary, "pop_2018"] *= gap / units.loc[ordinary, "pop_2018"].sum()
    units["pop_2018"] = units["pop_2018"].round().astype("int64")
    units["coast"] = units["kind"].eq("coast")
    return _finish(units, source="synthetic" if fraction == 1 else f"synthetic (fraction {fraction:g})", rng=rng,
                   growth=None)


def _finish(units: pd.DataFrame, source: str, rng: np.random.Generator,
            growth: pd.DataFrame | None, extrapolated: list[int] | None = None,
            notes: list[str] | None = None) -> Geography:
    """Add the 2019 and 2025 codes, build the municipalities and population tables."""
    map2019 = {c[0]: c[2] for c in codes.CHANGES_2019}
    name2019 = {c[2]: c[3] for c in codes.CHANGES_2019}
    map2025 = {c[0]: c[2] for c in codes.CHANGES_2025}
    name2025 = {c[2]: c[3] for c in codes.CHANGES_2025}
    units = units.copy()
    units["code_2019"] = units["code_2018"].map(lambda c: map2019.get(c, c))
    units["code_2025"] = units["code_2019"].map(lambda c: map2025.get(c, c))
    units["density"] = units["pop_2018"] / units["area_km2"]
    units["region_nis"] = units["code_2018"].map(lambda c: _arr_region(c)[2])
    if "coast" not in units:
        units["coast"] = False

    records = []

    def add(code, name_nl, name_fr, valid_from, valid_to, area, x, y):
        arr, prov, region = _arr_region(code)
        records.append(dict(nis_code=code, name_nl=name_nl, name_fr=name_fr, arrondissement_nis=arr,
                            province_nis=prov, region_nis=region, valid_from=valid_from, valid_to=valid_to,
                            area_km2=round(float(area), 4), centroid_x=round(float(x), 1),
                            centroid_y=round(float(y), 1)))

    def merged(frame: pd.DataFrame, key: str) -> pd.DataFrame:
        w = frame["area_km2"]
        return frame.assign(wx=frame["x"] * w, wy=frame["y"] * w).groupby(key, sort=True).agg(
            area_km2=("area_km2", "sum"), wx=("wx", "sum"), wy=("wy", "sum"),
            name_nl=("name_nl", "first"), name_fr=("name_fr", "first")).assign(
            x=lambda f: f["wx"] / f["area_km2"], y=lambda f: f["wy"] / f["area_km2"])

    end_2018 = CHANGE_2019 - dt.timedelta(days=1)
    end_2024 = CHANGE_2025 - dt.timedelta(days=1)
    for u in units.itertuples():
        if u.code_2018 in map2019:
            add(u.code_2018, u.name_nl, u.name_fr, FIRST_VALID_FROM, end_2018, u.area_km2, u.x, u.y)
    m2019 = merged(units, "code_2019")
    codes_2018 = set(units["code_2018"])
    for code, m in m2019.iterrows():
        is_new = code not in codes_2018
        name_nl = name2019.get(code, m.name_nl) if is_new else m.name_nl
        name_fr = name2019.get(code, m.name_fr) if is_new else m.name_fr
        valid_to = end_2024 if (code in map2025 and map2025[code] != code) else None
        add(code, name_nl, name_fr, CHANGE_2019 if is_new else FIRST_VALID_FROM, valid_to, m.area_km2, m.x, m.y)
    u2019 = m2019.reset_index().rename(columns={"code_2019": "code"})
    u2019["code_2025"] = u2019["code"].map(lambda c: map2025.get(c, c))
    m2025 = merged(u2019.rename(columns={"code": "code_2019"}), "code_2025")
    known = {r["nis_code"] for r in records}
    for code, m in m2025.iterrows():
        if code not in known:
            add(code, name2025.get(code, m.name_nl), name2025.get(code, m.name_fr),
                CHANGE_2025, None, m.area_km2, m.x, m.y)
    municipalities = pd.DataFrame(records).sort_values("nis_code", kind="stable").reset_index(drop=True)

    # population on 1 January: 2018 on the 2018 codes, 2019-2024 on the 2019 codes
    if growth is None:
        national = 0.0055
        rate = national + rng.normal(0, 0.004, len(units)) + np.where(units["region_nis"].eq("04000"), 0.002, 0.0)
        years = np.array(POPULATION_YEARS) - 2018
        growth = pd.DataFrame(np.exp(np.outer(rate, years)), columns=list(POPULATION_YEARS))
    pops = growth.mul(units["pop_2018"].to_numpy(), axis=0).round().astype("int64")
    pops["code_2018"] = units["code_2018"].to_numpy()
    pops["code_2019"] = units["code_2019"].to_numpy()
    frames = []
    for year in POPULATION_YEARS:
        key = "code_2018" if year < 2019 else "code_2019"
        per = pops.groupby(key, sort=True)[year].sum()
        frames.append(pd.DataFrame({"nis_code": per.index, "reference_date": dt.date(year, 1, 1),
                                    "population": per.to_numpy().astype("int64")}))
    population = pd.concat(frames, ignore_index=True)
    return Geography(source=source, units=units.reset_index(drop=True), municipalities=municipalities,
                     population=population, extrapolated_years=list(extrapolated or []), notes=list(notes or []))


def reference_geography(path: Path, seed: int, progress=None) -> Geography:
    """The real municipalities from a reference folder (municipalities_2018.csv, municipalities_2019.csv,
    municipalities_2025.csv): codes, names, areas, Lambert 72 centroids and populations of 1-1-2018 to
    1-1-2020; later years are extrapolated with each municipality's 2018-2020 growth."""
    path = Path(path)
    need = ["municipalities_2018.csv", "municipalities_2019.csv", "municipalities_2025.csv"]
    missing = [n for n in need if not (path / n).is_file()]
    if missing:
        raise FileNotFoundError(f"--geography {path}: missing {', '.join(missing)}")
    m18 = pd.read_csv(path / "municipalities_2018.csv", dtype=str)
    m19 = pd.read_csv(path / "municipalities_2019.csv", dtype=str)
    for frame, name, cols in ((m18, "municipalities_2018.csv", ["nis_code", "name_nl", "name_fr", "pop_2018_01_01", "maps_to_2019_nis"]),
                              (m19, "municipalities_2019.csv", ["nis_code", "pop_2019_01_01", "pop_2020_01_01", "area_km2", "centroid_x_l72", "centroid_y_l72"])):
        lacking = [c for c in cols if c not in frame.columns]
        if lacking:
            raise ValueError(f"{path / name}: missing column(s) {', '.join(lacking)}")
    m19 = m19.set_index("nis_code")
    units = m18[["nis_code", "name_nl", "name_fr"]].rename(columns={"nis_code": "code_2018"}).copy()
    units["pop_2018"] = m18["pop_2018_01_01"].astype("int64")
    target = m18["maps_to_2019_nis"]
    # a merged 2019 municipality's area and centroid are shared out over its 2018 parts by population
    share = units["pop_2018"] / units.groupby(target)["pop_2018"].transform("sum")
    area19 = m19["area_km2"].astype(float)
    units["area_km2"] = (target.map(area19) * share).to_numpy()
    rng = np.random.default_rng([seed, 2018])
    cx, cy = target.map(m19["centroid_x_l72"].astype(float)), target.map(m19["centroid_y_l72"].astype(float))
    n_parts = target.map(target.value_counts())
    # parts of a merger are spread around the merged centroid so they are not at one point
    jitter = np.where(n_parts > 1, np.sqrt(units["area_km2"] / np.pi) * 1000 * 0.8, 0.0)
    angle = rng.random(len(units)) * 2 * np.pi
    units["x"] = (cx + jitter * np.cos(angle)).to_numpy()
    units["y"] = (cy + jitter * np.sin(angle)).to_numpy()
    units["kind"] = "ordinary"
    coast_codes = {a[0] for a in codes.ANCHORS if a[7] == "coast"}
    units["coast"] = units["code_2018"].isin(coast_codes)
    # growth per 2018 unit: 2019 and 2020 from the 2019 codes' populations, shared by 2018 population
    p18 = target.map(m19["pop_2018_01_01_agg_to_2019_codes"].astype(float)) if "pop_2018_01_01_agg_to_2019_codes" in m19 else target.map(units.groupby(target)["pop_2018"].sum())
    p19 = target.map(m19["pop_2019_01_01"].astype(float))
    p20 = target.map(m19["pop_2020_01_01"].astype(float))
    growth = pd.DataFrame(index=units.index)
    growth[2018] = 1.0
    growth[2019] = (p19 / p18).to_numpy()
    growth[2020] = (p20 / p18).to_numpy()
    yearly = np.sqrt(growth[2020].to_numpy())
    extrapolated = [y for y in POPULATION_YEARS if y > 2020]
    for year in extrapolated:
        growth[year] = growth[2020] * yearly ** (year - 2020)
    note = (f"population of 1-1-{extrapolated[0]}..1-1-{extrapolated[-1]} extrapolated from each municipality's "
            "2018-2020 growth (the reference folder has populations up to 1-1-2020 only)")
    if progress:
        progress(f"geography {path}: {note}")
    geo = _finish(units, source=str(path), rng=rng, growth=growth, extrapolated=extrapolated, notes=[note])
    # the published populations of 1-1-2019 and 1-1-2020 exactly (the shares above round)
    pop = geo.population
    for year, column in ((2019, "pop_2019_01_01"), (2020, "pop_2020_01_01")):
        rows = pop["reference_date"] == dt.date(year, 1, 1)
        pop.loc[rows, "population"] = pop.loc[rows, "nis_code"].map(m19[column].astype("int64")).to_numpy()
    # real names of the new codes from the 2019 and 2025 lists
    names = {}
    for frame in (m19.reset_index(), pd.read_csv(path / "municipalities_2025.csv", dtype=str)):
        for r in frame.itertuples():
            names[r.nis_code] = (r.name_nl, r.name_fr if isinstance(r.name_fr, str) and r.name_fr else None)
    mun = geo.municipalities
    mun["name_nl"] = [names.get(c, (n, f))[0] for c, n, f in zip(mun["nis_code"], mun["name_nl"], mun["name_fr"])]
    mun["name_fr"] = [names.get(c, (n, f))[1] for c, n, f in zip(mun["nis_code"], mun["name_nl"], mun["name_fr"])]
    return geo


def load_geography(geography: str | Path, seed: int, progress=None) -> Geography:
    """"synthetic" (Belgian-like, 581 municipalities), "synthetic-small" (the same shape with every code change
    but a fraction of the ordinary municipalities and of the population: fast tests), or a reference folder of
    real municipalities."""
    if str(geography) == "synthetic":
        return synthetic_geography(seed)
    if str(geography) == "synthetic-small":
        return synthetic_geography(seed, fraction=SMALL_FRACTION)
    return reference_geography(Path(geography), seed, progress=progress)


def municipalities_frame(geo: Geography) -> pd.DataFrame:
    return geo.municipalities[list(contract.MUNICIPALITIES.column_names)]
