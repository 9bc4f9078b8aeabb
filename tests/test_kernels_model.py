"""The GP model object and the acquisition interface of hpcore.kernels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpcore import kernels
from hpcore.kernels import GPModel, PosteriorAcquisition, maximize, standardize


def _data(n: int, d: int, seed: int = 0, categorical: bool = False):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    cat = np.zeros(d)
    if categorical:
        X[:, -1] = rng.integers(0, 3, n)
        cat[-1] = 1.0
    y = np.sin(6 * X[:, 0]) + X[:, 1 % d] ** 2 + 0.05 * rng.standard_normal(n)
    return X, (y - y.mean()) / y.std(), cat


def _dense_posterior(model: GPModel, Z: np.ndarray):
    """The textbook GP posterior with numpy's dense solves."""
    noise = np.exp(model.theta[-1])
    K = kernels.matern52(model.X, model.X, model.cat, model.theta) + noise * np.eye(len(model.X))
    Ks = kernels.matern52(Z, model.X, model.cat, model.theta)
    mean = Ks @ np.linalg.solve(K, model.y)
    prior = np.exp(model.theta[-2])
    var = prior - np.einsum("ij,ji->i", Ks, np.linalg.solve(K, Ks.T))
    return mean, var


@pytest.mark.parametrize("categorical", [False, True])
def test_the_posterior_is_the_dense_gp(categorical):
    X, y, cat = _data(40, 3, categorical=categorical)
    model = GPModel.fit(X, y, cat, seed=1)
    Z = _data(15, 3, seed=9, categorical=categorical)[0]
    mean, var = model.posterior(Z)
    want_mean, want_var = _dense_posterior(model, Z)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(var, np.maximum(want_var, var.min()), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(model.mean(Z), mean, rtol=1e-10, atol=1e-12)


def test_update_equals_a_factorisation_from_scratch():
    X, y, cat = _data(60, 4)
    first = GPModel.fit(X[:45], y[:45], cat, seed=0)
    grown = first.update(X, y)
    scratch = GPModel.from_theta(X, y, cat, first.theta)
    assert first.X.shape == (45, 4) and grown.X.shape == (60, 4)  # a model never changes
    np.testing.assert_allclose(grown.L, scratch.L, rtol=1e-8, atol=1e-10)
    Z = _data(10, 4, seed=3)[0]
    np.testing.assert_allclose(grown.posterior(Z)[0], scratch.posterior(Z)[0], rtol=1e-7,
                               atol=1e-9)


def test_a_fantasy_collapses_the_variance_at_the_pending_point():
    X, y, cat = _data(30, 2)
    model = GPModel.fit(X, y, cat, seed=0)
    P = np.array([[0.31, 0.62]])
    before_mean, before_var = model.posterior(P)
    believed = model.fantasize(P)
    mean, var = believed.posterior(P)
    assert var[0] < 1e-3 * before_var[0]
    np.testing.assert_allclose(mean, before_mean, rtol=1e-4, atol=1e-5)  # the believed value
    liar = model.fantasize(P, values=np.array([3.0]))
    assert liar.posterior(P)[0][0] == pytest.approx(3.0, abs=1e-3)
    assert len(model.y) == 30 and len(liar.y) == 31


def test_the_centred_model_is_ordinary_kriging():
    """offset + posterior mean is the GP with a GLS-estimated constant mean."""
    X, y, cat = _data(35, 3, seed=4)
    y = y + 0.8 * y**2  # skewed: the GLS constant is not the average
    model = GPModel.fit(X, y, cat, seed=0)
    centred = model.centred()
    noise = np.exp(model.theta[-1])
    K = kernels.matern52(X, X, cat, model.theta) + noise * np.eye(len(X))
    ones = np.ones(len(X))
    m = ones @ np.linalg.solve(K, y) / (ones @ np.linalg.solve(K, ones))
    assert centred.offset == pytest.approx(m, rel=1e-8)
    assert abs(m - y.mean()) > 1e-3  # the test can tell the two means apart
    np.testing.assert_allclose(centred.y, y - m, rtol=1e-12, atol=1e-12)
    Z = np.vstack([_data(10, 3, seed=8)[0], np.full((1, 3), 40.0)])  # the last far away
    mean, var = centred.posterior(Z)
    Ks = kernels.matern52(Z, X, cat, model.theta)
    np.testing.assert_allclose(mean + centred.offset, m + Ks @ np.linalg.solve(K, y - m),
                               rtol=1e-7, atol=1e-9)
    assert mean[-1] + centred.offset == pytest.approx(m, abs=1e-9)  # reverts to m, not 0
    np.testing.assert_allclose(var, model.posterior(Z)[1], rtol=1e-12)  # variance unchanged
    P = np.array([[0.2, 0.4, 0.6]])
    assert centred.fantasize(P).offset == centred.offset
    assert centred.nearest(P[0], 10).offset == centred.offset
    assert centred.update(X, y).offset == 0.0  # fresh values, taken as they are


@settings(max_examples=25, deadline=None)
@given(shift=st.floats(-1e3, 1e3), seed=st.integers(0, 1000))
def test_centring_removes_any_constant_shift(shift, seed):
    X, y, cat = _data(12, 2, seed=seed)
    model = GPModel.from_theta(X, y, cat, np.array([-1.0, -0.5, 0.0, -6.0]))
    a, b = model.centred(), model.update(X, y + shift).centred()
    assert b.offset - a.offset == pytest.approx(shift, abs=1e-6 * (1 + abs(shift)))
    np.testing.assert_allclose(b.y, a.y, atol=1e-6 * (1 + abs(shift)))
    Z = _data(5, 2, seed=seed + 1)[0]
    np.testing.assert_allclose(b.posterior(Z)[0], a.posterior(Z)[0], atol=1e-6 * (1 + abs(shift)))


def test_standardize_is_overflow_safe_and_invertible():
    y = np.array([1e300, -1e300, 5e299, 0.0])
    z, center, scale = standardize(y)
    assert np.all(np.isfinite(z)) and abs(z.mean()) < 1e-12 and z.std() == pytest.approx(1.0)
    np.testing.assert_allclose(z * scale + center, y, rtol=1e-12, atol=1e-12 * 1e300)  # rounding of the range
    assert standardize(np.full(5, 2.5)) is None


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([kernels.EI, kernels.LOG_EI, kernels.UCB]))
def test_the_acquisition_gradient_matches_finite_differences(seed, code):
    X, y, cat = _data(25, 3, seed=seed % 50)
    model = GPModel.from_theta(X, y, cat, kernels.default_theta(3))
    acqf = PosteriorAcquisition(model, code, best=float(y.min()), beta=2.0)
    z = np.random.default_rng(seed).uniform(0.1, 0.9, (1, 3))
    value, grad = acqf.values_and_grad(z)
    assert value[0] == pytest.approx(acqf.values(z)[0], rel=1e-10, abs=1e-12)
    h = 1e-6
    for j in range(3):
        up, down = z.copy(), z.copy()
        up[0, j] += h
        down[0, j] -= h
        fd = (acqf.values(up)[0] - acqf.values(down)[0]) / (2 * h)
        assert grad[0, j] == pytest.approx(fd, rel=1e-3, abs=1e-6)


