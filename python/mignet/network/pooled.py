"""Models pooled over the periods, and Wald tests of whether the density and distance effects changed.

The study fits each period's network separately, so its change table compared estimates as if they were
independent. They are not: the same municipality pairs recur in every period, and whatever makes a pair
attract more (or fewer) moves than its covariates say persists from one period to the next. Pooling makes
that explicit.

The stacked model of one group of movers is the joint model of its T period networks, keyed by (period,
origin, destination), with period-specific parameters: for the binary ERGM every term interacted with the
period indicators (edges x period, mutual x period, density difference x period, distance x period); for the
count model the same with origin x period fixed effects, which leave the density difference identified in
every period (it varies over destinations of one origin). Its likelihood is the sum of the periods'
likelihoods, so its maximum is exactly the periods' separate fits (nothing is re-estimated); what pooling
adds is their joint covariance. The model-based covariance of a sum of independent likelihoods is block
diagonal, which is the assumption the naive change table made. The sandwich clustered by unordered pair
{i, j} across periods drops it:

    V = sum_pairs S_p S_p',   S_p = (IF_p,1, ..., IF_p,T)

where IF_p,t is the influence of pair p on period t's estimate, in the leave-one-pair-out (CR3) form scaled
by sqrt((G-1)/G): for the ERGM (I_t - I_p,t)^-1 times the pair's score (observed minus expected statistics
of its four states), for the count models the same with the pair's two directed flows and the fixed effects'
leverage (see `mignet.network.counts`). Cov(b_s, b_t) = sum_p IF_p,s IF_p,t' is then estimated from the data,
and the Wald statistic of b_t - b_s uses Var(b_s) + Var(b_t) - 2 Cov(b_s, b_t). The stacked model's bread is
block diagonal and so is each pair's leverage across periods, so the per-period CR3 influences are exactly
the stacked model's.

Why a sandwich and not a pair bootstrap: with 168,490 pairs the sandwich is accurate, costs one pass over the
scores already computed at the estimate, and needs no refit; a pair bootstrap would refit every period's
ERGM and count models hundreds of times (minutes per group at Belgian scale) to estimate the same quantity.
The tests check its coverage on simulated networks with pair effects that persist across periods.

`stack_ergm(frames, terms, shared=...)` also fits a stacked ERGM whose `shared` terms are common to all
periods (one conditional logit over all (period, pair) units); the tests of change use the period-specific
model, whose estimates are the per-period fits.
"""

from __future__ import annotations

import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from scipy import stats as sps

from mignet.network import STUDY_TERMS
from mignet.network import counts as cm
from mignet.network import likelihood as lk
from mignet.network.model import ErgmExistenceWarning, ErgmModel, ErgmResults, fit_ergm
from mignet.parallel import default_workers
from mignet.settings import Settings

ERGM_MODEL = "ergm"
# the tested effects: effect -> term, per model family
ERGM_EFFECTS = {"density": "edgecov:density_diff_per_1000", "distance": "edgecov:distance_10km"}
COUNT_EFFECTS = dict(cm.EFFECT_TERMS)
POPULATION_MART = "dim_municipality_year"

COUNT_ESTIMATES = "count_estimates"
CHANGE_TESTS = "period_change_tests"
COUNT_ESTIMATE_COLUMNS = [
    "network_id", "period_label", "group_type", "group_value", "model", "family", "fixed_effects", "term",
    "estimate", "std_error", "z", "p_value", "stars", "ci_low", "ci_high", "std_error_cr1", "std_error_model", "vcov",
    "rate_ratio",
    "dispersion", "n_obs", "n_dropped", "n_moves", "n_clusters", "n_fixed_effects", "loglik", "converged",
    "iterations", "engine", "certification_id", "fitted_at",
]
CHANGE_TEST_COLUMNS = [
    "model", "group_type", "group_value", "effect", "term", "contrast", "period_from", "period_to",
    "estimate_from", "estimate_to", "std_error_from", "std_error_to", "difference", "std_error", "z", "chi2", "df",
    "p_value", "stars", "correlation", "std_error_independent", "z_independent", "chi2_independent",
    "p_value_independent", "n_clusters", "vcov", "note", "certification_id", "tested_at",
]
VCOV_LABEL = "clustered by unordered pair across periods (CR3, leave-one-pair-out)"


