"""Matérn-5/2 ARD kernel with Hamming distance on categorical dimensions.

Symbols and shapes
------------------
X1 : (n1, d), X2 : (n2, d), X : (n, d), Z : (m, d)
    Points. Continuous and integer dims hold values in [0, 1]; categorical
    dims hold the category index as a float (0.0, 1.0, ...).
cat : (d,)
    1.0 for a categorical dim, 0.0 otherwise.
theta : (d + 2,)
    ``[log l_1, ..., log l_d, log s, log noise]``: length scales, signal
    variance, observation noise variance.

The kernel
----------
With ``w_k = ((x_k - x'_k) / l_k)^2`` on continuous dims and
``w_k = [x_k != x'_k] / l_k^2`` on categorical dims (Hamming distance, as
Optuna's GP), ``r^2 = sum_k w_k`` and

    k(x, x') = s (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r).

Derivatives used across the package (``e = exp(-sqrt5 r)``):

    dk/d(r^2)       = -5/6 s (1 + sqrt5 r) e          (finite at r = 0)
    dk/d(log l_k)   = dk/d(r^2) * (-2 w_k) = 5/3 s (1 + sqrt5 r) e w_k
    dk/d(log s)     = k
    dk/dx_k         = dk/d(r^2) * 2 (x_k - x'_k) / l_k^2   (continuous dims; 0 on categorical)

Functions
---------
matern52(X1, X2, cat, theta) -> (n1, n2)
    Cross-covariance ``k(X1[i], X2[j])``, without observation noise.
matern52_grad_x(Z, X, cat, theta) -> (m, n, d)
    ``d k(Z[i], X[j]) / d Z[i, k]``; zero on categorical dims. Memory
    O(m n d): for many candidates use :func:`hpcore.kernels.posterior_grad`,
    which fuses this into the posterior's gradient.

Private kernels (numba, used by the other modules; each fills output arrays
that its caller allocates with numpy, whose large allocations are cheaper to
touch than numba's -- numpy asks for huge pages): ``_matern52_cross``,
``_matern52_cross_dk`` (values and ``dk/d(r^2)``), ``_gram_lower`` (lower
triangle of ``k(X, X) + noise * I``), ``_matern52_grad_x``, and the helpers
``_prepare`` (coordinates scaled by the length scales and transposed to (d, n),
so that the inner loops run over points and vectorise) and ``_row_r2`` (r^2
from one point to many).
"""

from __future__ import annotations

import math

import numpy as np

from ._numba import jit
from .linalg import _as_matrix, _as_vector

__all__ = ["matern52", "matern52_grad_x"]

_SQRT5 = math.sqrt(5.0)  # a float constant folded at compile time, never rebound


# --------------------------------------------------------------------------- kernels
# Layout: the kernels work on "prepared" coordinates, transposed to (d, n) so that
# the innermost loops run over points, contiguously, and vectorise: continuous
# rows are divided by their length scale (so w_k = (a_k - b_k)^2), categorical
# rows are kept (so w_k = cw_k [a_k != b_k] with cw_k = 1 / l_k^2).


@jit
def _prepare(X, cat, theta):
    """Prepared coordinates ``XT`` (d, n) and categorical weights ``cw`` (d,)."""
    n, d = X.shape
    XT = np.empty((d, n))
    cw = np.zeros(d)
    for k in range(d):
        if cat[k] != 0.0:
            cw[k] = math.exp(-2.0 * theta[k])
            scale = 1.0
        else:
            scale = math.exp(-theta[k])
        for i in range(n):
            XT[k, i] = X[i, k] * scale
    return XT, cw


@jit
def _row_r2(AT, i, BT, cat, cw, r2, n):
    """``r2[j] = r^2(A[i], B[j])`` for ``j < n`` (prepared coordinates)."""
    for j in range(n):
        r2[j] = 0.0
    for k in range(AT.shape[0]):
        a = AT[k, i]
        b = BT[k]
        if cat[k] == 0.0:
            for j in range(n):
                diff = a - b[j]
                r2[j] += diff * diff
        else:
            c = cw[k]
            for j in range(n):
                r2[j] += c if a != b[j] else 0.0


