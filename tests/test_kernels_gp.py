"""The GP kernels of hpcore.kernels against naive references and finite differences.

Matérn Gram matrices, Cholesky with jitter and extension, triangular solves,
the negative log posterior and its gradient, the posterior and its gradient,
and the MAP fit. Properties run under hypothesis (derandomized profile in
conftest.py); the problems are drawn as a size, a seed and a few switches
(categorical dims, duplicated rows), and built with numpy from the seed.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass

import naive
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import hpcore.kernels as hk
from hpcore.kernels import gp as gp_module
from hpcore.kernels.matern import _gram_lower, _row_r_e

# --------------------------------------------------------------------------- strategies

LOG_1E_4 = math.log(1e-4)


@dataclass
class Problem:
    X: np.ndarray  # (n, d)
    y: np.ndarray  # (n,)
    cat: np.ndarray  # (d,)
    theta: np.ndarray  # (d + 2,)
    rng: np.random.Generator

    @property
    def d(self) -> int:
        return self.X.shape[1]

    def points(self, m: int) -> np.ndarray:
        """m fresh points in the same encoding as X."""
        Z = self.rng.random((m, self.d))
        for k in np.flatnonzero(self.cat):
            Z[:, k] = self.rng.integers(0, 3, m)
        return Z


@st.composite
def problems(draw, min_n=1, max_n=25, max_d=4, min_log_noise=LOG_1E_4, categorical=True):
    """A GP problem: points with continuous dims in [0, 1] and categorical dims with
    3 levels, sometimes duplicated rows, standard-normal y, and theta in a box where
    K is well conditioned enough for finite differences."""
    n = draw(st.integers(min_n, max_n))
    d = draw(st.integers(1, max_d))
    n_cat = draw(st.integers(0, d)) if categorical else 0
    duplicates = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    cat = np.zeros(d)
    cat[rng.choice(d, n_cat, replace=False)] = 1.0
    X = rng.random((n, d))
    for k in np.flatnonzero(cat):
        X[:, k] = rng.integers(0, 3, n)
    if duplicates and n > 1:
        X[rng.integers(0, n, size=n // 3 + 1)] = X[0]
    theta = np.concatenate(
        [
            rng.uniform(math.log(0.05), math.log(5.0), d),
            [rng.uniform(-1.0, 1.0), rng.uniform(min_log_noise, math.log(0.1))],
        ]
    )
    return Problem(X, rng.standard_normal(n), cat, theta, rng)


def _fd_check(analytic, fd, rtol=1e-5):
    """Finite-difference agreement, relative to the gradient's overall scale."""
    if np.size(fd) == 0:
        return
    scale = max(1.0, float(np.max(np.abs(fd))))
    np.testing.assert_allclose(analytic, fd, rtol=rtol, atol=rtol * scale)


# --------------------------------------------------------------------------- matern


@given(problems(max_n=30))
def test_gram_is_symmetric_psd(p):
    """k(X, X) is symmetric and positive semi-definite (eigenvalues >= -1e-10 * scale)."""
    K = hk.matern52(p.X, p.X, p.cat, p.theta)
    np.testing.assert_allclose(K, K.T, rtol=0, atol=1e-15 * np.abs(K).max())
    eig = np.linalg.eigvalsh(K)
    assert eig.min() >= -1e-10 * max(1.0, eig.max())


@given(problems(max_n=20), st.integers(1, 20))
def test_matern52_equals_naive(p, m):
    """The cross-covariance equals the formula evaluated dimension by dimension."""
    Z = p.points(m)
    np.testing.assert_allclose(
        hk.matern52(Z, p.X, p.cat, p.theta),
        naive.matern52(Z, p.X, p.cat, p.theta),
        rtol=1e-12,
        atol=1e-14,
    )


