"""Scenario probabilities: how likely is a tie origin -> destination under a fitted model?

For a pair {i, j} with linear predictors eta_ij and eta_ji (edges plus covariate terms), the four pair
states have weights 1, e^eta_ij, e^eta_ji and e^(eta_ij + eta_ji + mutual) (`ErgmModel.state_utilities`,
the one source of these weights). So

    P(i->j | no j->i) = e^eta_ij / (1 + e^eta_ij)                 (the study's scenario probability)
    P(i->j | j->i)    = e^(eta_ij + mutual) / (1 + e^(eta_ij + mutual))
    P(i->j)           = (e^eta_ij + e^(eta_ij + eta_ji + mutual)) / (1 + e^eta_ij + e^eta_ji + e^(eta_ij + eta_ji + mutual))
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from mignet.network.fit import DYAD_MART, NETWORK_MART
from mignet.network.model import ErgmModel
from mignet.settings import Settings
from mignet.warehouse import Warehouse


class ScenarioError(ValueError):
    pass


# Conditioning states of a pair (none, i->j only, j->i only, both), i the origin: "no reverse tie", "reverse tie".
_WITHOUT_REVERSE = np.array([[True, True, False, False]])
_WITH_REVERSE = np.array([[False, False, True, True]])


def tie_probabilities(params: dict, forward, reverse) -> dict:
    """Probabilities of a tie forward (origin -> destination) given the dyad rows (mappings or Series holding
    the model's covariates) of both directions: the state probabilities `ErgmModel.state_probabilities` gives
    the pair, marginal and conditioned on the reverse tie. An infinite estimate (e.g. mutual = -inf) is the
    limit along it."""
    if any(np.isnan(v) for v in params.values()):
        raise ScenarioError("the model has non-identified terms (MLE does not exist); no scenario probabilities")
    # The pair as a two-node network, origin first, so its one unordered pair is (origin, destination).
    pair = pd.DataFrame([dict(forward), dict(reverse)]).assign(origin=[0, 1], destination=[1, 0], tie=0)
    try:
        model = ErgmModel(pair, list(params))
    except ValueError as err:
        raise ScenarioError(f"cannot evaluate the model on this pair: {err}") from err
    theta = np.array(list(params.values()), dtype=float)
    eta_forward, eta_reverse = model.linear_predictor(theta)[[model.row_ij[0], model.row_ji[0]]]
    marginal = model.state_probabilities(theta)[0]
    return {"eta_forward": float(eta_forward), "eta_reverse": float(eta_reverse),
            "p_given_no_reverse": float(model.state_probabilities(theta, _WITHOUT_REVERSE)[0, 1]),
            "p_given_reverse": float(model.state_probabilities(theta, _WITH_REVERSE)[0, 3]),
            "p_marginal": float(marginal[1] + marginal[3])}


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


def _suggest(value: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(value, choices, n=3, cutoff=0.5)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def network_of(catalogue: pd.DataFrame, period: str | None, group: str) -> pd.Series:
    """The dim_network row of a period (default: the last) and a group given by its value (all, an age band, an
    income group; case-insensitive)."""
    periods = list(dict.fromkeys(catalogue.sort_values("network_id")["period_label"].astype(str)))
    if period is None:
        period = periods[-1]
    if period not in periods:
        raise ScenarioError(f"unknown period {period!r}{_suggest(period, periods)}; periods: {', '.join(periods)}")
    rows = catalogue[(catalogue["period_label"] == period)
                     & (catalogue["group_value"].astype(str).str.casefold() == group.casefold())]
    if rows.empty:
        values = list(dict.fromkeys(catalogue.sort_values("network_id")["group_value"].astype(str)))
        raise ScenarioError(f"unknown group {group!r}{_suggest(group, values)}; groups: {', '.join(values)}")
    return rows.iloc[0]


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


def scenario(settings: Settings, origin: str, destination: str, period: str | None = None, group: str = "all",
             method: str | None = None) -> Scenario:
    """Tie probabilities origin -> destination from the stored estimates (results.model_estimates) and the
    certified dyad covariates of that network; `period` defaults to the last period of dim_network."""
    warehouse = Warehouse(settings)
    if not warehouse.exists():
        raise ScenarioError(f"warehouse {settings.warehouse} does not exist; run `mignet build` and `mignet fit` first")
    with warehouse.reading(marts=(NETWORK_MART, "dim_municipality", DYAD_MART), results=("model_estimates",)) as (con, _):
        catalogue = con.execute(f"select * from marts.{NETWORK_MART}").df()
        network = network_of(catalogue, period, group)
        o_nis, o_name = resolve_municipality(con, origin)
        d_nis, d_name = resolve_municipality(con, destination)
        if o_nis == d_nis:
            raise ScenarioError("origin and destination are the same municipality")
        est = con.execute(
            "select term, estimate, method from results.model_estimates where network_id = ?"
            + (" and method = ?" if method else ""),
            [int(network["network_id"])] + ([method] if method else []),
        ).df()
        if est.empty:
            raise ScenarioError(f"no stored estimates for network {int(network['network_id'])} "
                                f"({network['period_label']}/{network['group_value']}): run `mignet fit`")
        dyads = con.execute(
            f"select origin_nis, destination_nis, tie, density_diff_per_1000, distance_km, distance_10km "
            f"from marts.{DYAD_MART} where network_id = ? "
            "and ((origin_nis = ? and destination_nis = ?) or (origin_nis = ? and destination_nis = ?))",
            [int(network["network_id"]), o_nis, d_nis, d_nis, o_nis],
        ).df()
    period_label, group_type, group_value = (str(network[c]) for c in ("period_label", "group_type", "group_value"))
    forward = dyads[(dyads.origin_nis == o_nis) & (dyads.destination_nis == d_nis)]
    reverse = dyads[(dyads.origin_nis == d_nis) & (dyads.destination_nis == o_nis)]
    if forward.empty or reverse.empty:
        raise ScenarioError(f"marts.{DYAD_MART} has no rows for {o_nis} <-> {d_nis} in {period_label}/{group_value}")
    params = dict(zip(est["term"], est["estimate"].astype(float)))
    probs = tie_probabilities(params, forward.iloc[0], reverse.iloc[0])
    covs = {c: float(forward.iloc[0][c]) for c in ("density_diff_per_1000", "distance_km", "distance_10km")}
    return Scenario(o_nis, o_name, d_nis, d_name, period_label, group_type, group_value, str(est["method"].iloc[0]),
                    probs["p_given_no_reverse"], probs["p_given_reverse"], probs["p_marginal"],
                    probs["eta_forward"], probs["eta_reverse"], covs,
                    int(forward.iloc[0]["tie"]), int(reverse.iloc[0]["tie"]))