@jit(fastmath={"contract"})
def _row_r_e(r2, r, e, bits, n):
    """``r = sqrt(r^2)`` and ``e = exp(-sqrt5 r)`` for the first ``n`` entries of a row.

    The ``exp`` is vectorised, to about 1 ulp: libm's is a call per value that
    LLVM cannot vectorise (numba has no SVML here), and the kernels evaluate
    hundreds of thousands per suggestion. Cody-Waite reduction
    ``x = k ln 2 + t`` (``|t| <= ln 2 / 2``), a degree-13 Taylor polynomial
    of ``exp(t)``, and ``2^k`` built in the exponent bits of ``bits`` (float64
    scratch, viewed as int64). Below -708, where ``exp`` leaves the normal
    range, ``e`` is 0; NaN stays NaN. Its own fastmath flags, without
    reassociation: ``(a + M) - M`` (rounding to an integer) and the two-part
    reduction must be computed as written. ``r``, ``e`` and ``bits`` must not
    overlap (aliasing stops the vectorisation: 2.3x slower).
    """
    for j in range(n):
        r[j] = math.sqrt(r2[j])
    for j in range(n):
        a = -_SQRT5 * r[j]
        x = a if not a < -708.0 else -708.0
        k = (x * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0  # round(x / ln 2)
        t = (x - k * 0.6931471803691238) - k * 1.9082149292705877e-10  # ln 2, high and low parts
        p = 1.0 + t * (1.0 + t * (0.5 + t * (1.0 / 6 + t * (1.0 / 24 + t * (1.0 / 120 + t * (
            1.0 / 720 + t * (1.0 / 5040 + t * (1.0 / 40320 + t * (1.0 / 362880 + t * (
                1.0 / 3628800 + t * (1.0 / 39916800 + t * (1.0 / 479001600 + t * (
                    1.0 / 6227020800.0)))))))))))))
        e[j] = p if not a < -708.0 else 0.0
        bits[j] = k + 4503599627371519.0  # 2^52 + 1023 + k: the biased exponent in the low bits
    ints = bits.view(np.int64)
    for j in range(n):
        ints[j] = (ints[j] - 4503599627370496) << 52  # 2^k
    for j in range(n):
        e[j] *= bits[j]


@jit
def _matern52_cross(X1, X2, cat, theta, K):
    """Fill ``K`` (n1, n2) with the cross-covariance, no noise."""
    d = X1.shape[1]
    s = math.exp(theta[d])
    AT, cw = _prepare(X1, cat, theta)
    BT, _ = _prepare(X2, cat, theta)
    n1, n2 = X1.shape[0], X2.shape[0]
    r2, r, e, bits = np.empty(n2), np.empty(n2), np.empty(n2), np.empty(n2)
    for i in range(n1):
        _row_r2(AT, i, BT, cat, cw, r2, n2)
        _row_r_e(r2, r, e, bits, n2)
        for j in range(n2):
            K[i, j] = s * (1.0 + _SQRT5 * r[j] + (5.0 / 3.0) * r2[j]) * e[j]


@jit
def _matern52_cross_dk(Z, X, cat, theta, K, D):
    """Fill ``K`` (m, n) with the cross-covariance and ``D`` (m, n) with ``dk/d(r^2)``."""
    d = Z.shape[1]
    s = math.exp(theta[d])
    AT, cw = _prepare(Z, cat, theta)
    BT, _ = _prepare(X, cat, theta)
    m, n = Z.shape[0], X.shape[0]
    r2, r, e, bits = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    for i in range(m):
        _row_r2(AT, i, BT, cat, cw, r2, n)
        _row_r_e(r2, r, e, bits, n)
        for j in range(n):
            K[i, j] = s * (1.0 + _SQRT5 * r[j] + (5.0 / 3.0) * r2[j]) * e[j]
            D[i, j] = (-5.0 / 6.0) * s * (1.0 + _SQRT5 * r[j]) * e[j]


@jit
def _gram_lower(X, cat, theta, K):
    """Fill ``K`` (n, n) with the lower triangle of ``k(X, X) + noise * I``, zeros above."""
    n, d = X.shape
    s = math.exp(theta[d])
    noise = math.exp(theta[d + 1])
    AT, cw = _prepare(X, cat, theta)
    r2, r, e, bits = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        _row_r2(AT, i, AT, cat, cw, r2, i)
        _row_r_e(r2, r, e, bits, i)
        for j in range(i):
            K[i, j] = s * (1.0 + _SQRT5 * r[j] + (5.0 / 3.0) * r2[j]) * e[j]
        K[i, i] = s + noise
        for j in range(i + 1, n):
            K[i, j] = 0.0


@jit
def _matern52_grad_x(Z, X, cat, theta, G):
    """Fill ``G`` (m, n, d) with the derivative of ``k(Z[i], X[j])`` w.r.t. ``Z[i, k]``."""
    m, d = Z.shape
    n = X.shape[0]
    AT, _ = _prepare(Z, cat, theta)
    BT, _ = _prepare(X, cat, theta)
    KD = np.empty((2, m, n))
    _matern52_cross_dk(Z, X, cat, theta, KD[0], KD[1])
    D = KD[1]
    # d r^2 / d z_k = 2 (z_k - x_k) / l_k^2 = (2 / l_k) (a_k - b_k) on prepared coordinates.
    for k in range(d):
        c = 0.0 if cat[k] != 0.0 else 2.0 * math.exp(-theta[k])
        for i in range(m):
            for j in range(n):
                G[i, j, k] = D[i, j] * c * (AT[k, i] - BT[k, j])


# --------------------------------------------------------------------------- wrappers
def _kernel_args(X, cat, theta, name: str = "X"):
    """Checked, converted ``X (n, d)``, ``cat (d,)`` and ``theta (d + 2,)``."""
    X = _as_matrix(name, X)
    d = X.shape[1]
    if d == 0:
        raise ValueError(f"`{name}` must have at least one column, got shape {X.shape}")
    cat = _as_vector("cat", cat, d)
    if not np.all((cat == 0.0) | (cat == 1.0)):
        raise ValueError(f"`cat` must hold only 0.0 and 1.0, got {cat}")
    theta = _as_vector("theta", theta, d + 2)
    return X, cat, theta


def matern52(X1, X2, cat, theta) -> np.ndarray:
    """Matérn-5/2 ARD cross-covariance (no observation noise).

    Parameters
    ----------
    X1 : (n1, d) array
    X2 : (n2, d) array
    cat : (d,) array
        1.0 on categorical dims (compared by equality), 0.0 elsewhere.
    theta : (d + 2,) array
        ``[log l_1..d, log s, log noise]``; the noise is not used here.

    Returns
    -------
    (n1, n2) array ``k(X1[i], X2[j])``.
    """
    X1, cat, theta = _kernel_args(X1, cat, theta, "X1")
    X2 = _as_matrix("X2", X2, cols=X1.shape[1])
    K = np.empty((X1.shape[0], X2.shape[0]))
    _matern52_cross(X1, X2, cat, theta, K)
    return K


def matern52_grad_x(Z, X, cat, theta) -> np.ndarray:
    """Gradient of the kernel w.r.t. its first argument.

    Parameters
    ----------
    Z : (m, d) array
    X : (n, d) array
    cat, theta : as for :func:`matern52`.

    Returns
    -------
    (m, n, d) array ``d k(Z[i], X[j]) / d Z[i, k]``, zero on categorical dims.
    """
    Z, cat, theta = _kernel_args(Z, cat, theta, "Z")
    X = _as_matrix("X", X, cols=Z.shape[1])
    G = np.empty((Z.shape[0], X.shape[0], Z.shape[1]))
    _matern52_grad_x(Z, X, cat, theta, G)
    return G
