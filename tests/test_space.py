"""Search spaces: validation messages, sampling distributions, the unit-cube
encoding and grids (hpcore.space)."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from hpcore import (
    Categorical,
    Choice,
    Integer,
    LogUniform,
    Real,
    SearchSpace,
    SearchSpaceError,
    Uniform,
)
from hpcore.testing import check_suggestion
from hpcore.testing import strategies as hst

SEED_GRID = {
    "lr": [0.001, 0.0001, 0.00001],
    "batch_size": [64, 128, 256],
    "hidden_dim": [128, 256, 512],
}


def same(a, b):
    """Equal values of the very same type (1, 1.0 and True are all different)."""
    return type(a) is type(b) and a == b


def same_point(p, q):
    return p.keys() == q.keys() and all(same(p[k], q[k]) for k in p)


def close_point(space, p, q):
    """Same keys; exactly equal finite values; reals equal up to rounding."""
    if p.keys() != q.keys():
        return False
    for key, dim in space.items():
        a, b = p[key], q[key]
        if isinstance(dim, Real):
            tol = 1e-12 * (float(dim.high) - float(dim.low))
            if not (type(b) is float and math.isclose(a, b, rel_tol=1e-12, abs_tol=tol)):
                return False
        elif isinstance(dim, Categorical):
            if b is not dim.choices[dim.index(a)]:
                return False
        elif not same(a, b):
            return False
    return True


# -- sampling and decoding: in bounds, right types ----------------------------


@given(st.data())
def test_decoded_points_are_in_bounds_and_typed(data):
    """Any point of the unit cube, edges included, decodes to a valid point."""
    space = data.draw(hst.search_spaces(), label="space")
    u = data.draw(hst.unit_points(len(space)), label="u")
    check_suggestion(space, space.decode(u))


@settings(max_examples=25)
@given(hst.search_spaces(), st.integers(0, 2**32 - 1))
def test_sample_is_in_bounds_and_typed(space, seed):
    rng = np.random.default_rng(seed)
    for params in [space.sample(rng), *space.sample(rng, 20)]:
        check_suggestion(space, params)


def test_check_suggestion_rejects_wrong_types_that_contains_accepts():
    # Integer.contains accepts 3.0 and Real.contains accepts 1; decoded values never are
    space = SearchSpace({"n": Integer(1, 5), "x": Real(0, 2)})
    assert space.contains({"n": 3.0, "x": 1})
    with pytest.raises(AssertionError):
        check_suggestion(space, {"n": 3.0, "x": 1.0})
    check_suggestion(space, space.decode([0.5, 0.5]))


@given(hst.integers())
def test_integer_ends_decode_from_the_cube_edges(dim):
    """u = 0 gives low and u = 1 (and just below 1) gives high, also on log scales."""
    low, high = dim.from_unit(np.array([0.0, 1.0]))
    assert same(low, int(dim.low)) and same(high, int(dim.high))
    assert dim.from_unit(np.array([math.nextafter(1.0, 0.0)])) == [int(dim.high)]


@given(hst.reals())
def test_real_ends_decode_exactly_from_the_cube_edges(dim):
    assert dim.from_unit(np.array([0.0, 1.0])) == [float(dim.low), float(dim.high)]


@pytest.mark.parametrize(
    "dim",
    [Integer(0, 9), Integer(1, 64, log=True), Integer(-3, -2), Integer(1, 2, log=True)],
    ids=repr,
)
def test_integer_ends_are_drawn_by_sampling(dim):
    space = SearchSpace({"n": dim})
    values = [p["n"] for p in space.sample(np.random.default_rng(7), 3000)]
    assert min(values) == dim.low and max(values) == dim.high
    assert set(values) == set(range(dim.low, dim.high + 1))


# -- distributions (statistical, fixed seeds) ---------------------------------


def _log_unit(xs, dim):
    """log(x) rescaled to [0, 1] over the dimension's log range."""
    return (np.log(xs) - math.log(dim.low)) / (math.log(dim.high) - math.log(dim.low))


@pytest.mark.parametrize("dim", [Real(1e-5, 1e-2, log=True), LogUniform(0.5, 2000.0)], ids=repr)
def test_log_real_is_uniform_in_log_space(dim):
    xs = np.array(
        [p["x"] for p in SearchSpace({"x": dim}).sample(np.random.default_rng(2024), 20_000)]
    )
    assert xs.min() >= dim.low and xs.max() <= dim.high
    assert stats.kstest(_log_unit(xs, dim), "uniform").pvalue > 0.001


