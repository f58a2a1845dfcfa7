"""Fit the study's 24 networks (3 periods x {all, 3 age bands, 4 income groups}) from the certified
`marts.mart_network_dyads`, store `results.model_estimates` and write the appendix tables."""

from __future__ import annotations

import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from mignet import db
from mignet.network import STUDY_TERMS, tables
from mignet.network.model import ErgmExistenceWarning, fit_ergm
from mignet.parallel import default_workers
from mignet.settings import Settings

PERIODS = ("pre_covid", "covid", "post_covid")
NETWORK_GROUPS = (
    ("all", "all"),
    ("age_band", "18-30"), ("age_band", "31-55"), ("age_band", "56-75"),
    ("income_group", "low"), ("income_group", "lower_middle"), ("income_group", "upper_middle"), ("income_group", "high"),
)
DYAD_MART = "mart_network_dyads"
DYAD_COLUMNS = ["period_label", "group_type", "group_value", "origin_nis", "destination_nis", "tie",
                "density_diff_per_1000", "distance_km", "distance_10km"]
ESTIMATE_COLUMNS = ["period_label", "group_type", "group_value", "term", "estimate", "std_error", "z", "p_value",
                    "stars", "odds_ratio", "ci_low", "ci_high", "method", "n_nodes", "n_ties", "n_mutual_pairs",
                    "loglik", "converged", "mle_exists", "certification_id", "fitted_at"]


def stars(p: float) -> str:
    if p is None or not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


# The last certified dyad table read, split into networks: fit and gof (two stages of one `mignet run`) read
# the same 8 million rows. Reused only after the content hash of the table is recomputed and equals the
# certified one, for the same warehouse, certification and columns; one entry, replaced by the next read.
_LAST_READ: dict = {}


def read_network_dyads(settings: Settings, columns: list[str] | None = None):
    """The certified dyad mart as a `CertifiedFrame` (raises NotCertifiedError naming the failed checks when
    it is not certified). Same check as `read_certified` (status and content hash, on the connection that
    reads), but fetched through Arrow with categorical strings: 8 million rows in ~10 s instead of ~25 s."""
    return certified_networks(settings, columns)[0]


def certified_networks(settings: Settings, columns: list[str] | None = None):
    """(`CertifiedFrame` of the certified dyad mart, its networks as `split_networks` gives them). The
    certification and content hash are checked on every call; the rows are read again only when the
    certified table is not the one read last time in this process."""
    from mignet.quality.certified import CertifiedFrame, verify_certified

    columns = columns or DYAD_COLUMNS
    if not settings.warehouse.exists():
        raise FileNotFoundError(f"warehouse {settings.warehouse} does not exist; run `mignet build` first")
    con = db.connect(str(settings.warehouse), read_only=True)
    try:
        cert = verify_certified(con, DYAD_MART)
        key = (str(settings.warehouse.resolve()), cert.certification_id, cert.content_hash, tuple(columns))
        if _LAST_READ.get("key") == key:
            return _LAST_READ["value"]
        known = {r[0] for r in con.execute(
            "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ?",
            [DYAD_MART]).fetchall()}
        unknown = [c for c in columns if c not in known]
        if unknown:
            raise ValueError(f"marts.{DYAD_MART} has no column(s) {', '.join(unknown)}")
        select = ", ".join(f'"{c}"' for c in columns)
        table = con.sql(f"select {select} from marts.{DYAD_MART}").to_arrow_table()
    finally:
        con.close()
    _LAST_READ.clear()
    frame = table.to_pandas(strings_to_categorical=True)
    del table
    certified = CertifiedFrame(frame=frame, certification_id=cert.certification_id, mart=DYAD_MART,
                               row_count=len(frame))
    value = (certified, split_networks(frame))
    _LAST_READ.update(key=key, value=value)
    return value


def split_networks(frame: pd.DataFrame) -> dict[tuple[str, str, str], pd.DataFrame]:
    """The 24 study networks keyed (period_label, group_type, group_value); refuses a mart lacking any."""
    groups = {tuple(map(str, key)): sub for key, sub in
              frame.groupby(["period_label", "group_type", "group_value"], sort=False, observed=True)}
    wanted = [(p, gt, gv) for p in PERIODS for gt, gv in NETWORK_GROUPS]
    missing = [k for k in wanted if k not in groups]
    if missing:
        shown = ", ".join("/".join(k) for k in missing[:6])
        raise ValueError(f"marts.{DYAD_MART} lacks {len(missing)} of the 24 study networks (e.g. {shown}); "
                         "rebuild the warehouse with every period and group")
    return {k: groups[k].reset_index(drop=True) for k in wanted}


def estimates_rows(res, key, method: str, certification_id: str | None, fitted_at) -> pd.DataFrame:
    period, group_type, group_value = key
    ci = res.conf_int()
    out = pd.DataFrame({
        "period_label": period, "group_type": group_type, "group_value": group_value,
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
                 progress=None, workers: int | None = None) -> pd.DataFrame:
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
                frames.append(estimates_rows(res, key, method, certification_id, fitted_at))
                if progress:
                    note = "" if res.mle_exists else f"  NOTE: {res.message}"
                    progress(f"fit {'/'.join(key)}: {res.n_nodes} nodes, {res.n_ties} ties, "
                             f"{res.n_mutual_pairs} mutual pairs, {seconds:.2f} s{note}")
    for w in caught:
        if not issubclass(w.category, ErgmExistenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return pd.concat(frames, ignore_index=True)


def write_results_table(settings: Settings, table: str, frame: pd.DataFrame) -> None:
    """Replace `results.<table>` in the warehouse by `frame`."""
    con = db.connect(str(settings.warehouse))
    try:
        con.execute("create schema if not exists results")
        con.register("new_rows", frame)
        con.execute(f"create or replace table results.{table} as select * from new_rows")
        con.unregister("new_rows")
    finally:
        con.close()


def write_estimates(settings: Settings, estimates: pd.DataFrame) -> None:
    write_results_table(settings, "model_estimates", estimates)


def fit_all(settings: Settings, method: str = "mle", progress=None) -> pd.DataFrame:
    """Fit the 24 study networks from the certified dyad mart; write `results.model_estimates` (replacing
    the previous fit) and the appendix tables under reports/models/tables/. Returns the estimates."""
    start = time.perf_counter()
    certified, networks = certified_networks(settings)
    if progress:
        progress(f"read certified marts.{DYAD_MART}: {certified.row_count} rows (certification "
                 f"{certified.certification_id}) in {time.perf_counter() - start:.1f} s")
    estimates = fit_networks(networks, method=method, certification_id=certified.certification_id, progress=progress)
    write_estimates(settings, estimates)
    paths = tables.write_tables(estimates, settings.reports_dir / "models" / "tables")
    if progress:
        progress(f"wrote results.model_estimates ({len(estimates)} rows) to {settings.warehouse} and "
                 f"{len(paths)} table files to {settings.reports_dir / 'models' / 'tables'}; "
                 f"total {time.perf_counter() - start:.1f} s")
    return estimates
