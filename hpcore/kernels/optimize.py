"""Multi-start maximisation of an acquisition function over a mixed box.

Symbols (shapes)
----------------
X (n, d)          observed inputs, as in :mod:`hpcore.kernels.gp`
L (n, n), alpha (n,)  Cholesky factor and ``K^{-1} y`` of the fitted GP
cat (d,)          1.0 on categorical dimensions
theta (d + 2,)    GP hyperparameters (log length scales, log signal, log noise)
levels (d, k)     allowed values of each discrete dimension, NaN-padded
n_levels (d,)     how many of ``levels[j]`` are used; 0 for a continuous dimension
candidates (m, d) points to score

The search, in :func:`maximize_acquisition`:

1. score the candidates (quasi-random points and perturbations of the
   best observations, snapped to the allowed levels): a cheap upper bound
   for all of them (the exact mean, a variance bound without triangular
   solves), then exact values in order of decreasing bound until no bound
   left can beat the ``n_restarts``-th best exact value, so the best
   candidates are exactly those of scoring every one, for a fraction of
   the solves;
2. polish the best few over the continuous dimensions with a batched,
   box-constrained L-BFGS (:mod:`hpcore.kernels.lbfgs`: every start has its
   own optimiser state, and each round evaluates all of them in one call),
   in coordinates scaled by the length scales (``s = z / l``), which evens
   out the curvature across dimensions; at large n each start searches on
   the observations nearest to it, and its end point is scored exactly.
   The acquisition of one GP's posterior (``acqf.polish``) runs the same
   search compiled whole (:mod:`hpcore.kernels.polish`), without a Python
   call per round;
3. improve discrete dimensions one at a time: every level when a
   dimension has at most ``exhaustive_levels`` of them, otherwise a line
   search over an evenly spaced subset and the neighbours of the current
   level; repeat while it helps;
4. return the best point seen, so the result scores at least as well as
   every candidate it was given. Every point stays inside ``[0, 1]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._numba import jit
from .lbfgs import minimize_batch
from .linalg import _as_factor, _as_matrix, _as_vector
from .model import GPModel, PosteriorAcquisition

__all__ = ["score_candidates", "acquisition_value_and_grad", "snap", "maximize",
           "maximize_acquisition"]


def _acquisition_of(X, L, alpha, cat, theta, code, best, beta) -> PosteriorAcquisition:
    """The acquisition of a model given by its arrays (the functions' API below)."""
    L = _as_factor(L)
    alpha = _as_vector("alpha", alpha, L.shape[0])
    y = L @ (L.T @ alpha)  # what alpha was solved from; only alpha is used
    model = GPModel(_as_matrix("X", X), y, _as_vector("cat", cat), _as_vector("theta", theta),
                    L, [alpha])
    return PosteriorAcquisition(model, code, best, beta)


def score_candidates(X, L, alpha, cat, theta, Z, code, best, beta) -> np.ndarray:
    """Acquisition values of the rows of ``Z`` (m,)."""
    return _acquisition_of(X, L, alpha, cat, theta, code, best, beta).values(Z)


def acquisition_value_and_grad(
    X, L, alpha, cat, theta, Z, code, best, beta
) -> tuple[np.ndarray, np.ndarray]:
    """Acquisition values (m,) and their gradients w.r.t. the rows of ``Z`` (m, d)."""
    return _acquisition_of(X, L, alpha, cat, theta, code, best, beta).values_and_grad(Z)


@jit
def snap(Z, levels, n_levels):
    """Move each discrete coordinate of ``Z`` to its nearest allowed level (in place, returned)."""
    m, d = Z.shape
    for j in range(d):
        k = n_levels[j]
        if k == 0:
            continue
        for i in range(m):
            v = Z[i, j]
            best_level = levels[j, 0]
            best_dist = abs(v - best_level)
            for t in range(1, k):
                dist = abs(v - levels[j, t])
                if dist < best_dist:
                    best_dist = dist
                    best_level = levels[j, t]
            Z[i, j] = best_level
    return Z


def _polish_all(acqf, Z0, continuous, scale, maxiter):
    """Polish every row of ``Z0`` over its continuous coordinates, all in lockstep.

    One batched L-BFGS (:func:`hpcore.kernels.lbfgs.minimize_batch`) in the
    scaled coordinates ``s = z / scale``; the discrete coordinates of each row
    stay as they are. Where ``acqf.localized`` gives one cheaper, local
    acquisition per start (large n), row i searches on its own and the end
    points are scored with ``acqf`` itself. Returns the polished rows (r, d)
    and their values (r,).
    """
    local = acqf.localized(Z0) if hasattr(acqf, "localized") else None
    if local is None and hasattr(acqf, "polish"):  # one GP's acquisition: compiled whole
        return acqf.polish(Z0, continuous, scale, maxiter)
    Z = Z0.copy()
    idx = np.flatnonzero(continuous)
    s_scale = scale[idx]

    def evaluate(batch, rows):
        if local is None:
            return acqf.values_and_grad(batch)
        pairs = [local[r].values_and_grad(batch[i : i + 1]) for i, r in enumerate(rows)]
        return np.concatenate([v for v, _ in pairs]), np.vstack([g for _, g in pairs])

    def fun(S, rows):
        batch = Z[rows]
        batch[:, idx] = S * s_scale
        vals, grads = evaluate(batch, rows)
        return -vals, -grads[:, idx] * s_scale

    # scipy's L-BFGS-B tolerances (the defaults). Looser ones (gtol 1e-4, ftol
    # 1e-5) halve the rounds, but cost regret on Levy-10/Ackley-10 (20 seeds).
    S, f, _ = minimize_batch(fun, Z0[:, idx] / s_scale, np.zeros(len(idx)), 1.0 / s_scale,
                             maxiter=maxiter)
    Z[:, idx] = np.clip(S * s_scale, 0.0, 1.0)
    if local is not None:
        f = -acqf.values(Z)
    return Z, np.where(np.isfinite(f), -f, -np.inf)


def _score(acqf, candidates, allowed, keep, chunk=64):
    """Acquisition values of the allowed candidates (m,), exact for the best ``keep``.

    With ``acqf.bounded`` (cheap upper bounds and a function for exact
    values; or None), exact values are computed in order of decreasing
    bound, in growing chunks (16, 32, then ``chunk``), until the
    ``keep``-th best exact value beats every bound left: those candidates
    cannot be among the best ``keep``, and get -inf. Otherwise every value
    is exact.
    """
    values = np.full(len(candidates), -np.inf)
    bounded = None
    if hasattr(acqf, "bounded") and allowed.sum() > 4 * chunk:
        bounded = acqf.bounded(candidates)
    if bounded is None:
        exact = acqf.values(candidates[allowed])
        values[allowed] = np.where(np.isfinite(exact), exact, -np.inf)
        return values
    bounds, exact_of = bounded
    bounds = np.where(allowed, np.where(np.isnan(bounds), np.inf, bounds), -np.inf)
    order = np.argsort(-bounds, kind="stable")
    order = order[bounds[order] > -np.inf]
    done, size = 0, max(16, keep)
    while done < len(order):
        rows = order[done : done + size]
        exact = exact_of(rows)
        values[rows] = np.where(np.isfinite(exact), exact, -np.inf)
        done += len(rows)
        size = min(2 * size, max(chunk, keep))
        if done < len(order) and done >= keep:
            kth = np.partition(values[order[:done]], done - keep)[done - keep]
            if kth >= bounds[order[done]]:
                break
    return values


def _discrete_sweep(acqf, z, value, levels, n_levels, exhaustive_levels):
    """Coordinate search over discrete dimensions, batched per dimension."""
    discrete = np.flatnonzero(n_levels > 0)
    improved = True
    rounds = 0
    while improved and rounds < 3:
        improved = False
        rounds += 1
        for j in discrete:
            k = int(n_levels[j])
            options = levels[j, :k]
            if k > exhaustive_levels:
                current = int(np.argmin(np.abs(options - z[j])))
                near = np.arange(max(0, current - 2), min(k, current + 3))
                spread = np.unique(np.linspace(0, k - 1, exhaustive_levels).round().astype(int))
                options = options[np.union1d(near, spread)]
            trial = np.repeat(z[None, :], len(options), axis=0)
            trial[:, j] = options
            vals = acqf.values(trial)
            t = int(np.argmax(vals))
            if vals[t] > value + 1e-12 * max(1.0, abs(value)):
                z, value = trial[t].copy(), float(vals[t])
                improved = True
    return z, value


def maximize(
    acqf: Any,
    candidates: np.ndarray,
    levels: np.ndarray,
    n_levels: np.ndarray,
    cat: np.ndarray,
    *,
    n_restarts: int = 5,
    maxiter: int = 100,
    exhaustive_levels: int = 16,
    exclude: np.ndarray | None = None,
    avoid: np.ndarray | None = None,
    radius: float = 0.0,
    starts: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """The best point found for any acquisition ``acqf``, and its value.

    Parameters
    ----------
    acqf : object
        ``values(Z) -> (m,)`` and ``values_and_grad(Z) -> ((m,), (m, d))``
        on float64 rows; with ``length_scales`` (d,) the polish runs in
        coordinates scaled by them (e.g. :class:`PosteriorAcquisition`); with
        ``project(Z) -> Z`` each polished point is put in that canonical form
        before it is compared with ``exclude`` and returned (a conditional
        space's inactive coordinates at 0).
    candidates : (m, d)
        Points to score first; they are snapped to the allowed levels.
    levels, n_levels, cat
        The allowed values of each discrete dimension (NaN-padded), how many
        (0 for a continuous one), and 1.0 on categorical dimensions.
    n_restarts : int
        How many of the best candidates are polished.
    exclude : (p, d), optional
        Points that must not be returned (already observed or pending),
        compared after snapping.
    avoid, radius : (q, d), float
        No point closer than ``radius`` (Euclidean) to a row of ``avoid`` is
        returned: used to keep a batch of pending points apart.
    starts : (s, d), optional
        Points polished in any case, before the best candidates (the
        incumbent: a local search from the best point so far).

    Returns
    -------
    z : (d,)
        Inside ``[0, 1]`` (categorical dimensions: a level index).
    value : float
        Its acquisition value.
    """
    candidates = snap(np.ascontiguousarray(candidates, dtype=np.float64).copy(), levels, n_levels)
    allowed = np.ones(len(candidates), dtype=bool)
    known = _row_keys(exclude) if exclude is not None and len(exclude) else set()
    if known:
        allowed &= ~_rows_in(candidates, known)
    if avoid is not None and len(avoid) and radius > 0:
        allowed &= ~_near(candidates, avoid, radius)
    values = _score(acqf, candidates, allowed, max(1, n_restarts))
    order = np.argsort(-values, kind="stable")
    best_z, best_val = candidates[order[0]].copy(), float(values[order[0]])
    continuous = n_levels == 0
    lengths = getattr(acqf, "length_scales", None)
    scale = np.ones(candidates.shape[1]) if lengths is None else np.asarray(lengths, float)
    scale = np.where(scale > 0, np.minimum(scale, 1.0), 1.0)
    first: list[tuple[np.ndarray, float]] = []
    if starts is not None and len(starts):
        starts = snap(np.ascontiguousarray(starts, dtype=np.float64).copy(), levels, n_levels)
        start_vals = acqf.values(starts)
        first = [(z, float(v)) for z, v in zip(starts, start_vals) if np.isfinite(v)]
    top = [(candidates[i].copy(), float(values[i])) for i in order[: max(1, n_restarts)]
           if np.isfinite(values[i])]
    starts_list: list[tuple[np.ndarray, float]] = []
    for z, val in first + top:
        kept = np.array([s for s, _ in starts_list]).reshape(-1, len(z))
        # np.allclose(z, s) for each kept s, in one pass (it costs 20 us a call).
        if not np.any(np.all(np.abs(z - kept) <= 1e-8 + 1e-5 * np.abs(kept), axis=1)):
            starts_list.append((z, val))
    if continuous.any() and starts_list:
        Z0 = np.array([z for z, _ in starts_list])
        Z1, v1 = _polish_all(acqf, Z0, continuous, scale, maxiter)
        starts_list = [(z1, v) if v > val else (z, val)
                       for (z, val), z1, v in zip(starts_list, Z1, v1)]
    project = getattr(acqf, "project", None)  # a canonical form of rows (conditional spaces)
    for z, val in starts_list:
        if (~continuous).any():
            z, val = _discrete_sweep(acqf, z, val, levels, n_levels, exhaustive_levels)
        if project is not None:
            z = project(z[None, :])[0]
        if known and _rows_in(z[None, :], known)[0]:
            continue
        if avoid is not None and len(avoid) and radius > 0 and _near(z[None, :], avoid, radius)[0]:
            continue
        if val > best_val:
            best_z, best_val = z, val
    return np.clip(best_z, 0.0, np.where(cat > 0, np.inf, 1.0)), best_val




def maximize_acquisition(
    X: np.ndarray,
    L: np.ndarray,
    alpha: np.ndarray,
    cat: np.ndarray,
    theta: np.ndarray,
    code: int,
    best: float,
    beta: float,
    candidates: np.ndarray,
    levels: np.ndarray,
    n_levels: np.ndarray,
    **options: Any,
) -> tuple[np.ndarray, float]:
    """:func:`maximize` of the acquisition ``code`` over the GP given by its arrays.

    ``options`` are :func:`maximize`'s (``n_restarts``, ``exclude``, ...).
    """
    acqf = _acquisition_of(X, L, alpha, cat, theta, code, best, beta)
    return maximize(acqf, candidates, levels, n_levels, acqf.model.cat, **options)


def _near(Z: np.ndarray, rows: np.ndarray, radius: float) -> np.ndarray:
    """Which rows of ``Z`` (m, d) lie within ``radius`` of some row of ``rows`` (q, d)."""
    near = np.zeros(len(Z), dtype=bool)
    for r in rows:  # q is small: the pending points of one batch
        near |= np.sum((Z - r) ** 2, axis=1) < radius * radius
    return near


def _row_keys(rows: np.ndarray) -> set[bytes]:
    """The rows of ``rows`` (p, d) rounded to 9 decimals, as hashable keys."""
    return {r.tobytes() for r in np.round(rows, 9) + 0.0}


def _rows_in(Z: np.ndarray, known: set[bytes]) -> np.ndarray:
    """Which rows of ``Z`` (m, d) are in ``known`` (:func:`_row_keys`)."""
    return np.array([r.tobytes() in known for r in np.round(Z, 9) + 0.0], dtype=bool)
