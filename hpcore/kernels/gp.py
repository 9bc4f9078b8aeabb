"""Gaussian-process marginal likelihood, MAP fit of the kernel parameters, factorisation.

Symbols and shapes
------------------
X : (n, d)      observed inputs (see :mod:`hpcore.kernels.matern` for the encoding).
y : (n,)        observed values, standardised by the caller (mean 0, variance 1).
cat : (d,)      1.0 on categorical dims.
theta : (d + 2,) ``[log l_1..d, log s, log noise]``.
K : (n, n)      ``k(X, X) + noise * I``.
L : (n, n)      lower Cholesky factor of ``K`` (plus jitter if one was needed).
alpha : (n,)    ``K^{-1} y``.

Objective
---------
``neg_log_posterior(theta) = NLL(theta) + NLP(theta)`` with the exact negative log
marginal likelihood

    NLL = 0.5 y^T K^{-1} y + 0.5 log det K + 0.5 n log(2 pi)

and the negative log prior, up to a constant independent of theta:

* length scales, by default (``LENGTH_SCALE_PRIOR = "inverse-square"``) Optuna's
  prior on ``rho_k = 1 / l_k^2``: term ``0.1 / rho_k + 0.1 rho_k``, mode ``l = 1``,
  which penalises both very long (nearly linear, corner-seeking) and very short
  (white-noise) length scales. The alternative ``"lognormal"``,
  ``log l_k ~ Normal(mu_d, sigma^2)`` with ``mu_d = sqrt(2) + 0.5 log d`` and
  ``sigma = sqrt(3)`` (Hvarfner et al. 2024, "Vanilla Bayesian optimization
  performs great in high dimensions"), was measured worse here: over 10 seeds and
  50 evaluations its median regret was 2-30x higher on Hartmann-6, Levy-10,
  Ackley-10 and mixed6 (with 10 to 50 points most length scales sat near 15 in
  the unit cube, and the acquisition ran to the corners);
* signal variance: ``s ~ Gamma(2, rate 1)``, mode 1, mean 2: on standardised
  ``y`` the signal variance is of order 1 (BoTorch's legacy ``Gamma(2, 0.15)``
  has its mode at 6.7, too large for standardised data); term ``-log s + s``;
* noise variance: ``noise ~ Gamma(1.1, rate 30)`` as Optuna, mode 1/300,
  mean 0.037; term ``-0.1 log noise + 30 noise``.

The Gamma densities are those of ``s`` and ``noise`` themselves (no
log-Jacobian for optimising their logarithms, as Optuna does), so the priors
keep the modes named above.

Bounds (:func:`theta_bounds`): ``l`` in [1e-3, 1e3] (the inputs live in [0, 1];
beyond these the kernel is constant or white), ``s`` in [1e-3, 1e3], ``noise``
in [1e-6, 1] (the floor keeps ``K`` well conditioned: cond(K) <= 1 + n s / 1e-6).

Gradient
--------
``dNLL/dtheta_j = 0.5 tr((K^{-1} - alpha alpha^T) dK/dtheta_j)``. ``K^{-1}`` comes
from LAPACK ``dpotri`` (O(n^3), in place over the factor); the traces are one
fused numba loop over the pairs ``i > j`` (symmetry gives each pair weight 1,
the diagonal weight 1/2) that recomputes ``r`` and never stores a (d, n, n)
tensor: O(n^2 d) time, O(d) extra memory.

Fit
---
:func:`fit_gp` runs scipy's L-BFGS-B from the warm start and from prior draws.
The objective handed to it is divided by the largest entry of its initial
gradient (at least 1): L-BFGS-B's first step on a box is the raw gradient, which
grows with n, and unscaled it lands in a corner of the box (all length scales at
a bound) whose white-noise plateau can trap the fit. The tolerances are scaled
alike, so they keep their meaning in nats.

Functions
---------
theta_bounds(d) -> (d + 2, 2)
default_theta(d) -> (d + 2,)
neg_log_posterior(theta, X, y, cat) -> float
neg_log_posterior_and_grad(theta, X, y, cat) -> (float, (d + 2,))
factorize(X, y, cat, theta) -> (L (n, n), alpha (n,))
fit_gp(X, y, cat, theta0=None, n_restarts=2, seed=0, maxiter=200, gtol=1e-5, ftol=1e-9)
    -> theta (d + 2,)
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg.lapack import dpotri, dpotrs

from ._lapack import potrf_lower
from ._numba import jit
from .linalg import (
    JITTER_LADDER,
    ROOM_FROM,
    _as_matrix,
    _as_vector,
    _chol_lower_inplace,
    _factor_buffer,
    _jitter_ladder,
)
from .matern import _SQRT5, _gram_lower, _kernel_args, _prepare, _row_r2, _row_r_e

__all__ = [
    "theta_bounds",
    "default_theta",
    "neg_log_posterior",
    "neg_log_posterior_and_grad",
    "factorize",
    "fit_gp",
]

# Prior hyper-parameters (read in Python only; kernels get them as an array).
LENGTH_SCALE_SIGMA = math.sqrt(3.0)
SIGNAL_GAMMA = (2.0, 1.0)  # concentration, rate
NOISE_GAMMA = (1.1, 30.0)
LOG_LENGTH_SCALE_BOUNDS = (math.log(1e-3), math.log(1e3))
LOG_SIGNAL_BOUNDS = (math.log(1e-3), math.log(1e3))
LOG_NOISE_BOUNDS = (math.log(1e-6), 0.0)

#: Value returned by the objective where ``K`` cannot be factorised even with
#: jitter: large and finite, so that L-BFGS-B's line search backs off.
FAILED_VALUE = 1e25


def _length_scale_mu(d: int) -> float:
    """Centre of log l: the lognormal prior's mean, or 0 (l = 1) for the inverse-square one."""
    if LENGTH_SCALE_PRIOR == "inverse-square":
        return 0.0
    return math.sqrt(2.0) + 0.5 * math.log(d)


