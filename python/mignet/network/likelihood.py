"""Exact likelihood of a conditional logit with a few alternatives per unit, and its maximisation.

Both of our network likelihoods have this shape. In the ERGM each unordered pair {i, j} is a unit with
four alternatives (no tie, i->j only, j->i only, both) whose sufficient statistics are the rows of
`stats[p, s, :]`; in the MPLE each ordered pair is a unit with two alternatives (no tie, tie). The
log-likelihood is

    sum_p  stats[p, obs_p] . theta  -  log sum_s exp(stats[p, s] . theta)

which is concave, so Newton's method with step halving finds the maximum when one exists. When the
observed statistics lie on the boundary of their convex support the maximum does not exist: there is a
direction of recession `d` along which the likelihood increases for ever (Geyer 2009, "Likelihood
inference in exponential families and directions of recession"). We find such directions with a linear
program and then maximise the limiting conditional model (the alternatives that keep positive
probability along `d`), in which the parameters not involved in `d` are still estimable.

This module is the fitting engine only; the ERGM's pair-state weights and probabilities for everything
else (fitted probabilities, simulation, scenarios) come from `ErgmModel.state_utilities`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from mignet.network.newton import maximise


# Internally arrays are alternative- and term-major, stats (S, K, n) and allowed (S, n): with only 2 or 4
# alternatives and a handful of terms, elementwise work over contiguous length-n rows is several times
# faster than reductions over short axes (and than tiny BLAS calls, whose threading costs more than it gives).

def _major(stats: np.ndarray, allowed: np.ndarray | None):
    st = np.ascontiguousarray(np.transpose(stats, (1, 2, 0)))
    al = None if allowed is None else np.ascontiguousarray(allowed.T)
    return st, al


def _utilities(st, al, theta):
    u = [np.einsum("k,kn->n", theta, st[s]) for s in range(len(st))]
    if al is not None:
        u = [np.where(al[s], u[s], -np.inf) for s in range(len(st))]
    return u


def _probabilities(st, al, theta):
    u = _utilities(st, al, theta)
    top = u[0]
    for v in u[1:]:
        top = np.maximum(top, v)
    e = [np.exp(v - top) for v in u]
    total = e[0].copy()
    for v in e[1:]:
        total += v
    return [v / total for v in e], top + np.log(total), u


def _score_and_information(st, al, obs_weight, theta, active=None):
    """obs_weight (S, n): 1.0 where alternative s is the observed one. `active`: the alternatives whose
    statistics are not all zero (the others add nothing to the gradient and information)."""
    p, lognorm, u = _probabilities(st, al, theta)
    n_alt, k, n = st.shape
    ll = -float(lognorm.sum())
    grad = np.zeros(k)
    info = np.zeros((k, k))
    expected = np.zeros((k, n))
    for s in (range(n_alt) if active is None else active):
        finite = np.where(obs_weight[s] > 0, u[s], 0.0)
        ll += float(finite.sum())
        grad += np.einsum("kn,n->k", st[s], obs_weight[s])
        weighted = st[s] * p[s]
        expected += weighted
        info += np.einsum("kn,ln->kl", weighted, st[s])
    grad -= expected.sum(axis=1)
    info -= np.einsum("kn,ln->kl", expected, expected)
    return ll, grad, (info + info.T) / 2


def _onehot(obs, n_alt):
    return (obs[None, :] == np.arange(n_alt)[:, None]).astype(float)


def loglike(stats, obs, allowed, theta) -> float:
    st, al = _major(stats, allowed)
    _, lognorm, u = _probabilities(st, al, theta)
    u = np.stack(u, axis=1)
    return float(u[np.arange(len(obs)), obs].sum() - lognorm.sum())


def score_and_information(stats, obs, allowed, theta):
    """Log-likelihood, gradient and Fisher information (= minus the Hessian, exactly: canonical family)."""
    st, al = _major(stats, allowed)
    return _score_and_information(st, al, _onehot(obs, stats.shape[1]), theta)


@dataclass
class NewtonResult:
    theta: np.ndarray
    llf: float
    grad: np.ndarray
    info: np.ndarray
    iterations: int
    converged: bool


def _prepare(stats, obs):
    st, _ = _major(stats, None)
    return st, _onehot(obs, stats.shape[1]), [s for s in range(len(st)) if st[s].any()]


def newton(stats, obs, allowed, basis: np.ndarray, start: np.ndarray, maxiter: int = 100, tol: float = 1e-14,
           prepared=None) -> NewtonResult:
    """Maximise over theta = basis @ phi (basis: K x r, full column rank) by Newton with step halving."""
    st, onehot, active = prepared or _prepare(stats, obs)
    al = None if allowed.all() else np.ascontiguousarray(allowed.T)
    computed = {}

    def evaluate(phi):
        theta = basis @ phi
        ll, grad, info = _score_and_information(st, al, onehot, theta, active)
        computed["last"] = (theta, grad, info)
        return ll, basis.T @ grad, basis.T @ info @ basis

    found = maximise(evaluate, np.linalg.lstsq(basis, start, rcond=None)[0], maxiter=maxiter, tol=tol)
    # every point maximise evaluates last is the one it keeps: its values in theta are the last computed
    theta, grad, info = computed["last"]
    return NewtonResult(theta=theta, llf=found.loglik, grad=grad, info=info, iterations=found.iterations,
                        converged=found.converged)


def _difference_rows(stats, obs, allowed):
    """Rows stats[p, s] - stats[p, obs_p] for every allowed alternative s != obs_p, with their (p, s)."""
    n, n_alt, _ = stats.shape
    observed = stats[np.arange(n), obs]
    units, alts = np.nonzero(allowed & (np.arange(n_alt)[None, :] != obs[:, None]))
    return stats[units, alts] - observed[units], units, alts


def recession_direction(stats, obs, allowed, exclude: np.ndarray, hint: np.ndarray | None = None,
                        tol: float = 1e-9) -> np.ndarray | None:
    """A direction d (orthogonal to the rows of `exclude`) with (stats[p,s] - stats[p,obs_p]) . d <= 0 for
    every allowed alternative and < 0 for at least one, or None when there is none (the MLE exists in the
    model restricted to the allowed alternatives).

    Solved by constraint generation: a linear program on a subset of the rows (started from the rows that
    the diverging Newton iterate `hint` makes nearly impossible, plus a sample), checked on all rows, with
    violated rows added until the direction holds everywhere; a full LP on 500k rows takes ~8 s, this ~0.1 s.
    """
    rows, _, _ = _difference_rows(stats, obs, allowed)
    if len(rows) == 0:
        return None
    k = rows.shape[1]
    scale = np.abs(rows).max(axis=0)
    scale[scale == 0] = 1.0
    scaled = rows / scale
    # A single term diverging (e.g. mutual -> -inf with no mutual pairs) is the common case, and reporting
    # it as such is clearer than an arbitrary combination; try those before the linear program.
    for col in range(k):
        if exclude is not None and len(exclude) and np.abs(exclude[:, col]).max() > 1e-9:
            continue
        for sign in (-1.0, 1.0):
            margin = sign * scaled[:, col]
            if margin.max() <= tol and margin.min() < -1e-7:
                direction = np.zeros(k)
                direction[col] = sign
                return direction
    rng = np.random.default_rng(0)
    chosen = np.zeros(len(scaled), dtype=bool)
    chosen[rng.choice(len(scaled), size=min(len(scaled), 2000), replace=False)] = True
    if hint is not None:
        margin = scaled @ (hint * scale)
        chosen[np.argsort(margin)[:2000]] = True
        chosen[np.argsort(-margin)[:2000]] = True
    # The extreme rows in each coordinate direction bound the feasible cone quickly.
    for col in range(k):
        chosen[np.argsort(scaled[:, col])[:50]] = True
        chosen[np.argsort(-scaled[:, col])[:50]] = True
    # The LP works in scaled coordinates d_s = d * scale, so exclude . d = 0 becomes (exclude / scale) . d_s = 0.
    eq = exclude / scale[None, :] if exclude is not None and len(exclude) else None
    for _ in range(50):
        sub = scaled[chosen]
        res = linprog(sub.sum(axis=0), A_ub=sub, b_ub=np.zeros(len(sub)), A_eq=eq,
                      b_eq=None if eq is None else np.zeros(len(eq)), bounds=[(-1, 1)] * k, method="highs")
        if res.status != 0:
            raise RuntimeError(f"linear program for the existence of the MLE failed: {res.message}")
        if -res.fun <= 1e-9:
            return None
        d = res.x.copy()
        d[np.abs(d) < 1e-6] = 0.0
        if not np.any(d):
            return None
        d /= np.abs(d).max()
        margin = scaled @ d
        violated = margin > tol
        if not violated.any():
            if (margin < -1e-7).any():
                direction = d / scale
                return direction / np.abs(direction).max()
            return None
        chosen |= violated & (margin >= np.sort(margin[violated])[-min(violated.sum(), 5000)])
    raise RuntimeError("could not settle whether the maximum likelihood estimate exists (constraint generation did not converge)")


def impossible_alternatives(stats, obs, allowed, direction, tol: float = 1e-7) -> np.ndarray:
    """Allowed mask after moving to infinity along `direction`: alternatives that fall strictly behind the
    observed one get probability zero in the limiting conditional model."""
    rows, units, alts = _difference_rows(stats, obs, allowed)
    scale = np.abs(rows).max(axis=0)
    scale[scale == 0] = 1.0
    margin = (rows / scale) @ (direction * scale / np.abs(direction * scale).max())
    out = allowed.copy()
    drop = margin < -tol
    out[units[drop], alts[drop]] = False
    return out


def null_basis(directions: np.ndarray, k: int) -> np.ndarray:
    if directions is None or len(directions) == 0:
        return np.eye(k)
    _, s, vt = np.linalg.svd(np.atleast_2d(directions))
    rank = int((s > 1e-10).sum())
    return vt[rank:].T


@dataclass
class ClogitFit:
    theta: np.ndarray  # K, finite; in the limiting conditional model when directions exist
    cov: np.ndarray  # K x K covariance (zero along the directions of recession)
    llf: float
    iterations: int
    converged: bool
    directions: np.ndarray  # m x K directions of recession (m = 0 when the MLE exists)
    allowed: np.ndarray
    nonidentified: np.ndarray = None  # m' x K directions along which the limiting model is flat


def fit_clogit(stats: np.ndarray, obs: np.ndarray, start: np.ndarray | None = None, maxiter: int = 100) -> ClogitFit:
    """Exact maximum likelihood, with detection of non-existence and the limiting conditional model."""
    n, n_alt, k = stats.shape
    allowed = np.ones((n, n_alt), dtype=bool)
    theta0 = np.zeros(k) if start is None else np.asarray(start, dtype=float)
    prepared = _prepare(stats, obs)
    _, _, info0 = _score_and_information(prepared[0], None, prepared[1], np.zeros(k), prepared[2])
    eig0, vec0 = np.linalg.eigh(info0)
    if eig0[0] <= 1e-10 * max(eig0[-1], 1e-300):
        raise CollinearTermsError(vec0[:, 0])
    directions = np.zeros((0, k))
    basis = np.eye(k)
    result = newton(stats, obs, allowed, basis, theta0, maxiter=maxiter, prepared=prepared)
    # A finite stationary point with a non-degenerate information proves the maximum exists; anything else
    # (no convergence, information collapsing along some direction) is checked with the linear program.
    try:
        chol = np.linalg.cholesky(info0)
        whitened = np.linalg.solve(chol, np.linalg.solve(chol, result.info).T)
        ratio = np.linalg.eigvalsh((whitened + whitened.T) / 2)[0]
    except np.linalg.LinAlgError:
        ratio = 0.0
    suspicious = (not result.converged) or not np.isfinite(result.theta).all() or ratio < 1e-7
    while suspicious:
        d = recession_direction(stats, obs, allowed, directions, hint=result.theta - theta0)
        if d is None:
            break
        directions = np.vstack([directions, d])
        allowed = impossible_alternatives(stats, obs, allowed, d)
        basis = null_basis(directions, k)
        if basis.shape[1] == 0:
            result = NewtonResult(np.zeros(k), loglike(stats, obs, allowed, np.zeros(k)), np.zeros(k), np.zeros((k, k)), 0, True)
            break
        result = newton(stats, obs, allowed, basis, basis @ (basis.T @ result.theta), maxiter=maxiter, prepared=prepared)
    nonidentified = np.zeros((0, k))
    if basis.shape[1]:
        h = basis.T @ result.info @ basis
        eig, vec = np.linalg.eigh(h)
        flat = eig <= 1e-10 * max(eig0[-1], 1e-300)
        if flat.any():
            # Directions along which the limiting model's likelihood is constant (e.g. every alternative but
            # the observed one has become impossible): not identified, reported as such.
            nonidentified = (basis @ vec[:, flat]).T
            basis = basis @ vec[:, ~flat]
            h = basis.T @ result.info @ basis
        cov = basis @ np.linalg.inv(h) @ basis.T if basis.shape[1] else np.zeros((k, k))
    else:
        cov = np.zeros((k, k))
    return ClogitFit(theta=result.theta, cov=cov, llf=result.llf, iterations=result.iterations,
                     converged=result.converged, directions=directions, allowed=allowed,
                     nonidentified=nonidentified)


class CollinearTermsError(ValueError):
    def __init__(self, combination: np.ndarray):
        self.combination = combination
        super().__init__("collinear model terms")
