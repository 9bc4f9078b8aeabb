"""Batched, box-constrained L-BFGS: many independent local searches in lockstep.

Each start point keeps its own optimiser state (iterate, gradient, curvature
memory, step length); what they share is the evaluation. Every round asks
the objective for the values and gradients of all still-active searches
*in one call*, so an objective that is cheap per row when batched (the
acquisition of a GP: one multi-right-hand-side triangular solve instead of
many) pays its fixed cost once per round, not once per search, and no
Python-level optimiser runs per restart.

The method is projected L-BFGS:

* the search direction is the two-loop L-BFGS direction on the *free*
  variables (a variable at a bound whose gradient pushes it outwards is
  held fixed), reset to steepest descent when it is not a descent
  direction;
* the step is a backtracking Armijo search along the projected path
  ``clip(x + t d, lower, upper)`` (halving ``t``), starting from ``t = 1``
  (the first step of a search is scaled to move at most ``first_step`` in
  any coordinate);
* a search stops when its projected gradient is below ``gtol`` (infinity
  norm), when its value improves by less than ``ftol`` relative, when its
  line search fails, or after ``maxiter`` iterations.

It is not a port of L-BFGS-B (no generalised Cauchy point or subspace
minimisation), but on the smooth, low-dimensional objectives it is used for
it reaches the same local optima; ``tests/test_kernels_lbfgs.py`` checks it
against scipy's L-BFGS-B.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._numba import jit

__all__ = ["minimize_batch"]

Objective = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def minimize_batch(
    fun: Objective,
    x0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    maxiter: int = 100,
    memory: int = 10,
    gtol: float = 1e-5,
    ftol: float = 2.2e-9,
    first_step: float = 0.1,
    max_backtracks: int = 20,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Minimise ``fun`` from each row of ``x0`` inside the box ``[lower, upper]``.

    Parameters
    ----------
    fun : callable
        ``fun(X, rows) -> (f, g)`` for a batch ``X`` (b, p) of the searches
        ``rows`` (b,) (indices into ``x0``, for objectives with constants
        per search): values (b,) and gradients (b, p). Non-finite values
        count as +inf (rejected steps).
    x0 : (r, p) array
        Start points, one search per row; clipped into the box first.
    lower, upper : (p,) arrays
        The box (``lower <= upper``).
    maxiter : int
        Iterations (accepted steps) per search.
    memory : int
        Curvature pairs kept per search.
    gtol, ftol : float
        Stop when ``max |projected gradient| <= gtol`` or when an accepted
        step improves the value by at most ``ftol * max(|f|, |f_new|, 1)``.
    first_step : float
        Largest move of any coordinate on a search's first step.
    max_backtracks : int
        Halvings of the step before a search gives up.

    Returns
    -------
    x : (r, p) array
        Final points, inside the box.
    f : (r,) array
        Their values (``inf`` where the start was not finite and no finite
        point was found).
    n_evals : int
        Rows evaluated in all (for measurements).
    """
    lower = np.asarray(lower, dtype=np.float64)
    upper = np.asarray(upper, dtype=np.float64)
    x = np.clip(np.array(x0, dtype=np.float64, ndmin=2), lower, upper)
    r, p = x.shape
    f, g = _evaluate(fun, x, np.arange(r))
    n_evals = r
    S = np.zeros((r, memory, p))  # steps
    Y = np.zeros((r, memory, p))  # gradient changes
    rho = np.zeros((r, memory))  # 1 / (y . s); 0 marks an empty slot
    used = np.zeros(r, dtype=np.int64)  # pairs stored so far (ring buffer)
    active = np.isfinite(f) & (_projected_grad_norm(x, g, lower, upper) > gtol)
    for _ in range(maxiter):
        idx = np.flatnonzero(active)
        if len(idx) == 0:
            break
        xa, ga = x[idx], g[idx]
        d = _directions(xa, ga, lower, upper, S, Y, rho, used, idx)
        fresh = used[idx] == 0
        step = np.ones(len(idx))
        big = np.max(np.abs(d), axis=1)
        step[fresh] = np.minimum(1.0, first_step / np.maximum(big[fresh], 1e-300))
        x_new, f_new, g_new, ok, evals = _line_search(
            fun, idx, xa, f[idx], ga, d, step, lower, upper, max_backtracks
        )
        n_evals += evals
        # Searches whose line search failed stop where they are.
        active[idx[~ok]] = False
        acc = np.flatnonzero(ok)
        if len(acc) == 0:
            continue
        rows = idx[acc]
        s = x_new[acc] - xa[acc]
        y = g_new[acc] - ga[acc]
        sy = np.sum(s * y, axis=1)
        keep = sy > 1e-10 * np.sum(y * y, axis=1)
        for k in np.flatnonzero(keep):  # store the curvature pair (ring buffer)
            row = rows[k]
            slot = used[row] % memory
            S[row, slot], Y[row, slot], rho[row, slot] = s[k], y[k], 1.0 / sy[k]
            used[row] += 1
        f_old = f[rows]
        x[rows], f[rows], g[rows] = x_new[acc], f_new[acc], g_new[acc]
        small_gain = (f_old - f[rows]) <= ftol * np.maximum(
            np.maximum(np.abs(f_old), np.abs(f[rows])), 1.0
        )
        converged = _projected_grad_norm(x[rows], g[rows], lower, upper) <= gtol
        active[rows[small_gain | converged]] = False
    return x, f, n_evals