class PooledModelError(ValueError):
    """The periods cannot be pooled as asked (no common pairs, a non-existent stacked MLE, ...)."""


# ---- influence of each pair on the estimates ---------------------------------------------------------------

@dataclass
class ScoreBlock:
    """The influence of pairs on some parameters: row r of `scores` is the influence of the unordered pair
    `keys[r]` (= lo * len(nodes) + hi, positions in the sorted `nodes`) on the parameters `labels`; several
    rows may name the same pair (they are summed)."""

    labels: list
    nodes: pd.Index
    keys: np.ndarray
    scores: np.ndarray


def clustered_covariance(blocks: list[ScoreBlock]) -> tuple[pd.DataFrame, int]:
    """S'S over the union of the blocks' pairs, S[p] = the influence of pair p on every parameter of every
    block (0 where a block lacks the pair; influences come scaled, see `ergm_influence`); returns
    (covariance over all labels, G)."""
    nodes = blocks[0].nodes
    for b in blocks[1:]:
        if not b.nodes.equals(nodes):
            nodes = nodes.union(b.nodes)
    nodes = pd.Index(sorted(nodes), dtype=object)
    n = len(nodes)
    keys = []
    for b in blocks:
        m = len(b.nodes)
        remap = nodes.get_indexer(b.nodes).astype(np.int64)
        first, second = remap[b.keys // m], remap[b.keys % m]
        keys.append(np.minimum(first, second) * n + np.maximum(first, second))
    unique, position = cm._dense_unique(np.concatenate(keys), n * n)
    g = len(unique)
    labels = [label for b in blocks for label in b.labels]
    if len(set(labels)) != len(labels):
        raise PooledModelError(f"parameter labels repeat across score blocks: {labels}")
    total = np.zeros((g, len(labels)))
    row, col = 0, 0
    for b, k in zip(blocks, keys):
        rows = position[row: row + len(k)]
        for j in range(len(b.labels)):
            total[:, col + j] = np.bincount(rows, weights=b.scores[:, j], minlength=g)
        row += len(k)
        col += len(b.labels)
    cov = total.T @ total if g > 1 else np.full((len(labels), len(labels)), np.nan)
    index = pd.MultiIndex.from_tuples(labels, names=["period", "term"])
    return pd.DataFrame(cov, index=index, columns=index), g


def ergm_influence(res: ErgmResults, terms: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(influence (pairs x terms), information (terms x terms), finite terms) of an exact ERGM fit: each
    unordered pair's score (observed minus expected statistics of its four states) times the inverse of the
    information without the pair (the leave-one-pair-out, CR3 form), scaled by sqrt((G-1)/G) so that the
    covariance is the influences' cross-product; in the limiting model, for the finite terms only, when the
    MLE does not exist."""
    if res.method != "mle":
        raise PooledModelError("the pair sandwich needs the exact likelihood's scores: fit with method='mle'")
    model = res.model
    names = list(res.params.index)
    wanted = names if terms is None else list(terms)
    finite = [t for t in names if np.isfinite(res.params[t])]
    probs = res.state_probabilities()
    cols = [names.index(t) for t in finite]
    stats = model.pair_stats[:, :, cols]
    n_pairs = len(model.obs_state)
    observed = stats[np.arange(n_pairs), model.obs_state]
    k = len(cols)
    # per pair, term-major (elementwise over contiguous rows, several times faster than einsum over (pairs, 4, K, K)): E[x] and E[x x'] over the four states, as contiguous rows of length n_pairs
    xs = [np.ascontiguousarray(stats[:, state, :].T) for state in range(stats.shape[1])]  # (K, pairs) each
    ps = [np.ascontiguousarray(probs[:, state]) for state in range(stats.shape[1])]
    expected = sum(x * p for x, p in zip(xs, ps))
    own = np.empty((n_pairs, k, k))  # each pair's own information, Var of its statistics
    for i in range(k):
        for j in range(i, k):
            own[:, i, j] = own[:, j, i] = sum(x[i] * x[j] * p for x, p in zip(xs, ps)) - expected[i] * expected[j]
    info = own.sum(axis=0)
    info = (info + info.T) / 2
    # one Newton step of leaving the pair out (CR3): (I - I_p)^-1 s_p; with 168,490 pairs and 4 terms each
    # pair's own information is tiny, so this is CRV1 in all but name, kept for one rule across the models
    g = n_pairs
    score = observed - expected.T
    influence = cm.leave_out_solve(info, own, score) * np.sqrt((g - 1) / g)
    out = np.full((len(observed), len(wanted)), np.nan)
    for j, t in enumerate(wanted):
        if t in finite:
            out[:, j] = influence[:, finite.index(t)]
    return out, info, finite


def ergm_block(res: ErgmResults, period: str, terms: list[str] | None = None) -> ScoreBlock:
    model = res.model
    influence, _, _ = ergm_influence(res, terms)
    terms = list(res.params.index) if terms is None else list(terms)
    keys = model.pair_i.astype(np.int64) * model.n_nodes + model.pair_j.astype(np.int64)
    return ScoreBlock([(period, t) for t in terms], pd.Index(model.nodes.astype(str), dtype=object), keys, influence)


def count_block(res: cm.CountResults, period: str, terms: list[str] | None = None) -> ScoreBlock:
    terms = list(res.params.index) if terms is None else list(terms)
    cols = [list(res.params.index).index(t) for t in terms]
    return ScoreBlock([(period, t) for t in terms], res.nodes, res.cluster_keys, res.cluster_scores[:, cols])


# ---- stacked models --------------------------------------------------------------------------------------

@dataclass
class StackedFit:
    """A model stacked over periods: `params` indexed (period, term) (period "shared" for a common term),
    `cov` the pair-clustered covariance across periods, `cov_independent` the covariance that treats the
    periods as independent (each period's own, as its tables report), `n_clusters` pairs."""

    model: str
    periods: list[str]
    params: pd.Series
    cov: pd.DataFrame
    cov_independent: pd.DataFrame
    n_clusters: int
    notes: dict[str, str] = field(default_factory=dict)
    llf: float | None = None  # the joint log-likelihood, for a model with shared terms

    def bse(self) -> pd.Series:
        return pd.Series(np.sqrt(np.clip(np.diag(self.cov), 0, None)), index=self.params.index)


def _block_diagonal(covs: dict[str, pd.DataFrame], index: pd.MultiIndex) -> pd.DataFrame:
    position = {label: k for k, label in enumerate(index)}
    out = np.zeros((len(index), len(index)))
    for period, cov in covs.items():
        at = [position[(period, t)] for t in cov.index]
        out[np.ix_(at, at)] = cov.to_numpy()
    return pd.DataFrame(out, index=index, columns=index)


def stack_results(model: str, results: dict[str, object], terms: list[str],
                  blocks: dict[str, ScoreBlock] | None = None) -> StackedFit:
    """The period-specific stacked model from each period's fit (ErgmResults or CountResults, in period
    order): estimates as fitted, covariance clustered by pair across the periods. `blocks`: the periods'
    score blocks of `terms` when already computed (`ergm_block`, `count_block`)."""
    periods = list(results)
    given = blocks or {}
    blocks, own, notes = [], {}, {}
    for period, res in results.items():
        cov = res.cov_params()
        at = [cov.index.get_loc(t) for t in terms]
        own[period] = pd.DataFrame(cov.to_numpy()[np.ix_(at, at)], index=terms, columns=terms)
        if isinstance(res, ErgmResults):
            blocks.append(given.get(period) or ergm_block(res, period, terms))
            if not res.mle_exists:
                notes[period] = res.message.split(". Estimates")[0]
        else:
            blocks.append(given.get(period) or count_block(res, period, terms))
            if not res.converged:
                notes[period] = "the count model did not converge"
    cov, g = clustered_covariance(blocks)
    params = pd.Series([float(results[p].params[t]) for p in periods for t in terms], index=cov.index)
    return StackedFit(model=model, periods=periods, params=params, cov=cov,
                      cov_independent=_block_diagonal(own, cov.index), n_clusters=g, notes=notes)


def stack_ergm(frames: dict[str, pd.DataFrame], terms=STUDY_TERMS, shared=()) -> StackedFit:
    """The binary ERGM stacked over the periods of `frames` (period -> dyads, in period order).

    Without `shared` terms the joint likelihood separates, so the estimates are each period's exact fit
    (`fit_ergm`); with `shared` terms it is one conditional logit over every (period, pair) unit with those
    terms' parameters common to all periods, fitted exactly (its pair sandwich in the CRV1 form, the
    information of 3 x 168,490 pairs leaving no pair any leverage). Either way the covariance is clustered
    by pair across the periods."""
    terms, shared = list(terms), list(shared)
    unknown = [t for t in shared if t not in terms]
    if unknown:
        raise PooledModelError(f"shared terms {unknown} are not among the terms {terms}")
    if not shared:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ErgmExistenceWarning)
            fits = {p: fit_ergm(d, terms) for p, d in frames.items()}
        return stack_results(ERGM_MODEL, fits, terms)
    models = {p: ErgmModel(d, terms) for p, d in frames.items()}
    periods = list(models)
    labels = [("shared", t) for t in shared] + [(p, t) for p in periods for t in terms if t not in shared]
    column = {label: k for k, label in enumerate(labels)}
    parts, observed, blocks_meta = [], [], []
    for p, m in models.items():
        stats = np.zeros((len(m.obs_state), 4, len(labels)))
        own = m.pair_stats
        for k, t in enumerate(terms):
            stats[:, :, column[("shared", t) if t in shared else (p, t)]] = own[:, :, k]
        parts.append(stats)
        observed.append(m.obs_state)
        blocks_meta.append((p, m))
    stats = np.concatenate(parts)
    obs = np.concatenate(observed)
    fit = lk.fit_clogit(stats, obs)
    if len(fit.directions):
        raise PooledModelError("the stacked model's maximum likelihood estimate does not exist (e.g. a period "
                               "without mutual pairs); make the diverging term period-specific")
    u = np.einsum("psk,k->ps", stats, fit.theta)
    probs = np.exp(u - u.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    expected = np.einsum("ps,psk->pk", probs, stats)
    influence = (stats[np.arange(len(obs)), obs] - expected) @ fit.cov  # CRV1 form, G/(G-1) applied below
    nodes = pd.Index(sorted(set().union(*[set(m.nodes.astype(str)) for m in models.values()])), dtype=object)
    keys = []
    for p, m in blocks_meta:
        remap = nodes.get_indexer(pd.Index(m.nodes.astype(str))).astype(np.int64)
        keys.append(remap[m.pair_i] * len(nodes) + remap[m.pair_j])
    block = ScoreBlock(labels, nodes, np.concatenate(keys), influence)
    cov, g = clustered_covariance([block])
    cov = cov * (g / (g - 1))
    index = cov.index
    cov_model = pd.DataFrame(fit.cov, index=index, columns=index)
    return StackedFit(model=ERGM_MODEL, periods=periods, params=pd.Series(fit.theta, index=index), cov=cov,
                      cov_independent=cov_model, n_clusters=g, llf=float(fit.llf))


# ---- tests of change -------------------------------------------------------------------------------------

def _p_chi2(stat: float, df: int) -> float:
    return float(sps.chi2.sf(stat, df)) if np.isfinite(stat) else float("nan")


def change_tests(stacked: StackedFit, effects: dict[str, str]) -> pd.DataFrame:
    """Wald tests of each effect's change between consecutive periods (z, one degree of freedom) and of
    "equal in all periods" (chi-squared, T - 1 degrees of freedom), with the pair-clustered covariance and,
    beside them, with the covariance that treats the periods as independent."""
    periods = stacked.periods
    position = {label: k for k, label in enumerate(stacked.cov.index)}
    params = stacked.params.to_numpy(dtype=float)
    cov, cov_independent = stacked.cov.to_numpy(), stacked.cov_independent.to_numpy()
    rows = []
    for effect, term in effects.items():
        at = [position[(p, term)] for p in periods]
        b = params[at]
        v = cov[np.ix_(at, at)]
        vi = cov_independent[np.ix_(at, at)]
        se_each = np.sqrt(np.clip(np.diag(v), 0, None))
        for k in range(len(periods) - 1):
            c = np.zeros(len(periods))
            c[k], c[k + 1] = -1.0, 1.0
            diff = float(c @ b)
            var, var_i = float(c @ v @ c), float(c @ vi @ c)
            se = np.sqrt(var) if var > 0 else float("nan")
            se_i = np.sqrt(var_i) if var_i > 0 else float("nan")
            z, z_i = diff / se, diff / se_i
            corr = v[k, k + 1] / (se_each[k] * se_each[k + 1]) if se_each[k] > 0 and se_each[k + 1] > 0 else float("nan")
            p = 2 * float(sps.norm.sf(abs(z))) if np.isfinite(z) else float("nan")
            rows.append({
                "effect": effect, "term": term, "contrast": f"{periods[k + 1]} - {periods[k]}",
                "period_from": periods[k], "period_to": periods[k + 1], "estimate_from": b[k], "estimate_to": b[k + 1],
                "std_error_from": se_each[k], "std_error_to": se_each[k + 1], "difference": diff, "std_error": se,
                "z": z, "chi2": z * z, "df": 1, "p_value": p, "correlation": corr, "std_error_independent": se_i,
                "z_independent": z_i, "chi2_independent": z_i * z_i,
                "p_value_independent": 2 * float(sps.norm.sf(abs(z_i))) if np.isfinite(z_i) else float("nan"),
            })
        if len(periods) > 2:
            c = np.zeros((len(periods) - 1, len(periods)))
            for k in range(len(periods) - 1):
                c[k, k], c[k, k + 1] = -1.0, 1.0
            d = c @ b
            stat = _wald(d, c @ v @ c.T)
            stat_i = _wald(d, c @ vi @ c.T)
            rows.append({
                "effect": effect, "term": term, "contrast": "all periods equal", "period_from": periods[0],
                "period_to": periods[-1], "estimate_from": np.nan, "estimate_to": np.nan, "std_error_from": np.nan,
                "std_error_to": np.nan, "difference": np.nan, "std_error": np.nan, "z": np.nan, "chi2": stat,
                "df": len(periods) - 1, "p_value": _p_chi2(stat, len(periods) - 1), "correlation": np.nan,
                "std_error_independent": np.nan, "z_independent": np.nan, "chi2_independent": stat_i,
                "p_value_independent": _p_chi2(stat_i, len(periods) - 1),
            })
    out = pd.DataFrame(rows)
    out["model"] = stacked.model
    out["stars"] = [cm.stars(p) for p in out["p_value"]]
    out["n_clusters"] = stacked.n_clusters
    out["vcov"] = VCOV_LABEL
    out["note"] = "; ".join(f"{p}: {n}" for p, n in stacked.notes.items()) or None
    return out


def _wald(d: np.ndarray, v: np.ndarray) -> float:
    if not np.isfinite(d).all() or not np.isfinite(v).all():
        return float("nan")
    try:
        return float(d @ np.linalg.solve(v, d))
    except np.linalg.LinAlgError:
        return float("nan")


# ---- the stage: every network of a certified warehouse ---------------------------------------------------

def count_rows(res: cm.CountResults, key, network_id, certification_id, fitted_at) -> pd.DataFrame:
    period, group_type, group_value = key
    ci = res.conf_int()
    out = pd.DataFrame({
        "network_id": network_id, "period_label": period, "group_type": group_type, "group_value": group_value,
        "model": res.spec.name, "family": res.spec.family, "fixed_effects": res.spec.fixed_effects_label,
        "term": list(res.params.index), "estimate": res.params.to_numpy(), "std_error": res.bse.to_numpy(),
        "z": res.tvalues.to_numpy(), "p_value": res.pvalues.to_numpy(), "ci_low": ci[0].to_numpy(),
        "ci_high": ci[1].to_numpy(), "std_error_cr1": res.bse_cr1.to_numpy(), "std_error_model": res.bse_model.to_numpy(),
        "rate_ratio": res.rate_ratios.to_numpy(),
    })
    out["stars"] = [cm.stars(p) for p in out["p_value"]]
    out["vcov"] = f"{res.vcov} by unordered pair"
    out["dispersion"] = res.dispersion if res.dispersion is not None else np.nan
    out["n_obs"] = res.nobs
    out["n_dropped"] = res.n_dropped
    out["n_moves"] = res.n_moves
    out["n_clusters"] = res.n_clusters
    out["n_fixed_effects"] = res.n_fixed_effects
    out["loglik"] = res.llf
    out["converged"] = res.converged
    out["iterations"] = res.iterations
    out["engine"] = res.engine
    out["certification_id"] = certification_id
    out["fitted_at"] = fitted_at
    return out[COUNT_ESTIMATE_COLUMNS]


@dataclass
class NetworkFits:
    key: tuple
    ergm: ErgmResults
    counts: dict[str, cm.CountResults]
    seconds: dict[str, float]
    ergm_block: ScoreBlock | None = None  # the ERGM's pair influences on the tested terms


def fit_network(dyads: pd.DataFrame, population: pd.Series, key, specs: dict[str, cm.CountSpec]) -> NetworkFits:
    """The exact ERGM and the count models `specs` of one network (`population`: municipality -> inhabitants
    in the network's density year), with the seconds each took."""
    seconds = {}
    start = time.perf_counter()
    ergm = fit_ergm(dyads, STUDY_TERMS)
    # the pair influences here, in the worker thread, rather than serially in the tests
    block = ergm_block(ergm, key[0], list(ERGM_EFFECTS.values()))
    seconds[ERGM_MODEL] = time.perf_counter() - start
    data = cm.CountData(cm.count_design(dyads, population, "/".join(key)))
    fitted = {}
    for name, spec in specs.items():
        start = time.perf_counter()
        # the NB2 starts from the Poisson fit of the same terms when there is one (its usual start anyway)
        poisson = [r for r in fitted.values() if r.spec.family == "poisson" and not r.spec.fixed_effects
                   and r.spec.terms == spec.terms]
        fitted[name] = cm.CountModel(data, spec).fit(start=poisson[0].params.to_numpy() if poisson else None)
        seconds[name] = time.perf_counter() - start
    return NetworkFits(key, ergm, fitted, seconds, block)


@dataclass
class CountRun:
    estimates: pd.DataFrame
    tests: pd.DataFrame
    seconds: dict[str, float]
    inputs: dict[str, str]


def run_counts(settings: Settings, specs: dict[str, cm.CountSpec] | None = None, progress=None,
               workers: int | None = None, write: bool = True) -> CountRun:
    """Fit the count models of every network of dim_network and the pooled tests of change of every
    group, from the certified marts; write `results.count_estimates` and `results.period_change_tests`."""
    from mignet.network.fit import NETWORK_KEY, certified_networks
    from mignet.warehouse import Warehouse

    specs = specs or cm.COUNT_SPECS
    started = time.perf_counter()
    warehouse = Warehouse(settings)
    networks = certified_networks(settings)
    population = warehouse.read_certified(POPULATION_MART, columns=["nis_code", "year", "population"])
    catalogue = networks.catalogue.sort_values("network_id")
    years = {tuple(str(r[c]) for c in NETWORK_KEY): int(r["density_year"]) for _, r in catalogue.iterrows()}
    ids = {tuple(str(r[c]) for c in NETWORK_KEY): int(r["network_id"]) for _, r in catalogue.iterrows()}
    by_year = {int(y): g.set_index(g["nis_code"].astype(str))["population"]
               for y, g in population.frame.groupby("year")}
    for key, year in years.items():
        if year not in by_year:
            raise cm.CountDataError(f"marts.{POPULATION_MART} has no population for {year}, the density year of "
                                    f"network {'/'.join(key)} (marts.dim_network)")
    read_seconds = time.perf_counter() - started
    if progress:
        progress(f"read certified marts: {networks.dyads.row_count:,} dyads of {len(networks.frames)} networks, "
                 f"{population.row_count:,} municipality-years in {time.perf_counter() - started:.1f} s")
    workers = max(1, min(workers or default_workers(), len(networks.frames) or 1))
    fitted: dict[tuple, NetworkFits] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ErgmExistenceWarning)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            jobs = [(key, pool.submit(fit_network, frame, by_year[years[key]], key, specs))
                    for key, frame in networks.frames.items()]
            for key, job in jobs:
                fitted[key] = job.result()
                if progress:
                    times = ", ".join(f"{m} {s:.2f} s" for m, s in fitted[key].seconds.items())
                    progress(f"fit {'/'.join(key)}: {times}")
    for w in caught:
        if not issubclass(w.category, ErgmExistenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    fitted_at = datetime.now(timezone.utc).replace(tzinfo=None)
    dyad_cert = networks.dyads.certification_id
    estimates = pd.concat([count_rows(res, key, ids[key], dyad_cert, fitted_at)
                           for key, nf in fitted.items() for res in nf.counts.values()], ignore_index=True)

    test_start = time.perf_counter()
    period_order = (catalogue.sort_values(["period_start", "network_id"])["period_label"].astype(str)
                    .drop_duplicates().tolist())
    groups = list(dict.fromkeys((k[1], k[2]) for k in networks.frames))
    frames = []
    for group_type, group_value in groups:
        keys = {p: (p, group_type, group_value) for p in period_order if (p, group_type, group_value) in fitted}
        if len(keys) < 2:
            continue
        per_model = {ERGM_MODEL: ({p: fitted[k].ergm for p, k in keys.items()}, ERGM_EFFECTS,
                                  {p: fitted[k].ergm_block for p, k in keys.items()})}
        for name, spec in specs.items():
            effects = {e: t for e, t in COUNT_EFFECTS.items() if t in spec.terms}
            per_model[name] = ({p: fitted[k].counts[name] for p, k in keys.items()}, effects, None)
        for name, (results, effects, blocks) in per_model.items():
            stacked = stack_results(name, results, list(effects.values()), blocks)
            rows = change_tests(stacked, effects)
            rows["group_type"], rows["group_value"] = group_type, group_value
            frames.append(rows)
    tested_at = datetime.now(timezone.utc).replace(tzinfo=None)
    tests = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CHANGE_TEST_COLUMNS)
    tests["certification_id"] = dyad_cert
    tests["tested_at"] = tested_at
    tests = tests[CHANGE_TEST_COLUMNS]
    seconds = {"read": read_seconds}
    for nf in fitted.values():
        for m, s in nf.seconds.items():
            seconds[m] = seconds.get(m, 0.0) + s
    seconds["pooled_tests"] = time.perf_counter() - test_start
    inputs = {**networks.inputs, POPULATION_MART: population.certification_id}
    if write:
        warehouse.write_results(COUNT_ESTIMATES, estimates, inputs=inputs)
        warehouse.write_results(CHANGE_TESTS, tests, inputs=inputs)
    seconds["total"] = time.perf_counter() - started
    if progress:
        progress(f"pooled tests of {len(groups)} groups in {seconds['pooled_tests']:.1f} s; "
                 + (f"wrote results.{COUNT_ESTIMATES} ({len(estimates)} rows) and results.{CHANGE_TESTS} "
                    f"({len(tests)} rows); " if write else "")
                 + f"total {seconds['total']:.1f} s")
    return CountRun(estimates=estimates, tests=tests, seconds=seconds, inputs=inputs)
