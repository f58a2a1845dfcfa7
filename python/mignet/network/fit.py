"""Fit the study's networks (dim_network: every period x mover group the seeds define) from the certified
`marts.mart_network_dyads`, store `results.model_estimates` and write the appendix tables."""

from __future__ import annotations

import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from mignet.network import STUDY_TERMS, tables
from mignet.network.model import ErgmExistenceWarning, fit_ergm
from mignet.parallel import default_workers
from mignet.settings import Settings
from mignet.warehouse import CertifiedFrame, Warehouse

NETWORK_MART = "dim_network"
DYAD_MART = "mart_network_dyads"
NETWORK_KEY = ["period_label", "group_type", "group_value"]
# what fit, gof and the count models read (one certified read serves the three stages of a run)
DYAD_COLUMNS = ["network_id", "origin_nis", "destination_nis", "n_moves", "tie", "density_diff_per_1000",
                "distance_km", "distance_10km"]
ESTIMATE_COLUMNS = ["network_id", "period_label", "group_type", "group_value", "term", "estimate", "std_error", "z",
                    "p_value", "stars", "odds_ratio", "ci_low", "ci_high", "method", "n_nodes", "n_ties",
                    "n_mutual_pairs", "loglik", "converged", "mle_exists", "certification_id", "fitted_at"]


def stars(p: float) -> str:
    if p is None or not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


@dataclass
class Networks:
    """The certified networks: `catalogue` (dim_network, in its order), `frames` {(period_label, group_type,
    group_value): dyad frame} in the same order, and the certifications they were read under."""

    catalogue: pd.DataFrame
    frames: dict[tuple[str, str, str], pd.DataFrame]
    dyads: CertifiedFrame
    network_certification: str

    @property
    def inputs(self) -> dict[str, str]:
        return {NETWORK_MART: self.network_certification, DYAD_MART: self.dyads.certification_id}


# The split of the last dyad frame read (fit and gof of one run read the same certified frame, which the
# warehouse serves again only after rechecking its content hash).
_LAST_SPLIT: dict = {}


def certified_networks(settings: Settings, columns: list[str] | None = None) -> Networks:
    """The networks of dim_network with their dyads, both read through the certified read (raises
    NotCertifiedError naming the failed checks when either is not certified as it is now)."""
    warehouse = Warehouse(settings)
    catalogue = warehouse.read_certified(NETWORK_MART)
    dyads = warehouse.read_certified(DYAD_MART, columns=columns or DYAD_COLUMNS, categorical=True)
    key = (id(dyads), dyads.content_hash, catalogue.content_hash)
    if _LAST_SPLIT.get("key") != key:
        _LAST_SPLIT.clear()
        _LAST_SPLIT.update(key=key, frames=split_networks(dyads.frame, catalogue.frame))
    return Networks(catalogue=catalogue.frame.sort_values("network_id").reset_index(drop=True),
                    frames=_LAST_SPLIT["frames"], dyads=dyads, network_certification=catalogue.certification_id)


def split_networks(dyads: pd.DataFrame, catalogue: pd.DataFrame) -> dict[tuple[str, str, str], pd.DataFrame]:
    """The dyads of each network of the catalogue, keyed (period_label, group_type, group_value), in the
    catalogue's order; refuses dyads lacking a network of the catalogue."""
    groups = {int(k): sub for k, sub in dyads.groupby("network_id", sort=False, observed=True)}
    catalogue = catalogue.sort_values("network_id")
    missing = [tuple(r[c] for c in NETWORK_KEY) for _, r in catalogue.iterrows() if int(r["network_id"]) not in groups]
    if missing:
        shown = ", ".join("/".join(map(str, k)) for k in missing[:6])
        raise ValueError(f"marts.{DYAD_MART} lacks {len(missing)} of the {len(catalogue)} networks of "
                         f"marts.{NETWORK_MART} (e.g. {shown}); rebuild the warehouse")
    return {tuple(str(r[c]) for c in NETWORK_KEY): groups[int(r["network_id"])].reset_index(drop=True)
            for _, r in catalogue.iterrows()}