def test_log_uniformity_test_rejects_a_linear_real():
    """Negative control: the same KS test fails for a plain Real over the same range."""
    dim = Real(1e-5, 1e-2)
    xs = np.array(
        [p["x"] for p in SearchSpace({"x": dim}).sample(np.random.default_rng(2024), 20_000)]
    )
    assert stats.kstest(_log_unit(xs, dim), "uniform").pvalue < 1e-10
    # and the linear values themselves are uniform
    assert stats.kstest((xs - dim.low) / (dim.high - dim.low), "uniform").pvalue > 0.001


def _frequencies(dim, n, seed):
    values = [p["n"] for p in SearchSpace({"n": dim}).sample(np.random.default_rng(seed), n)]
    return np.bincount(np.array(values) - dim.low, minlength=dim.cardinality)


def test_log_integer_follows_its_probabilities():
    """Chi-square of Integer(1, 64, log=True) draws against dim.probabilities()."""
    dim = Integer(1, 64, log=True)
    probs = dim.probabilities()
    assert probs.sum() == pytest.approx(1.0)
    assert np.all(np.diff(probs) < 0)  # smaller values are more likely
    # the share of 1 is the width of [0.5, 1.5] in log space
    assert probs[0] == pytest.approx(math.log(3) / math.log(64.5 / 0.5))
    n = 20_000
    counts = _frequencies(dim, n, seed=11)
    assert stats.chisquare(counts, probs * n).pvalue > 0.001
    # negative control: the same draws are far from uniform over the integers
    assert stats.chisquare(counts, np.full(64, n / 64)).pvalue < 1e-10


def test_linear_integer_is_uniform():
    dim = Integer(-5, 10)
    np.testing.assert_allclose(dim.probabilities(), np.full(16, 1 / 16))
    n = 16_000
    assert stats.chisquare(_frequencies(dim, n, seed=3), np.full(16, n / 16)).pvalue > 0.001


def test_categorical_choices_are_equally_likely():
    dim = Categorical([None, "a", 2, 2.5, (1, 2)])
    values = SearchSpace({"c": dim}).sample(np.random.default_rng(5), 10_000)
    counts = np.bincount([dim.index(p["c"]) for p in values], minlength=5)
    assert stats.chisquare(counts).pvalue > 0.001


# -- encoding -----------------------------------------------------------------


@given(st.data())
def test_decode_of_encode_gives_the_point_back(data):
    """decode(encode(p)) == p: exactly for integers and categoricals (same
    objects), up to rounding for reals."""
    space = data.draw(hst.search_spaces(), label="space")
    params = data.draw(hst.parameters(space), label="params")
    u = space.encode(params)
    assert u.shape == (len(space),) and np.all((0 <= u) & (u <= 1))
    back = space.decode(u)
    assert close_point(space, params, back), (params, back)
    check_suggestion(space, back)


@given(st.data())
def test_finite_values_round_trip_exactly(data):
    space = data.draw(hst.search_spaces(finite=True), label="space")
    params = data.draw(hst.parameters(space), label="params")
    back = space.decode(space.encode(params))
    assert same_point(params, back)
    for key in space:
        if isinstance(space[key], Categorical):
            assert back[key] is params[key]


def _bin_edges(dim):
    """Edges in [0, 1] of the cells of a finite dimension's values."""
    return np.concatenate([[0.0], np.cumsum(dim.probabilities())])


@given(st.data())
def test_encode_of_decode_lands_in_the_same_cell(data):
    """encode(decode(u)) lies in the same cell as u (so decoding it again gives
    the same point); for reals it is u itself, up to rounding."""
    space = data.draw(hst.search_spaces(), label="space")
    u = data.draw(hst.unit_points(len(space)), label="u")
    params = space.decode(u)
    v = space.encode(params)
    assert close_point(space, params, space.decode(v))
    for j, dim in enumerate(space.values()):
        if isinstance(dim, Real):
            lo, hi = float(dim.low), float(dim.high)
            if dim.log:
                lo, hi = math.log(lo), math.log(hi)
                ulp = np.spacing(max(abs(lo), abs(hi))) + 2.3e-16
            else:
                ulp = np.spacing(max(abs(lo), abs(hi)))
            assert abs(v[j] - u[j]) <= 4 * ulp / (hi - lo) + 1e-12
        else:
            edges = _bin_edges(dim)
            i = int(np.searchsorted(edges, v[j]) - 1)  # v[j] is a centre, never an edge
            assert edges[i] < v[j] < edges[i + 1]
            assert edges[i] - 1e-9 <= u[j] <= edges[i + 1] + 1e-9


