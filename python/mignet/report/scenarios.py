"""Scenario pairs of the analysis report.

The study compared Beveren->Mechelen with Leuven->Mechelen, and Damme->Gent with Virton->Gent. Those pairs
are used when the warehouse holds municipalities of those names (the real geography at vintage 2019). On
any other geography the report picks pairs that ask the same questions of it: the densest and the
sparsest origin toward the most populous municipality, and the nearest and the farthest origin toward it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STUDY_PAIRS = (("Beveren", "Mechelen"), ("Leuven", "Mechelen"), ("Damme", "Gent"), ("Virton", "Gent"))


def choose_pairs(municipalities: pd.DataFrame) -> tuple[list[tuple[str, str]], str]:
    """[(origin_nis, destination_nis)] and a sentence saying how they were chosen."""
    by_name = {str(n).casefold(): str(c) for c, n in zip(municipalities["nis_code"], municipalities["name_nl"])}
    if all(o.casefold() in by_name and d.casefold() in by_name for o, d in STUDY_PAIRS):
        pairs = [(by_name[o.casefold()], by_name[d.casefold()]) for o, d in STUDY_PAIRS]
        return pairs, "The study's pairs: Beveren and Leuven toward Mechelen, Damme and Virton toward Gent."
    m = municipalities.copy()
    if "density_per_km2" not in m.columns or m["density_per_km2"].isna().all():
        return [], "No municipality densities in the warehouse (marts.dim_municipality_year), so no scenario pairs."
    biggest = m.sort_values(["population", "nis_code"], ascending=[False, True]).iloc[0]
    others = m[m["nis_code"] != biggest["nis_code"]].copy()
    others["distance"] = np.hypot(others["centroid_x"] - biggest["centroid_x"], others["centroid_y"] - biggest["centroid_y"])
    densest = others.sort_values(["density_per_km2", "nis_code"], ascending=[False, True]).iloc[0]
    sparsest = others.sort_values(["density_per_km2", "nis_code"]).iloc[0]
    nearest = others.sort_values(["distance", "nis_code"]).iloc[0]
    farthest = others.sort_values(["distance", "nis_code"], ascending=[False, True]).iloc[0]
    pairs = []
    for origin in (densest, sparsest, nearest, farthest):
        pair = (str(origin["nis_code"]), str(biggest["nis_code"]))
        if pair not in pairs:
            pairs.append(pair)
    why = (f"The study's municipalities are not in this geography; instead the densest ({densest['name_nl']}) and "
           f"sparsest ({sparsest['name_nl']}) origin, and the nearest ({nearest['name_nl']}) and farthest "
           f"({farthest['name_nl']}) origin, toward the most populous municipality ({biggest['name_nl']}).")
    return pairs, why

