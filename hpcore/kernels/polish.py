"""Local searches of one GP's acquisition, compiled whole: the common polish.

:func:`hpcore.kernels.optimize.maximize` polishes its best candidates with
the batched L-BFGS of :mod:`hpcore.kernels.lbfgs`, which takes any
acquisition as a Python callable. For the plain acquisition of one GP's
posterior (:class:`~hpcore.kernels.model.PosteriorAcquisition`, the
default single-objective search) that generality cost more than the
numerics: at n = 200, d = 10 a polish spent about two thirds of its time in
Python and numpy bookkeeping between evaluations. Here the same projected
L-BFGS (the directions of :func:`hpcore.kernels.lbfgs._direction_row`, the
same Armijo backtracking from the same first step, the same stopping rules)
runs with the posterior acquisition and its gradient in one compiled loop
per start: two triangular solves of one right-hand side per evaluation,
O(n^2), and no call back into Python.

Symbols (shapes)
----------------
X (n, d), alpha (n,), cat (d,), theta (d + 2,)   as in :mod:`hpcore.kernels.predict`
B (side, side)     C-contiguous array whose leading (n, n) block is the Cholesky factor
Z0 (r, d)          start points; their discrete coordinates stay as they are
idx (p,)           the continuous coordinates searched
scale (d,)         a start searches ``s = z / scale`` (the length scales, capped at 1)
"""

from __future__ import annotations

import math

import numpy as np

from ._lapack import _leading
from ._numba import jit
from .acqf import _point
from .lbfgs import _direction_row, _projected_grad_norm_row
from .matern import _SQRT5, _prepare, _row_r_e
from .predict import VAR_FLOOR

__all__ = ["polish_posterior"]


@jit
def _objective(x, g, z, idx, sscale, gp, acq, work, grad):
    """Minus the acquisition at the start's row ``z`` (d,) with ``z[idx] = x * sscale``,
    and its gradient w.r.t. ``x`` into ``g``; inf (and g = 0) where not finite.

    ``gp = (XT, cw, inv_l, cat, theta, B, alpha)`` (prepared coordinates of
    :func:`hpcore.kernels.matern._prepare`, 1 / length scales, the factor's
    buffer), ``acq = (code, best, beta)``, ``work`` (6, n) and ``grad`` (d,) scratch.
    """
    XT, cw, inv_l, cat, theta, B, alpha = gp
    code, best, beta = acq
    d, n = XT.shape
    s = math.exp(theta[d])
    for t in range(idx.shape[0]):
        z[idx[t]] = x[t] * sscale[t]
    k, D, v = work[0], work[1], work[2]
    for j in range(n):
        v[j] = 0.0  # r^2, until the solve below
    for c in range(d):
        row = XT[c]
        if cat[c] == 0.0:
            a = z[c] * inv_l[c]
            for j in range(n):
                diff = a - row[j]
                v[j] += diff * diff
        else:
            for j in range(n):
                v[j] += cw[c] if z[c] != row[j] else 0.0
    r, e = work[3], work[4]
    _row_r_e(v, r, e, work[5], n)
    mean = 0.0
    for j in range(n):
        k[j] = s * (1.0 + _SQRT5 * r[j] + (5.0 / 3.0) * v[j]) * e[j]
        D[j] = (-5.0 / 6.0) * s * (1.0 + _SQRT5 * r[j]) * e[j]  # dk / d(r^2)
        mean += k[j] * alpha[j]
    explained = 0.0
    for i in range(n):  # v = L^{-1} k
        Bi = B[i]
        acc = k[i]
        for j in range(i):
            acc -= Bi[j] * v[j]
        v[i] = acc / Bi[i]
        explained += v[i] * v[i]
    var = max(s - explained, VAR_FLOOR)
    for i in range(n - 1, -1, -1):  # v = L^{-T} v = K^{-1} k, column by column
        Bi = B[i]
        b = v[i] / Bi[i]
        v[i] = b
        for j in range(i):
            v[j] -= Bi[j] * b
    value, d_mean, d_var = _point(code, mean, var, best, beta, True)
    if var <= VAR_FLOOR:
        d_var = 0.0  # the clipped variance is flat
    for c in range(d):
        grad[c] = 0.0
        if cat[c] != 0.0:
            continue
        a = z[c] * inv_l[c]
        row = XT[c]
        acc_m = 0.0
        acc_v = 0.0
        for j in range(n):
            dk = D[j] * (a - row[j])  # dk/dz_c = 2 D (a - x) / l_c
            acc_m += alpha[j] * dk
            acc_v += v[j] * dk
        grad[c] = 2.0 * inv_l[c] * (d_mean * acc_m - 2.0 * d_var * acc_v)
    f = -value
    finite = math.isfinite(f)
    for t in range(idx.shape[0]):
        g[t] = -grad[idx[t]] * sscale[t]
        finite = finite and math.isfinite(g[t])
    if not finite:
        for t in range(idx.shape[0]):
            g[t] = 0.0
        return math.inf
    return f