def test_encode_puts_values_at_bin_centres():
    space = SearchSpace({"n": Integer(0, 3), "c": ["a", "b"], "x": Real(-1.0, 3.0)})
    np.testing.assert_allclose(space.encode({"n": 0, "c": "b", "x": 0.0}), [0.125, 0.75, 0.25])
    log = Integer(1, 4, log=True)
    # centre of the bin of 2 is the middle of [log 1.5, log 2.5] within [log 0.5, log 4.5]
    expected = (0.5 * (math.log(1.5) + math.log(2.5)) - math.log(0.5)) / math.log(9)
    assert log.to_unit(2) == pytest.approx(expected)


def test_encode_rejects_points_outside_the_space():
    space = SearchSpace({"n": Integer(0, 3), "c": ["a", "b"]})
    with pytest.raises(SearchSpaceError, match=r"'n' = 4 is outside Integer\(0, 3\)"):
        space.encode({"n": 4, "c": "a"})
    with pytest.raises(SearchSpaceError, match=r"missing \['c'\], unknown \['d'\]"):
        space.encode({"n": 1, "d": "a"})


def test_decode_many_checks_the_shape():
    space = SearchSpace({"a": Real(0, 1), "b": Real(0, 1)})
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        space.decode_many(np.zeros((4, 3)))


# -- categoricals keep the original Python values -----------------------------


def test_categorical_values_round_trip_with_identical_types():
    choices = [None, "a", 2, 2.5, (1, 2)]
    space = SearchSpace({"c": choices})
    for i, choice in enumerate(choices):
        u = (i + 0.5) / len(choices)
        value = space.decode([u])["c"]
        assert value is choice
        assert space.decode(space.encode({"c": choice}))["c"] is choice


def test_one_one_point_zero_and_true_are_distinct_choices():
    dim = Categorical([1, 1.0, True])
    SearchSpace({"c": dim})  # no duplicate error
    assert [dim.index(v) for v in (1, 1.0, True)] == [0, 1, 2]
    decoded = SearchSpace({"c": dim}).decode_many(np.array([[0.1], [0.5], [0.9]]))
    assert [type(p["c"]) for p in decoded] == [int, float, bool]
    assert not Categorical([1, 2]).contains(1.0)
    assert not Categorical([1, 2]).contains(True)
    assert not Categorical([1.0]).contains(1)


def test_unhashable_choices_are_supported():
    space = SearchSpace({"shape": [[64, 64], [128], (64, 64)]})
    assert space.cardinality == 3
    assert space.decode([0.1])["shape"] == [64, 64]
    assert type(space.decode([0.9])["shape"]) is tuple
    assert space.contains({"shape": [128]})
    assert not space.contains({"shape": (128,)})


def test_numpy_array_and_range_choices_become_python_values():
    dim = SearchSpace({"a": np.array([1, 2, 3]), "r": range(2, 5)})
    assert dim["a"].choices == (1, 2, 3) and type(dim["a"].choices[0]) is int
    assert dim["r"].choices == (2, 3, 4)


# -- grids ---------------------------------------------------------------------


def test_seed_grid_is_three_by_three_by_three():
    space = SearchSpace(SEED_GRID)
    grid = space.grid()
    assert len(grid) == 27 == space.cardinality
    expected = [
        dict(zip(SEED_GRID, combo, strict=True)) for combo in itertools.product(*SEED_GRID.values())
    ]
    assert list(grid) == expected
    assert grid[0] == {"lr": 0.001, "batch_size": 64, "hidden_dim": 128}
    assert grid[1] == {"lr": 0.001, "batch_size": 64, "hidden_dim": 256}  # last key fastest
    assert grid[-1] == {"lr": 0.00001, "batch_size": 256, "hidden_dim": 512}


