"""The one tie sampler: exact, independent draws of the unordered pairs' states from their probabilities.

A dyad-independent ERGM with mutual is a product of independent four-state distributions over the unordered
pairs {i, j} (none, i->j only, j->i only, both), so a network is drawn exactly by drawing each pair's state
from its four probabilities: no MCMC, no burn-in. `ErgmModel.simulate`, `ErgmResults.simulate`,
`simulate.draw_network` and the goodness of fit all draw through `PairStateSampler`, so one network drawn
with a seed is the same network wherever it is drawn.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

# Draws held in memory at once: 25 draws of 168,490 pairs (581 municipalities) are 17 MB of uniforms.
BATCH = 25


class PairStateSampler:
    """Draws of pair states 0..3 (0 none, 1 i->j only, 2 j->i only, 3 both) from `probabilities`
    (pairs x 4, rows summing to 1).

    Guarantees:

    - A state is the number of cumulative thresholds c_0 = p_0, c_1 = p_0 + p_1, c_2 = p_0 + p_1 + p_2 at or
      below a uniform u on [0, 1), so P(state = s) = c_s - c_(s-1). Uniforms and thresholds are single
      precision, which resolves a probability to about 6e-8, far below any Monte Carlo error of a draw.
    - A state of probability zero is never drawn and a state of probability one always is: equal thresholds
      stay equal in single precision, c_0 = 0 is at or below every u, and c_2 = 1 is above every u.
    - The draws are a function of the seed alone. Uniforms are drawn network by network (draw-major), so
      the batch size only bounds memory: `states(n, seed)` is the concatenation of `batches(n, seed)`.
    """

    def __init__(self, probabilities: np.ndarray):
        p = np.asarray(probabilities, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 4:
            raise ValueError(f"expected pair-state probabilities of shape (pairs, 4), got {p.shape}")
        bad = ~np.isfinite(p).all(axis=1) | (p < 0).any(axis=1) | (np.abs(p.sum(axis=1) - 1) > 1e-9)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(f"pair-state probabilities must be finite, non-negative and sum to 1; {int(bad.sum())} "
                             f"pairs are not, first pair {first}: {p[first].tolist()}")
        # (3, pairs): each threshold a contiguous row, compared with a contiguous row of uniforms per draw
        self._thresholds = np.ascontiguousarray(np.cumsum(p[:, :3], axis=1).T, dtype=np.float32)

    @property
    def n_pairs(self) -> int:
        return self._thresholds.shape[1]

    def indicators(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The networks given by uniforms `u` on [0, 1) (draws x pairs, single precision): boolean arrays
        "the pair holds i -> j" and "the pair holds j -> i", of the same shape."""
        c0, c1, c2 = self._thresholds
        # "j -> i" is state 2 or 3 (c_1 <= u); "i -> j" is state 1 or 3, an odd number of thresholds at or below u
        ji = u >= c1
        ij = (u >= c0) ^ ji ^ (u >= c2)
        return ij, ji

    def batches(self, n_sim: int, seed=None, batch: int = BATCH) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """`n_sim` networks in batches of at most `batch`, each batch two boolean arrays (draws x pairs):
        "the pair holds i -> j" and "the pair holds j -> i". `seed`: an int, a numpy Generator or None."""
        if n_sim < 0 or batch < 1:
            raise ValueError(f"n_sim must be >= 0 and batch >= 1, got n_sim={n_sim}, batch={batch}")
        rng = np.random.default_rng(seed)
        for start in range(0, n_sim, batch):
            yield self.indicators(rng.random((min(batch, n_sim - start), self.n_pairs), dtype=np.float32))

    def states(self, n_sim: int = 1, seed=None) -> np.ndarray:
        """`n_sim` networks as pair states: int8 array (n_sim, pairs)."""
        out = np.empty((n_sim, self.n_pairs), dtype=np.int8)
        row = 0
        for ij, ji in self.batches(n_sim, seed):
            out[row:row + len(ij)] = ij
            out[row:row + len(ij)] += 2 * ji.view(np.int8)
            row += len(ij)
        return out