@given(st.lists(st.floats(0.0, 330.0), min_size=1, max_size=70))
def test_vectorised_row_exp_is_libm_exp_to_two_ulps(values):
    """_row_r_e: r = sqrt(r^2) and exp(-sqrt5 r) to 2 ulps down to -708, 0 below, NaN kept."""
    r2 = np.array(values + [0.0, (708.0 / math.sqrt(5.0)) ** 2, 1e5, np.inf, np.nan]) ** 2
    r2 = np.append(r2, 4.0)  # beyond n: left alone
    r, e, bits = np.full(len(r2), -1.0), np.full(len(r2), -1.0), np.empty(len(r2))
    _row_r_e(r2, r, e, bits, len(r2) - 1)
    assert r[-1] == e[-1] == -1.0
    r2, r, e = r2[:-1], r[:-1], e[:-1]
    np.testing.assert_array_equal(r, np.sqrt(r2))
    x = -math.sqrt(5.0) * r
    normal = x >= -708.0
    np.testing.assert_allclose(e[normal], np.exp(x[normal]), rtol=4.5e-16, atol=0.0)
    assert np.all(e[~normal & ~np.isnan(x)] == 0.0)
    assert np.isnan(e[-1]) and e[-5] == 1.0


@given(problems(max_n=20))
def test_private_gram_lower_is_the_noisy_gram(p):
    """_gram_lower holds the lower triangle of k(X, X) + noise I and zeros above."""
    K = np.full((p.X.shape[0],) * 2, np.nan)
    _gram_lower(p.X, p.cat, p.theta, K)
    ref = naive.gram(p.X, p.cat, p.theta)
    np.testing.assert_allclose(K, np.tril(ref), rtol=1e-12, atol=1e-14)


@given(problems(max_n=8, max_d=3), st.integers(1, 5))
def test_matern52_grad_x_equals_naive_and_finite_differences(p, m):
    """d k(z, x)/dz matches the chain rule written out and central differences;
    it is zero on categorical dims."""
    Z = p.points(m)
    G = hk.matern52_grad_x(Z, p.X, p.cat, p.theta)
    assert G.shape == (m, p.X.shape[0], p.d)
    np.testing.assert_allclose(
        G, naive.matern52_grad_x(Z, p.X, p.cat, p.theta), rtol=1e-10, atol=1e-12
    )
    assert np.all(G[:, :, p.cat == 1.0] == 0.0)
    for i in range(m):
        fd = naive.central_difference(
            lambda z: naive.matern52(z[None], p.X, p.cat, p.theta)[0], Z[i]
        )
        cont = p.cat == 0.0
        _fd_check(G[i][:, cont], fd[:, cont], rtol=1e-6)


# --------------------------------------------------------------------------- linalg


def _spd(p: Problem) -> np.ndarray:
    return naive.gram(p.X, p.cat, p.theta)


@given(problems(min_n=1, max_n=25), st.integers(1, 6))
def test_cholesky_extend_equals_full_cholesky(p, m):
    """Extending chol(A11) by m points gives chol of the whole matrix."""
    Z = p.points(m)
    XZ = np.vstack([p.X, Z])
    A = naive.gram(XZ, p.cat, p.theta)
    n = p.X.shape[0]
    L = naive.cholesky(A[:n, :n])
    L_new = hk.cholesky_extend(L, A[:n, n:], A[n:, n:])
    np.testing.assert_allclose(L_new, naive.cholesky(A), rtol=1e-7, atol=1e-9)
    assert np.all(np.triu(L_new, 1) == 0.0)


def test_cholesky_extend_from_empty_and_not_pd():
    A = np.array([[2.0, 1.0], [1.0, 2.0]])
    np.testing.assert_allclose(
        hk.cholesky_extend(np.zeros((0, 0)), np.zeros((0, 2)), A), naive.cholesky(A)
    )
    # the bordered matrix [[1, 2], [2, 1]] is indefinite: the new block is NaN
    L_new = hk.cholesky_extend(np.ones((1, 1)), np.array([[2.0]]), np.array([[1.0]]))
    assert L_new[0, 0] == 1.0 and L_new[1, 0] == 2.0 and np.isnan(L_new[1, 1])


