"""hpcore.kernels.acqf against naive formulas and mpmath references.

References: ``scipy.stats.norm`` (naive EI/PI where nothing underflows),
``scipy.special.erfcx``, and mpmath at 50 digits for the tails, where the
naive formulas cancel or underflow. Gradients are checked against central
finite differences with a tolerance that allows for their rounding error.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import norm

from hpcore.kernels import acqf as acq
from hpcore.kernels.acqf import EI, LOG_EI, LOG_PI, PI, UCB

CODES = [EI, LOG_EI, UCB, PI, LOG_PI]
EPS = np.finfo(np.float64).eps
mp.mp.dps = 50


def _one(code, mean, var, best, beta=1.0):
    """Value and derivatives of one point, as Python floats."""
    v, dm, dv = acq.acquisition_grad(code, np.array([mean]), np.array([var]), best, beta)
    return float(v[0]), float(dm[0]), float(dv[0])


def _h_ref(z):
    """h(z) = phi(z) + z Phi(z) in 50-digit arithmetic."""
    z = mp.mpf(z)
    return mp.npdf(z) + z * mp.ncdf(z)


# -- strategies ---------------------------------------------------------------------
# A point is drawn as (mean, std, z): best = mean + z std, so the standardised
# improvement z covers the tails evenly whatever the scale.
means = st.floats(-10.0, 10.0)
stds = st.floats(-4.0, 2.0).map(lambda e: 10.0**e)
moderate_z = st.floats(-30.0, 30.0)
any_z = st.one_of(moderate_z, st.floats(-1e6, 1e6), st.floats(-1e100, 1e100))
betas = st.floats(0.0, 5.0, allow_subnormal=False)


# -- erfcx --------------------------------------------------------------------------


def test_codes_are_the_contract_ints():
    assert (EI, LOG_EI, UCB, PI, LOG_PI) == (0, 1, 2, 3, 4)


def test_erfcx_matches_scipy_from_minus_26_to_1e8():
    x = np.concatenate([np.linspace(-26.6, 26.0, 20001), np.geomspace(26.0, 1e8, 2001)])
    # scipy rounds x^2 for negative x: a relative error up to x^2 eps = 7.5e-14 of its own
    np.testing.assert_allclose(acq.erfcx_array(x), sp.erfcx(x), rtol=1e-13, atol=0)
    small = np.geomspace(1e-300, 0.5, 400)  # scipy is off by up to 4 ulp here, we by < 1
    np.testing.assert_allclose(acq.erfcx_array(small), sp.erfcx(small), rtol=1e-15, atol=0)
    np.testing.assert_allclose(acq.erfcx_array(-small), sp.erfcx(-small), rtol=1e-15, atol=0)


def test_erfcx_matches_mpmath_to_a_few_ulp():
    x = np.concatenate(
        [
            np.linspace(-26.6, 26.0, 521),
            np.geomspace(26.0, 1e300, 80),
            np.geomspace(1e-300, 0.5, 40) * np.repeat([-1.0, 1.0], 20),
            [-0.46875, 0.46875, 4.0],
        ]
    )
    ref = np.array(
        [
            float(mp.exp(mp.mpf(v) ** 2) * mp.erfc(mp.mpf(v)))
            if v < 1e8
            else float(1 / (mp.sqrt(mp.pi) * v) * (1 - 1 / (2 * mp.mpf(v) ** 2)))
            for v in x
        ]
    )
    np.testing.assert_allclose(acq.erfcx_array(x), ref, rtol=4 * EPS, atol=0)


def test_erfcx_special_values():
    assert acq.erfcx(0.0) == 1.0
    assert acq.erfcx(-27.0) == math.inf
    assert acq.erfcx(math.inf) == 0.0
    assert math.isnan(acq.erfcx(math.nan))
    assert acq.erfcx(1e306) == pytest.approx(1 / (math.sqrt(math.pi) * 1e306), rel=1e-15)


# -- log h and its derivative ----------------------------------------------------------

TAIL_Z = np.concatenate(
    [-np.geomspace(1e-3, 1e6, 300), np.linspace(-12.0, 12.0, 241), np.geomspace(1e-3, 40, 60)]
)


@pytest.fixture(scope="module")
def h_reference():
    logs = np.array([float(mp.log(_h_ref(z))) for z in TAIL_Z])
    dlogs = np.array([float(mp.ncdf(mp.mpf(z)) / _h_ref(z)) for z in TAIL_Z])
    return logs, dlogs


def test_log_h_matches_mpmath_from_plus_40_to_minus_1e6(h_reference):
    logs, _ = h_reference
    ours = np.array([acq.log_h(z) for z in TAIL_Z])
    # relative where |log h| > 1; -z^2/2 alone carries a rounding of eps z^2/2
    assert np.all(np.abs(ours - logs) <= 4 * EPS * np.maximum(1.0, np.abs(logs)))


def test_dlog_h_matches_mpmath(h_reference):
    _, dlogs = h_reference
    ours = np.array([acq.dlog_h(z) for z in TAIL_Z])
    np.testing.assert_allclose(ours, dlogs, rtol=2e-14, atol=0)


@pytest.mark.parametrize("z", [-1e8, -1e20, -1e100, -1e150])
def test_log_h_beyond_1_over_sqrt_eps_follows_the_asymptote(z):
    # log h = -z^2/2 - log(2 pi)/2 - 2 log|z| + log(1 - 3/z^2 + ...); the last term < 1e-15
    asym = -0.5 * z * z - 0.5 * math.log(2 * math.pi) - 2 * math.log(-z)
    assert acq.log_h(z) == pytest.approx(asym, rel=4 * EPS)
    assert acq.dlog_h(z) == pytest.approx(-z, rel=1e-15)  # Phi/h ~ |z| (1 + 2/z^2)


def test_log_h_is_increasing_and_continuous_across_branches():
    z = np.concatenate([-np.geomspace(1e6, 1.0, 20000), np.linspace(-1.0, 30.0, 5000)[1:]])
    vals = np.array([acq.log_h(t) for t in z])
    assert np.all(np.isfinite(vals))
    assert np.all(np.diff(vals) > 0)
    for b in [-1.0, -4.0, -5.0, -7.0, -10.0, -20.0]:  # branch and fraction-depth switches
        left, right = np.nextafter(b, -np.inf), np.nextafter(b, np.inf)
        assert acq.log_h(left) <= acq.log_h(b) <= acq.log_h(right)
        assert acq.log_h(right) - acq.log_h(left) <= 8 * EPS * abs(acq.log_h(b))


def test_log_ndtr_matches_scipy_and_mpmath():
    z = np.concatenate([-np.geomspace(1e-3, 1e6, 200), np.linspace(-10.0, 37.0, 471)])
    ours = np.array([acq.log_ndtr(t) for t in z])
    ref = np.array(
        [float(mp.log(mp.ncdf(t)) if t < 0 else mp.log1p(-mp.ncdf(-mp.mpf(t)))) for t in z]
    )
    # right tail: log Phi = -Phi(-z), and erfc(z/sqrt2) turns the rounding of z/sqrt2
    # into a relative error of z^2/2 ulp (scipy's log_ndtr has the same)
    rtol = 4 * EPS * (1.0 + np.where(z > 0, z * z, 0.0))
    assert np.all(np.abs(ours - ref) <= rtol * np.abs(ref))
    np.testing.assert_allclose(ours, sp.log_ndtr(z), rtol=2e-13, atol=0)


# -- values ------------------------------------------------------------------------------


@given(means, stds, any_z, betas)
def test_ei_is_nonnegative_and_pi_is_a_probability(mean, std, z, beta):
    """EI >= 0 and 0 <= PI <= 1 at every point, also where they underflow."""
    best = mean + z * std
    ei, _, _ = _one(EI, mean, std * std, best)
    pi, _, _ = _one(PI, mean, std * std, best)
    assert ei >= 0.0
    assert 0.0 <= pi <= 1.0


@given(means, stds, st.floats(-30.0, 10.0))
def test_ei_and_pi_equal_the_naive_formulas(mean, std, z):
    """EI and PI equal the textbook scipy.stats formulas where those neither cancel nor underflow."""
    best = mean + z * std
    zz = (best - mean) / std  # the z the kernel sees, after rounding
    naive_ei = std * (zz * norm.cdf(zz) + norm.pdf(zz))
    naive_pi = norm.cdf(zz)
    ei, _, _ = _one(EI, mean, std * std, best)
    pi, _, _ = _one(PI, mean, std * std, best)
    # the naive EI cancels for z < 0: z Phi(z) + phi(z) = phi(z) / z^2 (1 + ...),
    # and Phi(z) itself carries z^2 ulp: a relative error of about z^4 ulp
    assert ei == pytest.approx(naive_ei, rel=1e-13 + 4 * EPS * zz**4)
    assert pi == pytest.approx(naive_pi, rel=1e-13)


@given(means, stds, st.floats(-37.0, 10.0))
def test_log_ei_and_log_pi_are_logs_of_the_naive_values(mean, std, z):
    """LOG_EI = log(naive EI) and LOG_PI = log(naive PI) where the naive values exceed 1e-300."""
    best = mean + z * std
    zz = (best - mean) / std
    naive_ei = std * (zz * norm.cdf(zz) + norm.pdf(zz))
    if naive_ei > 1e-300:
        log_ei, _, _ = _one(LOG_EI, mean, std * std, best)
        assert log_ei == pytest.approx(math.log(naive_ei), abs=1e-13 + 4 * EPS * zz**4)
    log_pi, _, _ = _one(LOG_PI, mean, std * std, best)
    # norm.cdf(z) carries about z^2 ulp for z < 0
    assert log_pi == pytest.approx(math.log(norm.cdf(zz)), abs=4 * EPS * (1 + zz * zz))


@pytest.mark.parametrize("z", [-1.0, -3.0, -10.0, -38.5, -100.0, -1e3, -1e4, -1e5, -1e6])
@pytest.mark.parametrize("std", [1e-3, 1.0, 30.0])
def test_log_ei_is_finite_and_exact_deep_in_the_tail(z, std):
    mean = 0.25
    best = mean + z * std
    zz = (best - mean) / std
    log_ei, dmean, dvar = _one(LOG_EI, mean, std * std, best)
    ref = float(mp.log(_h_ref(zz)) + mp.log(mp.mpf(std)))
    assert math.isfinite(log_ei) and math.isfinite(dmean) and math.isfinite(dvar)
    assert log_ei == pytest.approx(ref, rel=4 * EPS, abs=4 * EPS)


def test_log_ei_decreases_with_the_mean():
    mean = np.concatenate([np.linspace(-5.0, 5.0, 1001), np.geomspace(5.0, 1e6, 1000)[1:]])
    v = acq.acquisition(LOG_EI, mean, np.full(mean.size, 0.01), 0.0, 0.0)
    assert np.all(np.isfinite(v)) and np.all(np.diff(v) < 0)


@given(st.lists(st.tuples(means, stds), min_size=1, max_size=20), means, betas)
def test_ucb_formula(points, best, beta):
    """UCB = beta std - mean, with d/dmean = -1 and d/dvar = beta / (2 std)."""
    mean = np.array([p[0] for p in points])
    var = np.array([p[1] for p in points]) ** 2
    v, dm, dv = acq.acquisition_grad(UCB, mean, var, best, beta)
    np.testing.assert_allclose(v, beta * np.sqrt(var) - mean, rtol=1e-15, atol=1e-14)
    np.testing.assert_array_equal(dm, -1.0)
    np.testing.assert_allclose(dv, beta / (2 * np.sqrt(var)), rtol=1e-15)


@pytest.mark.parametrize("code", CODES)
def test_acquisition_grad_values_equal_acquisition(code):
    rng = np.random.default_rng(code)
    mean = rng.normal(size=500)
    var = np.exp(rng.uniform(-20.0, 3.0, size=500))
    var[:5] = [0.0, 1e-320, 1e-300, 1e-12, 1.0]
    args = (mean, var, -0.8, 1.7)
    values, dm, dv = acq.acquisition_grad(code, *args)
    np.testing.assert_array_equal(values, acq.acquisition(code, *args))
    assert values.shape == dm.shape == dv.shape == (500,)
    assert np.all(np.isfinite(values[mean > -0.8]))


# -- gradients against finite differences -----------------------------------------------


def _check_fd(code, mean, var, best, beta, dz):
    """Central differences with steps worth ``dz`` in z, against the analytic gradient.

    The tolerance allows a relative 1e-6 for truncation and the rounding error of
    a difference quotient, ``eps |f| / step`` (times a margin of 64).
    """
    value, dmean, dvar = _one(code, mean, var, best, beta)
    std = math.sqrt(var)
    z = abs(best - mean) / std
    hm = dz * std
    hv = 2.0 * var * dz / max(1.0, z)  # dz/dvar = -z / (2 var)

    def f(m, v):
        return _one(code, m, v, best, beta)[0]

    for grad, (fp, fm, step) in [
        (dmean, (f(mean + hm, var), f(mean - hm, var), hm)),
        (dvar, (f(mean, var + hv), f(mean, var - hv), hv)),
    ]:
        fd = (fp - fm) / (2.0 * step)
        noise = 64 * EPS * max(abs(fp), abs(fm), abs(value)) / step
        assert abs(fd - grad) <= 1e-6 * max(abs(grad), abs(fd)) + noise, (fd, grad, noise)


@given(st.sampled_from(CODES), means, stds, moderate_z, betas)
def test_gradients_equal_finite_differences(code, mean, std, z, beta):
    """d/dmean and d/dvar of every code equal central differences, for |z| <= 30."""
    _check_fd(code, mean, std * std, mean + z * std, beta, dz=1e-5)


@given(st.sampled_from([LOG_EI, LOG_PI]), means, stds, st.floats(-1e5, -30.0))
def test_log_gradients_equal_finite_differences_deep_in_the_tail(code, mean, std, z):
    """LOG_EI and LOG_PI keep exact gradients to z = -1e5, where EI and PI are 0."""
    _check_fd(code, mean, std * std, mean + z * std, 0.0, dz=1e-6 * max(1.0, abs(z)))


def test_values_and_gradients_are_continuous_across_the_tail_branches():
    for code in [EI, LOG_EI, PI, LOG_PI]:
        for b in [-1.0, -4.0, -5.0, -7.0, -10.0, -20.0]:
            lo = _one(code, 0.0, 1.0, np.nextafter(b, -np.inf))
            hi = _one(code, 0.0, 1.0, np.nextafter(b, np.inf))
            # a step of 2 ulp in z moves EI by |z| ulp; the kernel's own error is z^2 ulp
            np.testing.assert_allclose(lo, hi, rtol=8 * EPS * (1 + b * b))


# -- edges ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
def test_variance_below_the_floor_has_no_variance_gradient(code):
    mean = np.array([0.0, 0.0, 1.0])
    var = np.array([0.0, 1e-320, 0.0])
    values, _, dvar = acq.acquisition_grad(code, mean, var, 0.5, 1.0)
    np.testing.assert_array_equal(dvar, 0.0)
    assert np.all(np.isfinite(values))


@pytest.mark.parametrize("code", CODES)
def test_nan_propagates_and_empty_input_gives_empty_output(code):
    mean, var = np.array([np.nan, 0.0]), np.array([1.0, np.nan])
    assert np.isnan(acq.acquisition_grad(code, mean, var, 0.0, 1.0)[0]).all()
    assert np.isnan(acq.acquisition(code, mean, var, 0.0, 1.0)).all()
    assert acq.acquisition(code, np.empty(0), np.empty(0), 0.0, 1.0).shape == (0,)


def test_bad_code_and_shapes_raise():
    one = np.ones(1)
    with pytest.raises(ValueError, match="acquisition code must be"):
        acq.acquisition(7, one, one, 0.0, 1.0)
    with pytest.raises(ValueError, match="acquisition code must be"):
        acq.acquisition_grad(-1, one, one, 0.0, 1.0)
    with pytest.raises(ValueError, match="same length"):
        acq.acquisition(EI, one, np.ones(2), 0.0, 1.0)