@settings(max_examples=30)
@given(hst.search_spaces(max_dims=4, max_cardinality=200))
def test_grid_is_the_cartesian_product(space):
    grid = space.grid()
    axes = [list(dim.grid_values(key)) for key, dim in space.items()]
    expected = [dict(zip(space, combo, strict=True)) for combo in itertools.product(*axes)]
    assert len(grid) == math.prod(len(a) for a in axes) == space.cardinality == len(expected)
    listed = list(grid)
    for i, point in enumerate(expected):
        assert same_point(listed[i], point)
        assert same_point(grid[i], point)  # indexing matches iteration order
        assert grid.index_of(point) == i  # and index_of inverts it
        assert grid.index_of(grid[i]) == i
    with pytest.raises(IndexError):
        grid[len(grid)]


@settings(max_examples=30)
@given(hst.search_spaces(max_dims=4, grid_points=3))
def test_grid_of_reals_with_grid_points(space):
    grid = space.grid()
    sizes = [3 if isinstance(d, Real) else d.cardinality for d in space.values()]
    assert len(grid) == math.prod(sizes)
    for i in sorted({0, len(grid) - 1, len(grid) // 2}):
        point = grid[i]
        check_suggestion(space, point)
        assert grid.index_of(point) == i


def test_real_grid_values_include_both_ends():
    assert Real(1e-4, 1e-1, log=True, grid_points=4).grid_values("lr") == pytest.approx(
        [1e-4, 1e-3, 1e-2, 1e-1], rel=1e-12
    )
    values = Real(1e-4, 1e-1, log=True, grid_points=4).grid_values("lr")
    assert values[0] == 1e-4 and values[-1] == 1e-1
    assert Real(0.1, 0.7, grid_points=3).grid_values("x") == pytest.approx([0.1, 0.4, 0.7])


def test_grid_index_of_non_grid_points():
    grid = SearchSpace({"n": Integer(1, 3), "c": [1, "a"]}).grid()
    assert grid.index_of({"n": 2, "c": "a"}) == 3
    assert grid.index_of({"n": 4, "c": "a"}) is None
    assert grid.index_of({"n": 2, "c": 1.0}) is None  # 1.0 is not the choice 1
    assert grid.index_of({"n": True, "c": 1}) is None
    assert grid.index_of({"n": 2}) is None


def test_grid_is_lazy_for_huge_spaces():
    space = SearchSpace({f"k{i}": Integer(0, 999) for i in range(10)})
    grid = space.grid()
    assert grid.size == 1000**10
    point = grid[123_456_789]
    assert point["k9"] == 789 and point["k8"] == 456 and point["k7"] == 123 and point["k0"] == 0
    assert grid.index_of(point) == 123_456_789


def test_real_without_grid_points_has_no_grid_and_names_the_key():
    space = SearchSpace({"training.lr": Real(1e-5, 1e-2, log=True), "n": [1, 2]})
    with pytest.raises(
        SearchSpaceError, match=r"Real 'training\.lr' has no grid values.*grid_points"
    ):
        space.grid()


# -- bad input: every message names the key and says what to do ----------------


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (
            {"lr": Real(1.0, 0.1)},
            r"Real 'lr': `low` must be < `high`.*low=1\.0, high=0\.1.*Swap the bounds",
        ),
        ({"n": Integer(8, 2)}, r"Integer 'n': `low` must be < `high`.*Swap the bounds"),
        ({"lr": Real(0.5, 0.5)}, r"Real 'lr'.*low=0\.5, high=0\.5.*fixed value.*base_config"),
        ({"lr": Real(0.0, 1.0, log=True)}, r"Real 'lr': log=True needs `low` > 0, got low=0\.0"),
        ({"lr": LogUniform(-1.0, 1.0)}, r"Real 'lr': log=True needs `low` > 0"),
        ({"n": Integer(0, 8, log=True)}, r"Integer 'n': log=True needs `low` > 0"),
        ({"act": Categorical([])}, r"Categorical 'act': `choices` is empty"),
        ({"act": []}, r"Categorical 'act': `choices` is empty"),
        ({"act": ["relu", "gelu", "relu"]}, r"Categorical 'act': duplicate choice 'relu'.*Remove"),
        ({"c": [1, 2, 1]}, r"Categorical 'c': duplicate choice 1"),
        ({"c": [[64], [64]]}, r"Categorical 'c': duplicate choice \[64\]"),
        ({"n": Integer(1.5, 4)}, r"Integer 'n': `low` must be a whole number, got low=1\.5.*Real"),
        ({"n": Integer(1, 4.5)}, r"Integer 'n': `high` must be a whole number, got high=4\.5"),
        ({"n": Integer(True, 4)}, r"Integer 'n': `low` must be a whole number"),
        ({"x": Real("0", 1)}, r"Real 'x': `low` must be a number, got '0' \(str\)"),
        ({"x": Real(0, math.inf)}, r"Real 'x': `high` must be finite"),
        ({"x": Real(-1e308, 1e308)}, r"Real 'x': the range .* is too wide"),
        ({"x": Real(0, 1, grid_points=1)}, r"Real 'x': `grid_points` must be an int >= 2"),
        ({"epochs": 10}, r"key 'epochs': unsupported value 10 \(int\).*base_config"),
        ({"lr": 0.1}, r"key 'lr': unsupported value 0\.1 \(float\)"),
        ({"act": "relu"}, r"key 'act': unsupported value 'relu' \(str\)"),
        ({"act": {"relu", "gelu"}}, r"key 'act': a set has no order.*\['gelu', 'relu'\]"),
        (
            {"lr": (1e-4, 1e-1)},
            r"key 'lr': a tuple \(0\.0001, 0\.1\) is ambiguous.*Real\(low, high\)",
        ),
        ({"act": Categorical("relu")}, r"Categorical 'act': `choices` must be a list.*\['relu'\]"),
        ({"act": Choice({"relu", "gelu"})}, r"Categorical 'act': `choices` must be a list"),
        ({"model": [1, 2], "model.dim": [3, 4]}, r"keys 'model' and 'model\.dim' overlap"),
        ({"model": {"dim": [1, 2]}, "model.dim": [3, 4]}, r"'model\.dim' is given twice"),
        ({"a..b": [1, 2]}, r"search space key 'a\.\.b' is not a dotted name"),
        ({".a": [1, 2]}, r"key '\.a' is not a dotted name"),
        ({"a.": [1, 2]}, r"key 'a\.' is not a dotted name"),
        ({"": [1, 2]}, r"key '' is not a dotted name"),
        ({"model": {"": [1]}}, r"key 'model\.' is not a dotted name"),
        ({3: [1, 2]}, r"key '3' is not a dotted name"),
        ({"model": {}}, r"'model' maps to an empty dict"),
        ({}, r"search_space is empty"),
    ],
)
def test_bad_spaces_raise_a_message_naming_the_key(spec, match):
    with pytest.raises(SearchSpaceError, match=match):
        SearchSpace(spec)