@given(problems(max_n=25))
def test_cholesky_jitter_on_pd_matrix_adds_nothing(p):
    """A noisy Gram matrix factors without jitter, and equal to scipy's factor."""
    A = _spd(p)
    L, jitter = hk.cholesky_jitter(A)
    assert jitter == 0.0
    np.testing.assert_allclose(L, naive.cholesky(A), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_cholesky_jitter_on_singular_matrix_with_duplicate_rows(seed):
    rng = np.random.default_rng(seed)
    X = rng.random((8, 2))
    X = np.vstack([X, X[:3]])  # duplicate rows: k(X, X) without noise is singular
    theta = np.array([math.log(0.5), math.log(0.5), 0.0, 0.0])
    A = hk.matern52(X, X, np.zeros(2), theta)
    L, jitter = hk.cholesky_jitter(A)
    assert jitter > 0.0
    assert jitter <= 1e-3 * np.mean(np.diag(A))
    np.testing.assert_allclose(L @ L.T, A + jitter * np.eye(len(A)), atol=1e-12)
    assert np.all(np.triu(L, 1) == 0.0)


def test_cholesky_jitter_ladder_order_and_failure():
    L, jitter = hk.cholesky_jitter(np.ones((4, 4)))  # rank one: 0 fails, 1e-10 works
    assert jitter == 1e-10
    np.testing.assert_allclose(L @ L.T, np.ones((4, 4)) + 1e-10 * np.eye(4), atol=1e-14)
    for bad in (np.diag([1.0, -1.0]), np.array([[np.nan, 0.0], [0.0, 1.0]])):
        L, jitter = hk.cholesky_jitter(bad)
        assert jitter == -1.0 and np.all(np.isnan(L))


@given(problems(max_n=25), st.integers(0, 4))
def test_solves_equal_scipy(p, k):
    """solve_lower and solve_lower_t equal scipy's solve_triangular, for 1-D and 2-D B."""
    L = naive.cholesky(_spd(p))
    n = L.shape[0]
    B = p.rng.standard_normal(n) if k == 0 else p.rng.standard_normal((n, k))
    B_before = B.copy()
    for ours, ref in ((hk.solve_lower, naive.solve_lower), (hk.solve_lower_t, naive.solve_lower_t)):
        x = ours(L, B)
        assert x.shape == B.shape and x.flags.c_contiguous
        np.testing.assert_allclose(
            x, ref(L, B), rtol=1e-9, atol=1e-9 * max(1.0, np.abs(ref(L, B)).max())
        )
    np.testing.assert_array_equal(B, B_before)  # inputs untouched


def test_solve_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"`B` must have shape \(3,\) or \(3, k\)"):
        hk.solve_lower(np.eye(3), np.ones(4))
    with pytest.raises(ValueError, match="`L` must be square"):
        hk.solve_lower_t(np.ones((3, 2)), np.ones(3))
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        hk.solve_lower(np.diag([1.0, 0.0]), np.ones(2))


# --------------------------------------------------------------------------- objective


@pytest.fixture(params=["lognormal", "inverse-square"])
def length_scale_prior(request, monkeypatch):
    """Run a test under each length-scale prior of hpcore.kernels.gp."""
    from hpcore.kernels import gp

    monkeypatch.setattr(gp, "LENGTH_SCALE_PRIOR", request.param)
    return request.param


@pytest.mark.usefixtures("length_scale_prior")
@given(problems(max_n=25))
def test_neg_log_posterior_equals_naive(p):
    """NLL + prior equals the explicit-inverse formula plus the prior term by term."""
    ref = naive.neg_log_posterior(p.theta, p.X, p.y, p.cat)
    value = hk.neg_log_posterior(p.theta, p.X, p.y, p.cat)
    value2, _ = hk.neg_log_posterior_and_grad(p.theta, p.X, p.y, p.cat)
    assert value == pytest.approx(ref, rel=1e-7, abs=1e-7)
    assert value2 == pytest.approx(value, rel=1e-12, abs=1e-12)


@pytest.mark.usefixtures("length_scale_prior")
@given(problems(max_n=20))
def test_neg_log_posterior_gradient_equals_finite_differences(p):
    """The analytic theta gradient matches central differences (continuous and
    categorical dims, duplicated rows)."""
    _, grad = hk.neg_log_posterior_and_grad(p.theta, p.X, p.y, p.cat)
    fd = naive.central_difference(
        lambda t: hk.neg_log_posterior(t, p.X, p.y, p.cat), p.theta, h=1e-6
    )
    _fd_check(grad, fd, rtol=2e-5)


