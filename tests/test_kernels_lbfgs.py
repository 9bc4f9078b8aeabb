"""hpcore.kernels.lbfgs (batched box-constrained L-BFGS) and hpcore.kernels.warp.

The batched optimiser is checked against scipy's L-BFGS-B where the answer
is unique (strictly convex quadratics with active bounds), for the
invariants every local optimiser must keep (inside the box, never worse
than its start), and for the property that makes batching safe: a search
ends where it would have ended alone. The Yeo-Johnson fit is checked
against scipy.stats.yeojohnson.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize, rosen, rosen_der

from hpcore.kernels import fit_yeo_johnson, minimize_batch, yeo_johnson, yeo_johnson_llf


def _quadratic(seed: int, p: int):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(p, p))
    H = A @ A.T + 0.5 * np.eye(p)
    c = rng.normal(size=p) * 3.0

    def fun(X, rows=None):
        X = np.atleast_2d(X)
        return 0.5 * np.einsum("bi,ij,bj->b", X, H, X) - X @ c, X @ H - c

    return fun, rng


def _rosen_batch(X, rows):
    return np.array([rosen(x) for x in X]), np.array([rosen_der(x) for x in X])


@given(seed=st.integers(0, 2**31 - 1), p=st.integers(1, 8), r=st.integers(1, 5))
def test_convex_quadratic_matches_scipy(seed, p, r):
    fun, rng = _quadratic(seed, p)
    lower, upper = -np.ones(p) * rng.uniform(0.1, 1.0), np.ones(p) * rng.uniform(0.1, 1.0)
    x, f, _ = minimize_batch(fun, rng.uniform(lower, upper, size=(r, p)), lower, upper,
                             maxiter=500, gtol=1e-9, ftol=1e-14)
    ref = minimize(lambda z: (fun(z)[0][0], fun(z)[1][0]), np.zeros(p), jac=True,
                   method="L-BFGS-B", bounds=list(zip(lower, upper)),
                   options={"maxiter": 1000, "gtol": 1e-12, "ftol": 1e-15})
    # Strictly convex: one minimum, which every start must reach.
    np.testing.assert_allclose(f, ref.fun, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(x, np.repeat(ref.x[None], r, axis=0), atol=1e-4)


@given(seed=st.integers(0, 2**31 - 1), p=st.integers(2, 6))
def test_stays_in_box_and_never_worse_than_start(seed, p):
    rng = np.random.default_rng(seed)
    lower, upper = np.full(p, -2.0), np.full(p, 2.0)
    x0 = rng.uniform(-3.0, 3.0, size=(6, p))  # some starts outside: clipped first
    x, f, n_evals = minimize_batch(_rosen_batch, x0, lower, upper, maxiter=50)
    assert np.all(x >= lower) and np.all(x <= upper)
    start = np.array([rosen(z) for z in np.clip(x0, lower, upper)])
    assert np.all(f <= start)
    np.testing.assert_allclose(f, [rosen(z) for z in x])
    assert n_evals >= len(x0)


@given(seed=st.integers(0, 2**31 - 1))
def test_a_search_ends_where_it_would_end_alone(seed):
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(-2.0, 2.0, size=(5, 4))
    lower, upper = np.full(4, -2.0), np.full(4, 2.0)
    x_all, f_all, _ = minimize_batch(_rosen_batch, x0, lower, upper, maxiter=200)
    for i in range(len(x0)):
        x_one, f_one, _ = minimize_batch(_rosen_batch, x0[i : i + 1], lower, upper, maxiter=200)
        np.testing.assert_array_equal(x_all[i], x_one[0])
        assert f_all[i] == f_one[0]


def test_reaches_rosenbrock_minimum_like_scipy():
    rng = np.random.default_rng(0)
    lower, upper = np.full(5, -2.0), np.full(5, 2.0)
    x0 = rng.uniform(-2.0, 2.0, size=(8, 5))
    _, f, _ = minimize_batch(_rosen_batch, x0, lower, upper, maxiter=500)
    ref = [minimize(lambda z: (rosen(z), rosen_der(z)), z, jac=True, method="L-BFGS-B",
                    bounds=[(-2, 2)] * 5, options={"maxiter": 500}).fun for z in x0]
    # Both find the global minimum (0) or the known local one (~3.93) from most starts.
    assert np.sum(f < 1e-6) >= np.sum(np.array(ref) < 1e-6) - 2
    assert np.min(f) < 1e-8


def test_rows_tell_the_objective_which_search_it_is():
    # Each search minimises its own shifted quadratic: (x - row)^2.
    def fun(X, rows):
        target = rows[:, None].astype(float)
        return np.sum((X - target) ** 2, axis=1), 2.0 * (X - target)

    x, f, _ = minimize_batch(fun, np.zeros((3, 2)), np.full(2, -5.0), np.full(2, 5.0))
    np.testing.assert_allclose(x, [[0, 0], [1, 1], [2, 2]], atol=1e-6)


def test_non_finite_values_are_rejected_steps():
    # +inf outside the unit ball: the search must stay where values are finite.
    def fun(X, rows):
        r2 = np.sum((X - 2.0) ** 2, axis=1)
        f = np.where(np.sum(X**2, axis=1) < 1.0, r2, np.nan)
        return f, 2.0 * (X - 2.0)

    x, f, _ = minimize_batch(fun, np.zeros((1, 2)), np.full(2, -3.0), np.full(2, 3.0))
    assert np.isfinite(f[0]) and np.sum(x[0] ** 2) < 1.0
    assert f[0] < 8.0  # moved towards (2, 2) from the start's value 8


# -- Yeo-Johnson ------------------------------------------------------------------


@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(5, 300),
    kind=st.sampled_from(["normal", "lognormal", "negative", "heavy"]),
)
def test_yeo_johnson_fit_matches_scipy(seed, n, kind):
    rng = np.random.default_rng(seed)
    y = {
        "normal": rng.normal(size=n),
        "lognormal": rng.lognormal(sigma=1.5, size=n),
        "negative": -rng.lognormal(size=n),
        "heavy": rng.standard_t(1.5, size=n),
    }[kind]
    z = (y - y.mean()) / y.std()
    ours, lmb = fit_yeo_johnson(z)
    ref, ref_lmb = scipy.stats.yeojohnson(z)
    # Both maximise the same likelihood with the same bounded Brent search: the
    # likelihoods agree to the search's tolerance, the values to its effect.
    llf_ref = scipy.stats.yeojohnson_llf(ref_lmb, z)
    assert yeo_johnson_llf(z, lmb) >= llf_ref - 1e-6 * max(1.0, abs(llf_ref))
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6 * np.abs(ref).max())


@given(lmb=st.floats(-3.0, 5.0), seed=st.integers(0, 2**31 - 1))
def test_yeo_johnson_transform_matches_scipy_and_is_increasing(lmb, seed):
    x = np.sort(np.random.default_rng(seed).normal(scale=3.0, size=50))
    t = yeo_johnson(x, lmb)
    np.testing.assert_allclose(t, scipy.stats.yeojohnson(x, lmbda=lmb), rtol=1e-10, atol=1e-12)
    assert np.all(np.diff(t) >= 0)


@pytest.mark.parametrize("lmb", [0.0, 2.0])
def test_yeo_johnson_special_branches(lmb):
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(yeo_johnson(x, lmb), scipy.stats.yeojohnson(x, lmbda=lmb))


def test_yeo_johnson_rejects_non_finite_and_keeps_zeros():
    with pytest.raises(ValueError, match="finite"):
        fit_yeo_johnson(np.array([1.0, np.nan]))
    t, lmb = fit_yeo_johnson(np.zeros(4))
    assert lmb == 1.0 and np.all(t == 0)
