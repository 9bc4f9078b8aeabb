"""GP posterior of the latent function at candidate points, with gradients.

Symbols and shapes
------------------
X : (n, d)        observed inputs.
L : (n, n)        lower Cholesky factor of ``K = k(X, X) + noise * I`` (from :func:`~hpcore.kernels.factorize`).
alpha : (n,)      ``K^{-1} y``.
cat : (d,)        1.0 on categorical dims.
theta : (d + 2,)  ``[log l_1..d, log s, log noise]``.
Z : (m, d)        candidates; each row is independent (a batch of restarts).
k_i : (n,)        ``k(X, Z[i])``, row i of ``Ks = k(Z, X)`` (m, n).

Formulas (latent ``f``, without observation noise)
-------------------------------------------------
    mean_i = k_i^T alpha
    var_i  = s - v_i^T v_i,          v_i = L^{-1} k_i,    clipped at >= 1e-12
    d mean_i / d z_i = sum_j alpha_j  d k_ij / d z_i
    d var_i  / d z_i = -2 sum_j beta_ij d k_ij / d z_i,   beta_i = L^{-T} v_i = K^{-1} k_i

with ``d k_ij / d z_ik = D_ij * 2 (z_ik - x_jk) / l_k^2`` on continuous dims
(``D = dk/d(r^2)``, see :mod:`hpcore.kernels.matern`) and 0 on categorical dims.
Writing ``a_ij = alpha_j D_ij``, the sum is
``2 / l_k^2 * (z_ik sum_j a_ij - sum_j a_ij x_jk)``: one fused O(m n d) loop,
no (m, n, d) tensor. The two triangular solves (O(n^2 m)) are LAPACK ``dtrtrs``
with all m right-hand sides at once. Where ``var`` is clipped its gradient is 0.

Functions
---------
posterior(X, L, alpha, cat, theta, Z) -> (mean (m,), var (m,))
posterior_grad(X, L, alpha, cat, theta, Z) -> (mean (m,), var (m,), dmean (m, d), dvar (m, d))
"""

from __future__ import annotations

import math

import numpy as np

from ._numba import jit
from .linalg import _as_factor, _as_matrix, _as_vector, _solve_rows_inplace
from .matern import _SQRT5, _kernel_args, _matern52_cross, _matern52_cross_dk, _prepare

__all__ = ["VAR_FLOOR", "posterior", "posterior_grad"]

#: Lower clip of the posterior variance.
VAR_FLOOR = 1e-12


@jit
def _variance(V, s, floor):
    """``max(s - |V[i]|^2, floor)`` for each row of ``V`` (m, n)."""
    m, n = V.shape
    var = np.empty(m)
    for i in range(m):
        acc = 0.0
        for j in range(n):
            acc += V[i, j] * V[i, j]
        var[i] = max(s - acc, floor)
    return var


@jit
def _posterior_grad_terms(Z, X, cat, theta, D, alpha, Beta, var, floor):
    """(m, d) gradients of the mean and the variance w.r.t. each row of ``Z``."""
    m, d = Z.shape
    n = X.shape[0]
    XT = np.ascontiguousarray(X.T)
    a = np.empty(n)
    b = np.empty(n)
    dmean = np.zeros((m, d))
    dvar = np.zeros((m, d))
    for i in range(m):
        sa = 0.0
        sb = 0.0
        for j in range(n):
            a[j] = alpha[j] * D[i, j]
            b[j] = Beta[i, j] * D[i, j]
            sa += a[j]
            sb += b[j]
        clipped = var[i] <= floor
        for k in range(d):
            if cat[k] != 0.0:
                continue
            c = 2.0 * math.exp(-2.0 * theta[k])  # d r^2 / d z_k = c (z_k - x_k)
            x = XT[k]
            acc_a = 0.0
            acc_b = 0.0
            for j in range(n):
                acc_a += a[j] * x[j]
                acc_b += b[j] * x[j]
            dmean[i, k] = c * (Z[i, k] * sa - acc_a)
            if not clipped:
                dvar[i, k] = -2.0 * c * (Z[i, k] * sb - acc_b)
    return dmean, dvar


@jit
def _pair_k(P, a, b, cat, cw, s):
    """``k`` between rows ``a`` and ``b`` of prepared coordinates ``P`` (q, d)."""
    r2 = 0.0
    for k in range(P.shape[1]):
        if cat[k] != 0.0:
            if P[a, k] != P[b, k]:
                r2 += cw[k]
        else:
            t = P[a, k] - P[b, k]
            r2 += t * t
    r = math.sqrt(r2)
    return s * (1.0 + _SQRT5 * r + (5.0 / 3.0) * r2) * math.exp(-_SQRT5 * r)


@jit
def _top(row, q, idx):
    """Fill ``idx`` (q,) with the positions of the ``q`` largest entries of ``row`` (any order)."""
    low = 0  # position in idx of the smallest kept entry
    for j in range(row.shape[0]):
        if j < q:
            idx[j] = j
            if j == q - 1:
                for t in range(q):
                    if row[idx[t]] < row[idx[low]]:
                        low = t
        elif row[j] > row[idx[low]]:
            idx[low] = j
            for t in range(q):
                if row[idx[t]] < row[idx[low]]:
                    low = t


