"""The kernel layer at large n (814f706, 53b5ef6) against numpy and brute-force references.

The subset a hyperparameter fit sees (``fit_subset``), BLAS/LAPACK on the
leading block of a larger buffer (``_lapack``), a Cholesky factor that grows
in place in such a buffer (``_extend_factor``, ``GPModel.update`` and
``fantasize``), the cheap variance bound and the bounded scoring built on it
(``_nearest_variance``, ``PosteriorAcquisition.bounded``, ``_score``), local
searches on the nearest observations (``localized``), and ``blas_threads``
across threads. The large-n code paths start at fixed sizes (``ROOM_FROM``
and ``BOUND_FROM``, 512; ``LOCAL_FROM``, 1,024), so the problems are just
past them, in d = 2 or 3, with fixed hyperparameters: each test takes at
most a few seconds.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpcore import kernels
from hpcore.kernels import GPModel, PosteriorAcquisition, _lapack, fit_subset, maximize
from hpcore.kernels._threads import blas_threads
from hpcore.kernels.gp import _factor_buffered, factorize, fit_gp
from hpcore.kernels.linalg import (
    ROOM_FROM,
    _as_factor,
    _extend_factor,
    _solve_rows_inplace,
)
from hpcore.kernels.model import _BLOCK, BOUND_FROM, LOCAL_FROM, LOCAL_SIZE
from hpcore.kernels.optimize import _score
from hpcore.kernels.predict import _nearest_variance

# --------------------------------------------------------------------------- helpers


def _data(n: int, d: int, seed: int = 0, categorical: bool = False):
    """Points in [0, 1]^d (the last dim a 3-level categorical when asked) and a standardised y."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    cat = np.zeros(d)
    if categorical:
        X[:, -1] = rng.integers(0, 3, n)
        cat[-1] = 1.0
    y = np.sin(6 * X[:, 0]) + X[:, 1 % d] ** 2 + 0.05 * rng.standard_normal(n)
    return X, (y - y.mean()) / (y.std() or 1.0), cat


def _theta(d: int, length: float = 0.3, signal: float = 1.0, noise: float = 1e-3) -> np.ndarray:
    return np.log(np.concatenate([np.full(d, length), [signal, noise]]))


def _gram(X, cat, theta, diagonal=None) -> np.ndarray:
    """``k(X, X)`` plus the noise (or the given per-row ``diagonal``) on the diagonal."""
    K = kernels.matern52(X, X, cat, theta)
    noise = np.exp(theta[-1]) if diagonal is None else np.asarray(diagonal, dtype=float)
    return K + np.diag(np.broadcast_to(noise, len(X)))


def _dense_posterior(X, y, cat, theta, Z, diagonal=None):
    """The textbook GP posterior with numpy's dense solves (per-row noise ``diagonal``)."""
    K = _gram(X, cat, theta, diagonal)
    Ks = kernels.matern52(Z, X, cat, theta)
    mean = Ks @ np.linalg.solve(K, y)
    var = np.exp(theta[-2]) - np.einsum("ij,ji->i", Ks, np.linalg.solve(K, Ks.T))
    return mean, var


def _spd(n: int, seed: int) -> np.ndarray:
    """A well-conditioned symmetric positive definite matrix."""
    B = np.random.default_rng(seed).standard_normal((n, n))
    return B @ B.T / n + np.eye(n)