def test_gradient_on_all_categorical_problem_matches_finite_differences():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 4, (30, 2)).astype(float)
    y = np.where(X[:, 0] == 1, 1.0, 0.0) + 0.1 * rng.standard_normal(30)
    theta = np.array([0.1, 1.0, 0.0, math.log(0.01)])
    _, grad = hk.neg_log_posterior_and_grad(theta, X, y, np.ones(2))
    fd = naive.central_difference(lambda t: naive.neg_log_posterior(t, X, y, np.ones(2)), theta)
    _fd_check(grad, fd)


def test_objective_on_unfactorisable_input_is_large_and_flat():
    X = np.array([[0.1], [np.nan]])
    theta = hk.default_theta(1)
    value, grad = hk.neg_log_posterior_and_grad(theta, X, np.zeros(2), np.zeros(1))
    assert value == gp_module.FAILED_VALUE and np.all(grad == 0.0)
    assert hk.neg_log_posterior(theta, X, np.zeros(2), np.zeros(1)) == gp_module.FAILED_VALUE
    with pytest.raises(np.linalg.LinAlgError, match="cannot be factorised"):
        hk.factorize(X, np.zeros(2), np.zeros(1), theta)


def test_bounds_and_default_theta(length_scale_prior):
    b = hk.theta_bounds(3)
    assert b.shape == (5, 2) and np.all(b[:, 0] < b[:, 1])
    assert b[-1, 0] == pytest.approx(math.log(1e-6))  # the noise floor
    t = hk.default_theta(3)
    assert t.shape == (5,) and np.all((b[:, 0] <= t) & (t <= b[:, 1]))
    centre = 0.0 if length_scale_prior == "inverse-square" else math.sqrt(2) + 0.5 * math.log(3)
    assert t[0] == pytest.approx(centre)


def test_inputs_are_checked():
    X, y, cat, theta = np.zeros((3, 2)), np.zeros(3), np.zeros(2), np.zeros(4)
    with pytest.raises(ValueError, match=r"`theta` must have length 4, got 3"):
        hk.neg_log_posterior(np.zeros(3), X, y, cat)
    with pytest.raises(ValueError, match=r"`y` must have length 3, got 2"):
        hk.fit_gp(X, np.zeros(2), cat)
    with pytest.raises(ValueError, match=r"`cat` must hold only 0.0 and 1.0"):
        hk.matern52(X, X, np.array([0.0, 2.0]), theta)
    with pytest.raises(ValueError, match=r"`X2` must have shape \(n, 2\), got \(3, 3\)"):
        hk.matern52(X, np.zeros((3, 3)), cat, theta)
    with pytest.raises(ValueError, match=r"`Z` must be a 2-D array, got shape \(2,\)"):
        hk.posterior(X, np.eye(3), y, cat, theta, np.zeros(2))


# --------------------------------------------------------------------------- posterior


