"""GridStrategy and RandomStrategy beyond the sampler contract: orders, seeds,
resume, quasi-random coverage, weighting in finite spaces, pickling."""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest
from scipy import stats
from scipy.stats import qmc

from hpcore import (
    Categorical,
    Integer,
    Real,
    SearchSpace,
    SearchSpaceError,
    StrategyExhausted,
    TrialState,
)
from hpcore.strategies import GridStrategy, RandomStrategy
from hpcore.strategies.base import same_params
from hpcore.trial import FrozenTrial

GRID_SPACE = {"a": [1, 2], "b": ["x", "y", "z"]}
CONTINUOUS = {"x": Real(0.0, 1.0), "y": Real(0.0, 1.0), "z": Real(0.0, 1.0)}
MIXED = {"lr": Real(1e-5, 1e-1, log=True), "n": Integer(1, 512, log=True), "act": ["relu", "gelu"]}


def ask_all(strategy, limit=10_000):
    out = []
    for _ in range(limit):
        try:
            out.append(strategy.ask())
        except StrategyExhausted:
            return out
    raise AssertionError(f"not exhausted after {limit} points")


def key(params):
    return tuple(sorted((k, type(v).__name__, repr(v)) for k, v in params.items()))


# -- grid ----------------------------------------------------------------------


def test_grid_order_is_the_product_with_the_last_key_fastest():
    strategy = GridStrategy(GRID_SPACE)
    expected = [{"a": a, "b": b} for a, b in itertools.product([1, 2], ["x", "y", "z"])]
    assert strategy.ask(6) == expected
    assert expected[1] == {"a": 1, "b": "y"}
    with pytest.raises(StrategyExhausted, match="all 6 grid points"):
        strategy.ask()
    assert strategy.ask(3) == []


def test_grid_order_is_the_same_every_time():
    assert (
        ask_all(GridStrategy(MIXED | {"lr": Real(1e-5, 1e-1, log=True, grid_points=3)}))[:50]
        == (ask_all(GridStrategy(MIXED | {"lr": Real(1e-5, 1e-1, log=True, grid_points=3)}))[:50])
    )


def test_grid_size():
    assert GridStrategy(GRID_SPACE).size == 6
    space = {"lr": Real(1e-4, 1e-1, log=True, grid_points=4), "n": Integer(1, 3), "c": ["a"]}
    strategy = GridStrategy(space)
    assert strategy.size == 12 == len(ask_all(strategy))


def test_grid_size_beyond_sys_maxsize():
    strategy = GridStrategy({f"k{i}": Integer(0, 999) for i in range(8)})
    assert strategy.size == 1000**8 > 2**63
    assert strategy.ask() == {f"k{i}": 0 for i in range(8)}
    assert strategy.ask()["k7"] == 1


def test_grid_needs_grid_points_for_reals():
    with pytest.raises(SearchSpaceError, match=r"Real 'training.lr' has no grid values"):
        GridStrategy({"training.lr": Real(1e-4, 1e-1), "n": [1, 2]})


def test_shuffled_grid_is_a_seeded_complete_permutation():
    space = {"a": Integer(0, 4), "b": ["x", "y", "z"], "c": [None, 1.0]}
    plain = ask_all(GridStrategy(space))
    first = ask_all(GridStrategy(space, shuffle=True, seed=3))
    again = ask_all(GridStrategy(space, shuffle=True, seed=3))
    other = ask_all(GridStrategy(space, shuffle=True, seed=4))
    assert len(first) == len(plain) == 30
    assert first == again
    assert first != plain and first != other
    assert sorted(map(key, first)) == sorted(map(key, plain)) == sorted(map(key, other))


def test_shuffled_grid_without_seed_is_still_complete():
    points = ask_all(GridStrategy(GRID_SPACE, shuffle=True))
    assert sorted(map(key, points)) == sorted(map(key, GridStrategy(GRID_SPACE).grid))