def _leading_block(A: np.ndarray, side: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A C-contiguous (side, side) buffer of finite garbage whose leading block's lower
    triangle is ``A``'s, and that block (a non-contiguous view)."""
    n = A.shape[0]
    buffer = 1e3 * np.random.default_rng(seed).standard_normal((side, side))
    block = buffer[:n, :n]
    lower = np.tril_indices(n)
    block[lower] = A[lower]
    return buffer, block


def _assert_factor_of(L: np.ndarray, A: np.ndarray, rtol: float = 1e-9) -> None:
    """``L`` is numpy's Cholesky factor of ``A``, zero above its diagonal."""
    assert np.count_nonzero(np.triu(L, 1)) == 0
    np.testing.assert_allclose(L, np.linalg.cholesky(A), rtol=rtol, atol=1e-12)


# --------------------------------------------------------------------------- fit_subset


def _reference_subset(X, y, cat, m) -> np.ndarray:
    """fit_subset's rule, brute force: all pairwise distances, then a plain greedy loop."""
    n = len(y)
    if n <= m:
        return np.arange(n)
    taken = list(np.argsort(y, kind="stable")[: m // 4])
    taken += [i for i in range(n - 1, -1, -1) if i not in taken][: m // 4]
    diff = X[:, None, :] - X[None, :, :]
    diff = np.where(cat > 0, (diff != 0).astype(float), diff)
    D = (diff**2).sum(axis=-1)
    while len(taken) < m:
        nearest = D[:, taken].min(axis=1)
        nearest[taken] = -1.0
        taken.append(int(np.flatnonzero(nearest == nearest.max())[0]))  # ties: lower index
    return np.sort(np.array(taken))


def test_fit_subset_keeps_everything_up_to_m_and_refuses_m_below_4():
    X, y, cat = _data(30, 2)
    np.testing.assert_array_equal(fit_subset(X, y, cat, 30), np.arange(30))
    np.testing.assert_array_equal(fit_subset(X, y, cat, 500), np.arange(30))
    assert fit_subset(X, y, cat, 500).dtype == np.int64
    for m in (-1, 0, 3):
        with pytest.raises(ValueError, match="at least 4"):
            fit_subset(X, y, cat, m)
    with pytest.raises(ValueError, match="at least 4"):
        fit_subset(X[:2], y[:2], cat, 3)  # even when everything would be kept


@settings(max_examples=50, deadline=None)
@given(st.integers(5, 120), st.integers(1, 4), st.booleans(), st.booleans(),
       st.integers(0, 2**32 - 1), st.data())
def test_fit_subset_takes_the_best_the_recent_and_spreads_the_rest(n, d, categorical, ties,
                                                                   seed, data):
    m = data.draw(st.integers(4, n - 1), label="m")
    X, y, cat = _data(n, d, seed=seed, categorical=categorical and d > 1)
    if ties:  # equal values: the earlier observation counts as the lower one
        y = np.round(y)
    got = fit_subset(X, y, cat, m)
    assert got.dtype == np.int64 and len(got) == m
    assert np.all(np.diff(got) > 0) and got[0] >= 0 and got[-1] < n
    best = np.argsort(y, kind="stable")[: m // 4]
    assert set(best) <= set(got)
    recent = [i for i in range(n - 1, -1, -1) if i not in set(best)][: m // 4]
    assert set(recent) <= set(got)
    np.testing.assert_array_equal(got, _reference_subset(X, y, cat, m))
    np.testing.assert_array_equal(fit_subset(X.copy(), y.copy(), cat, m), got)  # deterministic


def test_fit_subset_reaches_far_outliers_that_are_neither_best_nor_recent():
    rng = np.random.default_rng(5)
    n, m = 200, 40
    X = 0.5 + 0.01 * rng.standard_normal((n, 2))  # a tight cluster ...
    y = rng.standard_normal(n)
    outliers = np.array([20, 60, 100, 140])  # ... and four far points in its middle
    X[outliers] = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    y[outliers] = 10.0  # the worst values
    got = fit_subset(X, y, np.zeros(2), m)
    assert set(outliers) <= set(got)
    # Without them among the first picks, a cluster point would have been taken instead.
    assert not set(outliers) & set(np.argsort(y, kind="stable")[: m // 4])
    assert not set(outliers) & set(range(n - m // 4 - m // 4, n))


# --------------------------------------------------------------------------- _lapack


@pytest.mark.parametrize("layout", ["block", "plain"])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("k", [1, 2, 3, 20])
def test_trsm_rows_solves_with_a_leading_block_or_a_plain_factor(layout, transpose, k):
    n = 30
    L = np.linalg.cholesky(_spd(n, seed=k))
    if layout == "block":
        _, factor = _leading_block(L, side=47, seed=1)  # garbage above the diagonal
        assert not factor.flags.c_contiguous
    else:
        factor = L.copy()
        factor[np.triu_indices(n, 1)] = 7.0  # the strict upper triangle is never read
    Rt = np.random.default_rng(k).standard_normal((k, n))
    want = np.linalg.solve(L.T if transpose else L, Rt.T).T
    got = Rt.copy()
    _lapack.trsm_rows(factor, got, transpose)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # The private solve takes the same block (the model's posterior goes through it).
    again = Rt.copy()
    _solve_rows_inplace(factor, again, transpose)
    np.testing.assert_allclose(again, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("layout", ["block", "plain"])
def test_potrf_lower_factors_the_leading_block_in_place(layout):
    n = 25
    A = _spd(n, seed=3)
    if layout == "block":
        buffer, _ = _leading_block(A, side=40, seed=2)
    else:
        buffer = A.copy()
        buffer[np.triu_indices(n, 1)] = -3.0  # only the lower triangle is read
    outside = buffer.copy()
    assert _lapack.potrf_lower(buffer, n)
    np.testing.assert_allclose(np.tril(buffer[:n, :n]), np.linalg.cholesky(A), rtol=1e-10,
                               atol=1e-12)
    untouched = np.ones_like(buffer, dtype=bool)
    untouched[np.tril_indices(n)] = False  # only the block's lower triangle was written
    np.testing.assert_array_equal(buffer[untouched], outside[untouched])


def test_potrf_lower_reports_an_indefinite_block_and_nan():
    n = 12
    indefinite = _spd(n, seed=4)
    indefinite[7, 7] = -1.0
    buffer, _ = _leading_block(indefinite, side=20, seed=0)
    assert _lapack.potrf_lower(buffer, n) is False
    with_nan = _spd(n, seed=5)
    with_nan[9, 2] = np.nan
    buffer, _ = _leading_block(with_nan, side=20, seed=0)
    assert _lapack.potrf_lower(buffer, n) is False
    # A garbage row below the block does not matter: the block alone is factorised.
    buffer, _ = _leading_block(_spd(n, seed=6), side=20, seed=0)
    buffer[n:, :] = np.nan
    assert _lapack.potrf_lower(buffer, n) is True


def test_lapack_refuses_what_is_not_a_leading_block():
    buffer = np.zeros((40, 40))
    buffer[np.diag_indices(40)] = 2.0
    Rt = np.ones((3, 20))
    fortran = np.asfortranarray(buffer)
    for view in (buffer[1:21, 1:21], buffer[::2, ::2][:20, :20], fortran[:20, :20]):
        with pytest.raises(ValueError, match="leading block"):
            _lapack.trsm_rows(view, Rt.copy(), False)
    with pytest.raises(ValueError, match="`Rt`"):
        _lapack.trsm_rows(buffer[:20, :20], np.ones((20, 3)).T, False)  # not C-contiguous
    with pytest.raises(ValueError, match="`buffer`"):
        _lapack.potrf_lower(buffer[:30, :20], 10)
    with pytest.raises(ValueError, match="`buffer`"):
        _lapack.potrf_lower(np.asfortranarray(buffer), 10)
    # _as_factor keeps a leading block as it is and copies anything else.
    block = buffer[:20, :20]
    assert _as_factor(block) is block
    other = buffer[1:21, 1:21]
    copy = _as_factor(other, 20)
    assert copy is not other and copy.flags.c_contiguous
    np.testing.assert_array_equal(copy, other)
    with pytest.raises(ValueError, match=r"\(19, 19\)"):
        _as_factor(block, 19)
    singular = buffer.copy()
    singular[4, 4] = 0.0
    with pytest.raises(np.linalg.LinAlgError, match="index 4"):
        _solve_rows_inplace(singular[:20, :20], Rt.copy(), False)


# --------------------------------------------------------------------------- _extend_factor


def _gp_gram(n: int, d: int = 2, seed: int = 0):
    X, _, cat = _data(n, d, seed=seed)
    theta = _theta(d, length=0.2, noise=1e-2)
    return X, cat, theta, _gram(X, cat, theta)


def test_factor_grown_row_by_row_in_its_buffer_is_numpys_cholesky():
    """From a plain factor below ROOM_FROM rows, across it, and past the first buffer's room."""
    start, stop = ROOM_FROM - 30, ROOM_FROM + 120
    X, cat, theta, K = _gp_gram(stop)
    L, used = _factor_buffered(X[:start], cat, theta)
    assert L.flags.c_contiguous and used == [-1]  # below ROOM_FROM: a plain array
    factors, buffers = [L], []
    for n in range(start, stop):
        L, used = _extend_factor(L, used, K[:n, n : n + 1], K[n : n + 1, n : n + 1])
        assert L.shape == (n + 1, n + 1)
        assert np.count_nonzero(np.triu(L, 1)) == 0
        if n + 1 >= ROOM_FROM:  # the leading block of a buffer
            assert used[0] == n + 1 and L.base is not None and L.base.shape[0] >= n + 1
            if not buffers or L.base is not buffers[-1]:
                buffers.append(L.base)
        factors.append(L)
    _assert_factor_of(L, K)
    # In place: a first buffer, then a new one each time the spare rows run out.
    assert 2 <= len(buffers) <= 4
    assert all(b.shape[0] >= ROOM_FROM + 64 for b in buffers)
    # Every earlier factor (a leading block of a buffer written on since) is still right.
    for F in factors[::15] + factors[-3:-1]:
        n = F.shape[0]
        _assert_factor_of(F, K[:n, :n])


def test_sibling_extensions_of_one_factor_do_not_overwrite_each_other():
    n = ROOM_FROM + 10
    X, cat, theta, K = _gp_gram(n + 5, seed=1)
    parent, used = _factor_buffered(X[:n], cat, theta)
    assert used == [n] and not parent.flags.c_contiguous
    before = parent.copy()
    # Two children of one parent, bordered on X[:n]: row n alone, and rows n+1..n+3.
    a_rows, b_rows = [n], [n + 1, n + 2, n + 3]
    first, first_used = _extend_factor(parent, used, K[:n, a_rows], K[np.ix_(a_rows, a_rows)])
    second, second_used = _extend_factor(parent, used, K[:n, b_rows],
                                         K[np.ix_(b_rows, b_rows)])
    c_rows = [n + 4]  # and a grandchild through the first child
    third, _ = _extend_factor(first, first_used, K[: n + 1, c_rows], K[np.ix_(c_rows, c_rows)])
    rows_a = list(range(n)) + a_rows
    rows_b = list(range(n)) + b_rows
    rows_c = rows_a + c_rows
    _assert_factor_of(first, K[np.ix_(rows_a, rows_a)])
    _assert_factor_of(second, K[np.ix_(rows_b, rows_b)])
    _assert_factor_of(third, K[np.ix_(rows_c, rows_c)])
    np.testing.assert_array_equal(parent, before)
    # The first child and the grandchild grew in place; the second child could not.
    assert first.base is parent.base and third.base is parent.base
    assert second.base is not parent.base and second_used is not used


def test_extension_of_a_plain_factor_and_a_singular_extension():
    n = ROOM_FROM
    X, cat, theta, K = _gp_gram(n + 5, seed=2)
    L = np.linalg.cholesky(K[:n, :n])  # C-contiguous: copied into a fresh buffer
    grown, used = _extend_factor(L, [-1], K[:n, n:], K[n:, n:])
    _assert_factor_of(grown, K)
    assert used == [n + 5] and not grown.flags.c_contiguous
    assert grown.base.shape[0] >= n + 5 + 64
    # A duplicate of row 0 without noise: the Schur complement is not positive, the new row NaN.
    bad, _ = _extend_factor(grown, used, K[: n + 5, [0]], K[[0]][:, [0]] - np.exp(theta[-1]))
    assert np.isnan(bad[n + 5 :, n + 5 :]).all()
    _assert_factor_of(grown, K)  # the parent's block is intact
    # Below ROOM_FROM the extension is a plain array, as before.
    small, small_used = _extend_factor(L[:20, :20].copy(), [-1], K[:20, 20:22], K[20:22, 20:22])
    assert small.flags.c_contiguous and small_used == [-1]
    _assert_factor_of(small, K[:22, :22])


# --------------------------------------------------------------------------- GPModel growth


def test_a_buffered_factor_equals_factorize_including_its_jitter():
    n = ROOM_FROM + 8
    X, y, cat = _data(n, 3, seed=4, categorical=True)
    X[100:300] = X[:200]  # duplicated rows and no noise to speak of: a jitter is needed
    theta = _theta(3, length=1.0, noise=1e-16)
    K = _gram(X, cat, theta)
    assert not _lapack.potrf_lower(K.copy(), n)
    want, _ = factorize(X, y, cat, theta)
    got, used = _factor_buffered(X, cat, theta)
    assert used == [n] and not got.flags.c_contiguous and got.base.shape[0] >= n + 64
    assert np.count_nonzero(np.triu(got, 1)) == 0
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # The first rung of the ladder that works: 1e-10 times the diagonal.
    jitter = 1e-10 * (np.exp(theta[-2]) + np.exp(theta[-1]))
    np.testing.assert_allclose(got @ got.T, K + jitter * np.eye(n), rtol=0, atol=1e-12)


def test_a_model_grown_row_by_row_equals_one_factorised_from_scratch():
    start, stop = ROOM_FROM - 20, ROOM_FROM + 80
    X, y, cat = _data(stop, 3, seed=2, categorical=True)
    theta = _theta(3)
    Z = _data(25, 3, seed=7, categorical=True)[0]
    model = GPModel.from_theta(X[:start], y[:start], cat, theta)
    for n in range(start + 1, stop + 1):
        model = model.update(X[:n], y[:n])
    assert not model.L.flags.c_contiguous  # it grew in a buffer
    scratch = GPModel.from_theta(X, y, cat, theta)
    mean, var = model.posterior(Z)
    np.testing.assert_allclose(mean, scratch.posterior(Z)[0], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(var, scratch.posterior(Z)[1], rtol=1e-8, atol=1e-10)
    want_mean, want_var = _dense_posterior(X, y, cat, theta, Z)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(var, want_var, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(model.alpha, np.linalg.solve(_gram(X, cat, theta), y),
                               rtol=1e-6, atol=1e-8)


def test_fantasies_then_an_update_of_the_parent_are_all_right():
    """The strategy's pattern: believe pending points, then add a real result to the parent."""
    n = ROOM_FROM + 4
    X, y, cat = _data(n + 3, 2, seed=3)
    theta = _theta(2)
    Z = _data(20, 2, seed=8)[0]
    parent = GPModel.from_theta(X[:n], y[:n], cat, theta)
    assert not parent.L.flags.c_contiguous
    before = parent.posterior(Z)
    P1, P2 = np.array([[0.2, 0.7], [0.9, 0.1]]), np.array([[0.5, 0.5]])
    believed1 = parent.fantasize(P1)  # in place in the parent's buffer
    grown = parent.update(X, y)  # must not overwrite believed1's rows
    believed2 = parent.fantasize(P2)
    deeper = believed1.fantasize(P2)  # in place again, after believed1's rows
    assert believed1.L.base is parent.L.base and deeper.L.base is parent.L.base
    noise = np.exp(theta[-1])
    for model, rows, pending in [(believed1, n, P1), (grown, n + 3, P2[:0]),
                                 (believed2, n, P2), (deeper, n, np.vstack([P1, P2]))]:
        Xm = np.vstack([X[:rows], pending])
        assert np.array_equal(model.X, Xm)
        diagonal = np.r_[np.full(rows, noise), np.full(len(pending), 1e-6)]
        want_mean, want_var = _dense_posterior(Xm, model.y, cat, theta, Z, diagonal)
        mean, var = model.posterior(Z)
        np.testing.assert_allclose(mean, want_mean, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(var, want_var, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(parent.posterior(Z), before)
    assert len(parent.y) == n


def test_from_theta_with_and_without_room():
    n = ROOM_FROM + 8
    X, y, cat = _data(n, 2, seed=6)
    theta = _theta(2)
    plain = GPModel.from_theta(X, y, cat, theta, room=False)
    roomy = GPModel.from_theta(X, y, cat, theta)
    assert plain.L.flags.c_contiguous and plain.L.shape == (n, n)
    assert not roomy.L.flags.c_contiguous and roomy.L.base.shape[0] >= n + 64
    np.testing.assert_allclose(plain.L, roomy.L, rtol=1e-12, atol=1e-14)
    Z = _data(10, 2, seed=9)[0]
    np.testing.assert_allclose(plain.posterior(Z), roomy.posterior(Z), rtol=1e-10, atol=1e-12)
    grown = plain.update(np.vstack([X, [[0.3, 0.3]]]), np.r_[y, 0.0])
    assert grown.L.shape == (n + 1, n + 1) and plain.L.shape == (n, n)
    np.testing.assert_allclose(grown.posterior(Z),
                               GPModel.from_theta(grown.X, grown.y, cat, theta).posterior(Z),
                               rtol=1e-8, atol=1e-10)
    small = GPModel.from_theta(X[:50], y[:50], cat, theta)  # below ROOM_FROM: no room
    assert small.L.flags.c_contiguous and small.L.shape == (50, 50)


# --------------------------------------------------------------------------- variance bound


def _reference_bound(X, cat, theta, Ks, q, diagonal):
    """Variance given the q observations most correlated with each point, noise ``diagonal - s``."""
    s = np.exp(theta[-2])
    out = []
    for row in Ks:
        top = np.argsort(-row, kind="stable")[:q]
        A = kernels.matern52(X[top], X[top], cat, theta)
        A[np.diag_indices_from(A)] = diagonal
        out.append(s - row[top] @ np.linalg.solve(A, row[top]))
    return np.array(out)


@st.composite
def bounded_models(draw):
    """A model with fixed hyperparameters (noise >= 1e-6, as fit_gp bounds it), sometimes
    with believed points, and points to bound at (some next to observations)."""
    n = draw(st.integers(2, 60))
    d = draw(st.integers(1, 3))
    categorical = draw(st.booleans()) and d > 1
    seed = draw(st.integers(0, 2**32 - 1))
    X, y, cat = _data(n, d, seed=seed, categorical=categorical)
    rng = np.random.default_rng(seed)
    theta = np.concatenate([rng.uniform(math.log(0.05), math.log(2.0), d),
                            [rng.uniform(-1.0, 1.0), rng.uniform(math.log(1e-6), math.log(0.1))]])
    model = GPModel.from_theta(X, y, cat, theta)
    pending = draw(st.integers(0, 4))
    if pending:
        model = model.fantasize(_data(pending, d, seed=seed + 1, categorical=categorical)[0])
    Z = _data(20, d, seed=seed + 2, categorical=categorical)[0]
    near = model.X[rng.integers(0, len(model.X), 5)].copy()
    near[:, cat == 0] += 1e-3 * rng.standard_normal((5, int((cat == 0).sum())))
    return model, np.vstack([Z, near])


@settings(max_examples=50, deadline=None)
@given(bounded_models(), st.sampled_from([1, 4, 16]))
def test_the_variance_bound_is_above_the_exact_variance(case, q):
    model, Z = case
    mean, bound = model.mean_and_var_bound(Z, q)
    exact_mean, exact_var = model.posterior(Z)
    assert np.all(bound >= exact_var), (bound - exact_var).min()
    np.testing.assert_allclose(mean, exact_mean, rtol=1e-10, atol=1e-12)
    Ks = kernels.matern52(Z, model.X, model.cat, model.theta)
    # Exactly the variance given the q nearest (by correlation), each with the first
    # diagonal entry of the factorised matrix as its variance.
    diagonal = float(model.L[0, 0]) ** 2
    raw = _nearest_variance(model.X, model.cat, model.theta, Ks, q, diagonal)
    np.testing.assert_allclose(raw, _reference_bound(model.X, model.cat, model.theta, Ks,
                                                     min(q, len(model.X)), diagonal),
                               rtol=1e-7, atol=1e-9)


def test_the_bound_in_blocks_is_the_bound_of_all_rows_at_once():
    """mean_and_var_bound reuses one buffer over blocks of rows: the last one partial."""
    X, y, cat = _data(300, 3, seed=13)
    model = GPModel.from_theta(X, y, cat, _theta(3, noise=1e-3))
    rows = _BLOCK // len(X)
    Z = _data(2 * rows + 7, 3, seed=14)[0]
    mean, bound = model.mean_and_var_bound(Z, 4)
    Ks = kernels.matern52(Z, X, cat, model.theta)
    s = math.exp(model.theta[-2])
    diagonal = max(float(model.L[0, 0]) ** 2, s + 1e-6)
    np.testing.assert_array_equal(bound, _nearest_variance(X, cat, model.theta, Ks, 4, diagonal)
                                  + 1e-9 * s)
    np.testing.assert_allclose(mean, model.posterior(Z)[0], rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("categorical", [False, True])
def test_the_bound_with_every_observation_is_the_exact_variance(categorical):
    X, y, cat = _data(40, 3, seed=11, categorical=categorical)
    model = GPModel.from_theta(X, y, cat, _theta(3, noise=1e-2))
    Z = np.vstack([_data(30, 3, seed=12, categorical=categorical)[0], X[:3]])
    for q in (40, 64):
        mean, bound = model.mean_and_var_bound(Z, q)
        exact_mean, exact_var = model.posterior(Z)
        np.testing.assert_allclose(bound, exact_var, rtol=1e-7, atol=1e-8)
        np.testing.assert_allclose(mean, exact_mean, rtol=1e-10, atol=1e-12)
    # With fewer observations it is a bound, not an equality.
    assert np.all(model.mean_and_var_bound(Z, 4)[1] > exact_var + 1e-6)


def test_the_variance_bound_holds_with_believed_points_and_noise_below_1e_6():
    X, y, cat = _data(40, 2, seed=0)
    model = GPModel.from_theta(X, y, cat, _theta(2, noise=1e-8))
    P = _data(5, 2, seed=1)[0]
    believed = model.fantasize(P)
    Z = np.vstack([P + 1e-4, _data(20, 2, seed=2)[0]])
    bound = believed.mean_and_var_bound(Z, 16)[1]
    assert np.all(bound >= believed.posterior(Z)[1])


# --------------------------------------------------------------------------- bounded acquisition


@pytest.fixture(scope="module", params=[BOUND_FROM + 8, 300])
def bound_model(request):
    """A model past BOUND_FROM (d = 2): bounded scoring is on (with 1 and 4 nearest points)."""
    X, y, cat = _data(request.param, 2, seed=21)
    return GPModel.from_theta(X, y, cat, _theta(2, length=0.2, noise=1e-2))


@pytest.mark.parametrize("code", [kernels.EI, kernels.LOG_EI, kernels.UCB])
def test_bounded_bounds_the_values_and_gives_the_exact_ones(bound_model, code):
    acqf = PosteriorAcquisition(bound_model, code, best=float(bound_model.y.min()), beta=2.0)
    Z = np.vstack([_data(300, 2, seed=22)[0], bound_model.X[:20] + 1e-4])
    bounds, exact = acqf.bounded(Z)
    values = acqf.values(Z)
    assert bounds.shape == values.shape == (len(Z),)
    assert np.all(bounds >= values), (bounds - values).min()
    rows = np.array([5, 0, 319, 77, 78, 200])
    np.testing.assert_allclose(exact(rows), values[rows], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(exact(np.arange(len(Z))), values, rtol=1e-9, atol=1e-12)


def test_bounded_is_none_below_bound_from_and_for_pi(bound_model):
    Z = _data(10, 2, seed=23)[0]
    best = float(bound_model.y.min())
    for code in (kernels.PI, kernels.LOG_PI):
        assert PosteriorAcquisition(bound_model, code, best).bounded(Z) is None
    X, y, cat = bound_model.X, bound_model.y, bound_model.cat
    small = GPModel.from_theta(X[: BOUND_FROM - 1], y[: BOUND_FROM - 1], cat, bound_model.theta)
    assert PosteriorAcquisition(small, kernels.EI, best).bounded(Z) is None
    at = small.update(X[:BOUND_FROM], y[:BOUND_FROM])
    assert PosteriorAcquisition(at, kernels.EI, best).bounded(Z) is not None


class ExactOnly:
    """The acquisition without ``bounded`` or ``localized``: scored and polished exactly."""

    def __init__(self, acqf):
        self.acqf = acqf

    def values(self, Z):
        return self.acqf.values(Z)

    def values_and_grad(self, Z):
        return self.acqf.values_and_grad(Z)

    @property
    def length_scales(self):
        return self.acqf.length_scales


@pytest.mark.parametrize("code", [kernels.EI, kernels.LOG_EI, kernels.UCB])
def test_maximize_with_bounds_finds_what_exact_scoring_finds(bound_model, code):
    assert BOUND_FROM <= len(bound_model.X) <= LOCAL_FROM
    acqf = PosteriorAcquisition(bound_model, code, best=float(bound_model.y.min()), beta=2.0)
    candidates = _data(400, 2, seed=24)[0]
    none = np.full((2, 1), np.nan), np.zeros(2, dtype=np.int64)
    z, value = maximize(acqf, candidates, *none, bound_model.cat, n_restarts=3)
    z_ref, value_ref = maximize(ExactOnly(acqf), candidates, *none, bound_model.cat,
                                n_restarts=3)
    np.testing.assert_allclose(z, z_ref, rtol=0, atol=1e-9)
    assert value == pytest.approx(value_ref, rel=1e-9, abs=1e-12)
    assert value == pytest.approx(acqf.values(z[None])[0], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("keep", [1, 5, 40])
def test_score_is_exact_where_it_matters(bound_model, keep):
    acqf = PosteriorAcquisition(bound_model, kernels.EI, best=float(bound_model.y.min()))
    candidates = _data(600, 2, seed=25)[0]
    exact = acqf.values(candidates)
    allowed = np.ones(len(candidates), dtype=bool)
    allowed[::7] = False
    allowed[np.argsort(-exact)[:3]] = False  # the three best are excluded
    got = _score(acqf, candidates, allowed, keep)
    assert np.all(np.isneginf(got[~allowed]))
    want = np.where(allowed, exact, -np.inf)
    top = np.argsort(-want, kind="stable")[:keep]
    assert set(np.argsort(-got, kind="stable")[:keep]) == set(top)
    np.testing.assert_allclose(got[top], want[top], rtol=1e-9, atol=1e-12)
    scored = np.isfinite(got)
    np.testing.assert_allclose(got[scored], exact[scored], rtol=1e-9, atol=1e-12)
    assert scored.sum() < allowed.sum()  # the bounds spared some exact solves
    # Without bounds (an object that has none) every allowed candidate is exact.
    plain = _score(ExactOnly(acqf), candidates, allowed, keep)
    np.testing.assert_allclose(plain[allowed], exact[allowed], rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- localized


@pytest.fixture(scope="module")
def local_models():
    """Models of LOCAL_FROM and LOCAL_FROM + 50 observations (d = 2), the second grown."""
    X, y, cat = _data(LOCAL_FROM + 50, 2, seed=31)
    theta = _theta(2, length=0.15, noise=1e-2)
    small = GPModel.from_theta(X[:LOCAL_FROM], y[:LOCAL_FROM], cat, theta)
    return small, small.update(X, y)


def test_localized_searches_on_the_nearest_observations(local_models):
    small, big = local_models
    best = float(big.y.min())
    starts = _data(4, 2, seed=32)[0]
    assert PosteriorAcquisition(small, kernels.EI, best).localized(starts) is None
    acqf = PosteriorAcquisition(big, kernels.LOG_EI, best, beta=1.5)
    local = acqf.localized(starts)
    assert len(local) == len(starts)
    for z, a in zip(starts, local):
        assert (a.code, a.best, a.beta) == (kernels.LOG_EI, best, 1.5)
        assert a.model.X.shape == (LOCAL_SIZE, 2)
        k = kernels.matern52(z[None], big.X, big.cat, big.theta)[0]
        rows = np.sort(np.argsort(-k)[:LOCAL_SIZE])
        np.testing.assert_array_equal(a.model.X, big.X[rows])
        np.testing.assert_array_equal(a.model.y, big.y[rows])
        np.testing.assert_array_equal(a.model.theta, big.theta)
        want = _dense_posterior(big.X[rows], big.y[rows], big.cat, big.theta, z[None])
        np.testing.assert_allclose(a.model.posterior(z[None]), want, rtol=1e-6, atol=1e-9)


def test_maximize_with_local_searches_returns_an_exact_value(local_models):
    _, big = local_models
    acqf = PosteriorAcquisition(big, kernels.EI, best=float(big.y.min()))
    candidates = _data(300, 2, seed=33)[0]
    none = np.full((2, 1), np.nan), np.zeros(2, dtype=np.int64)
    z, value = maximize(acqf, candidates, *none, big.cat, n_restarts=3, maxiter=30)
    assert np.all((z >= 0) & (z <= 1))
    assert value == pytest.approx(acqf.values(z[None])[0], rel=1e-9, abs=1e-12)
    best_candidate = acqf.values(candidates).max()
    assert value >= best_candidate - 1e-12 * abs(best_candidate)


# --------------------------------------------------------------------------- blas_threads


class _Blas:
    """BLAS thread counts (threadpoolctl.threadpool_info, user_api "blas"), with the
    original set to 2 so that a limit of 1 shows."""

    def __enter__(self):
        threadpoolctl = pytest.importorskip("threadpoolctl")
        self.info = threadpoolctl.threadpool_info
        self.outer = threadpoolctl.threadpool_limits(limits=2, user_api="blas")
        self.original = self.counts()
        if not self.original or max(self.original) < 2:
            self.outer.restore_original_limits()
            pytest.skip("no BLAS here that runs 2 threads")
        self.ones = [1] * len(self.original)
        return self

    def __exit__(self, *exc):
        self.outer.restore_original_limits()

    def counts(self):
        return [i["num_threads"] for i in self.info() if i["user_api"] == "blas"]


class _Block(threading.Thread):
    """A blas_threads block in its own thread, entered and left on command."""

    def __init__(self):
        super().__init__(daemon=True)
        self.inside, self.go, self.left = threading.Event(), threading.Event(), threading.Event()

    def run(self):
        with blas_threads(1):
            self.inside.set()
            self.go.wait(10)
        self.left.set()

    def enter(self):
        self.start()
        assert self.inside.wait(10)

    def leave(self):
        self.go.set()
        assert self.left.wait(10)
        self.join(10)


def test_blas_threads_nested_and_a_block_of_another_thread_inside_one():
    with _Blas() as blas:
        seen = {}
        with blas_threads(1):
            seen["outer"] = blas.counts()
            with blas_threads(1):
                seen["nested"] = blas.counts()
            seen["nested left"] = blas.counts()
            other = _Block()
            other.enter()
            seen["both"] = blas.counts()
            other.leave()
            seen["other left"] = blas.counts()  # this block is still open
        seen["all left"] = blas.counts()
        assert seen == {"outer": blas.ones, "nested": blas.ones, "nested left": blas.ones,
                        "both": blas.ones, "other left": blas.ones,
                        "all left": blas.original}


def test_blas_threads_overlapping_blocks_the_last_to_leave_restores():
    """A (the driver's thread) enters, B (a refit's thread) enters, A leaves, B leaves."""
    with _Blas() as blas:
        seen = {}
        b = _Block()
        try:
            with blas_threads(1):
                seen["A inside"] = blas.counts()
                b.enter()
                seen["A and B inside"] = blas.counts()
            seen["B still inside"] = blas.counts()
        finally:
            b.leave()
        seen["both left"] = blas.counts()
        assert seen == {"A inside": blas.ones, "A and B inside": blas.ones,
                        "B still inside": blas.ones, "both left": blas.original}


def test_blas_threads_in_a_background_thread_alone():
    with _Blas() as blas:
        with blas_threads(1):  # the driver's thread used it before (every suggestion does)
            pass
        b = _Block()
        try:
            b.enter()
            inside = blas.counts()
        finally:
            b.leave()
        assert (inside, blas.counts()) == (blas.ones, blas.original)


# --------------------------------------------------------------------------- fit(max_points)


def test_fit_with_max_points_fits_the_subset_and_conditions_on_all():
    X, y, cat = _data(120, 2, seed=41, categorical=True)
    model = GPModel.fit(X, y, cat, n_restarts=1, seed=3, max_points=40)
    rows = fit_subset(X, y, cat, 40)
    assert len(rows) == 40
    with blas_threads(1):
        want = fit_gp(X[rows], y[rows], cat, n_restarts=1, seed=3)
    np.testing.assert_allclose(model.theta, want, rtol=1e-10, atol=1e-12)
    assert model.X.shape == (120, 2) and np.array_equal(model.y, y)
    Z = _data(15, 2, seed=42, categorical=True)[0]
    ref = _dense_posterior(X, y, cat, want, Z)
    np.testing.assert_allclose(model.posterior(Z), ref, rtol=1e-6, atol=1e-8)
    everything = GPModel.fit(X, y, cat, n_restarts=1, seed=3)  # the subset made a difference
    assert not np.allclose(everything.theta, want, rtol=1e-4, atol=1e-6)
    small = GPModel.fit(X[:30], y[:30], cat, n_restarts=1, seed=3, max_points=40)
    with blas_threads(1):
        np.testing.assert_allclose(small.theta, fit_gp(X[:30], y[:30], cat, n_restarts=1,
                                                        seed=3), rtol=1e-10, atol=1e-12)