def test_space_must_be_a_mapping():
    with pytest.raises(SearchSpaceError, match="must be a dict of dotted keys.*got list"):
        SearchSpace([Real(0, 1)])


def test_search_space_error_is_a_value_error():
    with pytest.raises(ValueError):
        SearchSpace({"x": Real(1, 0)})


# -- spellings -----------------------------------------------------------------


def test_aliases_build_the_same_dimensions():
    assert Uniform(0.0, 1.0) == Real(0.0, 1.0)
    assert LogUniform(1e-5, 1e-2) == Real(1e-5, 1e-2, log=True)
    assert LogUniform(1e-5, 1e-2) != Real(1e-5, 1e-2)
    assert Choice(["a", "b"]) == Categorical(["a", "b"])
    assert SearchSpace({"x": Uniform(0, 1), "c": Choice([1, 2])}) == SearchSpace(
        {"x": Real(0, 1), "c": Categorical([1, 2])}
    )


def test_plain_list_is_a_categorical():
    space = SearchSpace({"act": ["relu", "gelu"]})
    assert space["act"] == Categorical(["relu", "gelu"])
    assert isinstance(space["act"], Categorical)


def test_nested_dicts_flatten_to_dotted_keys():
    space = SearchSpace(
        {
            "training": {"lr": Real(1e-4, 1e-1, log=True), "optim": {"beta": Real(0.8, 0.99)}},
            "model.dim": [64, 128],
            "model": {"act": ["relu", "gelu"]},
        }
    )
    assert list(space) == ["training.lr", "training.optim.beta", "model.dim", "model.act"]
    assert space["training.optim.beta"] == Real(0.8, 0.99)
    assert space == SearchSpace(
        {
            "training.lr": Real(1e-4, 1e-1, log=True),
            "training.optim.beta": Real(0.8, 0.99),
            "model.dim": [64, 128],
            "model.act": ["relu", "gelu"],
        }
    )
    params = space.sample(np.random.default_rng(0))
    assert set(params) == {"training.lr", "training.optim.beta", "model.dim", "model.act"}


# -- fingerprints --------------------------------------------------------------