@given(problems(max_n=25), st.integers(1, 10))
def test_factorize_and_posterior_equal_naive(p, m):
    """factorize gives chol(K) and K^{-1} y; posterior equals the explicit-inverse formulas."""
    L, alpha = hk.factorize(p.X, p.y, p.cat, p.theta)
    K = naive.gram(p.X, p.cat, p.theta)
    np.testing.assert_allclose(L, naive.cholesky(K), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(K @ alpha, p.y, atol=1e-7 * max(1.0, np.abs(alpha).max()))
    Z = p.points(m)
    mean, var = hk.posterior(p.X, L, alpha, p.cat, p.theta, Z)
    ref_mean, ref_var = naive.posterior(p.X, p.y, p.cat, p.theta, Z)
    s = math.exp(p.theta[p.d])
    np.testing.assert_allclose(mean, ref_mean, atol=1e-6 * max(1.0, np.abs(ref_mean).max()))
    np.testing.assert_allclose(var, np.maximum(ref_var, 1e-12), atol=1e-7 * s)
    m2, v2, _, _ = hk.posterior_grad(p.X, L, alpha, p.cat, p.theta, Z)
    np.testing.assert_allclose(m2, mean, rtol=0, atol=1e-13 * max(1.0, np.abs(alpha).sum()))
    np.testing.assert_allclose(v2, var, rtol=1e-12, atol=1e-15)


@given(problems(max_n=25, min_log_noise=math.log(1e-6)), st.integers(1, 20))
def test_posterior_variance_is_between_floor_and_signal_variance(p, m):
    """0 < var <= s: conditioning on data never adds latent uncertainty."""
    L, alpha = hk.factorize(p.X, p.y, p.cat, p.theta)
    Z = np.vstack([p.points(m), p.X[:3]])
    _, var = hk.posterior(p.X, L, alpha, p.cat, p.theta, Z)
    s = math.exp(p.theta[p.d])
    assert np.all(var >= 1e-12) and np.all(var <= s * (1 + 1e-12))


@given(problems(max_n=20), st.integers(1, 4))
def test_posterior_gradient_equals_finite_differences(p, m):
    """dmean/dz and dvar/dz match central differences on continuous dims and are
    zero on categorical dims."""
    L, alpha = hk.factorize(p.X, p.y, p.cat, p.theta)
    Z = p.points(m)
    _, var, dmean, dvar = hk.posterior_grad(p.X, L, alpha, p.cat, p.theta, Z)
    assert np.all(dmean[:, p.cat == 1.0] == 0.0) and np.all(dvar[:, p.cat == 1.0] == 0.0)
    cont = p.cat == 0.0
    for i in range(m):
        if var[i] < 1e-8:  # FD of a variance near its clip is meaningless
            continue

        def at(z):
            return np.array(hk.posterior(p.X, L, alpha, p.cat, p.theta, z[None]))[:, 0]

        fd = naive.central_difference(at, Z[i], h=1e-6)
        _fd_check(dmean[i, cont], fd[0, cont], rtol=1e-5)
        _fd_check(dvar[i, cont], fd[1, cont], rtol=1e-5)


def test_noise_free_posterior_interpolates():
    rng = np.random.default_rng(1)
    X = rng.random((20, 2))
    y = np.sin(6 * X[:, 0]) + X[:, 1]
    theta = np.array([math.log(0.3), math.log(0.3), 0.0, hk.theta_bounds(2)[-1, 0]])  # noise 1e-6
    L, alpha = hk.factorize(X, y, np.zeros(2), theta)
    mean, var, _, _ = hk.posterior_grad(X, L, alpha, np.zeros(2), theta, X)
    np.testing.assert_allclose(mean, y, atol=1e-4)
    assert np.all(var < 1e-5)


def test_posterior_without_data_is_the_prior():
    d = 2
    theta = np.array([0.0, 0.0, math.log(2.0), -5.0])
    Z = np.random.default_rng(0).random((4, d))
    mean, var, dmean, dvar = hk.posterior_grad(
        np.zeros((0, d)), np.zeros((0, 0)), np.zeros(0), np.zeros(d), theta, Z
    )
    np.testing.assert_allclose(mean, 0.0)
    np.testing.assert_allclose(var, 2.0)
    assert np.all(dmean == 0.0) and np.all(dvar == 0.0)


# --------------------------------------------------------------------------- fit


def _sine_problem(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 2))
    y = np.sin(6 * X[:, 0])  # x1 is irrelevant
    return X, (y - y.mean()) / y.std(), np.zeros(2)


def test_fit_gp_decreases_the_objective_from_every_start():
    X, y, cat = _sine_problem()
    theta0 = np.array([0.0, 0.0, 0.0, math.log(0.1)])
    for start in (theta0, hk.default_theta(2)):
        theta = hk.fit_gp(X, y, cat, theta0=start, n_restarts=0)
        assert hk.neg_log_posterior(theta, X, y, cat) < hk.neg_log_posterior(start, X, y, cat) - 1.0
    b = hk.theta_bounds(2)
    assert np.all((b[:, 0] <= theta) & (theta <= b[:, 1]))


