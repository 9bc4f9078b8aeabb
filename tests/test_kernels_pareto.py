"""hpcore.kernels.pareto and hpcore.kernels.ehvi against independent references.

References: naive Python loops (dominance), exact counts of unit cells for
integer fronts and inclusion-exclusion for fronts of at most 6 points
(hypervolume), Monte Carlo with fixed seeds and tolerances sized to the
sample (hypervolume, EHVI), scipy (quadrature of the one-box expectation,
the direct EHVI formula, ``log_ndtr``) and mpmath at 50 digits (log EHVI deep
in the tail, where EHVI underflows). Gradients against central differences.
"""

from __future__ import annotations

import itertools
import math

import mpmath as mp
import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate
from scipy.stats import norm

from hpcore.kernels import ehvi as E
from hpcore.kernels import pareto as P

EPS = np.finfo(np.float64).eps
mp.mp.dps = 50


# -- references ----------------------------------------------------------------------------


def _naive_nondominated(Y):
    n = len(Y)
    keep = []
    for i in range(n):
        dominated = False
        for j in range(n):
            if j == i:
                continue
            le = all(Y[j][d] <= Y[i][d] for d in range(len(Y[i])))
            lt = any(Y[j][d] < Y[i][d] for d in range(len(Y[i])))
            equal_earlier = j < i and all(Y[j][d] == Y[i][d] for d in range(len(Y[i])))
            if le and (lt or equal_earlier):
                dominated = True
        keep.append(not dominated)
    return np.array(keep, dtype=bool)


def _hv_inclusion_exclusion(Y, ref):
    """Exact hypervolume of a few points: the union of the boxes [p, ref) by inclusion-exclusion."""
    Y = [p for p in np.asarray(Y, dtype=float) if np.all(p < ref)]
    total = 0.0
    for r in range(1, len(Y) + 1):
        for subset in itertools.combinations(Y, r):
            total += (-1) ** (r + 1) * np.prod(ref - np.max(subset, axis=0))
    return total


def _hv_grid(Y, ref):
    """Exact hypervolume of integer points: count the unit cells some point dominates."""
    lo = int(min(np.min(Y), np.min(ref))) if len(Y) else int(np.min(ref))
    count = 0
    for cell in itertools.product(*[range(lo, int(r)) for r in ref]):
        if any(np.all(p <= cell) for p in Y):
            count += 1
    return float(count)


def _dominated_by(points, front):
    """Mask (N,): whether some row of ``front`` is <= each row of ``points``."""
    if len(front) == 0:
        return np.zeros(len(points), dtype=bool)
    return np.any(np.all(front[None, :, :] <= points[:, None, :], axis=2), axis=1)


