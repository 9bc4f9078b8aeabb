r"""Acquisition functions of a Gaussian posterior, their logs and gradients.

All acquisitions are to be MAXIMISED, for a MINIMISATION problem whose
incumbent (lowest observed value) is ``best``. At a point with posterior
mean ``mu`` and variance ``var``::

    s  = sqrt(max(var, VAR_FLOOR))          VAR_FLOOR = float64 tiny, 2.2e-308
    z  = (best - mu) / s
    phi(z) = exp(-z^2 / 2) / sqrt(2 pi),   Phi(z) = erfc(-z / sqrt2) / 2
    h(z)   = phi(z) + z Phi(z)              (h > 0, h' = Phi, h'' = phi)

Codes (int64) and values
------------------------
``EI = 0``      expected improvement          ``s h(z)``
``LOG_EI = 1``  its logarithm                 ``log h(z) + log(var) / 2``
``UCB = 2``     lower confidence bound        ``-(mu - beta s) = beta s - mu``
``PI = 3``      probability of improvement    ``Phi(z)``
``LOG_PI = 4``  its logarithm (an addition to the contract: PI underflows to
                0 below z = -38 and its gradient long before; log PI stays
                finite and informative to z = -1e154)  ``log Phi(z)``

``beta`` is read by UCB only.

Derivatives
-----------
With ``dz/dmu = -1/s`` and ``dz/dvar = -z / (2 var)`` (and ``ds/dvar = 1/(2 s)``):

=========  ==========================  ====================================
code       d/dmu                       d/dvar
=========  ==========================  ====================================
EI         ``-Phi(z)``                 ``phi(z) / (2 s)``
LOG_EI     ``-(Phi/h)(z) / s``         ``(phi/h)(z) / (2 var)``
UCB        ``-1``                      ``beta / (2 s)``
PI         ``-phi(z) / s``             ``-z phi(z) / (2 var)``
LOG_PI     ``-(phi/Phi)(z) / s``       ``-z (phi/Phi)(z) / (2 var)``
=========  ==========================  ====================================

(EI: ``d(s h)/dvar = h/(2s) - s Phi z/(2 var) = (h - z Phi)/(2 s) = phi/(2 s)``;
LOG_EI: ``1/(2 var) - (Phi/h) z/(2 var) = (h - z Phi)/(2 var h) = (phi/h)/(2 var)``,
a form without the cancellation of ``1 - z Phi/h`` at large ``z``.) Where
``var < VAR_FLOOR`` the value does not depend on ``var`` and d/dvar is 0.

Stable tails
------------
For ``z <= -1`` write ``x = -z`` and ``R(x) = Phi(-x)/phi(x) = sqrt(pi/2)
erfcx(x/sqrt2)`` (Mills' ratio). Then ``h(z) = phi(z) r`` with
``r = 1 - x R(x)`` (Ament et al. 2023, "Unexpected improvements to expected
improvement", eq. 9, write ``log h = -z^2/2 - log(2 pi)/2 + log1mexp(log(x R))``).
``1 - x R`` cancels: ``r ~ 1/x^2``. So:

* ``1 <= x < 4``: ``r = 1 - x R(x)`` (``1/r < 19``: loses at most 1.3 digits);
* ``x >= 4``: Laplace's continued fraction ``R = 1/(x + 1/(x + 2/(x + 3/...)))``
  gives ``1/r = 1 + x C`` with ``C = x + 2/(x + 3/(x + 4/(x + ...)))``, free of
  cancellation (42 levels at x = 4, falling to 10 beyond x = 20: truncation
  error below 1e-17).
  This replaces both the ``log1mexp`` form and the leading-order asymptote
  ``-z^2/2 - log(2 pi)/2 - 2 log x`` of the paper: it is exact to rounding
  for every ``x``, including ``x > 1/sqrt(eps)``.

Hence ``log h = -z^2/2 - log(2 pi)/2 - log(1/r)``, ``Phi/h = (1/r - 1)/x``
(``= C`` in the fraction branch) and ``phi/h = 1/r``; for ``z > -1``, ``h``
is at least 0.083 and everything is computed directly. ``log Phi(z)`` is
``log(erfcx(x/sqrt2)/2) - z^2/2`` for ``z < -1`` and ``log1p(-Phi(-z))``
otherwise; ``phi/Phi = 1/R(x)`` for ``z < -1``.

``erfcx(x) = exp(x^2) erfc(x)`` uses W. J. Cody's rational approximations
(Math. Comp. 23, 1969; SPECFUN CALERF): erf-based for ``|x| <= 0.46875``,
a rational function of ``x`` for ``x <= 4`` and of ``1/x^2`` beyond,
``1/(sqrt(pi) x)`` past 6.71e7 (where the next term is below rounding), and
``2 exp(x^2) - erfcx(-x)`` for ``x < -0.46875`` with ``exp(x^2)`` split as
``exp(t^2) exp((x - t)(x + t))``, ``t = trunc(16 x)/16``, so that ``x^2``
is not rounded (that helper is compiled without fast-math, see
``_exp_square``); ``inf`` below -26.628 where it overflows.

Accuracy (tests/test_kernels_acquisition.py, against mpmath): erfcx within
4 ulp on [-26.6, 1e300]; log h within 4 ulp of ``max(1, |log h|)`` from
z = 40 to -1e6; Phi/h within 2e-14 relative.

Symbols (shapes)
----------------
EI, LOG_EI, UCB, PI, LOG_PI   int codes
VAR_FLOOR                     smallest variance used (float)
erfcx(x)                      float -> float
erfcx_array(x (m,))           -> (m,)
log_h(z), dlog_h(z)           float -> float: log h(z) and Phi(z)/h(z)
log_ndtr(z)                   float -> float: log Phi(z)
acquisition(code, mean (m,), var (m,), best, beta) -> values (m,)
acquisition_grad(code, mean (m,), var (m,), best, beta)
    -> (values (m,), d_dmean (m,), d_dvar (m,))
"""