@jit
def _nearest_variance(X, cat, theta, Ks, q, diagonal):
    """Upper bounds (m,) on the posterior variance at the points of the rows of ``Ks``.

    Row i of ``Ks`` (m, n) holds ``k(z_i, X)``. The bound is the variance
    given only the ``q`` observations most correlated with ``z_i``, each
    with ``diagonal`` (at least every diagonal entry of the factorised
    matrix) on its own: fewer observations and more noise can only raise
    the variance. O(n + q^2 d + q^3) per point; where the small factor
    fails numerically, the one-observation bound is used.
    """
    m, n = Ks.shape
    q = min(q, n)
    s = math.exp(theta[X.shape[1]])
    XT, cw = _prepare(X, cat, theta)
    P = np.empty((q, X.shape[1]))  # the selected points' prepared coordinates
    idx = np.empty(q, dtype=np.int64)
    A = np.empty((q, q))
    v = np.empty(q)
    out = np.empty(m)
    for i in range(m):
        row = Ks[i]
        _top(row, q, idx)
        kmax = 0.0
        for a in range(q):
            kmax = max(kmax, row[idx[a]])
            for k in range(P.shape[1]):
                P[a, k] = XT[k, idx[a]]
            for b in range(a):
                A[a, b] = _pair_k(P, a, b, cat, cw, s)
            A[a, a] = diagonal
        ok = True
        for a in range(q):  # Cholesky of A in place (lower), then v = A^{-1/2} k
            for b in range(a + 1):
                acc = A[a, b]
                for c in range(b):
                    acc -= A[a, c] * A[b, c]
                if a == b:
                    if not acc > 0.0:
                        ok = False
                        break
                    A[a, a] = math.sqrt(acc)
                else:
                    A[a, b] = acc / A[b, b]
            if not ok:
                break
            acc = row[idx[a]]
            for c in range(a):
                acc -= A[a, c] * v[c]
            v[a] = acc / A[a, a]
        if ok:
            explained = 0.0
            for a in range(q):
                explained += v[a] * v[a]
            out[i] = s - explained
        else:
            out[i] = s - kmax * kmax / diagonal
    return out


def _posterior_args(X, L, alpha, cat, theta, Z):
    X, cat, theta = _kernel_args(X, cat, theta)
    n, d = X.shape
    L = _as_factor(L, n)
    alpha = _as_vector("alpha", alpha, n)
    Z = _as_matrix("Z", Z, cols=d)
    return X, L, alpha, cat, theta, Z


def posterior(X, L, alpha, cat, theta, Z) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and variance of the latent function at the rows of ``Z``.

    Parameters
    ----------
    X : (n, d) array
    L : (n, n) array
        Lower Cholesky factor of ``k(X, X) + noise * I`` (:func:`~hpcore.kernels.factorize`).
    alpha : (n,) array
        ``K^{-1} y`` (:func:`~hpcore.kernels.factorize`).
    cat : (d,) array
    theta : (d + 2,) array
    Z : (m, d) array

    Returns
    -------
    mean : (m,) array
    var : (m,) array
        Variance of the latent ``f`` (no observation noise), clipped at
        :data:`VAR_FLOOR`.
    """
    return _posterior(*_posterior_args(X, L, alpha, cat, theta, Z))


def _posterior(X, L, alpha, cat, theta, Z) -> tuple[np.ndarray, np.ndarray]:
    """:func:`posterior` of checked arrays (GPModel's, whose fields are checked once)."""
    Ks = np.empty((Z.shape[0], X.shape[0]))
    _matern52_cross(Z, X, cat, theta, Ks)
    mean = Ks @ alpha
    _solve_rows_inplace(L, Ks, transpose=False)  # rows now v_i = L^{-1} k_i
    var = _variance(Ks, math.exp(theta[-2]), VAR_FLOOR)
    return mean, var


def posterior_grad(
    X, L, alpha, cat, theta, Z
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`posterior` and its gradient w.r.t. each row of ``Z``.

    Parameters
    ----------
    As for :func:`posterior`.

    Returns
    -------
    mean : (m,) array
    var : (m,) array
    dmean : (m, d) array
        ``d mean_i / d Z[i, k]``; zero on categorical dims.
    dvar : (m, d) array
        ``d var_i / d Z[i, k]``; zero on categorical dims and where ``var`` was clipped.
    """
    return _posterior_grad(*_posterior_args(X, L, alpha, cat, theta, Z))


def _posterior_grad(X, L, alpha, cat, theta, Z):
    """:func:`posterior_grad` of checked arrays (see :func:`_posterior`)."""
    # One allocation for both (m, n) blocks: two separate ones of a few MB each
    # are returned to the OS and faulted in again on every call (glibc's trim).
    KD = np.empty((2, Z.shape[0], X.shape[0]))
    Ks, D = KD[0], KD[1]
    _matern52_cross_dk(Z, X, cat, theta, Ks, D)
    mean = Ks @ alpha
    _solve_rows_inplace(L, Ks, transpose=False)  # rows v_i = L^{-1} k_i
    var = _variance(Ks, math.exp(theta[-2]), VAR_FLOOR)
    _solve_rows_inplace(L, Ks, transpose=True)  # rows beta_i = L^{-T} v_i = K^{-1} k_i
    dmean, dvar = _posterior_grad_terms(Z, X, cat, theta, D, alpha, Ks, var, VAR_FLOOR)
    return mean, var, dmean, dvar
