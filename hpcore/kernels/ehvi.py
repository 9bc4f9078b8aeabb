r"""Expected hypervolume improvement (EHVI) and probability of feasibility, in log space.

Objectives are MINIMISED; their posteriors at a point are independent
Gaussians ``Y_j ~ N(mu_j, s_j^2)``, ``s_j = sqrt(max(var_j, VAR_FLOOR))`` (as
:mod:`.acqf`). The region where a new point adds hypervolume is split into
disjoint boxes ``[l_b, u_b)`` (:func:`hpcore.kernels.pareto.box_decomposition`),
and the improvement of ``y`` is ``sum_b prod_j (u_bj - max(l_bj, y_j))^+``.

One box, one objective
----------------------
With ``c`` fixed, ``E[(c - Y)^+] = s h((c - mu)/s)`` (the EI formula,
``h(z) = phi(z) + z Phi(z)``), and pointwise
``(u - max(l, Y))^+ = (u - Y)^+ - (l - Y)^+`` for ``l <= u`` (both sides are
``u - l`` below ``l``, ``u - Y`` between, 0 above ``u``). Hence::

    E[(u - max(l, Y))^+] = s (h(zu) - h(zl)) = s D,   zu = (u - mu)/s, zl = (l - mu)/s

(``h(-inf) = 0`` for ``l = -inf``). By independence the expectation of the
product over objectives is the product of these, and::

    EHVI = sum_b prod_j s_j D_bj            (exact)
    log EHVI = logsumexp_b sum_j (log s_j + log D_bj)

Derivatives (``h' = Phi``, ``h - z Phi = phi``), with ``P = Phi(zu) - Phi(zl)``
and ``Q = phi(zu) - phi(zl)``::

    d log(s D)/d mu  = -P / (s D)
    d log(s D)/d var =  Q / (2 var D)

(``l = -inf`` gives LOG_EI's ``-(Phi/h)/s`` and ``(phi/h)/(2 var)``).

Stable ``log D`` (and ``P/D``, ``Q/D``)
----------------------------------------
``w = (u - l)/s`` and ``zm = ((l + u)/2 - mu)/s`` are computed from the data,
not as differences of ``zu`` and ``zl``. Five cases (``_log_dh``):

* ``l = -inf``: ``log h(zu)``, ``Phi/h``, ``phi/h`` of :mod:`.acqf`.
* narrow, ``w max(1, |zm|) < 0.02``: ``D = int_zl^zu Phi`` by the midpoint
  series ``w [Phi + w^2/24 Phi'' + w^4/1920 Phi'''']`` at ``zm`` (the next
  term, ``w^6/322560 Phi^(6)``, is below 1e-14 relative there);
  ``log D = log w + log Phi(zm) + log1p(...)`` with ``phi/Phi(zm)`` from
  acqf's ``log_ndtr`` Mills ratio; ``P``, ``Q`` by the same series, written in
  ``w`` and ``w zm`` so that no power of a huge ``zm`` overflows. No difference
  of nearly equal numbers anywhere.
* left, ``zu <= 0``: ``log D = log h(zu) + log(-expm1(a))``,
  ``a = log h(zl) - log h(zu) < 0``. For ``zl < zu <= -1`` the ``z^2/2`` of
  the two logs cancel analytically: ``a = w (zl + zu)/2 + log(R(zu)/R(zl))``
  with ``R = phi/h`` (acqf's ``1/r``), so ``a`` is exact to a few ulp even at
  ``z = -1e6``; likewise ``log Phi(zl) - log Phi(zu)`` with erfcx, and
  ``log phi(zl) - log phi(zu) = w (zl + zu)/2``. Then ``P/D`` and ``Q/D`` are
  ``(Phi/h)(zu)`` and ``(phi/h)(zu)`` times ratios of ``expm1``.
* right, ``zl >= 0``: ``D = w - E`` with ``E = h(-zl) - h(-zu) <= w/2``
  (``h(z) - h(-z) = z``): ``log D = log w + log1p(-E/w)``.
* across, ``zl < 0 < zu``: ``D = h(zu) - h(zl)`` directly; not narrow means
  ``w >= 0.02`` so ``D >= 0.005``: no harmful cancellation.

Outside the narrow case ``Q`` is ``phi`` at whichever end it is larger times
an ``expm1`` of ``w (zl + zu)/2``: exact, and never ``0 * inf``.

Accuracy (tests/test_kernels_pareto.py, against mpmath at 50 digits): ``log
EHVI`` within ``1e-10 + 16 eps z^2`` absolute -- the relative error of EHVI --
for box edges from z = 40 down to z = -1e4, far past where EHVI itself
underflows (about z = -38); gradients within 1e-11 relative (one box, every
branch). The ``eps z^2`` is the rounding of ``z = (u - mu)/s`` itself. Past
``|z| = 1e154`` (``z^2`` overflows, e.g. a variance at the floor) a left-tail
factor is ``-inf`` in log and its box drops out; values are never NaN for
finite inputs, and at a zero variance log EHVI is the log hypervolume
improvement of the mean (hugely negative, or ``-inf``, where that is 0).

Probability of feasibility
--------------------------
Constraints ``g_c(x) <= bound_c`` with independent posteriors ``N(mu_c, s_c^2)``::

    log P(feasible) = sum_c log Phi((bound_c - mu_c) / s_c)
    d/d mu_c  = -(phi/Phi)(z_c) / s_c,   d/d var_c = -z_c (phi/Phi)(z_c) / (2 var_c)

via :func:`.acqf.log_ndtr` (finite to ``z = -1e154``).

Symbols (shapes)
----------------
m, k, b, c      points, objectives, boxes, constraints
mean, var       (m, k) posterior means and variances of the objectives
lower, upper    (b, k) disjoint boxes, ``lower <= upper`` (``lower`` may be -inf)
cmean, cvar     (m, c) posterior of the constraints; bounds (c,)

log_ehvi(mean, var, lower, upper) -> (m,)
log_ehvi_grad(mean, var, lower, upper) -> (values (m,), d_dmean (m, k), d_dvar (m, k))
ehvi(mean, var, lower, upper) -> (m,)                       exp(log_ehvi)
log_prob_feasible(cmean, cvar, bounds) -> (m,)
log_prob_feasible_grad(cmean, cvar, bounds)
    -> (values (m,), d_dmean (m, c), d_dvar (m, c))
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._numba import jit
from .acqf import VAR_FLOOR, _left_tail, _log_ndtr_and_mills, _tail, erfcx
from .linalg import _as_matrix, _as_vector
from .pareto import _boxes

__all__ = [
    "ehvi",
    "log_ehvi",
    "log_ehvi_grad",
    "log_prob_feasible",
    "log_prob_feasible_grad",
]

_INV_SQRT2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_HALF_LOG_2PI = 0.9189385332046728


# --------------------------------------------------------------------------- one factor
@jit
def _h(z):
    """``h(z) = phi(z) + z Phi(z)``, underflowing gracefully in the left tail."""
    pdf = _INV_SQRT_2PI * math.exp(-0.5 * z * z)
    if z > -1.0:
        return pdf + z * 0.5 * math.erfc(-z * _INV_SQRT2)
    return pdf / _left_tail(-z)[0]  # phi r, r = 1 - x R(x) without cancellation


@jit
def _pdf(z):
    return _INV_SQRT_2PI * math.exp(-0.5 * z * z)


@jit
def _log_dh(zl, zu, w, zm):
    """``(log D, P/D, Q/D)`` for ``D = h(zu) - h(zl)`` (see the module docstring).

    ``zl < zu`` (``zl`` may be -inf); ``w = zu - zl`` and ``zm = (zl + zu)/2``
    as computed from the data.
    """
    if zl == -math.inf:
        return _tail(zu)
    if w * max(1.0, abs(zm)) < 0.02:
        # midpoint series of int_zl^zu f for f = Phi (D), phi (P), phi' (Q):
        # w [f + w^2/24 f'' + w^4/1920 f''''](zm), written in w and y = w zm (|y| < 0.02)
        # so that no power of a large zm is formed (zm ~ 1e150 under a floored variance)
        log_cdf, mills = _log_ndtr_and_mills(zm)  # log Phi(zm), phi/Phi(zm)
        y = w * zm
        w2 = w * w
        y2 = y * y
        d_rel = mills * w * y * (-1.0 / 24.0 + (3.0 * w2 - y2) / 1920.0)  # D / (w Phi) - 1
        p_rel = 1.0 + (y2 - w2) / 24.0 + ((y2 - 6.0 * w2) * y2 + 3.0 * w2 * w2) / 1920.0
        q_rel = 1.0 + (y2 - 3.0 * w2) / 24.0 + ((y2 - 10.0 * w2) * y2 + 15.0 * w2 * w2) / 1920.0
        inv = 1.0 / (1.0 + d_rel)  # P = w phi p_rel, Q = -w phi zm q_rel
        # A box of zero width (w = 0) has D = 0: log D = -inf (numba's log(0) gives it;
        # written out so that the code means the same with the JIT off).
        log_w = math.log(w) if w > 0.0 else -math.inf
        return (log_w + log_cdf + math.log1p(d_rel), mills * p_rel * inv,
                -mills * zm * q_rel * inv)
    a_q = 0.5 * w * (zl + zu)  # log phi(zl) - log phi(zu), exactly (zl^2 - zu^2 = -w (zl + zu))
    if zu <= 0.0:
        lh_u, dlog_u, inv_r_u = _tail(zu)  # log h, Phi/h, phi/h at zu
        if lh_u == -math.inf:  # zu^2 overflowed (a floored variance): D is 0 to the
            return -math.inf, 0.0, 0.0  # float range of log D too; the box is dropped
        if zu <= -1.0:  # both in the tail: the z^2/2 of each log cancel analytically
            a_d = a_q + math.log(inv_r_u / _left_tail(-zl)[0])
            a_p = a_q + math.log(erfcx(-zl * _INV_SQRT2) / erfcx(-zu * _INV_SQRT2))
        else:  # |log h|, |log Phi| < 2.5 at zu: plain differences lose nothing
            a_d = _tail(zl)[0] - lh_u
            a_p = _log_ndtr_and_mills(zl)[0] - _log_ndtr_and_mills(zu)[0]
        one_minus_d = -math.expm1(a_d)  # 1 - h(zl)/h(zu)
        ratio = 1.0 / one_minus_d
        return (lh_u + math.log(one_minus_d), dlog_u * -math.expm1(a_p) * ratio,
                inv_r_u * -math.expm1(a_q) * ratio)
    # phi larger at zl when zl + zu > 0 (Q < 0), else at zu (Q >= 0)
    q = _pdf(zl) * math.expm1(-a_q) if a_q > 0.0 else -_pdf(zu) * math.expm1(a_q)
    if zl >= 0.0:  # D = w - E, 0 <= E <= w/2
        e = _h(-zl) - _h(-zu)
        d = w - e
        log_d = math.log(w) + math.log1p(-e / w)
        p = 0.5 * (math.erfc(zl * _INV_SQRT2) - math.erfc(zu * _INV_SQRT2))
    else:  # zl < 0 < zu and not narrow: D >= 0.005
        d = _h(zu) - _h(zl)
        log_d = math.log(d)
        p = 0.5 * (math.erfc(-zu * _INV_SQRT2) - math.erfc(-zl * _INV_SQRT2))
    return log_d, p / d, q / d


# --------------------------------------------------------------------------- kernels
def _pairs(lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, ...]:
    """The distinct ``(lower, upper)`` edges of each objective over the boxes.

    Boxes share edges (a 3-objective decomposition of 40 points: 395 boxes,
    79 + 41 + 41 distinct edges), and the special functions of an edge do not
    depend on the box: computing them once per edge is most of log EHVI's work.

    Returns ``pair_lo, pair_up`` (k, P), ``n_pairs`` (k,) and ``idx`` (b, k),
    the edge of each box in each objective.
    """
    nb, k = lower.shape
    idx = np.empty((nb, k), dtype=np.int64)
    cols = []
    for j in range(k):
        edges = np.column_stack([lower[:, j], upper[:, j]])
        uniq, inverse = np.unique(edges, axis=0, return_inverse=True)
        idx[:, j] = inverse.reshape(-1)
        cols.append(uniq)
    size = max((len(u) for u in cols), default=0)
    pair_lo = np.zeros((k, size))
    pair_up = np.zeros((k, size))
    n_pairs = np.zeros(k, dtype=np.int64)
    for j, uniq in enumerate(cols):
        n_pairs[j] = len(uniq)
        pair_lo[j, : len(uniq)] = uniq[:, 0]
        pair_up[j, : len(uniq)] = uniq[:, 1]
    return pair_lo, pair_up, n_pairs, idx


def _log_ehvi(mean, var, lower, upper, want_grad):
    """Values (m,) and, if ``want_grad``, d/dmean and d/dvar (m, k) of log EHVI."""
    return _log_ehvi_pairs(mean, var, *_pairs(lower, upper), want_grad)


@jit
def _log_ehvi_pairs(mean, var, pair_lo, pair_up, n_pairs, idx, want_grad):
    """:func:`_log_ehvi` over the boxes' distinct edges (:func:`_pairs`)."""
    m, k = mean.shape
    nb = idx.shape[0]
    size = pair_lo.shape[1]
    values = np.empty(m)
    d_mean = np.zeros((m, k))
    d_var = np.zeros((m, k))
    s = np.empty(k)
    v = np.empty(k)
    log_s = np.empty(k)
    log_d = np.empty((k, size))  # per edge: log D, and the gradient of log(s D)
    e_mu = np.empty((k, size))
    e_var = np.empty((k, size))
    acc_mu = np.empty(k)  # sum_b exp(L_b - top) * gradient_b
    acc_var = np.empty(k)
    for i in range(m):
        for j in range(k):
            v[j] = VAR_FLOOR if var[i, j] < VAR_FLOOR else var[i, j]  # NaN stays NaN
            s[j] = math.sqrt(v[j])
            log_s[j] = math.log(s[j])
            acc_mu[j] = 0.0
            acc_var[j] = 0.0
            mu = mean[i, j]
            for q in range(n_pairs[j]):
                lo = pair_lo[j, q]
                up = pair_up[j, q]
                zu = (up - mu) / s[j]
                if lo == -math.inf:
                    zl = -math.inf
                    w = math.inf
                    zm = -math.inf
                else:
                    zl = (lo - mu) / s[j]
                    w = (up - lo) / s[j]
                    zm = (0.5 * (lo + up) - mu) / s[j]
                ld, p_d, q_d = _log_dh(zl, zu, w, zm)
                log_d[j, q] = ld
                e_mu[j, q] = -p_d / s[j]
                e_var[j, q] = 0.5 * q_d / v[j]
        # one-pass logsumexp over the boxes: rescale the sums when the maximum grows
        top = -math.inf
        total = 0.0
        for b in range(nb):
            lb = 0.0
            for j in range(k):
                lb += log_s[j] + log_d[j, idx[b, j]]
            if lb == -math.inf:
                continue  # an empty box (w = 0) adds nothing
            if lb > top:
                scale = math.exp(top - lb)  # 0 for the first box
                total = total * scale + 1.0
                for j in range(k):  # (a weight of 0 must not meet an infinite gradient)
                    g_mu = e_mu[j, idx[b, j]]
                    g_var = e_var[j, idx[b, j]]
                    acc_mu[j] = g_mu if scale == 0.0 else acc_mu[j] * scale + g_mu
                    acc_var[j] = g_var if scale == 0.0 else acc_var[j] * scale + g_var
                top = lb
            else:  # also NaN: the NaN reaches total
                wgt = math.exp(lb - top)
                total += wgt
                if wgt != 0.0:
                    for j in range(k):
                        acc_mu[j] += wgt * e_mu[j, idx[b, j]]
                        acc_var[j] += wgt * e_var[j, idx[b, j]]
        if math.isnan(total) or top == -math.inf:  # a NaN input, or no box of positive volume
            values[i] = math.nan if math.isnan(total) else -math.inf
            if want_grad and math.isnan(total):
                d_mean[i, :] = math.nan
                d_var[i, :] = math.nan
            continue
        values[i] = top + math.log(total)
        if want_grad:
            for j in range(k):
                d_mean[i, j] = acc_mu[j] / total
                # below the floor the value does not depend on var
                d_var[i, j] = 0.0 if var[i, j] < VAR_FLOOR else acc_var[j] / total
    return values, d_mean, d_var