#: Length-scale prior: "lognormal" (Hvarfner et al. 2024, see the module
#: docstring) or "inverse-square" (Optuna's ``0.1 / rho + 0.1 rho`` on
#: ``rho = 1 / l^2``, mode ``l = 1``).
LENGTH_SCALE_PRIOR = "inverse-square"


def _prior_params(d: int) -> np.ndarray:
    kind = {"lognormal": 0.0, "inverse-square": 1.0}[LENGTH_SCALE_PRIOR]
    return np.array(
        [_length_scale_mu(d), LENGTH_SCALE_SIGMA, *SIGNAL_GAMMA, *NOISE_GAMMA, kind],
        dtype=np.float64,
    )


def theta_bounds(d: int) -> np.ndarray:
    """(d + 2, 2) array of ``[low, high]`` bounds on ``theta`` (see module docstring)."""
    return np.array(
        [LOG_LENGTH_SCALE_BOUNDS] * d + [LOG_SIGNAL_BOUNDS, LOG_NOISE_BOUNDS], dtype=np.float64
    )


def default_theta(d: int) -> np.ndarray:
    """(d + 2,) starting point: the prior modes (``log l = mu_d``, ``s = 1``, ``noise = 1/300``)."""
    a_n, b_n = NOISE_GAMMA
    a_s, b_s = SIGNAL_GAMMA
    return np.array(
        [_length_scale_mu(d)] * d + [math.log((a_s - 1.0) / b_s), math.log((a_n - 1.0) / b_n)],
        dtype=np.float64,
    )


def _sample_prior(rng: np.random.Generator, d: int) -> np.ndarray:
    """One theta drawn from the prior, clipped into the bounds."""
    a_s, b_s = SIGNAL_GAMMA
    a_n, b_n = NOISE_GAMMA
    theta = np.empty(d + 2)
    theta[:d] = rng.normal(_length_scale_mu(d), LENGTH_SCALE_SIGMA, size=d)
    theta[d] = math.log(rng.gamma(a_s, 1.0 / b_s))
    theta[d + 1] = math.log(max(rng.gamma(a_n, 1.0 / b_n), 1e-300))
    b = theta_bounds(d)
    return np.clip(theta, b[:, 0], b[:, 1])