def _evaluate(fun: Objective, X: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f, g = fun(X, rows)
    f = np.array(f, dtype=np.float64).reshape(len(X))
    g = np.array(g, dtype=np.float64).reshape(X.shape)
    bad = ~np.isfinite(f) | ~np.all(np.isfinite(g), axis=1)
    f[bad] = np.inf
    g[bad] = 0.0
    return f, g


def _projected_grad_norm(x, g, lower, upper) -> np.ndarray:
    """``max_i |P(x - g) - x|``: zero exactly at a box-constrained stationary point."""
    return np.max(np.abs(np.clip(x - g, lower, upper) - x), axis=1)


@jit
def _directions(x, g, lower, upper, S, Y, rho, used, idx):
    """L-BFGS directions (b, p) of the searches ``idx`` at ``x``, ``g`` (b, p).

    ``S``, ``Y`` (r, m, p), ``rho`` (r, m), ``used`` (r,) are the memories of
    all searches (:func:`_direction_row`).
    """
    out = np.zeros(x.shape)
    for i in range(x.shape[0]):
        _direction_row(x[i], g[i], lower, upper, S, Y, rho, used, idx[i], out[i])
    return out


@jit
def _direction_row(x, g, lower, upper, S, Y, rho, used, row, out):
    """The L-BFGS direction of search ``row`` at ``x``, ``g`` (p,) on its free variables.

    ``S``, ``Y`` (r, m, p), ``rho`` (r, m), ``used`` (r,): the memories of
    the searches (a ring buffer; ``used[row]`` pairs stored). A search whose
    direction is not a descent direction falls back to steepest descent and
    has its memory cleared (in place). Writes the direction into ``out`` (p,).
    """
    p = x.shape[0]
    m = S.shape[1]
    q = np.empty(p)
    a = np.empty(m)
    free = np.empty(p, dtype=np.bool_)
    for k in range(p):
        free[k] = not ((x[k] <= lower[k] and g[k] > 0.0) or (x[k] >= upper[k] and g[k] < 0.0))
        q[k] = g[k] if free[k] else 0.0
    live = min(used[row], m)
    for t in range(live):  # newest pair first
        slot = (used[row] - 1 - t) % m
        acc = 0.0
        for k in range(p):
            acc += S[row, slot, k] * q[k]
        a[t] = rho[row, slot] * acc
        for k in range(p):
            q[k] -= a[t] * Y[row, slot, k]
    if live > 0:
        slot = (used[row] - 1) % m
        yy = 0.0
        for k in range(p):
            yy += Y[row, slot, k] * Y[row, slot, k]
        if yy > 0.0:
            gamma = 1.0 / (rho[row, slot] * yy)
            for k in range(p):
                q[k] *= gamma
    for t in range(live - 1, -1, -1):
        slot = (used[row] - 1 - t) % m
        acc = 0.0
        for k in range(p):
            acc += Y[row, slot, k] * q[k]
        bta = rho[row, slot] * acc
        for k in range(p):
            q[k] += (a[t] - bta) * S[row, slot, k]
    slope = 0.0
    for k in range(p):
        out[k] = -q[k] if free[k] else 0.0
        slope += out[k] * g[k]
    if not slope < 0.0:  # not a descent direction: forget the curvature
        used[row] = 0
        for k in range(p):
            out[k] = -g[k] if free[k] else 0.0


@jit
def _projected_grad_norm_row(x, g, lower, upper):
    """:func:`_projected_grad_norm` of one search (p,)."""
    norm = 0.0
    for k in range(x.shape[0]):
        norm = max(norm, abs(min(max(x[k] - g[k], lower[k]), upper[k]) - x[k]))
    return norm


def _line_search(fun, rows, x, f, g, d, step, lower, upper, max_backtracks, batch=3):
    """Backtracking Armijo search along ``clip(x + t d)``, all rows at once.

    The first try is the full step. The searches that must back off then try
    their next ``batch`` halvings in one call (a row accepts the largest that
    passes, as one halving at a time would): a call costs far more than a
    row at small n, and each backtracking round would otherwise be a call.
    """
    c1 = 1e-4
    b = len(x)
    x_new = x.copy()
    f_new = np.full(b, np.inf)
    g_new = np.zeros_like(g)
    ok = np.zeros(b, dtype=bool)
    todo = np.arange(b)
    evals = 0
    tries = 0  # step sizes tried so far by every row still in todo
    while len(todo) and tries <= max_backtracks:
        k = 1 if tries == 0 else min(batch, max_backtracks + 1 - tries)
        scales = 0.5 ** np.arange(k)
        which = np.repeat(todo, k)
        t = np.tile(scales, len(todo)) * step[which]
        trial = np.clip(x[which] + t[:, None] * d[which], lower, upper)
        ft, gt = _evaluate(fun, trial, rows[which])
        evals += len(which)
        decrease = np.sum(g[which] * (trial - x[which]), axis=1)
        moved = np.any(trial != x[which], axis=1).reshape(-1, k)
        good = (ft <= f[which] + c1 * decrease).reshape(-1, k) & moved
        # A row takes its first passing try, unless a try before it did not move.
        first_good = np.where(good.any(axis=1), good.argmax(axis=1), k)
        first_still = np.where((~moved).any(axis=1), (~moved).argmax(axis=1), k)
        accept = first_good < first_still
        for i in np.flatnonzero(accept):
            r, j = todo[i], i * k + first_good[i]
            x_new[r], f_new[r], g_new[r], ok[r] = trial[j], ft[j], gt[j], True
        alive = ~accept & (first_still == k)
        todo = todo[alive]
        step[todo] *= 0.5 ** k
        tries += k
    return x_new, f_new, g_new, ok, evals