def test_fingerprint_is_stable():
    spec = {"lr": Real(1e-4, 1e-1, log=True), "n": Integer(1, 8), "c": [None, "a", (1, 2)]}
    first = SearchSpace(spec).fingerprint()
    assert first == SearchSpace(dict(spec)).fingerprint()
    assert first == SearchSpace(SearchSpace(spec)).fingerprint()
    assert len(first) == 16 and int(first, 16) >= 0
    # the same for an equal spec spelled another way (aliases, int bounds of a Real)
    assert (
        first
        == SearchSpace(
            {"lr": LogUniform(0.0001, 0.1), "n": Integer(1, 8), "c": Choice([None, "a", (1, 2)])}
        ).fingerprint()
    )


@pytest.mark.parametrize(
    "changed",
    [
        {"lr": Real(1e-4, 1e-2, log=True)},
        {"lr": Real(1e-5, 1e-1, log=True)},
        {"lr": Real(1e-4, 1e-1)},
        {"n": Integer(1, 9)},
        {"n": Integer(1, 8, log=True)},
        {"c": [None, "a"]},
        {"c": [None, "a", (1, 3)]},
        {"c": ["a", None, (1, 2)]},
        {"c": [None, "a", (1, 2)], "extra": [1]},
    ],
    ids=repr,
)
def test_fingerprint_changes_with_the_space(changed):
    spec = {"lr": Real(1e-4, 1e-1, log=True), "n": Integer(1, 8), "c": [None, "a", (1, 2)]}
    base = SearchSpace(spec)
    other = SearchSpace({**spec, **changed})
    assert other.fingerprint() != base.fingerprint()
    assert other != base


def test_fingerprint_tells_int_float_and_bool_choices_apart():
    prints = {SearchSpace({"c": [v]}).fingerprint() for v in (1, 1.0, True)}
    assert len(prints) == 3


@settings(max_examples=150, deadline=None)
@given(hst.search_spaces(max_dims=5))
def test_json_round_trip_rebuilds_the_same_space(space):
    data = json.loads(json.dumps(space.to_json()))  # what a stored study keeps
    # JSON has no tuples: a categorical holding both (64, 64) and [64, 64] cannot come back.
    assume(all(len({json.dumps(c) for c in d.get("choices", [])}) == len(d.get("choices", []))
               for d in data.values()))
    rebuilt = SearchSpace.from_json(data)
    assert rebuilt == space and rebuilt.to_json() == data
    assert list(rebuilt) == list(space)
    u = np.random.default_rng(0).random((4, len(space)))
    for a, b in zip(space.decode_many(u), rebuilt.decode_many(u)):
        # Choices JSON cannot hold (tuples, objects) come back as lists or reprs.
        assert json.dumps(a, default=repr) == json.dumps(b, default=repr)


def test_from_json_names_the_key_of_a_bad_description():
    with pytest.raises(SearchSpaceError, match="space key 'lr'.*'real', 'integer' or 'categorical'"):
        SearchSpace.from_json({"lr": {"type": "normal", "mean": 0}})
    with pytest.raises(SearchSpaceError, match="non-empty mapping"):
        SearchSpace.from_json({})
    # Choices that only a tuple/list difference told apart collide in JSON: a clear error.
    lossy = SearchSpace({"a": Categorical([[64, 64], (64, 64)])}).to_json()
    with pytest.raises(SearchSpaceError, match="duplicate choice"):
        SearchSpace.from_json(json.loads(json.dumps(lossy)))


@pytest.mark.parametrize("log", ["yes", "no", 1, 0, None, "False"])
@pytest.mark.parametrize("kind", ["Real", "Integer"])
def test_log_accepts_only_booleans(kind, log):
    # log="no" used to be truthy, so it meant log=True.
    import hpcore

    with pytest.raises(SearchSpaceError, match=f"{kind}: `log` must be True or False"):
        getattr(hpcore, kind)(1, 10, log=log)
    with pytest.raises(SearchSpaceError, match=f"{kind} 'x': `log` must be True or False"):
        hpcore.SearchSpace({"x": _unchecked(getattr(hpcore, kind), log)})
    assert getattr(hpcore, kind)(1, 10, log=np.bool_(True)).log


def _unchecked(cls, log):
    """A dimension built around __post_init__, as a subclass or a copy might be."""
    dim = cls(1, 10)
    object.__setattr__(dim, "log", log)
    return dim
