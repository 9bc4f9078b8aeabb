"""hpcore's own strategies through the public sampler contract (hpcore.testing),
and checks that the contract and the Hypothesis strategies do their job."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from hpcore import Categorical, Integer, Real, SearchSpace, StrategyExhausted
from hpcore.config import apply_params, get_path
from hpcore.strategies import GridStrategy, RandomStrategy
from hpcore.testing import SamplerContract, check_suggestion
from hpcore.testing import strategies as hst


def with_grid_points(space: SearchSpace, n: int = 3) -> SearchSpace:
    """The same space with every Real given ``n`` grid points."""
    return SearchSpace(
        {
            key: Real(dim.low, dim.high, log=dim.log, grid_points=n)
            if isinstance(dim, Real)
            else dim
            for key, dim in space.items()
        }
    )


# -- hpcore's strategies pass the contract ------------------------------------


class TestGridStrategyContract(SamplerContract):
    finite_sampler = True  # a grid is finite even in a continuous space

    def make_sampler(self, space, seed):
        return GridStrategy(with_grid_points(space))


class TestShuffledGridStrategyContract(SamplerContract):
    finite_sampler = True

    def spaces(self, **kwargs):
        # a shuffled grid materialises a permutation of all its points
        return hst.search_spaces(**kwargs).filter(
            lambda space: with_grid_points(space).grid().size <= 10_000
        )

    def make_sampler(self, space, seed):
        return GridStrategy(with_grid_points(space), shuffle=True, seed=seed)


class TestRandomStrategyContract(SamplerContract):
    def make_sampler(self, space, seed):
        return RandomStrategy(space, seed=seed)


class TestQuasiRandomStrategyContract(SamplerContract):
    def make_sampler(self, space, seed):
        return RandomStrategy(space, seed=seed, quasi=True)


# -- the contract catches broken samplers -------------------------------------


class _OutOfBounds(RandomStrategy):
    """Overshoots the upper bound of the first numeric dimension."""

    def _suggest(self):
        params = super()._suggest()
        for key, dim in self.space.items():
            if isinstance(dim, Real):
                params[key] = float(dim.high) + 1.0
                break
            if isinstance(dim, Integer):
                params[key] = int(dim.high) + 1
                break
        return params


class _Repeats(RandomStrategy):
    """Suggests its first point over and over (and never runs out)."""

    def _suggest(self):
        if not hasattr(self, "_first"):
            self._first = super()._suggest()
        return dict(self._first)


class _NumpyInts(RandomStrategy):
    """Returns numpy integers for Integer dimensions (in bounds, wrong type)."""

    def _suggest(self):
        params = super()._suggest()
        return {
            k: np.int64(v) if isinstance(self.space[k], Integer) else v for k, v in params.items()
        }


class _EqualButWrongType(RandomStrategy):
    """Returns 1.0 where the choice is 1 (equal under ==, another type)."""

    def _suggest(self):
        params = super()._suggest()
        return {
            k: float(v) if type(v) is int and isinstance(self.space[k], Categorical) else v
            for k, v in params.items()
        }


class _DropsKeys(RandomStrategy):
    """Forgets the last key of the space."""

    def _suggest(self):
        params = super()._suggest()
        params.pop(list(self.space)[-1])
        return params


class _Unseeded(RandomStrategy):
    """Ignores its seed."""

    def __init__(self, space, seed=None):
        super().__init__(space, seed=None)


class _ExhaustsEarly(GridStrategy):
    """Stops after two points, whatever the space."""

    def __init__(self, space, seed=None):
        super().__init__(with_grid_points(space), seed=seed)

    def _suggest(self):
        if self._cursor >= 2:
            raise StrategyExhausted("tired")
        return super()._suggest()


class _RejectsFailures(RandomStrategy):
    def tell(self, params, value, state="completed"):
        if value is None:
            raise TypeError("value must be a float")
        super().tell(params, value, state)


class _ForgetsPending(RandomStrategy):
    """Crashes when a point is told that is not the most recently asked one."""

    def tell(self, params, value, state="completed"):
        if self.pending and params != self.pending[-1]:
            raise KeyError("unknown point")
        super().tell(params, value, state)


def _run_without_shrinking(contract, test_name):
    """Run one contract test's own logic (the function under its @given) under
    Hypothesis again, generating examples but not shrinking failures, which
    only costs time here."""
    inner = getattr(type(contract), test_name).hypothesis.inner_test
    test = settings(
        max_examples=25,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )(given(data=st.data())(inner))
    test(contract)


def _contract_for(sampler_cls, **attrs):
    def make_sampler(self, space, seed):
        return sampler_cls(space, seed=seed)

    return type(
        f"_{sampler_cls.__name__}Contract",
        (SamplerContract,),
        {"make_sampler": make_sampler, **attrs},
    )()


@pytest.mark.parametrize(
    ("sampler_cls", "test_name", "spaces", "error"),
    [
        (
            _OutOfBounds,
            "test_suggestions_are_in_bounds_and_of_the_right_type",
            None,
            AssertionError,
        ),
        (_NumpyInts, "test_suggestions_are_in_bounds_and_of_the_right_type", None, AssertionError),
        (
            _EqualButWrongType,
            "test_suggestions_are_in_bounds_and_of_the_right_type",
            hst.search_spaces(max_dims=2, finite=True),
            AssertionError,
        ),
        (_DropsKeys, "test_suggestions_have_exactly_the_space_keys", None, AssertionError),
        (_Unseeded, "test_same_seed_gives_the_same_suggestions", None, AssertionError),
        (_Repeats, "test_finite_space_no_duplicates_then_exhausted", None, AssertionError),
        (
            _ExhaustsEarly,
            "test_suggestions_are_in_bounds_and_of_the_right_type",
            None,
            AssertionError,
        ),
        (_RejectsFailures, "test_failed_trials_are_accepted", None, TypeError),
        (_ForgetsPending, "test_pending_points_can_be_told_in_any_order", None, KeyError),
    ],
)
def test_contract_catches_a_broken_sampler(sampler_cls, test_name, spaces, error):
    """Each broken sampler fails the contract test aimed at its defect."""
    attrs = {}
    if spaces is not None:
        attrs["spaces"] = lambda self, **kw: spaces if not kw else hst.search_spaces(**kw)
    contract = _contract_for(sampler_cls, **attrs)
    with pytest.raises(Exception) as info:
        _run_without_shrinking(contract, test_name)
    if hasattr(info.value, "exceptions"):  # an exception group
        # a nondeterministic sampler fails, then passes on replay: Hypothesis
        # reports that as a FlakyFailure group holding the assertion
        assert sampler_cls is _Unseeded
        assert info.group_contains(error)
    else:
        assert info.type is error, info.value


def test_contract_flags_switch_off_only_their_own_test():
    """finite_no_duplicates = False skips the no-duplicates test (repeats are then
    valid), deterministic = False skips the determinism test."""
    contract = _contract_for(_Repeats, finite_no_duplicates=False)
    with pytest.raises(pytest.skip.Exception):
        contract.test_finite_space_no_duplicates_then_exhausted()
    contract.test_suggestions_are_in_bounds_and_of_the_right_type()
    contract.test_pending_points_can_be_told_in_any_order()

    unseeded = _contract_for(_Unseeded, deterministic=False)
    with pytest.raises(pytest.skip.Exception):
        unseeded.test_same_seed_gives_the_same_suggestions()
    with pytest.raises(AssertionError):
        _run_without_shrinking(
            _contract_for(_Repeats, deterministic=False),
            "test_finite_space_no_duplicates_then_exhausted",
        )


def test_check_suggestion_messages_name_the_key():
    space = SearchSpace({"model": {"dim": Integer(1, 4)}, "lr": Real(0.1, 1.0), "act": [1, "a"]})
    check_suggestion(space, {"model.dim": 2, "lr": 0.5, "act": 1})
    with pytest.raises(AssertionError, match="'model.dim' = 5 is outside"):
        check_suggestion(space, {"model.dim": 5, "lr": 0.5, "act": 1})
    with pytest.raises(AssertionError, match="'lr' = 1 is a int"):
        check_suggestion(space, {"model.dim": 2, "lr": 1, "act": 1})
    with pytest.raises(AssertionError, match="'model.dim' = 2.0 is a float"):
        check_suggestion(space, {"model.dim": 2.0, "lr": 0.5, "act": 1})
    with pytest.raises(AssertionError, match="'act' = True is a bool"):
        check_suggestion(space, {"model.dim": 2, "lr": 0.5, "act": True})
    with pytest.raises(AssertionError, match=r"missing \['model.dim'\], unexpected \['model'\]"):
        check_suggestion(space, {"model": {"dim": 2}, "lr": 0.5, "act": 1})


# -- the Hypothesis strategies generate what they promise ---------------------


@settings(max_examples=40)
@given(hst.search_space_specs())
def test_generated_specs_are_accepted_and_flatten_to_their_keys(spec):
    space = SearchSpace(spec)
    assert 1 <= len(space) <= 5
    assert all(isinstance(k, str) and "" not in k.split(".") for k in space)
    # rebuilding from the flat keys gives the same space
    assert SearchSpace(dict(space)) == space


@settings(max_examples=40)
@given(hst.search_spaces(finite=True, max_cardinality=30))
def test_finite_spaces_respect_max_cardinality(space):
    assert space.cardinality is not None and 1 <= space.cardinality <= 30
    assert not any(isinstance(d, Real) for d in space.values())


@settings(max_examples=30)
@given(hst.search_spaces(finite=False))
def test_continuous_spaces_have_only_reals(space):
    assert space.cardinality is None
    assert all(isinstance(d, Real) for d in space.values())


@settings(max_examples=30)
@given(hst.reals(grid_points=4))
def test_reals_with_grid_points_have_a_grid(dim):
    assert len(dim.grid_values("x")) == 4


@settings(max_examples=30)
@given(st.data())
def test_generated_configs_accept_every_point(data):
    space = data.draw(hst.search_spaces(max_dims=4), label="space")
    config = data.draw(hst.configs(space), label="config")
    params = data.draw(hst.parameters(space), label="params")
    before = repr(config)
    new = apply_params(config, params)
    for key, value in params.items():
        assert get_path(new, key) == value and type(get_path(new, key)) is type(value)
    assert repr(config) == before  # the base is not mutated


@settings(max_examples=30)
@given(hst.unit_points(3, n=4))
def test_unit_points_shape_and_range(u):
    assert u.shape == (4, 3) and u.dtype == np.float64
    assert np.all((0.0 <= u) & (u <= 1.0))


@pytest.mark.parametrize(
    ("strategy", "condition"),
    [
        (hst.reals(), lambda d: d.high - d.low <= 2e-9 * max(1.0, abs(d.low))),
        (hst.reals(log=True), lambda d: d.log and d.high / d.low < 1 + 1e-8),
        (hst.integers(), lambda d: d.cardinality == 2),
        (hst.integers(log=True), lambda d: d == Integer(1, 64, log=True)),
        (hst.categoricals(), lambda d: d.cardinality == 1),
        (
            hst.categoricals(),
            lambda d: {int, float, bool} <= {type(c) for c in d.choices},
        ),
        (hst.categoricals(), lambda d: any(isinstance(c, list) for c in d.choices)),
        (hst.search_space_specs(), lambda s: any("." in k for k in s)),
        (hst.search_space_specs(), lambda s: any(isinstance(v, dict) for v in s.values())),
        (hst.search_space_specs(), lambda s: any(isinstance(v, list) for v in s.values())),
        (
            hst.search_spaces(min_dims=3),
            lambda s: {Real, Integer, Categorical} <= {type(d) for d in s.values()},
        ),
    ],
)
def test_strategies_reach_the_awkward_cases(strategy, condition):
    """Degenerate ranges, mixed-type choices and dotted/nested keys do come up."""
    find(
        strategy,
        condition,
        settings=settings(max_examples=500, database=None, phases=[Phase.generate]),
    )