@jit
def _minimize_row(x, f, g, z, idx, sscale, upper, gp, acq, work, grad, maxiter, memory, gtol,
                  ftol, first_step, max_backtracks):
    """One projected L-BFGS search from ``x`` (p,) in ``[0, upper]``, in place; its value.

    ``f``, ``g``: :func:`_objective` at the start, evaluated by the caller (the
    loop then has one call site of the objective).
    Step for step :func:`hpcore.kernels.lbfgs.minimize_batch` for one row.
    """
    p = x.shape[0]
    lower = np.zeros(p)
    xt, gt, d = np.empty(p), np.empty(p), np.empty(p)
    S, Y = np.zeros((1, memory, p)), np.zeros((1, memory, p))
    rho, used = np.zeros((1, memory)), np.zeros(1, dtype=np.int64)
    if not math.isfinite(f) or _projected_grad_norm_row(x, g, lower, upper) <= gtol:
        return f
    for _ in range(maxiter):
        _direction_row(x, g, lower, upper, S, Y, rho, used, 0, d)
        step = 1.0
        if used[0] == 0:  # no curvature yet: move at most first_step
            big = 1e-300
            for t in range(p):
                big = max(big, abs(d[t]))
            step = min(1.0, first_step / big)
        accepted = False
        for _try in range(max_backtracks + 1):
            moved = False
            decrease = 0.0
            for t in range(p):
                xt[t] = min(max(x[t] + step * d[t], lower[t]), upper[t])
                moved = moved or xt[t] != x[t]
                decrease += g[t] * (xt[t] - x[t])
            if not moved:
                break
            ft = _objective(xt, gt, z, idx, sscale, gp, acq, work, grad)
            if ft <= f + 1e-4 * decrease:  # Armijo
                accepted = True
                break
            step *= 0.5
        if not accepted:
            break
        sy = 0.0
        yy = 0.0
        for t in range(p):
            sy += (xt[t] - x[t]) * (gt[t] - g[t])
            yy += (gt[t] - g[t]) * (gt[t] - g[t])
        slot = used[0] % memory  # the ring buffer's next (or oldest) curvature pair
        keep = sy > 1e-10 * yy
        for t in range(p):
            if keep:
                S[0, slot, t] = xt[t] - x[t]
                Y[0, slot, t] = gt[t] - g[t]
            x[t] = xt[t]
            g[t] = gt[t]
        if keep:
            rho[0, slot] = 1.0 / sy
            used[0] += 1
        f_old = f
        f = ft
        if (f_old - f <= ftol * max(abs(f_old), abs(f), 1.0)
                or _projected_grad_norm_row(x, g, lower, upper) <= gtol):
            break
    return f


def polish_posterior(X, L, alpha, cat, theta, code, best, beta, Z0, continuous, scale,
                     maxiter) -> tuple[np.ndarray, np.ndarray]:
    """Each row of ``Z0`` after an L-BFGS ascent of the acquisition over ``continuous``.

    The arrays are a :class:`~hpcore.kernels.model.GPModel`'s (checked when it
    was made); ``scale`` (d,) the coordinates' scales (positive, at most 1).
    Returns the polished rows (r, d), inside ``[0, 1]`` on the searched
    coordinates, and their acquisition values (r,) (-inf where none was finite).
    """
    Z = np.array(Z0, dtype=np.float64, order="C")
    idx = np.flatnonzero(continuous).astype(np.int64)
    values = np.empty(len(Z))
    XT, cw = _prepare(X, cat, theta)
    d = X.shape[1]
    inv_l = np.where(cat > 0, 1.0, np.exp(-theta[:d]))
    B, _ = _leading(L)
    gp = (XT, cw, inv_l, cat, theta, B, alpha)
    acq = (int(code), float(best), float(beta))
    # scipy's L-BFGS-B tolerances, as minimize_batch's defaults (see optimize._polish_all).
    sscale = np.ascontiguousarray(scale[idx], dtype=np.float64)
    upper = 1.0 / sscale
    work, grad = np.empty((6, len(X))), np.empty(X.shape[1])
    for i, z in enumerate(Z):  # a handful of starts: the loop costs microseconds
        x = np.clip(z[idx] / sscale, 0.0, upper)
        g = np.empty(len(idx))
        f = _objective(x, g, z, idx, sscale, gp, acq, work, grad)
        f = _minimize_row(x, f, g, z, idx, sscale, upper, gp, acq, work, grad, int(maxiter), 10,
                          1e-5, 2.2e-9, 0.1, 20)
        z[idx] = np.clip(x * sscale, 0.0, 1.0)
        values[i] = -f if math.isfinite(f) else -math.inf
    return Z, values
