"""Exact-likelihood ERGM for directed networks with dyad-independent terms plus reciprocity.

With the terms edges, mutual, edgecov, sender and receiver, the ERGM

    P(Y = y) = exp(theta . g(y)) / kappa(theta)

factorises over unordered pairs {i, j}: each pair is in one of four states (none, i->j only, j->i only,
both) with probabilities proportional to 1, exp(eta_ij), exp(eta_ji), exp(eta_ij + eta_ji + theta_mutual),
where eta_ij = sum_k theta_k x_k[i, j] over the non-mutual terms (Holland and Leinhardt's p1 family). So
kappa(theta) is a product of 4-term sums, the log-likelihood is that of a four-alternative conditional
logit, and its maximum and exact standard errors follow by Newton's method, without MCMC.

The classes follow statsmodels' model/result split: `ErgmModel(dyads, terms).fit(method=...)` returns
`ErgmResults` with `params`, `bse`, `pvalues`, `conf_int()`, `odds_ratios`, `llf`, `aic`, `bic`,
`summary()`, derived lazily from the fit as in statsmodels' `LikelihoodModelResults`. The pair-state
weights have one source, `ErgmModel.state_utilities`; draws one sampler, `mignet.network.sampling`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import warnings

import numpy as np
import pandas as pd

from mignet.network import likelihood as lk
from mignet.network.results import WaldInference, cache_readonly
from mignet.network.sampling import PairStateSampler
from mignet.network.terms import Term, parse_terms

ALIASES = {"origin": ("origin", "origin_nis"), "destination": ("destination", "destination_nis")}


class ErgmExistenceWarning(UserWarning):
    """The maximum likelihood estimate does not exist (the likelihood increases without bound)."""


class DyadDataError(ValueError):
    """The dyad table is not one row per ordered pair of distinct nodes with valid values."""


def _column(dyads: pd.DataFrame, role: str) -> str:
    for name in ALIASES[role]:
        if name in dyads.columns:
            return name
    raise DyadDataError(f"dyad table has no {role} column (expected one of {', '.join(ALIASES[role])})")


def _row_label(dyads: pd.DataFrame, position: int) -> str:
    return f"row {position} (index {dyads.index[position]!r})"


def _numeric(dyads: pd.DataFrame, column: str, term: str) -> np.ndarray:
    if column not in dyads.columns:
        raise DyadDataError(f"term {term!r}: the dyad table has no column {column!r}")
    values = pd.to_numeric(dyads[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DyadDataError(
            f"term {term!r}: column {column!r} has {int(bad.sum())} missing or non-numeric values, first at "
            f"{_row_label(dyads, first)}: {dyads[column].iloc[first]!r}"
        )
    return values


class ErgmModel:
    """An ERGM on a complete directed dyad table (one row per ordered pair of distinct nodes)."""

    def __init__(self, dyads: pd.DataFrame, terms):
        self.terms: list[Term] = parse_terms(terms)
        self.term_names = [t.name for t in self.terms]
        origin_col, destination_col = _column(dyads, "origin"), _column(dyads, "destination")
        if "tie" not in dyads.columns:
            raise DyadDataError("dyad table has no 'tie' column (1 = at least one move origin -> destination, else 0)")
        origin, destination = dyads[origin_col], dyads[destination_col]
        for col, series in ((origin_col, origin), (destination_col, destination)):
            if series.isna().any():
                first = int(np.flatnonzero(series.isna().to_numpy())[0])
                raise DyadDataError(f"column {col!r} is missing at {_row_label(dyads, first)}")
        tie = pd.to_numeric(dyads["tie"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isin(tie, (0.0, 1.0))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DyadDataError(f"column 'tie' must be 0 or 1; {int(bad.sum())} rows are not, first "
                                f"{_row_label(dyads, first)}: {dyads['tie'].iloc[first]!r}")
        # Integer node codes in sorted node order (factorize hashes once; faster than lookups on strings).
        codes, uniques = pd.factorize(pd.concat([origin, destination], ignore_index=True), sort=True)
        self.nodes = pd.Index(uniques)
        n = len(self.nodes)
        oi, di = codes[: len(dyads)].astype(np.int64), codes[len(dyads):].astype(np.int64)
        loops = oi == di
        if loops.any():
            first = int(np.flatnonzero(loops)[0])
            raise DyadDataError(f"self-loop (origin = destination = {origin.iloc[first]!r}) at {_row_label(dyads, first)}; "
                                "the dyad table holds ordered pairs of distinct nodes only")
        if n < 2:
            raise DyadDataError("dyad table has fewer than 2 nodes")
        key = oi * n + di
        counts = np.bincount(key, minlength=n * n)
        if (counts > 1).any():
            k = int(np.flatnonzero(counts > 1)[0])
            rows = np.flatnonzero(key == k)[:2]
            raise DyadDataError(f"ordered pair {self.nodes[k // n]!r} -> {self.nodes[k % n]!r} appears more than once "
                                f"(rows {rows.tolist()}); the dyad table must have one row per ordered pair")
        position = np.full((n, n), -1, dtype=np.int64)
        position[oi, di] = np.arange(len(dyads))
        np.fill_diagonal(position, 0)
        missing = np.argwhere(position < 0)
        if len(missing):
            a, b = missing[0]
            raise DyadDataError(
                f"dyad table is incomplete: {len(missing)} of {n * (n - 1)} ordered pairs of its {n} nodes are missing, "
                f"e.g. {self.nodes[a]!r} -> {self.nodes[b]!r}; every ordered pair of distinct nodes needs a row "
                "(tie 0 when there is no move)"
            )
        iu, ju = np.triu_indices(n, 1)
        self.pair_i, self.pair_j = iu, ju
        self.row_ij, self.row_ji = position[iu, ju], position[ju, iu]
        self.n_nodes = n
        self.nobs = n * (n - 1)
        y = tie.astype(np.int8)
        self.tie = y
        self.obs_state = (y[self.row_ij] + 2 * y[self.row_ji]).astype(np.int64)
        self.n_ties = int(y.sum())
        self.n_mutual_pairs = int((self.obs_state == 3).sum())

        # per-row change statistics of the covariate terms (mutual handled by the pair states)
        k = len(self.terms)
        x = np.zeros((len(dyads), k))
        self.mutual_index = None
        for idx, term in enumerate(self.terms):
            if term.kind == "edges":
                x[:, idx] = 1.0
            elif term.kind == "mutual":
                self.mutual_index = idx
            elif term.kind == "edgecov":
                x[:, idx] = _numeric(dyads, term.column, term.name)
            else:
                role = "origin" if term.kind == "sender" else "destination"
                col = term.column if term.column in dyads.columns else f"{role}_{term.column}"
                values = _numeric(dyads, col, term.name)
                node = oi if role == "origin" else di
                grouped = pd.Series(values).groupby(node)
                spread = grouped.max() - grouped.min()
                varies = spread > 1e-12 * (1 + np.abs(values).max())
                if varies.any():
                    bad_node = self.nodes[int(spread.index[varies.to_numpy()][0])]
                    raise DyadDataError(
                        f"term {term.name!r}: column {col!r} is a {role} covariate and must be constant for each {role}, "
                        f"but varies for {role} {bad_node!r}"
                    )
                x[:, idx] = values
        self.exog = x
        # Stored alternative- and term-major (4, K, pairs), the layout the likelihood code computes in;
        # `pair_stats` is the (pairs, 4, K) view of it.
        xt = np.ascontiguousarray(x.T)
        alt = np.zeros((4, k, len(iu)))
        np.take(xt, self.row_ij, axis=1, out=alt[1])
        np.take(xt, self.row_ji, axis=1, out=alt[2])
        np.add(alt[1], alt[2], out=alt[3])
        if self.mutual_index is not None:
            alt[3, self.mutual_index] = 1.0
        self._alt_stats = alt

    @property
    def pair_stats(self) -> np.ndarray:
        """Sufficient statistics of each unordered pair's 4 states: array (pairs, 4, K), a view."""
        return self._alt_stats.transpose(2, 0, 1)

    # ---- likelihood -------------------------------------------------------------------------------
    def _theta(self, params) -> np.ndarray:
        if isinstance(params, pd.Series):
            params = params.reindex(self.term_names).to_numpy(dtype=float)
        theta = np.asarray(params, dtype=float)
        if theta.shape != (len(self.terms),):
            raise ValueError(f"expected {len(self.terms)} parameters ({', '.join(self.term_names)}), got shape {theta.shape}")
        return theta

    def linear_predictor(self, params) -> np.ndarray:
        """eta_ij = sum over the non-mutual terms of theta_k x_k[i, j], one value per dyad row (the log odds of
        i->j without the reverse tie). An infinite parameter contributes nothing where its statistic is 0."""
        theta = self._theta(params)
        if np.isnan(theta).any():
            raise ValueError("parameters contain NaN (a non-identified term); cannot compute probabilities")
        finite = np.isfinite(theta)
        eta = self.exog[:, finite] @ theta[finite]
        for k in np.flatnonzero(~finite):
            with np.errstate(invalid="ignore"):
                eta = eta + np.where(self.exog[:, k] == 0, 0.0, self.exog[:, k] * theta[k])
        return eta

    def state_utilities(self, params, allowed: np.ndarray | None = None) -> np.ndarray:
        """Log weights (pairs x 4) of each unordered pair's states (none, i->j only, j->i only, both):
        (0, eta_ij, eta_ji, eta_ij + eta_ji + mutual); the one source of the four-state weights.

        `allowed` (pairs x 4, default all): states outside it get -inf, which conditions each pair on its
        allowed states (the limiting model of a fit whose MLE does not exist; a scenario's "given no reverse
        tie"). An infinite parameter (an MLE at infinity) is the limit along that parameter: of each pair's
        allowed states only those whose statistic is largest in the parameter's direction keep weight (for
        mutual = -inf, the states without the mutual tie), several infinite parameters applied in term order."""
        theta = self._theta(params)
        if np.isnan(theta).any():
            raise ValueError("parameters contain NaN (a non-identified term); cannot compute probabilities")
        finite = np.isfinite(theta)
        alt = self._alt_stats
        u = np.einsum("skp,k->ps", alt[:, finite], theta[finite])
        if allowed is None and finite.all():
            return u
        possible = np.ones(u.shape, dtype=bool)
        if allowed is not None:
            allowed = np.asarray(allowed, dtype=bool)
            if allowed.shape != u.shape or not allowed.any(axis=1).all():
                raise ValueError(f"allowed states must be a boolean array {u.shape} with at least one state per pair")
            possible &= allowed
        for k in np.flatnonzero(~finite):
            directed = np.where(possible, np.sign(theta[k]) * alt[:, k].T, -np.inf)
            possible &= directed == directed.max(axis=1, keepdims=True)
        return np.where(possible, u, -np.inf)

    def state_probabilities(self, params, allowed: np.ndarray | None = None) -> np.ndarray:
        """Probabilities (pairs x 4) of (none, i->j only, j->i only, both) for each unordered pair (i < j),
        from `state_utilities(params, allowed)`."""
        u = self.state_utilities(params, allowed)
        top = u.max(axis=1, keepdims=True)
        e = np.exp(u - top)
        return e / e.sum(axis=1, keepdims=True)

    def log_normalizer(self, params) -> float:
        """log kappa(theta) = sum over pairs of log(1 + e^eta_ij + e^eta_ji + e^(eta_ij + eta_ji + mutual))."""
        return float(self._pair_log_normalizers(self.state_utilities(params)).sum())

    @staticmethod
    def _pair_log_normalizers(u: np.ndarray) -> np.ndarray:
        top = u.max(axis=1)
        return top + np.log(np.exp(u - top[:, None]).sum(axis=1))

    def statistics(self) -> pd.Series:
        """Observed sufficient statistics g(y), one per term (mutual = number of mutual pairs)."""
        g = self.pair_stats[np.arange(len(self.obs_state)), self.obs_state].sum(axis=0)
        return pd.Series(g, index=self.term_names)

    def loglike(self, params) -> float:
        """Exact log-likelihood; with infinite parameters that of the limiting model (see `state_utilities`),
        -inf when the observed network is impossible in it."""
        u = self.state_utilities(params)
        return float(u[np.arange(len(self.obs_state)), self.obs_state].sum() - self._pair_log_normalizers(u).sum())

    def score(self, params) -> np.ndarray:
        _, grad, _ = lk.score_and_information(self.pair_stats, self.obs_state, np.ones((len(self.obs_state), 4), bool),
                                              self._theta(params))
        return grad

    def information(self, params) -> np.ndarray:
        _, _, info = lk.score_and_information(self.pair_stats, self.obs_state, np.ones((len(self.obs_state), 4), bool),
                                              self._theta(params))
        return info

    def sampler(self, params) -> PairStateSampler:
        """The tie sampler of the ERGM with these parameters (see `mignet.network.sampling`)."""
        return PairStateSampler(self.state_probabilities(params))

    def simulate(self, params, n_sim: int = 1, seed=None) -> np.ndarray:
        """Exact draws of the network: int8 array (n_sim, n_pairs) of pair states 0..3 (see
        `state_probabilities`); the same networks `gof_network` draws with this seed."""
        return self.sampler(params).states(n_sim, seed)

    def with_pair_states(self, states: np.ndarray) -> "ErgmModel":
        """The same nodes, terms and covariates with another observed network, given as pair states 0..3
        (as drawn by `simulate`); avoids rebuilding the model for each simulated network."""
        states = np.asarray(states, dtype=np.int64)
        if states.shape != self.obs_state.shape or states.min() < 0 or states.max() > 3:
            raise ValueError(f"expected {len(self.obs_state)} pair states in 0..3")
        other = copy.copy(self)
        tie = np.zeros_like(self.tie)
        tie[self.row_ij] = (states == 1) | (states == 3)
        tie[self.row_ji] = (states == 2) | (states == 3)
        other.tie = tie
        other.obs_state = states
        other.n_ties = int(tie.sum())
        other.n_mutual_pairs = int((states == 3).sum())
        return other

    # ---- MPLE design ------------------------------------------------------------------------------
    def mple_design(self) -> tuple[np.ndarray, np.ndarray]:
        """ergm's MPLE regression: response y_ij, regressors = change statistics of toggling i->j
        (mutual's change statistic is y_ji)."""
        x = self.exog.copy()
        if self.mutual_index is not None:
            reverse = np.empty(len(self.tie), dtype=float)
            reverse[self.row_ij] = self.tie[self.row_ji]
            reverse[self.row_ji] = self.tie[self.row_ij]
            x[:, self.mutual_index] = reverse
        return self.tie.astype(float), x

    # ---- fitting ----------------------------------------------------------------------------------
    def fit(self, method: str = "mle", maxiter: int = 100) -> "ErgmResults":
        """Exact maximum likelihood (`method="mle"`) or ergm's maximum pseudo-likelihood ("mple"). Warns with
        `ErgmExistenceWarning` (once) when the estimate does not exist; raises ValueError when the terms are
        collinear in this network."""
        method = method.lower()
        if method == "mle":
            try:
                fit = lk.fit_clogit(self.pair_stats, self.obs_state, start=self._start(), maxiter=maxiter)
            except lk.CollinearTermsError as err:
                raise self._collinear(err) from None
            res = ErgmResults(self, fit, method="mle")
        elif method == "mple":
            res = self._fit_mple(maxiter)
        else:
            raise ValueError(f"unknown method {method!r}; use 'mle' (exact) or 'mple' (ergm's pseudo-likelihood)")
        # Warned here, once per fit, not by the results (which derive their values lazily and may be built
        # again from the same fit without a second warning).
        if not res.mle_exists:
            warnings.warn(res.message, ErgmExistenceWarning, stacklevel=2)
        return res

    def _start(self) -> np.ndarray:
        """Closed-form MLE of the homogeneous model (edges and mutual only) as Newton's starting point:
        with N empty, A one-way and M mutual pairs, e^edges = A / 2N and e^(2 edges + mutual) = M / N."""
        start = np.zeros(len(self.terms))
        kinds = [t.kind for t in self.terms]
        if "edges" not in kinds:
            return start
        counts = np.bincount(self.obs_state, minlength=4)
        empty, one_way, mutual = counts[0], counts[1] + counts[2], counts[3]
        edges = kinds.index("edges")
        if self.mutual_index is None:
            density = self.n_ties / self.nobs
            if 0 < density < 1:
                start[edges] = np.log(density / (1 - density))
        elif empty > 0 and one_way > 0 and mutual > 0:
            start[edges] = np.log(one_way / (2 * empty))
            start[self.mutual_index] = np.log(mutual / empty) - 2 * start[edges]
        return start

    def _collinear(self, err: lk.CollinearTermsError) -> ValueError:
        combo = err.combination / np.abs(err.combination).max()
        involved = [f"{c:+.3g}*{name}" for c, name in zip(combo, self.term_names) if abs(c) > 1e-6]
        return ValueError(f"model terms are collinear in this network (not identifiable): {' '.join(involved)} is constant")

    def _fit_mple(self, maxiter: int) -> "ErgmResults":
        import statsmodels.api as sm

        y, x = self.mple_design()
        stats = np.zeros((len(y), 2, x.shape[1]))
        stats[:, 1] = x
        try:
            fit = lk.fit_clogit(stats, y.astype(np.int64), maxiter=maxiter)
        except lk.CollinearTermsError as err:
            raise self._collinear(err) from None
        sm_result = None
        if len(fit.directions) == 0:
            # The estimator itself is statsmodels' logistic regression, as in ergm's MPLE; our exact Newton
            # (started above only to settle existence) serves as its starting point. Its warnings are not
            # silenced here: fits run in threads, where toggling the process-wide warning filters races.
            sm_result = sm.Logit(y, x).fit(start_params=fit.theta, method="newton", maxiter=maxiter, disp=0)
            fit = dataclasses.replace(fit, theta=np.asarray(sm_result.params, dtype=float),
                                      cov=np.asarray(sm_result.cov_params(), dtype=float), llf=float(sm_result.llf),
                                      converged=bool(sm_result.mle_retvals.get("converged", True)))
        return ErgmResults(self, fit, method="mple", statsmodels_result=sm_result)


