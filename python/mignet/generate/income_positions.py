"""What the income-position study needs from a synthetic extract (docs/income_positions.md), beside the tables
the first study uses:

- `origin_address_class` of every move: `reception_centre` for the first move inland of most persons who
  immigrated from a country of asylum (they were registered at a reception centre), `collective` for some
  moves of the very old (a care home) and a few others, NULL for immigration (the origin is abroad) and a few
  unknown, `private` otherwise;
- the optional table `area_types`: every municipality code of 1-1-2019 with an area type and a named area. The
  types follow the study (shrinking, anticipating, provincial capitals, other rural areas) plus urban areas,
  so that every Belgian municipality has one: the provincial capitals (the real ones where the geography has
  their codes, else the largest municipality of the province), the Brussels region and the dense
  municipalities are urban, and of the others the slowest-growing eighth (population 1-1-2019 to 1-1-2024) is
  shrinking and the next eighth anticipating. Named areas are the province's (or the region's) part of a type;
  a capital is an area of its own. The parts of a municipality of 1-1-2025 share its area, so the table
  harmonises to either vintage;
- the optional table `population_positions`: residents per municipality code, 1 January and income position
  of both classifications (the positions of seed income_positions, the groups of seed income_groups, read from
  the project's seeds so no label is repeated here), summing to 94 % of the population table's count (the
  rest is institutional or of unknown income). Lower incomes are more common in shrinking, anticipating and
  urban areas.
- faults in these (each an extra row, so the clean rows stay complete, or a picked move of faults.inject).

Everything is a function of the seed: the same seed gives the same rows.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr

from mignet import contract
from mignet.generate import codes
from mignet.generate.geography import POPULATION_YEARS, Geography
from mignet.generate.faults import Fault
from mignet.generate.simulate import age_in_years

SEEDS = Path(__file__).resolve().parents[3] / "seeds"
AREA_TYPES = contract.TABLES["area_types"]
POPULATION_POSITIONS = contract.TABLES["population_positions"]
ADDRESS_CLASSES = contract.MOVES.column("origin_address_class").allowed
PRIVATE, COLLECTIVE, RECEPTION_CENTRE = (ADDRESS_CLASSES.index(c) for c in ("private", "collective", "reception_centre"))

# countries from which most immigrants apply for international protection (a reception centre first)
ASYLUM_COUNTRIES = ("AF", "SY", "CD", "UA", "CM")
RECEPTION_SHARE = 0.7  # of their first move inland
COLLECTIVE_SHARE_OLD = 0.12  # of the moves of persons aged 80 and over
COLLECTIVE_SHARE = 0.004
UNKNOWN_CLASS_SHARE = 0.003

# the real provincial capitals (1-1-2019 codes, and Hasselt's of 1-1-2025)
CAPITALS = ("11002", "44021", "31005", "24062", "71022", "71072", "53053", "92094", "62063", "81001", "25112")
PROVINCE_NAMES = {"10000": "Antwerpen", "20001": "Vlaams-Brabant", "20002": "Brabant wallon",
                  "30000": "West-Vlaanderen", "40000": "Oost-Vlaanderen", "50000": "Hainaut", "60000": "Liège",
                  "70000": "Limburg", "80000": "Luxembourg", "90000": "Namur", None: "Brussels"}
URBAN_DENSITY = 600.0  # inhabitants per km2
SHRINKING_SHARE = ANTICIPATING_SHARE = 0.125
UNCLASSIFIED_SHARE = 0.06  # residents in institutional households or of unknown income
STUDENT_SHARE = {"urban": 0.06, "provincial_capital": 0.08}
STUDENT_SHARE_DEFAULT = 0.025
RATIO_MEDIAN = 2.0  # equivalised income / social minimum, log-normal
RATIO_SIGMA = 0.55
INCOME_SHIFT = {"shrinking": -0.14, "anticipating": -0.07, "urban": -0.08, "provincial_capital": -0.03,
                "other_rural": 0.02}


def origin_address_classes(moves: dict[str, np.ndarray], persons: dict[str, np.ndarray], countries: list[str],
                           rng: np.random.Generator) -> np.ndarray:
    """Index into ADDRESS_CLASSES of each move's origin address (-1: NULL), for the moves' arrays of
    RawTables (in file order)."""
    n = len(moves["move_id"])
    out = np.full(n, PRIVATE, dtype=np.int8)
    immigration = moves["type"] == 1
    # each person's moves in date order: a move right after an immigration from a country of asylum
    order = np.lexsort((moves["day"], moves["person_idx"]))
    person, kind = moves["person_idx"][order], moves["type"][order]
    asylum = np.isin(np.array(countries, dtype=object)[np.maximum(moves["o_country"], 0)], ASYLUM_COUNTRIES) \
        & (moves["o_country"] >= 0)
    after = np.zeros(n, dtype=bool)
    after[1:] = (person[1:] == person[:-1]) & (kind[:-1] == 1) & asylum[order][:-1] & (kind[1:] == 0)
    reception = np.zeros(n, dtype=bool)
    reception[order[after]] = rng.random(int(after.sum())) < RECEPTION_SHARE
    age = age_in_years(persons["birth_day"][moves["person_idx"]], moves["day"])
    collective = rng.random(n) < np.where(age >= 80, COLLECTIVE_SHARE_OLD, COLLECTIVE_SHARE)
    out[collective] = COLLECTIVE
    out[reception] = RECEPTION_CENTRE
    out[immigration | (rng.random(n) < UNKNOWN_CLASS_SHARE)] = -1
    return out


# ---- area types ------------------------------------------------------------------------------------------

def classify_areas(geo: Geography) -> pd.DataFrame:
    """One row per municipality code of 1-1-2019: nis_code, area_type, area_name (and code_2025, the
    municipality of 1-1-2025 whose parts share one area)."""
    units = geo.units
    pop = geo.population.assign(year=lambda f: pd.to_datetime(f["reference_date"]).dt.year)
    first, last = 2019, max(POPULATION_YEARS)
    by_code = pop[pop["year"].isin([first, last])].pivot_table(index="nis_code", columns="year", values="population",
                                                              aggfunc="sum")
    codes19 = units.groupby("code_2019", sort=True).agg(code_2025=("code_2025", "first"), area_km2=("area_km2", "sum"),
                                                        region_nis=("region_nis", "first"))
    codes19 = codes19.join(by_code, how="left")
    merged = codes19.groupby("code_2025").agg(area_km2=("area_km2", "sum"), region_nis=("region_nis", "first"),
                                              first=(first, "sum"), last=(last, "sum"))
    merged["density"] = merged["first"] / merged["area_km2"]
    merged["growth"] = merged["last"] / merged["first"] - 1.0
    merged["province"] = [codes.PROVINCE_OF_ARRONDISSEMENT.get(c[:2]) for c in merged.index]
    kind = pd.Series("other_rural", index=merged.index, dtype=object)
    capitals = {c25 for c19, c25 in zip(codes19.index, codes19["code_2025"]) if c19 in CAPITALS or c25 in CAPITALS}
    for province, rows in merged[merged["province"].notna()].groupby("province"):
        present = [c for c in rows.index if c in capitals]
        kind[present or [rows["first"].idxmax()]] = "provincial_capital"
    urban = (merged["region_nis"] == "04000") | (merged["density"] >= URBAN_DENSITY)
    kind[urban & (kind != "provincial_capital")] = "urban"
    rest = merged.index[kind == "other_rural"]
    ranked = merged.loc[rest, "growth"].rank(method="first")
    n = len(rest)
    kind[ranked.index[ranked <= SHRINKING_SHARE * n]] = "shrinking"
    kind[ranked.index[(ranked > SHRINKING_SHARE * n) & (ranked <= (SHRINKING_SHARE + ANTICIPATING_SHARE) * n)]] = \
        "anticipating"
    names = dict(zip(geo.municipalities["nis_code"], geo.municipalities["name_nl"].fillna(geo.municipalities["name_fr"])))
    area_name = [names.get(code, code) if k == "provincial_capital"
                 else PROVINCE_NAMES[province if isinstance(province, str) else None]
                 for code, k, province in zip(merged.index, kind, merged["province"])]
    areas = pd.DataFrame({"code_2025": merged.index, "area_type": kind.to_numpy(), "area_name": area_name})
    out = codes19.reset_index()[["code_2019", "code_2025"]].merge(areas, on="code_2025", how="left")
    return out.rename(columns={"code_2019": "nis_code"})[["nis_code", "area_type", "area_name", "code_2025"]]


def area_types_frame(geo: Geography) -> pd.DataFrame:
    return classify_areas(geo)[list(AREA_TYPES.column_names)]


# ---- population by income position ------------------------------------------------------------------------

def _seed_rows(name: str) -> list[dict]:
    with open(SEEDS / f"{name}.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _shares_social_minimum(shift: np.ndarray, student: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(positions, shares per municipality x position) of the classified residents."""
    rows = sorted(_seed_rows("income_positions"), key=lambda r: int(r["position_order"]))
    labels, shares = [], []
    median = np.log(RATIO_MEDIAN) + shift
    for r in rows:
        labels.append(r["position"])
        if r["is_student_position"].strip().lower() == "true":
            shares.append(student)
            continue
        lo = float(r["min_ratio_pct"]) / 100 if r["min_ratio_pct"] else 0.0
        hi = float(r["max_ratio_pct"]) / 100 if r["max_ratio_pct"] else np.inf
        cdf = lambda x: ndtr((np.log(x) - median) / RATIO_SIGMA) if np.isfinite(x) and x > 0 else (  # noqa: E731
            np.ones_like(median) if np.isinf(x) else np.zeros_like(median))
        shares.append((cdf(hi) - cdf(lo)) * (1 - student))
    return labels, np.column_stack(shares)