class Bowl:
    """An acquisition that is no GP at all: the maximiser takes any such object."""

    def __init__(self, centre):
        self.centre = np.asarray(centre, dtype=np.float64)

    def values(self, Z):
        return -np.sum((Z - self.centre) ** 2, axis=1)

    def values_and_grad(self, Z):
        return self.values(Z), -2.0 * (Z - self.centre)


def test_the_maximiser_takes_any_acquisition_object():
    levels = np.full((3, 4), np.nan)
    levels[2, :4] = [0.0, 1.0, 2.0, 3.0]  # a categorical with 4 levels
    n_levels = np.array([0, 0, 4])
    cat = np.array([0.0, 0.0, 1.0])
    rng = np.random.default_rng(0)
    candidates = np.column_stack([rng.random((64, 2)), rng.integers(0, 4, 64)]).astype(float)
    z, value = maximize(Bowl([0.3, 0.8, 2.0]), candidates, levels, n_levels, cat, n_restarts=3)
    np.testing.assert_allclose(z, [0.3, 0.8, 2.0], atol=1e-4)
    assert value == pytest.approx(0.0, abs=1e-7)
    # The old array API is the same maximiser over a PosteriorAcquisition.
    X, y, cat2 = _data(20, 2)
    model = GPModel.fit(X, y, cat2, seed=0)
    acqf = PosteriorAcquisition(model, kernels.LOG_EI, float(y.min()))
    c = rng.random((128, 2))
    none = np.full((2, 1), np.nan), np.zeros(2, dtype=np.int64)
    a = maximize(acqf, c, *none, cat2, n_restarts=2)
    b = kernels.maximize_acquisition(model.X, model.L, model.alpha, cat2, model.theta,
                                     kernels.LOG_EI, float(y.min()), 2.0, c, *none, n_restarts=2)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]


def test_the_public_kernels_convert_their_inputs_and_name_a_wrong_argument():
    mean, var = [0.1, -0.2, 0.3], np.array([1, 2, 3])  # a list and an int array
    got = kernels.acquisition(kernels.EI, mean, var, 0.0, 2.0)
    want = kernels.acquisition(kernels.EI, np.array(mean), var.astype(float), 0.0, 2.0)
    np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="`var` must have length 3"):
        kernels.acquisition(kernels.EI, mean, [1.0, 2.0], 0.0, 2.0)
    with pytest.raises(ValueError, match="`mean` must be a 1-D array"):
        kernels.acquisition_grad(kernels.EI, [[0.1]], [1.0], 0.0, 2.0)
    Z = np.asfortranarray([[0.4, 1.7], [0.9, 0.2]])  # not C-contiguous
    levels = np.array([[np.nan, np.nan], [0.0, 2.0]])
    np.testing.assert_array_equal(kernels.snap(Z, levels, [0, 2]), [[0.4, 2.0], [0.9, 0.0]])
    with pytest.raises(ValueError, match="`n_levels`"):
        kernels.snap(Z, levels, [0, 5])
    assert kernels.erfcx(0.0) == pytest.approx(1.0)
    np.testing.assert_allclose(kernels.erfcx([[0.0, 30.0]]), [[1.0, 1 / (30 * np.sqrt(np.pi))]],
                               rtol=1e-3)
    np.testing.assert_allclose(kernels.yeo_johnson([1, 2], 1.0), [1.0, 2.0])