# --------------------------------------------------------------------------- kernels
@jit
def _neg_log_prior(theta, prior, grad):
    """Negative log prior (constants dropped); adds its gradient into ``grad``."""
    d = theta.shape[0] - 2
    mu, sigma, a_s, b_s, a_n, b_n = prior[0], prior[1], prior[2], prior[3], prior[4], prior[5]
    inv_var = 1.0 / (sigma * sigma)
    value = 0.0
    if prior[6] == 0.0:  # log l ~ Normal(mu, sigma^2)
        for k in range(d):
            t = theta[k] - mu
            value += 0.5 * t * t * inv_var
            grad[k] += t * inv_var
    else:  # 0.1 / rho + 0.1 rho with rho = exp(-2 log l)
        for k in range(d):
            up = math.exp(2.0 * theta[k])
            down = 1.0 / up
            value += 0.1 * up + 0.1 * down
            grad[k] += 0.2 * up - 0.2 * down
    s = math.exp(theta[d])
    noise = math.exp(theta[d + 1])
    value += -(a_s - 1.0) * theta[d] + b_s * s
    grad[d] += -(a_s - 1.0) + b_s * s
    value += -(a_n - 1.0) * theta[d + 1] + b_n * noise
    grad[d + 1] += -(a_n - 1.0) + b_n * noise
    return value


@jit
def _value_from_factor(L, alpha, y, theta, prior):
    """NLL + NLP given the factor ``L`` (lower triangle) and ``alpha = K^{-1} y``."""
    n = L.shape[0]
    logdet = 0.0
    fit = 0.0
    for i in range(n):
        logdet += math.log(L[i, i])
        fit += y[i] * alpha[i]
    grad = np.zeros(theta.shape[0])
    nll = 0.5 * fit + logdet + 0.5 * n * math.log(2.0 * math.pi)
    return nll + _neg_log_prior(theta, prior, grad)


@jit
def _grad_from_inverse(X, cat, theta, Kinv, alpha, prior):
    """Gradient of NLL + NLP given ``Kinv`` (lower triangle of K^{-1}) and ``alpha``.

    0.5 tr(W dK/dtheta_j) with W = K^{-1} - alpha alpha^T, summed over the lower
    triangle: pairs i > j count twice (0.5 * 2 = 1), the diagonal once (0.5).
    Length scales only see pairs (dK_ii/dlog l = 0); the noise only sees the
    diagonal. Row i of the lower triangle is done at once: r^2 to the points
    j < i, the pair weights c_j, then for each dim k the sum over j of
    c_j w_k(i, j), each a contiguous loop over j.
    """
    n, d = X.shape
    s = math.exp(theta[d])
    noise = math.exp(theta[d + 1])
    AT, cw = _prepare(X, cat, theta)
    r2, r, e, bits = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    c = np.empty(n)
    gl = np.zeros(d)
    gs = 0.0
    trace_w = 0.0
    for i in range(n):
        ai = alpha[i]
        _row_r2(AT, i, AT, cat, cw, r2, i)
        _row_r_e(r2, r, e, bits, i)
        for j in range(i):
            wij = Kinv[i, j] - ai * alpha[j]
            gs += wij * (1.0 + _SQRT5 * r[j] + (5.0 / 3.0) * r2[j]) * e[j]
            c[j] = wij * (1.0 + _SQRT5 * r[j]) * e[j]
        for k in range(d):
            a = AT[k, i]
            b = AT[k]
            acc = 0.0
            if cat[k] == 0.0:
                for j in range(i):
                    diff = a - b[j]
                    acc += c[j] * diff * diff
            else:
                for j in range(i):
                    acc += c[j] if a != b[j] else 0.0
                acc *= cw[k]
            gl[k] += acc
        trace_w += Kinv[i, i] - ai * ai
    grad = np.empty(d + 2)
    for k in range(d):
        grad[k] = (5.0 / 3.0) * s * gl[k]
    grad[d] = s * gs + 0.5 * s * trace_w
    grad[d + 1] = 0.5 * noise * trace_w
    _neg_log_prior(theta, prior, grad)
    return grad


# --------------------------------------------------------------------------- python layer
def _factor_lower(X, cat, theta) -> tuple[np.ndarray, float]:
    """Lower factor of ``K`` (upper triangle garbage unless jitter was needed) and the jitter."""
    n = X.shape[0]
    K = np.empty((n, n))
    _gram_lower(X, cat, theta, K)
    if _chol_lower_inplace(K, clean=False):
        return K, 0.0
    _gram_lower(X, cat, theta, K)
    return _jitter_ladder(K)


def _alpha(L: np.ndarray, y: np.ndarray) -> np.ndarray:
    alpha, _ = dpotrs(L.T, y, lower=0)
    return alpha