def _shares_income_groups(shift: np.ndarray) -> tuple[list[str], np.ndarray]:
    rows = sorted(_seed_rows("income_groups"), key=lambda r: int(r["group_order"]))
    labels = [r["income_group"] for r in rows]
    base = np.array([float(r["upper_quantile"]) - float(r["lower_quantile"]) for r in rows])
    centre = np.linspace(-1, 1, len(rows)) if len(rows) > 1 else np.zeros(1)
    weights = base[None, :] * np.exp(2.0 * shift[:, None] * centre[None, :])
    return labels, weights / weights.sum(axis=1, keepdims=True)


def population_positions_frame(geo: Geography, areas: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Residents per code, 1 January and position of both classifications, on the codes of the population
    table (2018 codes on 1-1-2018, 2019 codes later): UNCLASSIFIED_SHARE of the residents are in no position."""
    kind19 = dict(zip(areas["nis_code"], areas["area_type"]))
    pop = geo.population.copy()
    # a 2018 code takes the area type of the 2019 code it becomes
    to2019 = dict(zip(geo.units["code_2018"], geo.units["code_2019"]))
    pop["area_type"] = [kind19.get(to2019.get(c, c), "other_rural") for c in pop["nis_code"]]
    codes_all = sorted(set(pop["nis_code"]))
    own = dict(zip(codes_all, rng.normal(0.0, 0.05, len(codes_all))))
    shift = np.array([INCOME_SHIFT.get(k, 0.0) + own[c] for c, k in zip(pop["nis_code"], pop["area_type"])])
    student = np.array([STUDENT_SHARE.get(k, STUDENT_SHARE_DEFAULT) for k in pop["area_type"]])
    classified = np.round(pop["population"].to_numpy() * (1 - UNCLASSIFIED_SHARE))
    frames = []
    for classification, (labels, shares) in (("social_minimum", _shares_social_minimum(shift, student)),
                                             ("income_group", _shares_income_groups(shift))):
        counts = np.floor(shares * classified[:, None]).astype(np.int64)
        # the remainders to the largest fractions, so the positions sum to the classified residents
        short = (classified - counts.sum(axis=1)).astype(np.int64)
        fraction = shares * classified[:, None] - counts
        top = np.argsort(-fraction, axis=1, kind="stable")
        for k in range(shares.shape[1]):
            counts[np.arange(len(counts)), top[:, k]] += (short > k).astype(np.int64)
        for j, label in enumerate(labels):
            frames.append(pd.DataFrame({"nis_code": pop["nis_code"].to_numpy(), "reference_date": pop["reference_date"].to_numpy(),
                                        "classification": classification, "position": label,
                                        "population": counts[:, j]}))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["reference_date", "nis_code", "classification"], kind="stable").reset_index(drop=True)[
        list(POPULATION_POSITIONS.column_names)]


# ---- faults ----------------------------------------------------------------------------------------------

# fault_type -> (table, expected_rule, expected_outcome); every fault is an extra row of its table
FAULT_TYPES: dict[str, tuple[str, str, str]] = {
    "area_type_duplicate": ("area_types", "area_type_duplicate", "quarantine"),
    "area_type_value_invalid": ("area_types", "area_type_value_invalid", "quarantine"),
    "area_type_nis_invalid": ("area_types", "area_type_nis_invalid", "quarantine"),
    "area_type_conflict": ("area_types", "area_type_conflict", "quarantine"),
    "population_position_duplicate": ("population_positions", "population_position_duplicate", "quarantine"),
    "population_position_value_invalid": ("population_positions", "population_position_value_invalid", "quarantine"),
    "population_position_unknown": ("population_positions", "population_position_unknown", "quarantine"),
}


class PositionFault(Fault):
    """A fault of the tables above: a line of faults.csv like the others' (its kind is in FAULT_TYPES here)."""

    def row(self) -> dict:
        table, rule, outcome = FAULT_TYPES[self.fault_type]
        return dict(table=table, key=self.key, fault_type=self.fault_type, expected_rule=rule,
                    expected_outcome=outcome, detail=self.detail)


def inject(areas: pd.DataFrame, population: pd.DataFrame, geo: Geography, rate: float,
           rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, list[PositionFault]]:
    """Faulty extra rows appended to the two tables (rate: share of each table's rows, at least one of each
    kind); returns the tables and the faults."""
    fault = PositionFault
    faults: list[PositionFault] = []
    if rate <= 0:
        return areas, population, faults

    def per(n_rows: int, kinds: int) -> int:
        return max(1, int(round(rate * n_rows / kinds)))

    extra = []
    k = per(len(areas), 4)
    for r in areas.iloc[np.sort(rng.choice(len(areas), min(k, len(areas)), replace=False))].itertuples():
        extra.append({"nis_code": r.nis_code, "area_type": r.area_type, "area_name": r.area_name})
        faults.append(fault("area_types", r.nis_code, "area_type_duplicate", "second row for this nis_code"))
    for j in range(k):
        code = ("ABCDE", "4402", "21 004")[j % 3]
        extra.append({"nis_code": code, "area_type": "shrinking", "area_name": " "})
        faults.append(fault("area_types", code, "area_type_value_invalid", f"nis_code '{code}', a blank area_name"))
    known = set(geo.municipalities["nis_code"])
    unknown = [c for c in (f"{a}{n:03d}" for a in ("11", "44", "57", "93") for n in (991, 995, 999)) if c not in known]
    for j in range(k):
        code = unknown[j % len(unknown)]
        extra.append({"nis_code": code, "area_type": "other_rural", "area_name": "Nowhere"})
        faults.append(fault("area_types", code, "area_type_nis_invalid", f"nis_code {code} is no municipality"))
    # a code of 2018 that became part of a 2019 municipality, in another area than the 2019 code's row
    parts = geo.units.loc[geo.units["code_2018"] != geo.units["code_2019"], ["code_2018", "code_2019"]]
    of_2019 = areas.set_index("nis_code")
    for r in parts.iloc[:k].itertuples():
        other = "urban" if of_2019.loc[r.code_2019, "area_type"] != "urban" else "shrinking"
        extra.append({"nis_code": r.code_2018, "area_type": other, "area_name": "Elsewhere"})
        faults.append(fault("area_types", r.code_2018, "area_type_conflict",
                            f"old code of {r.code_2019} in {other}, not in {of_2019.loc[r.code_2019, 'area_type']}"))
    areas = pd.concat([areas, pd.DataFrame(extra)], ignore_index=True)

    extra = []
    k = per(len(population), 3)
    picked = population.iloc[np.sort(rng.choice(len(population), min(3 * k, len(population)), replace=False))]

    def key(r) -> str:
        return f"{r['nis_code']}|{r['reference_date']}|{r['classification']}|{r['position']}"

    for _, r in picked.iloc[:k].iterrows():
        extra.append({**r.to_dict(), "population": int(r["population"]) + 7})
        faults.append(fault("population_positions", key(r), "population_position_duplicate", "second row for this key"))
    for _, r in picked.iloc[k:2 * k].iterrows():
        row = {**r.to_dict(), "reference_date": dt.date(r["reference_date"].year, 7, 1)}
        extra.append(row)
        faults.append(fault("population_positions", key(row), "population_position_value_invalid",
                            "reference_date is a 1 July"))
    for j, (_, r) in enumerate(picked.iloc[2 * k:].iterrows()):
        # a label of no seed, another for each row so that two of one municipality and date are no duplicates
        row = {**r.to_dict(), "position": f"no_such_position_{j}"}
        extra.append(row)
        faults.append(fault("population_positions", key(row), "population_position_unknown",
                            f"position {row['position']!r} of {r['classification']}"))
    population = pd.concat([population, pd.DataFrame(extra)], ignore_index=True)
    return areas, population, faults