@pytest.mark.parametrize("shuffle", [False, True])
def test_grid_skips_points_told_without_being_asked(shuffle):
    """A resumed grid: points already run (told, never asked here) are not suggested."""
    done = [{"a": 1, "b": "y"}, {"a": 2, "b": "z"}]
    strategy = GridStrategy(GRID_SPACE, shuffle=shuffle, seed=0)
    for params in done:
        strategy.tell(params, 0.5)
    rest = ask_all(strategy)
    assert len(rest) == 4
    assert not any(same_params(p, d) for p in rest for d in done)
    assert sorted(map(key, rest + done)) == sorted(map(key, GridStrategy(GRID_SPACE).grid))


def test_grid_does_not_skip_points_that_only_look_alike():
    strategy = GridStrategy({"c": [1, 1.0, True]})
    strategy.tell({"c": 1.0}, 0.0)
    assert ask_all(strategy) == [{"c": 1}, {"c": True}]
    assert [type(p["c"]) for p in GridStrategy({"c": [1, 1.0, True]}).ask(3)] == [int, float, bool]


def test_grid_resume_after_the_point_was_asked_changes_nothing():
    strategy = GridStrategy(GRID_SPACE)
    first = strategy.ask()
    strategy.tell(first, 1.0)
    assert strategy.pending == []
    assert len(ask_all(strategy)) == 5


# -- random: seeds and sequences -------------------------------------------------


@pytest.mark.parametrize("quasi", [False, True])
@pytest.mark.parametrize("spec", [CONTINUOUS, MIXED], ids=["continuous", "mixed"])
def test_random_same_seed_same_sequence(spec, quasi):
    a = RandomStrategy(spec, seed=42, quasi=quasi).ask(30)
    b = RandomStrategy(spec, seed=42, quasi=quasi).ask(30)
    assert all(same_params(p, q) for p, q in zip(a, b, strict=True))


@pytest.mark.parametrize("quasi", [False, True])
def test_random_different_seeds_differ(quasi):
    firsts = [RandomStrategy(CONTINUOUS, seed=s, quasi=quasi).ask() for s in range(10)]
    assert len({key(p) for p in firsts}) == 10
    sequences = {key(q) for s in (1, 2) for q in RandomStrategy(MIXED, seed=s, quasi=quasi).ask(5)}
    assert len(sequences) > 5


def test_random_without_seed_differs_between_strategies():
    assert RandomStrategy(CONTINUOUS).ask(3) != RandomStrategy(CONTINUOUS).ask(3)


@pytest.mark.parametrize("quasi", [False, True])
def test_random_point_i_depends_only_on_seed_and_i(quasi):
    """Asking in batches, telling results (failures, unknown points) in between
    and keeping points pending does not change the sequence."""
    reference = RandomStrategy(MIXED, seed=7, quasi=quasi).ask(20)

    busy = RandomStrategy(MIXED, seed=7, quasi=quasi)
    seen = []
    seen += busy.ask(3)
    busy.tell(seen[0], 1.0)
    busy.tell({"lr": 0.01, "n": 3, "act": "relu"}, 2.0)  # told, never asked
    seen.append(busy.ask())
    busy.tell(seen[2], None, state="failed")
    seen += busy.ask(6)
    for p in seen[3:]:
        busy.tell(p, 0.0)
    while len(seen) < 20:
        seen.append(busy.ask())
    assert all(same_params(p, q) for p, q in zip(seen, reference, strict=True))


def test_quasi_points_are_a_stratified_sobol_net():
    """The first 64 scrambled Sobol points put exactly one point in each 1/64
    slice of every coordinate (iid draws leave many slices empty)."""
    for seed in range(3):
        pts = np.array(
            [
                [p[k] for k in CONTINUOUS]
                for p in RandomStrategy(CONTINUOUS, seed=seed, quasi=True).ask(64)
            ]
        )
        for j in range(3):
            assert sorted(np.floor(pts[:, j] * 64).astype(int)) == list(range(64))
    iid = np.array([[p[k] for k in CONTINUOUS] for p in RandomStrategy(CONTINUOUS, seed=0).ask(64)])
    assert len(set(np.floor(iid[:, 0] * 64).astype(int))) < 64


