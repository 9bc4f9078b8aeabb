"""Slow, obviously correct reference versions of the kernels in hpcore.kernels.

Each function follows the formula of the contract (``shared_notes/kernel_api.md``)
literally, with Python loops, explicit inverses and dense scipy/numpy calls,
and none of the kernels' tricks (prescaling, fused loops, in-place LAPACK,
symmetry). The tests compare the kernels with these.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg
from scipy.spatial.distance import cdist

SQRT5 = math.sqrt(5.0)


def matern52(X1, X2, cat, theta):
    """k(X1[i], X2[j]) by the formula, one dimension at a time with cdist."""
    X1, X2 = np.asarray(X1, float), np.asarray(X2, float)
    d = X1.shape[1]
    ls = np.exp(theta[:d])
    s = math.exp(theta[d])
    r2 = np.zeros((X1.shape[0], X2.shape[0]))
    for k in range(d):
        a, b = X1[:, k : k + 1], X2[:, k : k + 1]
        if cat[k]:
            r2 += cdist(a, b, metric="hamming") / ls[k] ** 2
        else:
            r2 += cdist(a, b, metric="sqeuclidean") / ls[k] ** 2
    r = np.sqrt(r2)
    return s * (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * np.exp(-SQRT5 * r)


def matern52_grad_x(Z, X, cat, theta):
    """d k(Z[i], X[j]) / d Z[i, k] by the chain rule written out with loops."""
    m, d = Z.shape
    n = X.shape[0]
    ls = np.exp(theta[:d])
    s = math.exp(theta[d])
    G = np.zeros((m, n, d))
    for i in range(m):
        for j in range(n):
            w = [
                float(Z[i, k] != X[j, k]) / ls[k] ** 2
                if cat[k]
                else ((Z[i, k] - X[j, k]) / ls[k]) ** 2
                for k in range(d)
            ]
            r = math.sqrt(sum(w))
            dk_dr = -(5.0 / 3.0) * s * r * (1.0 + SQRT5 * r) * math.exp(-SQRT5 * r)
            for k in range(d):
                if cat[k] or r == 0.0:
                    continue
                dr_dz = (Z[i, k] - X[j, k]) / ls[k] ** 2 / r
                G[i, j, k] = dk_dr * dr_dz
    return G


def gram(X, cat, theta):
    """k(X, X) + noise * I."""
    d = X.shape[1]
    return matern52(X, X, cat, theta) + math.exp(theta[d + 1]) * np.eye(X.shape[0])


def cholesky(A):
    """Lower Cholesky factor by scipy."""
    return scipy.linalg.cholesky(A, lower=True)


def solve_lower(L, B):
    return scipy.linalg.solve_triangular(L, B, lower=True)


def solve_lower_t(L, B):
    return scipy.linalg.solve_triangular(L, B, lower=True, trans="T")


def neg_log_likelihood(theta, X, y, cat):
    """0.5 y^T K^{-1} y + 0.5 log det K + 0.5 n log 2 pi, with an explicit inverse."""
    K = gram(X, cat, theta)
    sign, logdet = np.linalg.slogdet(K)
    assert sign > 0
    return 0.5 * y @ np.linalg.inv(K) @ y + 0.5 * logdet + 0.5 * len(y) * math.log(2 * math.pi)


def neg_log_prior(theta, kind=None):
    """-log p(theta) up to a constant, term by term as documented in hpcore.kernels.gp."""
    from hpcore.kernels import gp

    kind = kind or gp.LENGTH_SCALE_PRIOR
    d = len(theta) - 2
    if kind == "lognormal":
        mu = math.sqrt(2.0) + 0.5 * math.log(d)
        sigma = math.sqrt(3.0)
        value = sum((theta[k] - mu) ** 2 / (2 * sigma**2) for k in range(d))
    else:  # Optuna's prior on rho = 1 / l^2
        rho = [math.exp(-2.0 * theta[k]) for k in range(d)]
        value = sum(0.1 / r + 0.1 * r for r in rho)
    s, noise = math.exp(theta[d]), math.exp(theta[d + 1])
    value += -(2.0 - 1.0) * math.log(s) + 1.0 * s  # Gamma(2, rate 1)
    value += -(1.1 - 1.0) * math.log(noise) + 30.0 * noise  # Gamma(1.1, rate 30)
    return value


def neg_log_posterior(theta, X, y, cat):
    return neg_log_likelihood(theta, X, y, cat) + neg_log_prior(theta)


def posterior(X, y, cat, theta, Z):
    """Latent posterior mean and variance with the explicit inverse of K (no clipping)."""
    Kinv = np.linalg.inv(gram(X, cat, theta))
    Ks = matern52(Z, X, cat, theta)
    mean = Ks @ Kinv @ y
    var = math.exp(theta[X.shape[1]]) - np.einsum("ij,jk,ik->i", Ks, Kinv, Ks)
    return mean, var


def central_difference(f, x, h=1e-6):
    """Central finite-difference gradient of scalar or array-valued ``f`` at ``x`` (1-D).

    Returns an array of shape ``f(x).shape + x.shape``.
    """
    x = np.asarray(x, dtype=float)
    cols = []
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = h
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    return np.stack(cols, axis=-1)