def _h(z):
    """h = phi + z Phi with scipy, 0 at -inf (the direct formula, no care for the tails)."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isneginf(z), 0.0, norm.pdf(z) + z * norm.cdf(z))


def _ehvi_direct(mean, var, lower, upper):
    """EHVI = sum_b prod_j s_j (h(zu) - h(zl)), and a bound on its relative rounding error."""
    s = np.sqrt(var)[:, None, :]  # (m, 1, k)
    zu = (upper[None] - mean[:, None, :]) / s
    zl = (lower[None] - mean[:, None, :]) / s
    hu, hl = _h(zu), _h(zl)
    d = hu - hl
    # the naive h carries about z^4 ulp for z < 0 (Phi's z^2 ulp, then cancellation)
    zl4 = np.where(np.isneginf(zl), 0.0, np.minimum(zl, 0) ** 4)
    err = 8 * EPS * (hu * (1 + np.minimum(zu, 0) ** 4) + hl * (1 + zl4))
    rel = np.where(d > 0, err / np.where(d > 0, d, 1.0), np.inf).sum(axis=2).max(axis=1)
    return (s * d).prod(axis=2).sum(axis=1), rel


def _mp_h(z):
    return mp.npdf(z) + z * mp.ncdf(z)


def _log_ehvi_mpmath(mean, var, lower, upper):
    """log EHVI of one point at 50 digits, from the exact float inputs."""
    total = mp.mpf(0)
    for lo, up in zip(lower, upper):
        term = mp.mpf(1)
        for j in range(len(mean)):
            s = mp.sqrt(mp.mpf(var[j]))
            zu = (mp.mpf(up[j]) - mp.mpf(mean[j])) / s
            hl = 0 if lo[j] == -np.inf else _mp_h((mp.mpf(lo[j]) - mp.mpf(mean[j])) / s)
            term *= s * (_mp_h(zu) - hl)
        total += term
    return float(mp.log(total))


# -- strategies ----------------------------------------------------------------------------


def int_points(k, max_n, hi=4):
    return st.lists(st.tuples(*[st.integers(0, hi)] * k), min_size=0, max_size=max_n).map(
        lambda rows: np.array(rows, dtype=float).reshape(len(rows), k))


def float_points(k, max_n):
    coord = st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]))
    return st.lists(st.tuples(*[coord] * k), min_size=0, max_size=max_n).map(
        lambda rows: np.array(rows, dtype=float).reshape(len(rows), k))


fronts = st.sampled_from([2, 3]).flatmap(lambda k: float_points(k, 12))


def _random_front(rng, n, k):
    """n points near the simplex sum = 1 in [0, 1]^k: most of them non-dominated."""
    Y = rng.dirichlet(np.ones(k), size=n) + rng.uniform(0, 0.1, size=(n, k))
    return Y


# -- nondominated --------------------------------------------------------------------------


@given(st.integers(1, 4).flatmap(lambda k: int_points(k, 12, hi=3)))
def test_nondominated_matches_a_naive_loop(Y):
    np.testing.assert_array_equal(P.nondominated(Y), _naive_nondominated(Y.tolist()))


def test_nondominated_keeps_the_first_of_equal_rows():
    Y = np.array([[1.0, 2.0], [0.0, 3.0], [1.0, 2.0], [0.0, 3.0], [2.0, 2.0]])
    np.testing.assert_array_equal(P.nondominated(Y), [True, True, False, False, False])
    assert P.nondominated(np.empty((0, 2))).shape == (0,)
    with pytest.raises(ValueError, match="NaN"):
        P.nondominated([[np.nan, 1.0]])


# -- hypervolume ---------------------------------------------------------------------------


@given(st.sampled_from([2, 3]).flatmap(
    lambda k: st.tuples(int_points(k, 6, hi=5), st.lists(st.integers(1, 6), min_size=k,
                                                         max_size=k))))
def test_hypervolume_counts_the_dominated_unit_cells(case):
    Y, ref = case[0], np.array(case[1], dtype=float)
    assert P.hypervolume(Y, ref) == _hv_grid(Y, ref)


@given(st.integers(1, 5).flatmap(lambda k: float_points(k, 6)))
def test_hypervolume_equals_inclusion_exclusion(Y):
    ref = np.full(Y.shape[1], 0.9)
    assert P.hypervolume(Y, ref) == pytest.approx(_hv_inclusion_exclusion(Y, ref), abs=1e-12)


@pytest.mark.parametrize("k, n", [(2, 30), (3, 25), (4, 12)])
def test_hypervolume_matches_monte_carlo(k, n):
    rng = np.random.default_rng(10 * k + n)
    Y = _random_front(rng, n, k)
    ref = np.full(k, 1.05)
    lo = Y.min(axis=0)
    N = 200_000
    x = rng.uniform(lo, ref, size=(N, k))
    frac = _dominated_by(x, Y).mean()
    box = np.prod(ref - lo)
    se = box * math.sqrt(frac * (1 - frac) / N)
    assert abs(P.hypervolume(Y, ref) - box * frac) <= 4 * se


def test_hypervolume_edges():
    ref = np.array([1.0, 1.0])
    assert P.hypervolume(np.empty((0, 2)), ref) == 0.0
    # a point on or beyond ref in one objective dominates nothing below ref
    assert P.hypervolume([[1.0, 0.0], [0.5, np.inf], [2.0, -5.0]], ref) == 0.0
    assert P.hypervolume([[0.25], [0.5]], [1.0]) == 0.75
    with pytest.raises(ValueError, match="NaN or -inf"):
        P.hypervolume([[0.0, -np.inf]], ref)
    with pytest.raises(ValueError, match="finite"):
        P.hypervolume([[0.0, 0.0]], [np.inf, 1.0])
    with pytest.raises(ValueError, match="length 2"):
        P.hypervolume([[0.0, 0.0]], [1.0])
    with pytest.raises(ValueError, match="at least one objective"):
        P.hypervolume(np.empty((2, 0)), [])
    rng = np.random.default_rng(0)
    simplex = rng.dirichlet(np.ones(6), size=50)  # 50 non-dominated points: 50^5 > 1e8
    with pytest.raises(NotImplementedError, match="MAX_SLICING_WORK"):
        P.hypervolume(simplex, np.ones(6))


# -- boxes ---------------------------------------------------------------------------------


def _check_partition(Y, ref, lower, upper):
    k = Y.shape[1]
    floor = min(np.min(Y), np.min(ref)) - 1.0 if len(Y) else np.min(ref) - 1.0
    lo = np.maximum(lower, floor)
    assert lower.shape == upper.shape and lower.shape[1] == k
    assert np.all(lower < upper) and np.all(upper <= ref)
    # pairwise disjoint: some objective where the intervals do not overlap
    overlap = np.minimum(upper[:, None], upper[None]) - np.maximum(lo[:, None], lo[None])
    inter = np.all(overlap > 0, axis=2)
    np.fill_diagonal(inter, False)
    assert not inter.any()
    # no box meets the region a front point dominates: p_j >= upper_j somewhere
    below = Y[np.all(Y < ref, axis=1)]
    for p in below:
        assert np.all(np.any(p >= upper, axis=1))
    # free volume + dominated volume = the whole box [floor, ref)
    total = np.prod(upper - lo, axis=1).sum() + P.hypervolume(Y, ref)
    assert total == pytest.approx(np.prod(ref - floor), rel=1e-12)


@given(fronts)
def test_boxes_partition_the_free_region(Y):
    ref = np.full(Y.shape[1], 0.9)
    lower, upper = P.box_decomposition(Y, ref)
    _check_partition(Y, ref, lower, upper)


@given(st.sampled_from([1, 2, 3]).flatmap(lambda k: int_points(k, 10, hi=4)))
def test_boxes_partition_the_free_region_with_ties(Y):
    ref = np.full(Y.shape[1], 3.0)
    lower, upper = P.box_decomposition(Y, ref)
    _check_partition(Y, ref, lower, upper)
    if Y.shape[1] == 2:  # the staircase: one box more than points on the front below ref
        assert len(lower) == 1 + P.nondominated(Y[np.all(Y < ref, axis=1)]).sum()
    _check_only_the_front_matters(Y, ref, lower, upper)


def _check_only_the_front_matters(Y, ref, lower, upper):
    """Dominated rows and duplicates change no box, not even where a slab is cut."""
    front_lower, front_upper = P.box_decomposition(Y[P.nondominated(Y)], ref)
    np.testing.assert_array_equal(lower, front_lower)
    np.testing.assert_array_equal(upper, front_upper)


@pytest.mark.parametrize("k", [2, 3])
def test_boxes_of_a_front_with_many_ties(k):
    rng = np.random.default_rng(k)
    Y = rng.integers(0, 4, size=(40, k)).astype(float)
    Y = np.vstack([Y, Y[:5] + np.eye(k)[-1]])  # the same first k-1 objectives, worse last
    ref = np.full(k, 3.5)
    lower, upper = P.box_decomposition(Y, ref)
    _check_partition(Y, ref, lower, upper)
    _check_only_the_front_matters(Y, ref, lower, upper)


@pytest.mark.parametrize("k", [2, 3])
def test_boxes_cover_each_free_point_exactly_once(k):
    rng = np.random.default_rng(k)
    Y = _random_front(rng, 15, k)
    ref = np.full(k, 1.0)
    lower, upper = P.box_decomposition(Y, ref)
    x = rng.uniform(-0.2, 1.0, size=(20_000, k))
    inside = np.all((lower[None] <= x[:, None]) & (x[:, None] < upper[None]), axis=2).sum(axis=1)
    np.testing.assert_array_equal(inside, (~_dominated_by(x, Y)).astype(int))


def test_box_decomposition_refuses_four_objectives():
    with pytest.raises(NotImplementedError, match="1, 2 and 3 objectives"):
        P.box_decomposition(np.zeros((1, 4)), np.ones(4))


@given(st.integers(1, 4).flatmap(lambda k: st.tuples(float_points(k, 8), float_points(k, 4))))
def test_hypervolume_improvement_is_the_difference_of_hypervolumes(case):
    front, y = case
    k = front.shape[1]
    ref = np.full(k, 0.9)
    hvi = P.hypervolume_improvement(front, ref, y)
    base = P.hypervolume(front, ref)
    expected = [P.hypervolume(np.vstack([front, row]), ref) - base for row in y]
    np.testing.assert_allclose(hvi, expected, rtol=0, atol=1e-12)
    assert np.all(hvi >= 0)
    if k <= 3:
        np.testing.assert_allclose(P.box_improvement(*P.box_decomposition(front, ref), y), hvi)


# -- one box, one objective ----------------------------------------------------------------


@pytest.mark.parametrize("mu, s, lo, up", [(0.3, 0.5, -0.2, 0.4), (1.0, 0.3, 0.0, 0.5),
                                           (-1.0, 2.0, 0.0, 0.5), (0.2, 0.1, -np.inf, 0.1)])
def test_expected_length_of_one_box_is_the_h_difference(mu, s, lo, up):
    """E[(u - max(l, Y))^+] = s (h(zu) - h(zl)): against quadrature and Monte Carlo."""
    closed = s * (_h((up - mu) / s) - _h((lo - mu) / s))

    def integrand(y):
        return max(0.0, up - max(lo, y)) * norm.pdf(y, mu, s)

    # split at l, where the integrand has a kink (quad takes no break points on -inf)
    edges = [-np.inf, up] if lo == -np.inf else [-np.inf, lo, up]
    quad = sum(integrate.quad(integrand, a, b, epsabs=1e-14)[0]
               for a, b in zip(edges[:-1], edges[1:]))
    assert closed == pytest.approx(quad, rel=1e-9, abs=1e-14)
    y = np.random.default_rng(3).normal(mu, s, 200_000)
    sample = np.maximum(0.0, up - np.maximum(lo, y))
    assert abs(sample.mean() - closed) <= 3.5 * sample.std() / math.sqrt(y.size)
    ours = E.log_ehvi([[mu]], [[s * s]], [[lo]], [[up]])[0]
    assert ours == pytest.approx(math.log(closed), abs=1e-13)


# -- EHVI ----------------------------------------------------------------------------------


@pytest.mark.parametrize("k, seed", [(2, 0), (2, 1), (3, 0), (3, 1)])
def test_ehvi_matches_monte_carlo(k, seed):
    rng = np.random.default_rng(seed)
    front = _random_front(rng, 8, k)
    ref = np.full(k, 1.1)
    lower, upper = P.box_decomposition(front, ref)
    mean = rng.uniform(0.2, 0.7, size=k)
    var = rng.uniform(0.01, 0.1, size=k)
    N = 200_000
    y = rng.normal(mean, np.sqrt(var), size=(N, k))
    hvi = P.box_improvement(lower, upper, y)
    est, se = hvi.mean(), hvi.std() / math.sqrt(N)
    ours = E.ehvi(mean[None], var[None], lower, upper)[0]
    assert abs(ours - est) <= 3.5 * se, (ours, est, se)
    direct, _ = _ehvi_direct(mean[None], var[None], lower, upper)
    assert ours == pytest.approx(direct[0], rel=1e-12)


@given(st.integers(2, 3).flatmap(lambda k: st.tuples(
    float_points(k, 6),
    st.lists(st.floats(-1.0, 2.0), min_size=k, max_size=k),
    st.lists(st.floats(-3.0, 0.5).map(lambda e: 10.0**e), min_size=k, max_size=k))))
def test_log_ehvi_is_the_log_of_the_direct_formula(case):
    front, mean, std = case
    k = front.shape[1]
    lower, upper = P.box_decomposition(front, np.full(k, 1.0))
    mean, var = np.array([mean]), np.array([std]) ** 2
    direct, rel = _ehvi_direct(mean, var, lower, upper)
    if not (direct[0] > 1e-280 and rel[0] < 1e-6):
        return  # underflowed or cancelled: the mpmath test covers it
    ours = E.log_ehvi(mean, var, lower, upper)[0]
    assert ours == pytest.approx(math.log(direct[0]), abs=1e-12 + 2 * rel[0])


@given(st.integers(2, 3).flatmap(lambda k: st.tuples(
    float_points(k, 5),
    st.lists(st.one_of(st.floats(-3.0, 40.0), st.floats(40.0, 1e3)), min_size=k, max_size=k),
    st.lists(st.floats(-3.0, 0.5).map(lambda e: 10.0**e), min_size=k, max_size=k))))
def test_log_ehvi_matches_mpmath_far_into_the_tail(case):
    """log EHVI to 1e-9 where the mean is up to 1e3 standard deviations above the free region."""
    front, t, std = case
    k = front.shape[1]
    lower, upper = P.box_decomposition(front, np.full(k, 1.0))
    std = np.array(std)
    mean = 1.0 + np.array(t) * std  # t standard deviations above ref (negative t: below)
    ours = E.log_ehvi(mean[None], std[None] ** 2, lower, upper)[0]
    ref = _log_ehvi_mpmath(mean, std**2, lower, upper)
    zmax = np.max(np.abs((upper - mean) / std))
    # the rounding of z = (u - mu)/s alone moves log h by about eps z^2
    assert math.isfinite(ours)
    assert ours == pytest.approx(ref, abs=1e-10 + 16 * EPS * zmax**2, rel=0)


@pytest.mark.parametrize("z", [-30.0, -40.0, -100.0, -1e3, -1e4])
def test_log_ehvi_is_exact_where_ehvi_underflows(z):
    front = np.array([[0.2, 0.8], [0.5, 0.5], [0.8, 0.2]])
    lower, upper = P.box_decomposition(front, np.array([1.0, 1.0]))
    std = np.array([0.05, 0.2])
    mean = 1.0 - z * std  # every box's z_u <= z
    ours = E.log_ehvi(mean[None], std[None] ** 2, lower, upper)[0]
    ref = _log_ehvi_mpmath(mean, std**2, lower, upper)
    # an error d in log EHVI is a relative error d of EHVI: 1e-9 (3.6e-7 at z = -1e4,
    # all of it the rounding of z = (u - mu)/s: eps z^2 in log h)
    assert abs(ours - ref) <= 1e-9 + 16 * EPS * z * z
    if z <= -40:
        assert E.ehvi(mean[None], std[None] ** 2, lower, upper)[0] == 0.0


def test_log_ehvi_decreases_with_the_mean_deep_into_the_tail():
    front = np.array([[0.1, 0.9, 0.5], [0.5, 0.5, 0.5], [0.9, 0.1, 0.2], [0.3, 0.3, 0.9]])
    lower, upper = P.box_decomposition(front, np.ones(3))
    t = np.concatenate([np.linspace(-1.0, 5.0, 601), np.geomspace(5.0, 1e4, 400)[1:]])
    mean = 0.4 + t[:, None] * np.array([1.0, 0.5, 2.0])
    var = np.full_like(mean, 1e-4)
    vals = E.log_ehvi(mean, var, lower, upper)
    assert np.all(np.isfinite(vals)) and np.all(np.diff(vals) < 0)


def _check_fd(fn, mean, var, value, d_mean, d_var, dz):
    """Central differences against the analytic gradient of ``fn`` (one point, all coordinates).

    Steps are worth ``dz`` in z; the tolerance allows 1e-6 relative for truncation
    plus the rounding of a difference quotient, ``64 eps |f| / step``.
    """
    for j in range(mean.shape[1]):
        std = math.sqrt(var[0, j])
        for grad, param, step in [(d_mean[0, j], mean, dz * std), (d_var[0, j], var,
                                                                   2 * var[0, j] * dz)]:
            plus, minus = param.copy(), param.copy()
            plus[0, j] += step
            minus[0, j] -= step
            args_p = (plus, var) if param is mean else (mean, plus)
            args_m = (minus, var) if param is mean else (mean, minus)
            fp, fm = fn(*args_p)[0], fn(*args_m)[0]
            fd = (fp - fm) / (2 * step)
            noise = 64 * EPS * max(abs(fp), abs(fm), abs(value)) / step
            assert abs(fd - grad) <= 1e-6 * max(abs(grad), abs(fd)) + noise, (j, fd, grad)


@given(st.integers(2, 3).flatmap(lambda k: st.tuples(
    float_points(k, 5),
    st.lists(st.one_of(st.floats(-3.0, 5.0), st.floats(5.0, 300.0)), min_size=k, max_size=k),
    st.lists(st.floats(-2.0, 0.5).map(lambda e: 10.0**e), min_size=k, max_size=k))))
def test_log_ehvi_gradients_equal_finite_differences(case):
    front, t, std = case
    k = front.shape[1]
    lower, upper = P.box_decomposition(front, np.full(k, 1.0))
    std = np.array(std)
    mean = (0.7 + np.array(t) * std)[None]
    var = (std**2)[None]
    value, d_mean, d_var = E.log_ehvi_grad(mean, var, lower, upper)
    assert value[0] == E.log_ehvi(mean, var, lower, upper)[0]
    zmax = max(1.0, float(np.max(np.abs((upper - mean) / std))))

    def fn(m, v):
        return E.log_ehvi(m, v, lower, upper)

    _check_fd(fn, mean, var, value[0], d_mean, d_var, dz=1e-6 / zmax)


def test_log_ehvi_gradients_in_narrow_boxes_and_across_the_branches():
    """Boxes of width 1e-9 to 10 sd, centred from -1e3 to +40 sd: every branch of ``_log_dh``."""
    for width in [1e-9, 1e-4, 0.019, 0.021, 0.5, 10.0]:
        for zc in [-1e3, -30.0, -1.0, -0.5, 0.0, 0.3, 2.0, 40.0]:
            lower, upper = np.array([[zc - width / 2]]), np.array([[zc + width / 2]])
            mean, var = np.array([[0.0]]), np.array([[1.0]])
            value, d_mean, d_var = E.log_ehvi_grad(mean, var, lower, upper)
            ref = _log_ehvi_mpmath(mean[0], var[0], lower, upper)
            assert value[0] == pytest.approx(ref, abs=1e-12 * max(1.0, abs(ref)))
            # d/dmu = -P/D, d/dvar = Q/(2 D) at s = 1 (P from the tail it is small in)
            zl, zu = mp.mpf(lower[0, 0]), mp.mpf(upper[0, 0])
            d = _mp_h(zu) - _mp_h(zl)
            p = mp.ncdf(-zl) - mp.ncdf(-zu) if zl + zu > 0 else mp.ncdf(zu) - mp.ncdf(zl)
            assert d_mean[0, 0] == pytest.approx(float(-p / d), rel=1e-11)
            assert d_var[0, 0] == pytest.approx(float((mp.npdf(zu) - mp.npdf(zl)) / (2 * d)),
                                                rel=1e-11, abs=1e-300)

            def fn(m, v, lower=lower, upper=upper):
                return E.log_ehvi(m, v, lower, upper)

            # log EHVI varies on a scale of 1/|z| in mu, whatever the width
            _check_fd(fn, mean, var, value[0], d_mean, d_var, dz=1e-5 / max(1.0, abs(zc)))


def test_log_ehvi_edges():
    lower, upper = P.box_decomposition([[0.5, 0.5]], [1.0, 1.0])
    mean = np.array([[0.2, 0.2], [0.2, 0.2], [np.nan, 0.2]])
    var = np.array([[0.0, 0.1], [1e-320, 0.1], [0.1, 0.1]])
    values, _, d_var = E.log_ehvi_grad(mean, var, lower, upper)
    assert np.all(np.isfinite(values[:2])) and np.isnan(values[2])
    np.testing.assert_array_equal(d_var[:2, 0], 0.0)  # variance below the floor
    assert values[0] == values[1]  # both variances floored to the same
    assert E.log_ehvi(np.empty((0, 2)), np.empty((0, 2)), lower, upper).shape == (0,)
    # a box of zero width adds nothing
    flat_l, flat_u = np.vstack([lower, [[0.1, 0.1]]]), np.vstack([upper, [[0.1, 0.3]]])
    assert E.log_ehvi(mean[:1], var[:1], flat_l, flat_u)[0] == values[0]
    assert E.log_ehvi([[0.0, 0.0]], [[1.0, 1.0]], np.empty((0, 2)), np.empty((0, 2)))[0] == -np.inf
    with pytest.raises(ValueError, match="lower <= upper"):
        E.log_ehvi([[0.0]], [[1.0]], [[1.0]], [[0.0]])
    with pytest.raises(ValueError, match="upper` finite"):
        E.log_ehvi([[0.0]], [[1.0]], [[0.0]], [[np.inf]])
    with pytest.raises(ValueError, match="shape"):
        E.log_ehvi([[0.0, 1.0]], [[1.0, 1.0]], [[0.0]], [[1.0]])


@pytest.mark.parametrize("k", [2, 3])
def test_log_ehvi_without_variance_is_the_log_improvement(k):
    """At var = 0 (floored) EHVI is the improvement of the mean itself; never NaN."""
    rng = np.random.default_rng(k)
    front = _random_front(rng, 6, k)
    ref = np.full(k, 1.1)
    lower, upper = P.box_decomposition(front, ref)
    mean = rng.uniform(-0.5, 1.5, size=(300, k))
    values, d_mean, d_var = E.log_ehvi_grad(mean, np.zeros_like(mean), lower, upper)
    hvi = P.box_improvement(lower, upper, mean)
    assert not np.isnan(values).any() and np.isfinite(d_mean).all()
    np.testing.assert_array_equal(d_var, 0.0)
    free = hvi > 0
    assert free.sum() > 30 and (~free).sum() > 30
    np.testing.assert_allclose(values[free], np.log(hvi[free]), rtol=1e-12, atol=1e-12)
    # dominated: log of a Gaussian tail at |z| ~ 1e153, about -z^2/2 (or -inf past overflow)
    assert np.all(values[~free] < -1e250)


# -- probability of feasibility ------------------------------------------------------------


@given(st.lists(st.tuples(st.floats(-10.0, 10.0), st.floats(-3.0, 1.0).map(lambda e: 10.0**e),
                          st.one_of(st.floats(-40.0, 10.0), st.floats(-1e5, -40.0))),
                min_size=0, max_size=4))
def test_log_prob_feasible_is_the_sum_of_log_ndtr(cons):
    mean = np.array([[c[0] for c in cons]])
    std = np.array([c[1] for c in cons])
    bounds = mean[0] + np.array([c[2] for c in cons]) * std
    var = (std**2)[None]
    values, d_mean, d_var = E.log_prob_feasible_grad(mean, var, bounds)
    z = (bounds - mean[0]) / std
    ref = sp.log_ndtr(z).sum()
    assert values[0] == pytest.approx(ref, rel=2e-13, abs=1e-300)
    assert values[0] == E.log_prob_feasible(mean, var, bounds)[0]
    assert math.isfinite(values[0])
    mills = np.exp(norm.logpdf(z) - sp.log_ndtr(z))
    # the reference's exp(log phi - log Phi) carries about z^2 ulp
    rtol = 1e-13 + 4 * EPS * np.max(z * z, initial=0.0)
    np.testing.assert_allclose(d_mean[0], -mills / std, rtol=rtol)
    np.testing.assert_allclose(d_var[0], -z * mills / (2 * std**2), rtol=rtol)
    if cons:
        zmax = max(1.0, float(np.max(np.abs(z))))

        def fn(m, v):
            return E.log_prob_feasible(m, v, bounds)

        _check_fd(fn, mean, var, values[0], d_mean, d_var, dz=1e-6 / zmax)


def test_log_prob_feasible_below_1e_300():
    z = np.array([-37.6, -40.0, -1e3, -1e6])  # Phi(-37.6) < 1e-300
    values = E.log_prob_feasible(-z[:, None], np.ones((4, 1)), [0.0])
    assert values[0] < math.log(1e-300)
    np.testing.assert_allclose(values, sp.log_ndtr(z), rtol=1e-14)
    with pytest.raises(ValueError, match="length 1"):
        E.log_prob_feasible([[0.0]], [[1.0]], [0.0, 1.0])