@jit
def _log_prob_feasible(mean, var, bounds, want_grad):
    """Values (m,) and, if ``want_grad``, d/dmean and d/dvar (m, c) of log P(feasible)."""
    m, c = mean.shape
    values = np.zeros(m)
    d_mean = np.zeros((m, c))
    d_var = np.zeros((m, c))
    for i in range(m):
        for j in range(c):
            floored = var[i, j] < VAR_FLOOR
            v = VAR_FLOOR if floored else var[i, j]
            s = math.sqrt(v)
            z = (bounds[j] - mean[i, j]) / s
            log_cdf, mills = _log_ndtr_and_mills(z)
            values[i] += log_cdf
            if want_grad:
                d_mean[i, j] = -mills / s
                d_var[i, j] = 0.0 if floored else -0.5 * z * mills / v
    return values, d_mean, d_var


# --------------------------------------------------------------------------- public API
def _posterior(mean: Any, var: Any, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    mean = _as_matrix("mean", mean, cols=k)
    var = _as_matrix("var", var, rows=mean.shape[0], cols=mean.shape[1])
    return mean, var


def log_ehvi(mean: Any, var: Any, lower: Any, upper: Any) -> np.ndarray:
    """Log expected hypervolume improvement of independent Gaussian objectives.

    Parameters
    ----------
    mean, var : array_like (m, k)
        Posterior mean and variance of each (minimised) objective at each point;
        variances below ``VAR_FLOOR`` are floored (as in :mod:`.acqf`).
    lower, upper : array_like (b, k)
        Disjoint boxes covering the non-dominated region below the reference
        point, e.g. from :func:`hpcore.kernels.pareto.box_decomposition`;
        ``lower <= upper``, ``upper`` finite, ``lower`` may be ``-inf``.

    Returns
    -------
    ndarray (m,)
        ``log EHVI``, finite (and accurate) far into the tail where EHVI
        underflows; ``-inf`` only when there are no boxes of positive volume.
    """
    lower, upper = _boxes(lower, upper)
    mean, var = _posterior(mean, var, lower.shape[1])
    return _log_ehvi(mean, var, lower, upper, False)[0]


def log_ehvi_grad(mean: Any, var: Any, lower: Any,
                  upper: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log EHVI and its analytic derivatives w.r.t. the means and the variances.

    Parameters are those of :func:`log_ehvi`.

    Returns
    -------
    values : ndarray (m,)
        Equal to ``log_ehvi(...)``.
    d_dmean, d_dvar : ndarray (m, k)
        Chain with the posterior's gradients per objective; ``d_dvar`` is 0
        where the variance is below the floor.
    """
    lower, upper = _boxes(lower, upper)
    mean, var = _posterior(mean, var, lower.shape[1])
    return _log_ehvi(mean, var, lower, upper, True)


def ehvi(mean: Any, var: Any, lower: Any, upper: Any) -> np.ndarray:
    """Expected hypervolume improvement, ``exp(log_ehvi(...))`` (underflows to 0 in the tail).

    Parameters and shapes are those of :func:`log_ehvi`.
    """
    return np.exp(log_ehvi(mean, var, lower, upper))


def _constraints(mean: Any, var: Any, bounds: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean, var = _posterior(mean, var)
    bounds = _as_vector("bounds", bounds, mean.shape[1])
    return mean, var, bounds


def log_prob_feasible(mean: Any, var: Any, bounds: Any) -> np.ndarray:
    """``sum_c log Phi((bounds_c - mean_c) / s_c)``: log probability that every ``g_c <= bounds_c``.

    Parameters
    ----------
    mean, var : array_like (m, c)
        Independent Gaussian posteriors of the constraint functions.
    bounds : array_like (c,)
        Upper bound of each constraint.

    Returns
    -------
    ndarray (m,)
        Accurate far below probabilities of 1e-300 (finite to ``z = -1e154``);
        0 when ``c = 0``.
    """
    mean, var, bounds = _constraints(mean, var, bounds)
    return _log_prob_feasible(mean, var, bounds, False)[0]


def log_prob_feasible_grad(mean: Any, var: Any,
                           bounds: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`log_prob_feasible` and its derivatives.

    Returns
    -------
    values : ndarray (m,)
    d_dmean, d_dvar : ndarray (m, c)
        ``d_dvar`` is 0 where the variance is below the floor.
    """
    mean, var, bounds = _constraints(mean, var, bounds)
    return _log_prob_feasible(mean, var, bounds, True)