class ErgmSummary:
    def __init__(self, text: str, table: pd.DataFrame):
        self.text = text
        self.table = table

    def as_text(self) -> str:
        return self.text

    def as_html(self) -> str:
        return self.table.to_html(float_format=lambda v: f"{v:.4f}")

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


@dataclasses.dataclass(frozen=True)
class _TermLimits:
    """How each term behaves when the MLE does not exist: `lone_sign` +1/-1 for a term that diverges alone
    along a direction of recession (0 otherwise), `flat` for a term of a direction along which the limiting
    model is constant (not identified), `involved` for a term of either kind of direction."""

    lone_sign: np.ndarray
    flat: np.ndarray
    involved: np.ndarray


class ErgmResults(WaldInference):
    """A fitted ERGM, in the shape of statsmodels' `LikelihoodModelResults`: the constructor stores the model,
    the fit (`clogit`, a `likelihood.ClogitFit`) and the method; every other value is derived from them on
    first use, by one formula, and cached read-only.

    When the MLE does not exist, a term that diverges alone along a direction of recession is +-inf, a term
    only identified in combination with others (or not at all in the limiting model) is NaN, and both have
    NaN standard errors; the other terms are the limiting model's estimates, with its valid standard errors.
    `ErgmModel.fit` warns once with `ErgmExistenceWarning`; the results themselves never warn."""

    def __init__(self, model: ErgmModel, fit: lk.ClogitFit, method: str, statsmodels_result=None):
        self.model = model
        self.clogit = fit
        self.method = method
        self.statsmodels_result = statsmodels_result  # statsmodels' Logit results of an MPLE fit
        self._cache: dict = {}

    # ---- the network and the fit ----------------------------------------------------------------------
    @property
    def term_names(self) -> list[str]:
        return self.model.term_names

    @property
    def n_nodes(self) -> int:
        return self.model.n_nodes

    @property
    def nobs(self) -> int:
        return self.model.nobs

    @property
    def n_ties(self) -> int:
        return self.model.n_ties

    @property
    def n_mutual_pairs(self) -> int:
        return self.model.n_mutual_pairs

    @property
    def converged(self) -> bool:
        return bool(self.clogit.converged)

    @property
    def iterations(self) -> int:
        return self.clogit.iterations

    @cache_readonly
    def directions(self) -> pd.DataFrame:
        """Directions of recession (one row each, none when the MLE exists): the likelihood increases without
        bound along each."""
        return pd.DataFrame(self.clogit.directions, columns=self.term_names)

    @cache_readonly
    def mle_exists(self) -> bool:
        return len(self.clogit.directions) == 0

    @cache_readonly
    def _nonidentified(self) -> np.ndarray:
        flat = self.clogit.nonidentified
        return np.zeros((0, len(self.term_names))) if flat is None else flat

    @cache_readonly
    def _limits(self) -> _TermLimits:
        k = len(self.term_names)
        lone_sign, flat, involved = np.zeros(k), np.zeros(k, dtype=bool), np.zeros(k, dtype=bool)
        for d in self.clogit.directions:
            support = np.abs(d) > 1e-9
            involved |= support
            if support.sum() == 1:
                lone_sign[support] = np.sign(d[support])
        for d in self._nonidentified:
            flat |= np.abs(d) > 1e-9
        return _TermLimits(lone_sign=lone_sign, flat=flat, involved=involved | flat)

    # ---- estimates --------------------------------------------------------------------------------------
    @cache_readonly
    def params(self) -> pd.Series:
        """Estimates: the fit's, +-inf for a term diverging alone, NaN for the other terms of a direction."""
        limits = self._limits
        theta = self.clogit.theta.copy()
        theta[limits.involved] = np.nan
        infinite = (limits.lone_sign != 0) & ~limits.flat
        theta[infinite] = limits.lone_sign[infinite] * np.inf
        return pd.Series(theta, index=self.term_names, name="estimate")

    @cache_readonly
    def _cov(self) -> pd.DataFrame:
        cov = pd.DataFrame(self.clogit.cov, index=self.term_names, columns=self.term_names)
        involved = self._limits.involved
        cov.loc[involved, :] = np.nan
        cov.loc[:, involved] = np.nan
        return cov

    def cov_params(self) -> pd.DataFrame:
        """Covariance of the estimates: the inverse Fisher information (of the limiting model when the MLE does
        not exist), NaN in the rows and columns of the terms involved in a direction."""
        return self._cov.copy()

    @cache_readonly
    def bse(self) -> pd.Series:
        se = np.sqrt(np.clip(np.diag(self.clogit.cov), 0, None))
        se[self._limits.involved] = np.nan
        return pd.Series(se, index=self.term_names, name="std_error")

    @cache_readonly
    def odds_ratios(self) -> pd.Series:
        return self._exp_params("odds_ratio")

    # ---- likelihood and information criteria ------------------------------------------------------------
    @cache_readonly
    def llf(self) -> float:
        """Exact log-likelihood at the estimate (of the limiting model when the MLE does not exist); for an MPLE
        fit the exact ERGM log-likelihood at the MPLE, so both fits compare on one scale (NaN when the MPLE does
        not exist)."""
        if self.method == "mle":
            return float(self.clogit.llf)
        return self.model.loglike(self.params) if self.mle_exists else float("nan")

    @cache_readonly
    def pseudo_llf(self) -> float | None:
        """The maximised log pseudo-likelihood of an MPLE fit; None for an MLE fit."""
        return float(self.clogit.llf) if self.method == "mple" else None

    @cache_readonly
    def df_model(self) -> int:
        """Number of estimated parameters: the terms not involved in a direction of recession."""
        return int((~self._limits.involved).sum())

    @cache_readonly
    def aic(self) -> float:
        return -2 * self.llf + 2 * self.df_model

    @cache_readonly
    def bic(self) -> float:
        # As ergm: the number of observations is the number of ordered pairs (dyads).
        return -2 * self.llf + math.log(self.nobs) * self.df_model

    @cache_readonly
    def message(self) -> str:
        """Why the estimate does not exist and which terms diverge; empty when it exists."""
        if self.mle_exists:
            return ""
        names = self.term_names
        parts = []
        for d in self.clogit.directions:
            support = [(names[k], d[k]) for k in np.flatnonzero(np.abs(d) > 1e-9)]
            if len(support) == 1:
                parts.append(f"{support[0][0]} -> {'+' if support[0][1] > 0 else '-'}inf")
            else:
                parts.append("the combination " + " ".join(f"{v:+.3g}*{n}" for n, v in support) + " -> +inf")
        for d in self._nonidentified:
            parts.append("not identified in the limit: " + ", ".join(names[k] for k in np.flatnonzero(np.abs(d) > 1e-9)))
        return (
            f"the {'maximum likelihood' if self.method == 'mle' else 'maximum pseudo-likelihood'} estimate does not "
            f"exist: the likelihood increases without bound as {'; '.join(parts)} (observed statistics on the boundary "
            f"of their support, e.g. no mutual pairs). Estimates of the other terms are from the limiting model "
            f"(n_nodes={self.n_nodes}, ties={self.n_ties}, mutual pairs={self.n_mutual_pairs})."
        )

    # ---- fitted probabilities and simulation ------------------------------------------------------------
    def state_probabilities(self) -> np.ndarray:
        """Fitted pair-state probabilities (pairs x 4, see `ErgmModel.state_probabilities`): of the limiting
        model when the MLE does not exist; of the ERGM at the estimate for an MPLE fit (whose limiting model
        is one of the pseudo-likelihood, not of the pair states)."""
        if self.method == "mle":
            return self.model.state_probabilities(self.clogit.theta, allowed=self.clogit.allowed)
        return self.model.state_probabilities(self.params)

    def sampler(self) -> PairStateSampler:
        """The tie sampler of the fitted model."""
        return PairStateSampler(self.state_probabilities())

    def simulate(self, n_sim: int = 1, seed=None) -> np.ndarray:
        """Exact draws of networks from the fitted model: int8 array (n_sim, n_pairs) of pair states 0..3."""
        return self.sampler().states(n_sim, seed)

    # ---- presentation -----------------------------------------------------------------------------------
    def table(self) -> pd.DataFrame:
        ci = self.conf_int()
        return pd.DataFrame({
            "estimate": self.params, "std_error": self.bse, "z": self.tvalues, "p_value": self.pvalues,
            "odds_ratio": self.odds_ratios, "ci_low": ci[0], "ci_high": ci[1],
        })

    def summary(self) -> ErgmSummary:
        table = self.table()
        title = "ERGM results (exact maximum likelihood)" if self.method == "mle" else \
            "ERGM results (maximum pseudo-likelihood, ergm's MPLE; standard errors too small under reciprocity)"
        head = [
            title,
            f"nodes: {self.n_nodes}   dyads: {self.nobs}   ties: {self.n_ties}   mutual pairs: {self.n_mutual_pairs}",
            f"log-likelihood: {self.llf:.3f}   AIC: {self.aic:.3f}   BIC: {self.bic:.3f}   "
            f"converged: {self.converged}   MLE exists: {self.mle_exists}",
        ]
        lines = [f"{'term':<34}{'estimate':>11}{'std err':>10}{'z':>9}{'P>|z|':>9}{'odds ratio':>12}{'[0.025':>10}{'0.975]':>10}"]
        for name, row in table.iterrows():
            lines.append(f"{name:<34}{row.estimate:>11.4f}{row.std_error:>10.4f}{row.z:>9.2f}{row.p_value:>9.4f}"
                         f"{row.odds_ratio:>12.4f}{row.ci_low:>10.4f}{row.ci_high:>10.4f}")
        width = max(len(s) for s in head + lines)
        text = "\n".join(["=" * width, *head, "-" * width, *lines, "=" * width] + ([self.message] if self.message else []))
        return ErgmSummary(text, table)

    def __repr__(self) -> str:
        return f"<ErgmResults {self.method}: {dict(self.params.round(4))}>"


def fit_ergm(dyads: pd.DataFrame, terms, method: str = "mle", maxiter: int = 100) -> ErgmResults:
    """Fit an ERGM with dyad-independent terms plus `mutual` exactly (method="mle") or by ergm's MPLE."""
    return ErgmModel(dyads, terms).fit(method=method, maxiter=maxiter)
