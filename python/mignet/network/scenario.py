"""Scenario probabilities: how likely is a tie origin -> destination under a fitted model?

For a pair {i, j} with linear predictors eta_ij and eta_ji (edges plus covariate terms), the four pair
states have weights 1, e^eta_ij, e^eta_ji and e^(eta_ij + eta_ji + mutual). So

    P(i->j | no j->i) = e^eta_ij / (1 + e^eta_ij)                 (the study's scenario probability)
    P(i->j | j->i)    = e^(eta_ij + mutual) / (1 + e^(eta_ij + mutual))
    P(i->j)           = (e^eta_ij + e^(eta_ij + eta_ji + mutual)) / (1 + e^eta_ij + e^eta_ji + e^(eta_ij + eta_ji + mutual))
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logsumexp

from mignet import db
from mignet.network.fit import DYAD_MART, NETWORK_GROUPS, PERIODS
from mignet.settings import Settings


class ScenarioError(ValueError):
    pass


def linear_predictor(params: dict, dyad: dict | pd.Series) -> float:
    eta = 0.0
    for term, value in params.items():
        kind, _, column = term.partition(":")
        if kind == "edges":
            eta += value
        elif kind == "mutual":
            continue
        elif kind in ("edgecov", "sender", "receiver"):
            x = float(dyad[column])
            if x != 0:
                eta += value * x
        else:
            raise ScenarioError(f"term {term!r} is not a term of this model family")
    return eta


def tie_probabilities(params: dict, forward, reverse) -> dict:
    """Probabilities of a tie forward (origin -> destination) given the dyad rows of both directions."""
    if any(np.isnan(v) for v in params.values()):
        raise ScenarioError("the model has non-identified terms (MLE does not exist); no scenario probabilities")
    a, b = linear_predictor(params, forward), linear_predictor(params, reverse)
    m = params.get("mutual", 0.0)
    log_weights = np.array([0.0, a, b, a + b + m])
    with np.errstate(invalid="ignore"):
        marginal = float(np.exp(logsumexp([a, a + b + m]) - logsumexp(log_weights)))
    return {"eta_forward": a, "eta_reverse": b, "p_given_no_reverse": float(expit(a)),
            "p_given_reverse": float(expit(a + m)), "p_marginal": marginal}


@dataclass
class Scenario:
    origin_nis: str
    origin_name: str
    destination_nis: str
    destination_name: str
    period_label: str
    group_type: str
    group_value: str
    method: str
    p_given_no_reverse: float
    p_given_reverse: float
    p_marginal: float
    eta_forward: float
    eta_reverse: float
    covariates: dict
    observed_tie: int
    observed_reverse_tie: int

    def as_dict(self) -> dict:
        return asdict(self)


def group_type_of(group: str) -> tuple[str, str]:
    matches = [(gt, gv) for gt, gv in NETWORK_GROUPS if gv.casefold() == group.casefold()]
    if not matches:
        raise ScenarioError(f"unknown group {group!r}; groups: {', '.join(gv for _, gv in NETWORK_GROUPS)}")
    return matches[0]


def resolve_municipality(con, value: str) -> tuple[str, str]:
    """(nis_code, name) from a NIS code or a Dutch or French name (case-insensitive)."""
    rows = con.execute(
        "select nis_code, name_nl, name_fr from marts.dim_municipality "
        "where nis_code = ? or lower(name_nl) = lower(?) or lower(name_fr) = lower(?)",
        [value.strip(), value.strip(), value.strip()],
    ).fetchall()
    if not rows:
        raise ScenarioError(f"no municipality with NIS code or name {value!r} in marts.dim_municipality")
    codes = sorted({r[0] for r in rows})
    if len(codes) > 1:
        raise ScenarioError(f"{value!r} is ambiguous: " + ", ".join(f"{r[0]} {r[1]}" for r in rows) + "; give the NIS code")
    return str(rows[0][0]), str(rows[0][1] or rows[0][2])


def scenario(settings: Settings, origin: str, destination: str, period: str, group: str = "all",
             method: str | None = None) -> Scenario:
    """Tie probabilities origin -> destination from the stored estimates (results.model_estimates) and the
    certified dyad covariates of that network."""
    from mignet.quality.certified import verify_certified

    if period not in PERIODS:
        raise ScenarioError(f"unknown period {period!r}; periods: {', '.join(PERIODS)}")
    group_type, group_value = group_type_of(group)
    if not settings.warehouse.exists():
        raise ScenarioError(f"warehouse {settings.warehouse} does not exist; run `mignet build` and `mignet fit` first")
    con = db.connect(str(settings.warehouse), read_only=True)
    try:
        o_nis, o_name = resolve_municipality(con, origin)
        d_nis, d_name = resolve_municipality(con, destination)
        if o_nis == d_nis:
            raise ScenarioError("origin and destination are the same municipality")
        has_table = con.execute("select count(*) from information_schema.tables where table_schema = 'results' "
                                "and table_name = 'model_estimates'").fetchone()[0]
        if not has_table:
            raise ScenarioError(f"{settings.warehouse} has no results.model_estimates: run `mignet fit` first")
        est = con.execute(
            "select term, estimate, method from results.model_estimates where period_label = ? and group_type = ? "
            "and group_value = ?" + (" and method = ?" if method else ""),
            [period, group_type, group_value] + ([method] if method else []),
        ).df()
        if est.empty:
            raise ScenarioError(f"no stored estimates for {period}/{group_type}/{group_value}: run `mignet fit`")
        verify_certified(con, DYAD_MART)
        dyads = con.execute(
            f"select origin_nis, destination_nis, tie, density_diff_per_1000, distance_km, distance_10km "
            f"from marts.{DYAD_MART} where period_label = ? and group_type = ? and group_value = ? "
            "and ((origin_nis = ? and destination_nis = ?) or (origin_nis = ? and destination_nis = ?))",
            [period, group_type, group_value, o_nis, d_nis, d_nis, o_nis],
        ).df()
    finally:
        con.close()
    forward = dyads[(dyads.origin_nis == o_nis) & (dyads.destination_nis == d_nis)]
    reverse = dyads[(dyads.origin_nis == d_nis) & (dyads.destination_nis == o_nis)]
    if forward.empty or reverse.empty:
        raise ScenarioError(f"marts.{DYAD_MART} has no rows for {o_nis} <-> {d_nis} in {period}/{group_value}")
    params = dict(zip(est["term"], est["estimate"].astype(float)))
    probs = tie_probabilities(params, forward.iloc[0], reverse.iloc[0])
    covs = {c: float(forward.iloc[0][c]) for c in ("density_diff_per_1000", "distance_km", "distance_10km")}
    return Scenario(o_nis, o_name, d_nis, d_name, period, group_type, group_value, str(est["method"].iloc[0]),
                    probs["p_given_no_reverse"], probs["p_given_reverse"], probs["p_marginal"],
                    probs["eta_forward"], probs["eta_reverse"], covs,
                    int(forward.iloc[0]["tie"]), int(reverse.iloc[0]["tie"]))