from __future__ import annotations

import math

import numpy as np

from ._numba import jit

__all__ = [
    "EI",
    "LOG_EI",
    "UCB",
    "PI",
    "LOG_PI",
    "VAR_FLOOR",
    "erfcx",
    "erfcx_array",
    "log_h",
    "dlog_h",
    "log_ndtr",
    "acquisition",
    "acquisition_grad",
]

EI = 0
LOG_EI = 1
UCB = 2
PI = 3
LOG_PI = 4

VAR_FLOOR = 2.2250738585072014e-308  # np.finfo(np.float64).tiny

_SQRT2 = 1.4142135623730951
_INV_SQRT2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_HALF_LOG_2PI = 0.9189385332046728
_SQRT_HALF_PI = 1.2533141373155003  # sqrt(pi / 2)
_INV_SQRT_PI = 0.5641895835477563
_LOG_HALF = -0.6931471805599453

# Cody's coefficients (SPECFUN CALERF): erf on |x| <= 0.46875 ...
_A0, _A1, _A2, _A3, _A4 = (
    3.16112374387056560e00,
    1.13864154151050156e02,
    3.77485237685302021e02,
    3.20937758913846947e03,
    1.85777706184603153e-1,
)
_B0, _B1, _B2, _B3 = (
    2.36012909523441209e01,
    2.44024637934444173e02,
    1.28261652607737228e03,
    2.84423683343917062e03,
)
# ... erfcx on 0.46875 < x <= 4 ...
_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7, _C8 = (
    5.64188496988670089e-1,
    8.88314979438837594e00,
    6.61191906371416295e01,
    2.98635138197400131e02,
    8.81952221241769090e02,
    1.71204761263407058e03,
    2.05107837782607147e03,
    1.23033935479799725e03,
    2.15311535474403846e-8,
)
_D0, _D1, _D2, _D3, _D4, _D5, _D6, _D7 = (
    1.57449261107098347e01,
    1.17693950891312499e02,
    5.37181101862009858e02,
    1.62138957456669019e03,
    3.29079923573345963e03,
    4.36261909014324716e03,
    3.43936767414372164e03,
    1.23033935480374942e03,
)
# ... and x * erfcx(x) on x > 4, as a function of 1/x^2.
_P0, _P1, _P2, _P3, _P4, _P5 = (
    3.05326634961232344e-1,
    3.60344899949804439e-1,
    1.25781726111229246e-1,
    1.60837851487422766e-2,
    6.58749161529837803e-4,
    1.63153871373020978e-2,
)
_Q0, _Q1, _Q2, _Q3, _Q4 = (
    2.56852019228982242e00,
    1.87295284992346047e00,
    5.27905102951428412e-1,
    6.05183413124413191e-2,
    2.33520497626869185e-3,
)