def _nlp(theta, X, y, cat, prior) -> float:
    L, jitter = _factor_lower(X, cat, theta)
    if jitter < 0.0:
        return FAILED_VALUE
    return float(_value_from_factor(L, _alpha(L, y), y, theta, prior))


def _nlp_and_grad(theta, X, y, cat, prior) -> tuple[float, np.ndarray]:
    L, jitter = _factor_lower(X, cat, theta)
    if jitter < 0.0:
        return FAILED_VALUE, np.zeros(theta.shape[0])
    alpha = _alpha(L, y)
    value = float(_value_from_factor(L, alpha, y, theta, prior))
    # L (lower triangle, C order) is U = L^T in Fortran order: dpotri overwrites
    # it in place with the lower triangle of K^{-1}.
    if L.shape[0]:
        _, info = dpotri(L.T, lower=0, overwrite_c=1)
        if info != 0:
            return FAILED_VALUE, np.zeros(theta.shape[0])
    return value, _grad_from_inverse(X, cat, theta, L, alpha, prior)


def _gp_args(theta, X, y, cat):
    X, cat, theta = _kernel_args(X, cat, theta)
    y = _as_vector("y", y, X.shape[0])
    return theta, X, y, cat


def neg_log_posterior(theta, X, y, cat) -> float:
    """Negative log marginal likelihood plus negative log prior (see module docstring).

    Parameters
    ----------
    theta : (d + 2,) array
    X : (n, d) array
    y : (n,) array
    cat : (d,) array

    Returns
    -------
    float; :data:`FAILED_VALUE` when ``K`` cannot be factorised even with jitter
    (it is factorised with jitter, if needed, otherwise).
    """
    theta, X, y, cat = _gp_args(theta, X, y, cat)
    return _nlp(theta, X, y, cat, _prior_params(X.shape[1]))


def neg_log_posterior_and_grad(theta, X, y, cat) -> tuple[float, np.ndarray]:
    """:func:`neg_log_posterior` and its analytic gradient w.r.t. ``theta``.

    Returns
    -------
    value : float
    grad : (d + 2,) array; zeros with ``value = FAILED_VALUE`` on a failed factorisation.
    """
    theta, X, y, cat = _gp_args(theta, X, y, cat)
    return _nlp_and_grad(theta, X, y, cat, _prior_params(X.shape[1]))


def factorize(X, y, cat, theta) -> tuple[np.ndarray, np.ndarray]:
    """Cholesky factor of the noisy Gram matrix and the weights of the posterior mean.

    Parameters
    ----------
    X : (n, d) array
    y : (n,) array
    cat : (d,) array
    theta : (d + 2,) array

    Returns
    -------
    L : (n, n) array
        Lower factor of ``K + jitter * I`` (jitter from
        :func:`~hpcore.kernels.linalg.cholesky_jitter`, 0 unless needed); strict
        upper triangle zero.
    alpha : (n,) array
        ``(K + jitter * I)^{-1} y``.

    Raises
    ------
    numpy.linalg.LinAlgError
        When ``K`` cannot be factorised with any jitter (NaN in the inputs).
    """
    X, cat, theta = _kernel_args(X, cat, theta)
    y = _as_vector("y", y, X.shape[0])
    L = _factor_plain(X, cat, theta)
    return L, _alpha(L, y)


def _factor_plain(X, cat, theta) -> np.ndarray:
    """:func:`factorize`'s factor (a fresh C-contiguous array); raises LinAlgError."""
    K = np.empty((X.shape[0], X.shape[0]))
    _gram_lower(X, cat, theta, K)
    L, jitter = _jitter_ladder(K)
    if jitter < 0.0:
        raise np.linalg.LinAlgError(
            "the Gram matrix cannot be factorised with any jitter; do `X`, `y` or `theta` hold NaN?"
        )
    return L