def test_fit_gp_finds_the_irrelevant_dimension():
    X, y, cat = _sine_problem()
    theta = hk.fit_gp(X, y, cat)
    l0, l1 = np.exp(theta[:2])
    assert l1 > 3 * l0
    assert l0 < 1.0
    # the fit also explains the data: the noise is small for a noise-free sine
    assert math.exp(theta[3]) < 1e-2


def test_fit_gp_with_restarts_is_no_worse_and_deterministic():
    X, y, cat = _sine_problem(n=30, seed=3)
    a = hk.fit_gp(X, y, cat, n_restarts=3, seed=7)
    b = hk.fit_gp(X, y, cat, n_restarts=3, seed=7)
    np.testing.assert_array_equal(a, b)
    single = hk.fit_gp(X, y, cat, n_restarts=0)
    assert hk.neg_log_posterior(a, X, y, cat) <= hk.neg_log_posterior(single, X, y, cat) + 1e-9


def test_a_settled_warm_start_skips_the_restarts_and_a_moved_one_runs_them():
    X, y, cat = _sine_problem(n=30, seed=3)
    optimum = hk.fit_gp(X, y, cat, n_restarts=3, seed=7)
    # Started at its own optimum, the local search stays: the restarts are skipped, so
    # the result is exactly the warm start's alone.
    warm_only = hk.fit_gp(X, y, cat, theta0=optimum, n_restarts=0)
    skipped = hk.fit_gp(X, y, cat, theta0=optimum, n_restarts=3, seed=7, settled=0.5)
    np.testing.assert_array_equal(skipped, warm_only)
    # Started far away, it moves more than `settled`: the restarts run, as without it.
    far = hk.default_theta(2) + 3.0
    moved = hk.fit_gp(X, y, cat, theta0=far, n_restarts=3, seed=7, settled=0.5)
    always = hk.fit_gp(X, y, cat, theta0=far, n_restarts=3, seed=7)
    np.testing.assert_array_equal(moved, always)
    # Without theta0 there is nothing to be settled at: the restarts always run.
    np.testing.assert_array_equal(hk.fit_gp(X, y, cat, n_restarts=3, seed=7, settled=0.5),
                                  optimum)


# --------------------------------------------------------------------------- python semantics


_DISABLE_JIT_SCRIPT = textwrap.dedent(
    """
    import json, math, sys
    import numpy as np
    import hpcore.kernels as hk
    rng = np.random.default_rng(5)
    X = rng.random((12, 3)); X[:, 2] = rng.integers(0, 3, 12); X[5] = X[0]
    cat = np.array([0.0, 0.0, 1.0]); y = rng.standard_normal(12)
    theta = np.array([-0.5, 0.3, 0.0, 0.2, math.log(1e-3)])
    Z = rng.random((4, 3)); Z[:, 2] = rng.integers(0, 3, 4)
    value, grad = hk.neg_log_posterior_and_grad(theta, X, y, cat)
    L, alpha = hk.factorize(X, y, cat, theta)
    out = dict(
        K=hk.matern52(Z, X, cat, theta), G=hk.matern52_grad_x(Z, X, cat, theta),
        value=value, grad=grad, post=np.array(hk.posterior_grad(X, L, alpha, cat, theta, Z)[:2]),
        dpost=np.array(hk.posterior_grad(X, L, alpha, cat, theta, Z)[2:]),
    )
    json.dump({k: np.asarray(v).tolist() for k, v in out.items()}, sys.stdout)
    """
)


def _run_script(disable_jit: bool) -> dict:
    env = dict(os.environ, NUMBA_DISABLE_JIT="1" if disable_jit else "0")
    out = subprocess.run(
        [sys.executable, "-c", _DISABLE_JIT_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return {k: np.asarray(v) for k, v in json.loads(out.stdout).items()}


def test_kernels_without_jit_agree_with_jitted():
    """NUMBA_DISABLE_JIT=1 runs the kernels as Python: same results (cheap coverage
    of their Python semantics, and a check that nothing relies on numba-only behaviour)."""
    plain = _run_script(disable_jit=True)
    jitted = _run_script(disable_jit=False)
    assert plain.keys() == jitted.keys()
    for key in plain:
        np.testing.assert_allclose(plain[key], jitted[key], rtol=1e-9, atol=1e-12, err_msg=key)