def test_quasi_points_have_lower_discrepancy_than_iid():
    def points(seed, quasi):
        strategy = RandomStrategy(CONTINUOUS, seed=seed, quasi=quasi)
        return np.array([[p[k] for k in CONTINUOUS] for p in strategy.ask(64)])

    for seed in range(5):
        assert qmc.discrepancy(points(seed, True)) < qmc.discrepancy(points(seed, False))
    quasi = np.mean([qmc.discrepancy(points(s, True)) for s in range(5)])
    iid = np.mean([qmc.discrepancy(points(s, False)) for s in range(5)])
    assert quasi < iid / 3


def test_quasi_rewinds_correctly():
    """Unpickling or resuming at an earlier index gives the same Sobol points."""
    strategy = RandomStrategy(CONTINUOUS, seed=1, quasi=True)
    first = strategy.ask(8)
    u = [strategy._unit_point(i) for i in (2, 0, 5)]
    np.testing.assert_array_equal(
        np.array([[first[i][k] for k in CONTINUOUS] for i in (2, 0, 5)]), u
    )


# -- random: finite spaces -------------------------------------------------------


@pytest.mark.parametrize("quasi", [False, True])
def test_random_finite_space_without_replacement_then_exhausted(quasi):
    space = {"n": Integer(1, 4), "act": ["relu", "gelu", None], "c": [1, 1.0]}
    strategy = RandomStrategy(space, seed=0, quasi=quasi)
    assert strategy.size == 24
    points = strategy.ask(100)
    assert len(points) == 24
    assert len({key(p) for p in points}) == 24
    with pytest.raises(StrategyExhausted, match="all 24 points"):
        strategy.ask()


def test_random_finite_space_skips_points_told_without_being_asked():
    space = {"n": Integer(1, 4), "act": ["relu", "gelu"]}
    strategy = RandomStrategy(space, seed=0)
    told = [{"n": 2, "act": "gelu"}, {"n": 4, "act": "relu"}]
    for p in told:
        strategy.tell(p, 1.0)
    rest = ask_all(strategy)
    assert len(rest) == 6
    assert not any(key(p) in {key(t) for t in told} for p in rest)


def test_random_large_finite_space_does_not_repeat():
    # above the exact-permutation limit: repeats are rejected instead
    strategy = RandomStrategy({"a": Integer(0, 1999), "b": Integer(0, 999)}, seed=0)
    assert strategy.size == 2_000_000 and strategy._order is None
    points = strategy.ask(300)
    assert len({key(p) for p in points}) == 300


def test_log_integer_finite_space_first_draws_follow_log_weights():
    """Across 2000 seeds, the first point of a finite log-integer space is 1
    as often as its probability under plain sampling (not 1/8)."""
    dim = Integer(1, 8, log=True)
    probs = dim.probabilities()
    n = 2000
    firsts = np.array([RandomStrategy({"n": dim}, seed=s).ask()["n"] for s in range(n)])
    ones = int(np.sum(firsts == 1))
    assert stats.binomtest(ones, n, probs[0]).pvalue > 0.001
    assert stats.binomtest(ones, n, 1 / 8).pvalue < 1e-6  # the test can tell
    counts = np.bincount(firsts - 1, minlength=8)
    assert stats.chisquare(counts, probs * n).pvalue > 0.001


# -- random: pickling ------------------------------------------------------------


@pytest.mark.parametrize("quasi", [False, True])
@pytest.mark.parametrize(
    "spec", [MIXED, {"n": Integer(1, 6), "c": ["a", (1, 2), [3]]}], ids=["mixed", "finite"]
)
def test_random_strategy_pickles_and_continues_the_sequence(spec, quasi):
    strategy = RandomStrategy(spec, seed=5, quasi=quasi)
    first = strategy.ask(4)
    strategy.tell(first[0], 0.5)
    copy = pickle.loads(pickle.dumps(strategy))
    assert len(copy.pending) == 3 and copy.history == strategy.history
    rest = strategy.ask(6)
    rest_copy = copy.ask(6)
    assert rest == rest_copy and len(rest) == 6
    reference = RandomStrategy(spec, seed=5, quasi=quasi).ask(10)
    assert first + rest == reference


