"""Which observations a hyperparameter fit sees when there are many of them.

The exact marginal likelihood costs O(n^3) per evaluation, and a fit makes
one to three hundred evaluations: about 4 s at n = 1,000 and minutes at
n = 5,000 (d = 10). The hyperparameters (length scales, signal and noise)
are a handful of numbers that a few hundred well-chosen points pin down
about as well as thousands do, so at large n they are fitted on a subset of
at most ``m`` observations and the posterior is then conditioned exactly on
all of them (one O(n^3) factorisation, or an O(n^2) extension of the last).

:func:`fit_subset` picks, in this order,

1. the ``m // 4`` lowest values: the region the search cares about, and the
   short-range pairs that tell the length scales near the optimum;
2. the ``m // 4`` most recent observations not yet taken: where the search
   is now (and, in a drifting problem, the present noise level);
3. the rest by greedy farthest-point selection (maximin distance to what is
   taken, in the unit cube; a categorical coordinate counts 1 when the
   levels differ): a space-filling sample of everything else, so that the
   long length scales are seen too.

It is deterministic (ties go to the lower index) and costs O(n m d).
"""

from __future__ import annotations

import numpy as np

from .linalg import _as_matrix, _as_vector

__all__ = ["fit_subset"]


def fit_subset(X: np.ndarray, y: np.ndarray, cat: np.ndarray, m: int) -> np.ndarray:
    """Indices (sorted, at most ``m``) of the observations to fit hyperparameters on.

    Parameters
    ----------
    X : (n, d) array
        Inputs in the order they were observed.
    y : (n,) array
        Values (lower is better).
    cat : (d,) array
        1.0 on categorical dimensions.
    m : int
        How many to keep, at least 4; all ``n`` when ``n <= m``.

    Returns
    -------
    (min(n, m),) int64 array, increasing.
    """
    X = _as_matrix("X", X)
    n, d = X.shape
    y = _as_vector("y", y, n)
    cat = _as_vector("cat", cat, d)
    m = int(m)
    if m < 4:
        raise ValueError(f"m must be at least 4, got {m}")
    if n <= m:
        return np.arange(n, dtype=np.int64)
    taken = np.zeros(n, dtype=bool)
    taken[np.argsort(y, kind="stable")[: m // 4]] = True
    recent = [i for i in range(n - 1, -1, -1) if not taken[i]][: m // 4]
    taken[recent] = True
    # Farthest-point selection: dist[i] is the distance from i to the nearest taken point.
    dist = np.full(n, np.inf)
    for i in np.flatnonzero(taken):
        dist = np.minimum(dist, _distance(X, X[i], cat))
    dist[taken] = -1.0
    for _ in range(m - int(taken.sum())):
        i = int(np.argmax(dist))
        taken[i] = True
        dist = np.minimum(dist, _distance(X, X[i], cat))
        dist[i] = -1.0
    return np.flatnonzero(taken).astype(np.int64)


def _distance(X: np.ndarray, x: np.ndarray, cat: np.ndarray) -> np.ndarray:
    """Squared distances from ``x`` to each row of ``X`` (categorical: 1 per differing level)."""
    diff = X - x
    diff = np.where(cat > 0, (diff != 0).astype(np.float64), diff)
    return np.einsum("ij,ij->i", diff, diff)
