"""Newton's method with step halving, the one maximiser of mignet's exact likelihoods (the ERGM's, the
profiled Poisson's, the negative binomial's).

`maximise(evaluate, start)` climbs a concave (or locally concave) log-likelihood: `evaluate(x)` returns
(log-likelihood, gradient, information), the information being minus the Hessian (positive definite where
the likelihood is strictly concave). Each step solves information @ step = gradient (least squares when the
information is singular), is halved until the log-likelihood does not fall (by more than a relative 1e-12),
and the iteration stops when the Newton decrement gradient @ step falls under `tol` (converged) or is not
finite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

Evaluate = Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray]]


@dataclass
class Maximum:
    x: np.ndarray
    loglik: float
    grad: np.ndarray
    info: np.ndarray
    iterations: int
    converged: bool


def maximise(evaluate: Evaluate, start: np.ndarray, maxiter: int = 100, tol: float = 1e-14) -> Maximum:
    x = np.asarray(start, dtype=float)
    ll, grad, info = evaluate(x)
    converged, it = False, 0
    for it in range(1, maxiter + 1):
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(info, grad, rcond=None)[0]
        decrement = float(grad @ step)
        if not np.isfinite(decrement):
            break
        if decrement < tol:
            converged = True
            break
        t = 1.0
        while True:
            new = x + t * step
            new_ll, new_grad, new_info = evaluate(new)
            if (np.isfinite(new_ll) and new_ll >= ll - 1e-12 * abs(ll)) or t < 1e-10:
                break
            t /= 2
        x, ll, grad, info = new, new_ll, new_grad, new_info
    return Maximum(x=x, loglik=ll, grad=grad, info=info, iterations=it, converged=converged)