@jit(fastmath=False)
def _exp_square(y):
    """``exp(y^2)`` for ``0 <= y < 27`` without rounding ``y^2`` first.

    Compiled without fast-math: under ``reassoc``/``afn`` LLVM folds
    ``exp(a) * exp(b)`` into ``exp(a + b)``, which rounds ``y^2`` again
    (a relative error of ``y^2`` ulp, 6e-14 at y = 24).
    """
    t = math.floor(y * 16.0) / 16.0
    return math.exp(t * t) * math.exp((y - t) * (y + t))


@jit
def erfcx(x):
    """Scaled complementary error function ``exp(x^2) erfc(x)``, for every real ``x``.

    Relative error of a few ulp where the result is a normal float; ``inf``
    for ``x < -26.628`` (overflow), NaN for NaN. Method: Cody's rational
    approximations (see the module docstring).
    """
    y = abs(x)
    if y <= 0.46875:
        ysq = y * y
        num = _A4 * ysq
        den = ysq
        num = (num + _A0) * ysq
        den = (den + _B0) * ysq
        num = (num + _A1) * ysq
        den = (den + _B1) * ysq
        num = (num + _A2) * ysq
        den = (den + _B2) * ysq
        erf = x * (num + _A3) / (den + _B3)
        return math.exp(ysq) * (1.0 - erf)
    if y <= 4.0:
        num = _C8 * y
        den = y
        num = (num + _C0) * y
        den = (den + _D0) * y
        num = (num + _C1) * y
        den = (den + _D1) * y
        num = (num + _C2) * y
        den = (den + _D2) * y
        num = (num + _C3) * y
        den = (den + _D3) * y
        num = (num + _C4) * y
        den = (den + _D4) * y
        num = (num + _C5) * y
        den = (den + _D5) * y
        num = (num + _C6) * y
        den = (den + _D6) * y
        res = (num + _C7) / (den + _D7)
    elif y < 6.71e7:
        w = 1.0 / (y * y)
        num = _P5 * w
        den = w
        num = (num + _P0) * w
        den = (den + _Q0) * w
        num = (num + _P1) * w
        den = (den + _Q1) * w
        num = (num + _P2) * w
        den = (den + _Q2) * w
        num = (num + _P3) * w
        den = (den + _Q3) * w
        res = (_INV_SQRT_PI - w * (num + _P4) / (den + _Q4)) / y
    else:
        res = _INV_SQRT_PI / y  # the next term, 1/(2 y^2), is below rounding
    if x < 0.0:
        if x < -26.628:
            return math.inf
        e = _exp_square(y)
        return (e + e) - res
    return res


@jit
def erfcx_array(x):
    """:func:`erfcx` of each element of ``x`` (m,)."""
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = erfcx(x[i])
    return out


@jit
def _left_tail(x):
    """For ``x = -z >= 1``: ``(1/r, Phi/h)`` with ``r = h(z)/phi(z) = 1 - x R(x)``."""
    if x < 4.0:
        # q = x R(x) in [0.79, 0.95): 1 - q loses at most 1.3 digits
        q = _SQRT_HALF_PI * x * erfcx(x * _INV_SQRT2)
        return 1.0 / (1.0 - q), q / (x * (1.0 - q))
    # C = x + 2/(x + 3/(x + ... + N/x)), evaluated from the bottom up; 1/r = 1 + x C
    # depth for a truncation error below 1e-17 (checked against mpmath)
    if x < 5.0:
        n = 42
    elif x < 7.0:
        n = 30
    elif x < 10.0:
        n = 20
    elif x < 20.0:
        n = 15
    else:
        n = 10
    c = x
    for k in range(n, 1, -1):
        c = x + k / c
    return 1.0 + x * c, c


@jit
def _tail(z):
    """For ``z`` (any sign): ``(log h(z), Phi(z)/h(z), phi(z)/h(z))``, each stable."""
    if z > -1.0:
        pdf = _INV_SQRT_2PI * math.exp(-0.5 * z * z)
        cdf = 0.5 * math.erfc(-z * _INV_SQRT2)
        h = pdf + z * cdf
        return math.log(h), cdf / h, pdf / h
    inv_r, dlog = _left_tail(-z)
    return -0.5 * z * z - _HALF_LOG_2PI - math.log(inv_r), dlog, inv_r


@jit
def log_h(z):
    """``log(phi(z) + z Phi(z))``, finite for every finite ``z`` with ``z^2`` finite."""
    return _tail(z)[0]


@jit
def dlog_h(z):
    """``d log h / dz = Phi(z) / h(z)``, without 0/0 in the tail (about ``-z`` there)."""
    return _tail(z)[1]