def _factor_buffered(X, cat, theta) -> tuple[np.ndarray, list[int]]:
    """:func:`factorize`'s factor, built in place in a buffer with room to grow.

    Returns the factor (the leading block of a :func:`~.linalg._factor_buffer`)
    and the buffer's written-rows count for :func:`~.linalg._extend_factor`;
    below :data:`~.linalg.ROOM_FROM` rows, :func:`factorize`'s plain array
    and ``[-1]``.
    Only one n x n matrix is ever allocated (800 MB at n = 10,000): the Gram
    matrix is rebuilt for each jitter tried instead of copied.
    """
    n = X.shape[0]
    if n < ROOM_FROM:
        return _factor_plain(X, cat, theta), [-1]
    buffer = _factor_buffer(n)
    scale = math.exp(theta[-2]) + math.exp(theta[-1])  # the Gram matrix's diagonal
    for rel in JITTER_LADDER:
        _gram_lower(X, cat, theta, buffer)
        if rel:
            buffer[np.arange(n), np.arange(n)] += rel * scale
        if potrf_lower(buffer, n):
            return buffer[:n, :n], [n]
    raise np.linalg.LinAlgError(
        "the Gram matrix cannot be factorised with any jitter; do `X` or `theta` hold NaN?"
    )


def fit_gp(
    X, y, cat, theta0=None, n_restarts=2, seed=0, maxiter=200, gtol=1e-5, ftol=1e-9,
    settled=None,
) -> np.ndarray:
    """MAP estimate of ``theta`` by L-BFGS-B from several starts.

    Starts from ``theta0`` (a warm start, e.g. the previous fit; the prior
    modes :func:`default_theta` when None) and from ``n_restarts`` points drawn
    from the prior with ``numpy.random.default_rng(seed)``; returns the best end
    point. Deterministic given its arguments.

    Parameters
    ----------
    X : (n, d) array
    y : (n,) array, standardised.
    cat : (d,) array
    theta0 : (d + 2,) array or None
        Clipped into :func:`theta_bounds`.
    n_restarts : int
    seed : int
    maxiter : int
        L-BFGS-B iterations per start.
    gtol : float
        Stop when the largest entry of the projected gradient is below ``gtol``.
    ftol : float
        Stop when an iteration lowers the objective by less than ``ftol``
        relative to its magnitude. The comparison with Optuna's looser
        ``gtol = ftol = 1e-2`` is in ``docs/benchmarks.md``.
    settled : float, optional
        With ``theta0``: when the fit started there ends within ``settled``
        of it in every log-parameter, the previous optimum is still the
        optimum of its basin and the ``n_restarts`` prior draws are skipped
        (a refit then costs one local search). None: always run them.

    Returns
    -------
    theta : (d + 2,) array, inside the bounds.
    """
    from scipy.optimize import minimize  # scipy.optimize costs ~0.1 s to import

    X = _as_matrix("X", X)
    d = X.shape[1]
    X, cat, theta_init = _kernel_args(X, cat, default_theta(d) if theta0 is None else theta0)
    y = _as_vector("y", y, X.shape[0])
    bounds = theta_bounds(d)
    prior = _prior_params(d)
    rng = np.random.default_rng(seed)
    starts = [theta_init] + [_sample_prior(rng, d) for _ in range(int(n_restarts))]

    best_theta, best_value = None, math.inf
    for i, x0 in enumerate(starts):
        x0 = np.clip(x0, bounds[:, 0], bounds[:, 1])
        value0, grad0 = _nlp_and_grad(x0, X, y, cat, prior)
        # L-BFGS-B's first step on a box is the whole gradient (its initial Hessian
        # is I), and the gradient grows with n: unscaled, the first step jumps to a
        # corner of the box (all length scales at a bound), where a white-noise
        # plateau can trap the fit. Dividing the objective by the initial gradient's
        # largest entry makes that step at most 1 in each log-parameter; gtol is
        # scaled alike, so it still bounds the unscaled gradient.
        scale = 1.0 / max(1.0, float(np.max(np.abs(grad0))))

        def fun(t, scale=scale, x0=x0, first=(value0, grad0)):
            t = np.ascontiguousarray(t, dtype=np.float64)
            value, grad = first if np.array_equal(t, x0) else _nlp_and_grad(t, X, y, cat, prior)
            return value * scale, grad * scale

        res = minimize(
            fun,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={
                "maxiter": int(maxiter),
                "gtol": float(gtol) * scale,
                "ftol": float(ftol) * scale,
            },
        )
        value = float(res.fun) / scale
        if best_theta is None or value < best_value:
            best_theta, best_value = np.asarray(res.x, dtype=np.float64), value
        moved = float(np.max(np.abs(np.asarray(res.x) - x0)))
        if i == 0 and theta0 is not None and settled is not None and moved < float(settled):
            break  # the warm start stayed in its basin: the prior draws are skipped
    return np.clip(best_theta, bounds[:, 0], bounds[:, 1])