def test_grid_strategy_pickles_and_continues():
    strategy = GridStrategy(GRID_SPACE, shuffle=True, seed=1)
    head = strategy.ask(2)
    copy = pickle.loads(pickle.dumps(strategy))
    assert ask_all(copy) == ask_all(strategy)
    assert len(head) == 2


# -- the ask/tell bookkeeping ----------------------------------------------------


@pytest.mark.parametrize(
    "make", [lambda: GridStrategy(GRID_SPACE), lambda: RandomStrategy(MIXED, seed=0)]
)
def test_tell_of_unknown_params_is_recorded_in_history(make):
    strategy = make()
    asked = strategy.ask(2)
    unknown = {"something": "else"}
    strategy.tell(unknown, 3)
    assert strategy.history[-1] == FrozenTrial(0, unknown, TrialState.COMPLETED, (3.0,))
    assert type(strategy.history[-1].value) is float
    assert strategy.pending == asked  # nothing was taken off the pending list
    strategy.tell(asked[1], None, state="failed")
    assert strategy.history[-1] == FrozenTrial(1, asked[1], TrialState.FAILED, None)
    assert strategy.pending == asked[:1]


@pytest.mark.parametrize(
    "make", [lambda: GridStrategy(GRID_SPACE), lambda: RandomStrategy(MIXED, seed=0)]
)
def test_tell_completed_without_value_raises(make):
    strategy = make()
    params = strategy.ask()
    with pytest.raises(ValueError, match="completed trial needs a value"):
        strategy.tell(params, None)
    with pytest.raises(ValueError, match="completed trial needs a value"):
        strategy.tell(params, None, state="completed")
    assert strategy.history == [] and strategy.pending == [params]


def test_tell_rejects_unknown_states():
    strategy = RandomStrategy(MIXED, seed=0)
    with pytest.raises(ValueError):
        strategy.tell(strategy.ask(), 1.0, state="exploded")


def test_pending_matches_type_aware():
    strategy = GridStrategy({"c": [1, 1.0]})
    one, one_float = strategy.ask(2)
    strategy.tell({"c": 1.0}, 0.0)
    assert strategy.pending == [one] and type(strategy.pending[0]["c"]) is int
    assert strategy.history[-1].params == one_float


def test_ask_returns_a_copy():
    strategy = RandomStrategy(MIXED, seed=0)
    params = strategy.ask()
    params["lr"] = -1.0
    assert strategy.pending[0]["lr"] != -1.0


def test_categorical_values_are_the_choice_objects():
    choice = [64, 64]
    strategy = RandomStrategy({"shape": Categorical([choice, (1, 2)])}, seed=0)
    values = [p["shape"] for p in strategy.ask(2)]
    assert any(v is choice for v in values)
    space = SearchSpace({"shape": Categorical([choice, (1, 2)])})
    assert all(space.contains({"shape": v}) for v in values)


def test_shuffling_a_huge_grid_costs_no_memory_and_never_repeats():
    """10^12 points: the shuffled order is computed point by point (a permutation
    array would need 8 TB); seeded, without repeats, and a bijection on small sizes."""
    from hpcore.strategies.grid import _LazyPermutation

    for n in (1, 2, 3, 7, 64, 1000, 4097):
        perm = _LazyPermutation(n, 5)
        assert sorted(perm[i] for i in range(n)) == list(range(n))
    space = {f"k{i}": list(range(10)) for i in range(12)}
    first = [GridStrategy(space, shuffle=True, seed=1).ask(50) for _ in range(2)]
    assert first[0] == first[1]
    s = GridStrategy(space, shuffle=True, seed=1)
    points = {tuple(p.values()) for p in s.ask(2000)}
    assert len(points) == 2000 and s.size == 10**12
    assert first[0] != GridStrategy(space, shuffle=True, seed=2).ask(50)