@jit
def _log_ndtr_and_mills(z):
    """``(log Phi(z), phi(z)/Phi(z))``, stable for every ``z``."""
    if z < -1.0:
        e = erfcx(-z * _INV_SQRT2)
        return _LOG_HALF + math.log(e) - 0.5 * z * z, 1.0 / (_SQRT_HALF_PI * e)
    # Phi(-z) = 1 - Phi(z) without cancellation; rounding z/sqrt2 costs z^2/2 ulp of it
    upper = 0.5 * math.erfc(z * _INV_SQRT2)
    pdf = _INV_SQRT_2PI * math.exp(-0.5 * z * z)
    return math.log1p(-upper), pdf / (1.0 - upper)


@jit
def log_ndtr(z):
    """``log Phi(z)``, the log of the standard normal CDF, stable for every ``z``."""
    return _log_ndtr_and_mills(z)[0]


@jit
def _point(code, mu, var, best, beta, want_grad):
    """Value, d/dmu and d/dvar of one acquisition at one point (grads 0 unless asked)."""
    floored = var < VAR_FLOOR
    v = VAR_FLOOR if floored else var
    s = math.sqrt(v)
    z = (best - mu) / s
    dmu = 0.0
    dvar = 0.0
    if code == EI:
        pdf = _INV_SQRT_2PI * math.exp(-0.5 * z * z)
        cdf = 0.5 * math.erfc(-z * _INV_SQRT2)
        if z > -1.0:
            h = pdf + z * cdf
        else:
            h = pdf / _left_tail(-z)[0]  # phi r; underflows gracefully to 0
        value = s * h
        if want_grad:
            dmu = -cdf
            dvar = 0.5 * pdf / s
    elif code == LOG_EI:
        lh, dlog, pdf_over_h = _tail(z)
        value = lh + 0.5 * math.log(v)
        if want_grad:
            dmu = -dlog / s
            dvar = 0.5 * pdf_over_h / v
    elif code == UCB:
        value = beta * s - mu
        if want_grad:
            dmu = -1.0
            dvar = 0.5 * beta / s
    elif code == PI:
        value = 0.5 * math.erfc(-z * _INV_SQRT2)
        if want_grad:
            pdf = _INV_SQRT_2PI * math.exp(-0.5 * z * z)
            dmu = -pdf / s
            dvar = -0.5 * z * pdf / v
    else:  # LOG_PI (codes are checked by the callers)
        value, mills = _log_ndtr_and_mills(z)
        if want_grad:
            dmu = -mills / s
            dvar = -0.5 * z * mills / v
    if floored:
        dvar = 0.0
    return value, dmu, dvar


@jit
def _check(code, mean, var):
    if code < 0 or code > 4:
        raise ValueError("acquisition code must be EI=0, LOG_EI=1, UCB=2, PI=3 or LOG_PI=4")
    if mean.shape[0] != var.shape[0]:
        raise ValueError("mean and var must have the same length")


@jit
def acquisition(code, mean, var, best, beta):
    """Acquisition values at ``m`` points (larger is better).

    Parameters
    ----------
    code : int
        ``EI``, ``LOG_EI``, ``UCB``, ``PI`` or ``LOG_PI``.
    mean, var : ndarray (m,)
        Posterior mean and latent variance at each point.
    best : float
        Incumbent: the lowest observed (standardised) value.
    beta : float
        UCB's multiplier of the standard deviation; ignored otherwise.

    Returns
    -------
    ndarray (m,)
    """
    _check(code, mean, var)
    m = mean.shape[0]
    out = np.empty(m)
    for i in range(m):
        out[i] = _point(code, mean[i], var[i], best, beta, False)[0]
    return out


@jit
def acquisition_grad(code, mean, var, best, beta):
    """Acquisition values and their derivatives w.r.t. the mean and the variance.

    Parameters are those of :func:`acquisition`.

    Returns
    -------
    values, d_dmean, d_dvar : ndarray (m,)
        ``values`` equals ``acquisition(...)``; chain with the posterior's
        gradients as ``d_dmean[i] * dmean[i] + d_dvar[i] * dvar[i]``.
    """
    _check(code, mean, var)
    m = mean.shape[0]
    values = np.empty(m)
    d_dmean = np.empty(m)
    d_dvar = np.empty(m)
    for i in range(m):
        values[i], d_dmean[i], d_dvar[i] = _point(code, mean[i], var[i], best, beta, True)
    return values, d_dmean, d_dvar