def estimates_rows(res, key, method: str, certification_id: str | None, fitted_at, network_id=None) -> pd.DataFrame:
    period, group_type, group_value = key
    ci = res.conf_int()
    out = pd.DataFrame({
        "network_id": network_id, "period_label": period, "group_type": group_type, "group_value": group_value,
        "term": list(res.params.index), "estimate": res.params.to_numpy(), "std_error": res.bse.to_numpy(),
        "z": res.tvalues.to_numpy(), "p_value": res.pvalues.to_numpy(),
        "odds_ratio": res.odds_ratios.to_numpy(), "ci_low": ci[0].to_numpy(), "ci_high": ci[1].to_numpy(),
    })
    out["stars"] = [stars(p) for p in out["p_value"]]
    out["method"] = method
    out["n_nodes"] = res.n_nodes
    out["n_ties"] = res.n_ties
    out["n_mutual_pairs"] = res.n_mutual_pairs
    out["loglik"] = res.llf
    out["converged"] = res.converged
    out["mle_exists"] = res.mle_exists
    out["certification_id"] = certification_id
    out["fitted_at"] = fitted_at
    return out[ESTIMATE_COLUMNS]


def fit_networks(networks: dict, method: str = "mle", terms=None, certification_id: str | None = None,
                 progress=None, workers: int | None = None, network_ids: dict | None = None) -> pd.DataFrame:
    """Fit each network; one row per network and term. Non-existence of an MLE is reported, not fatal.
    The networks are independent, so `workers` threads (default one per core) fit them side by side;
    results come back in the order of `networks`."""
    terms = terms or STUDY_TERMS
    fitted_at = datetime.now(timezone.utc).replace(tzinfo=None)

    def one(item):
        key, dyads = item
        start = time.perf_counter()
        return key, fit_ergm(dyads, terms, method=method), time.perf_counter() - start

    frames = []
    workers = max(1, min(workers or default_workers(), len(networks) or 1))
    # warnings are process-wide state: they are caught once around all threads, not per fit
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ErgmExistenceWarning)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for key, res, seconds in pool.map(one, networks.items()):
                frames.append(estimates_rows(res, key, method, certification_id, fitted_at,
                                             (network_ids or {}).get(key)))
                if progress:
                    note = "" if res.mle_exists else f"  NOTE: {res.message}"
                    progress(f"fit {'/'.join(key)}: {res.n_nodes} nodes, {res.n_ties} ties, "
                             f"{res.n_mutual_pairs} mutual pairs, {seconds:.2f} s{note}")
    for w in caught:
        if not issubclass(w.category, ErgmExistenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return pd.concat(frames, ignore_index=True)


def fit_all(settings: Settings, method: str = "mle", progress=None) -> pd.DataFrame:
    """Fit every network of dim_network from the certified dyad mart; write `results.model_estimates`
    (replacing the previous fit, recorded with the certifications it was fitted on) and the appendix tables
    under reports/models/tables/. Returns the estimates."""
    start = time.perf_counter()
    networks = certified_networks(settings)
    if progress:
        progress(f"read certified marts.{DYAD_MART}: {networks.dyads.row_count:,} rows, {len(networks.frames)} networks "
                 f"(certification {networks.dyads.certification_id}) in {time.perf_counter() - start:.1f} s")
    ids = {tuple(str(r[c]) for c in NETWORK_KEY): int(r["network_id"]) for _, r in networks.catalogue.iterrows()}
    estimates = fit_networks(networks.frames, method=method, certification_id=networks.dyads.certification_id,
                             progress=progress, network_ids=ids)
    Warehouse(settings).write_results("model_estimates", estimates, inputs=networks.inputs)
    paths = tables.write_tables(estimates, networks.catalogue, settings.reports_dir / "models" / "tables")
    if progress:
        progress(f"wrote results.model_estimates ({len(estimates)} rows) to {settings.warehouse} and "
                 f"{len(paths)} table files to {settings.reports_dir / 'models' / 'tables'}; "
                 f"total {time.perf_counter() - start:.1f} s")
    return estimates
