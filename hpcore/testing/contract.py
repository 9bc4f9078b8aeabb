"""A reusable contract suite for ask/tell samplers.

:class:`SamplerContract` is a pytest base class. Subclass it in your test
suite, say how to build your sampler, and pytest runs property-based tests
(with `Hypothesis <https://hypothesis.readthedocs.io>`_ and the spaces of
:mod:`hpcore.testing.strategies`) that every sampler speaking hpcore's
ask/tell protocol must pass:

* every suggestion has exactly the space's keys, each with a value inside
  its dimension and of the right Python type (``float`` for a ``Real``,
  ``int`` for an ``Integer``, the very type of one of the choices for a
  ``Categorical``);
* the same seed gives the same suggestions, when told the same results;
* in a finite space, no point is suggested twice, and after every point
  was suggested ``ask()`` raises :class:`~hpcore.errors.StrategyExhausted`;
* failed trials (``tell(params, None, state='failed')``) are accepted and
  the sampler goes on suggesting valid points;
* several points can be pending (asked, not yet told) at once and be told
  in any order.

Usage
-----
.. code-block:: python

    from hpcore.testing import SamplerContract

    class TestMySampler(SamplerContract):
        def make_sampler(self, space, seed):
            return MySampler(space, seed=seed)

A sampler is any object with

``ask()``
    Return one parameter dict; raise ``hpcore.StrategyExhausted`` when a
    finite sampler has nothing left.
``tell(params, value, state='completed')``
    Record a result: ``value`` a float to minimise, or ``None`` with
    ``state='failed'``.

Class attributes tune the contract to what the sampler promises:

``deterministic = True``
    Same seed, same sequence. Set ``False`` to skip that test.
``finite_no_duplicates = True``
    No repeats in a finite space, exhausted after all points. Set
    ``False`` for samplers that may repeat (e.g. model-based ones).
``finite_sampler = False``
    ``True`` for samplers that suggest finitely many points even in a
    continuous space (a grid): they may raise ``StrategyExhausted`` there
    after the first point.
``n_suggestions = 8``
    How many points each test asks for (fewer in a smaller finite space).
``max_finite_cardinality = 50``
    Size bound of the spaces the no-duplicates test enumerates.

Override :meth:`SamplerContract.spaces` to restrict the spaces drawn (for a
sampler that only supports some dimension types, say) and
:meth:`SamplerContract.objective` to tell other values. Each test runs 25
examples; the rest of the Hypothesis settings (``derandomize``, the
database, ...) come from the settings profile active when this module is
first imported, so load your profile in ``conftest.py`` (pytest imports it
before the test modules).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..errors import StrategyExhausted
from ..space import Categorical, Integer, Real, SearchSpace
from ..strategies.base import same_params
from .strategies import search_spaces, seeds

__all__ = ["SamplerContract", "check_suggestion", "default_objective"]


_contract_settings = settings(
    max_examples=25,
    deadline=None,
    # one clear failure (a plain AssertionError) rather than a group of them
    report_multiple_bugs=False,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        # the same test methods run on every subclass
        HealthCheck.differing_executors,
    ],
)


def check_suggestion(space: SearchSpace, params: Any) -> None:
    """Assert that ``params`` is a valid suggestion for ``space``.

    It must be a mapping with exactly the space's (dotted) keys; each value
    must lie inside its dimension and have the right Python type: ``float``
    for a :class:`~hpcore.space.Real`, ``int`` (not ``bool``, not a numpy
    integer) for an :class:`~hpcore.space.Integer`, and for a
    :class:`~hpcore.space.Categorical` one of the choices with its very
    type (``1.0`` is not the choice ``1``).

    Parameters
    ----------
    space : SearchSpace
        The space the sampler searches.
    params : object
        What the sampler's ``ask()`` returned.

    Raises
    ------
    AssertionError
        Naming the key at fault.
    """
    assert isinstance(params, Mapping), (
        f"ask() must return a dict of parameters, got {params!r} ({type(params).__name__})"
    )
    keys, expected = set(params), set(space)
    assert keys == expected, (
        f"suggestion {params!r} has the wrong keys: missing "
        f"{sorted(expected - keys, key=repr)}, unexpected {sorted(keys - expected, key=repr)}"
    )
    for key, dim in space.items():
        value = params[key]
        if isinstance(dim, Real):
            assert isinstance(value, float), (
                f"'{key}' = {value!r} is a {type(value).__name__}; a value of {dim!r} must be a float"
            )
        elif isinstance(dim, Integer):
            assert isinstance(value, int) and not isinstance(value, bool), (
                f"'{key}' = {value!r} is a {type(value).__name__}; a value of {dim!r} must be an int"
            )
        elif isinstance(dim, Categorical):
            assert any(type(value) is type(c) for c in dim.choices), (
                f"'{key}' = {value!r} is a {type(value).__name__}, the type of none of the "
                f"choices of {dim!r}"
            )
        assert dim.contains(value), f"'{key}' = {value!r} is outside {dim!r}"
    assert space.contains(params), f"{params!r} is not a point of {space!r}"


def default_objective(space: SearchSpace, params: Mapping[str, Any]) -> float:
    """A smooth, deterministic value to tell for ``params``.

    The squared distance of the point's unit-cube encoding from
    ``(0.3, 0.3, ...)``, so that model-based samplers get a learnable
    signal and the same point always gets the same value.
    """
    u = space.encode(params)
    return float(np.sum((u - 0.3) ** 2))


def _point_key(space: SearchSpace, params: Mapping[str, Any]) -> tuple[float, ...]:
    """A hashable identity of a point of a finite space (its cell's centre)."""
    return tuple(float(x) for x in space.encode(params))


class SamplerContract:
    """Property tests every ask/tell sampler must pass; subclass to use.

    Implement :meth:`make_sampler`; optionally set the class attributes
    described in :mod:`hpcore.testing.contract` and override
    :meth:`spaces` or :meth:`objective`. The class name does not start
    with ``Test``, so pytest runs only your subclasses.
    """

    #: Same seed, same suggestions (given the same results told).
    deterministic: bool = True
    #: In a finite space: no repeats, then ``StrategyExhausted``.
    finite_no_duplicates: bool = True
    #: Finitely many points even in a continuous space (a grid).
    finite_sampler: bool = False
    #: Points asked per test (fewer when the space is smaller).
    n_suggestions: int = 8
    #: Largest cardinality of the spaces enumerated by the no-duplicates test.
    max_finite_cardinality: int = 50

    # -- to implement / override -------------------------------------------
    def make_sampler(self, space: SearchSpace, seed: int) -> Any:
        """Build the sampler under test for ``space``, seeded with ``seed``."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement make_sampler(self, space, seed)"
        )

    def spaces(self, **kwargs: Any) -> st.SearchStrategy[SearchSpace]:
        """The spaces to test on; ``kwargs`` go to :func:`~hpcore.testing.strategies.search_spaces`.

        The no-duplicates test calls it with ``finite=True`` and
        ``max_cardinality``; honour those when overriding.
        """
        return search_spaces(**kwargs)

    def objective(self, space: SearchSpace, params: Mapping[str, Any]) -> float:
        """The value told for ``params`` (default: :func:`default_objective`)."""
        return default_objective(space, params)

    # -- helpers ---------------------------------------------------------------
    def _limit(self, space: SearchSpace, n: int | None = None) -> int:
        n = self.n_suggestions if n is None else n
        return n if space.cardinality is None else min(n, space.cardinality)

    def _ask(self, sampler: Any, space: SearchSpace, done: int) -> dict[str, Any] | None:
        """Ask once; ``None`` when the sampler may be, and is, exhausted."""
        try:
            params = sampler.ask()
        except StrategyExhausted:
            allowed = self.finite_sampler and done >= 1
            assert allowed, (
                f"ask() raised StrategyExhausted after only {done} suggestion(s) in a space of "
                f"cardinality {space.cardinality or 'infinity'}: {space!r}"
                + (
                    ""
                    if space.cardinality is not None or done == 0
                    else " (set finite_sampler = True if the sampler is finite by design)"
                )
            )
            return None
        check_suggestion(space, params)
        return dict(params)

    def _tell(self, sampler: Any, space: SearchSpace, params: dict[str, Any], i: int) -> None:
        """Tell a result: every third one a failed trial, the others a value."""
        if i % 3 == 2:
            sampler.tell(params, None, state="failed")
        else:
            value = self.objective(space, params)
            assert math.isfinite(value)
            sampler.tell(params, value)

    def _draw(self, data: st.DataObject, **kwargs: Any) -> tuple[SearchSpace, int]:
        space = data.draw(self.spaces(**kwargs), label="space")
        seed = data.draw(seeds(), label="seed")
        return space, seed

    # -- the contract ----------------------------------------------------------
    @_contract_settings
    @given(data=st.data())
    def test_suggestions_are_in_bounds_and_of_the_right_type(self, data: st.DataObject) -> None:
        """Every suggestion holds, for every key, a value inside its dimension
        (``space.contains``) of the right type: float for Real, int for
        Integer, one of the choices (same type) for Categorical."""
        space, seed = self._draw(data)
        sampler = self.make_sampler(space, seed)
        for i in range(self._limit(space)):
            params = self._ask(sampler, space, i)  # checks the suggestion
            if params is None:
                break
            self._tell(sampler, space, params, i)

    @_contract_settings
    @given(data=st.data())
    def test_suggestions_have_exactly_the_space_keys(self, data: st.DataObject) -> None:
        """Every suggestion's keys are exactly the space's dotted keys, nested
        specs included: none missing, none extra."""
        space, seed = self._draw(data)
        sampler = self.make_sampler(space, seed)
        for i in range(self._limit(space)):
            try:
                params = sampler.ask()
            except StrategyExhausted:
                assert self.finite_sampler and i >= 1, "exhausted before any suggestion"
                break
            assert isinstance(params, Mapping), f"ask() returned {type(params).__name__}"
            assert sorted(params) == sorted(space), (
                f"suggestion keys {sorted(params, key=repr)} != space keys {sorted(space)}"
            )
            self._tell(sampler, space, dict(params), i)

    @_contract_settings
    @given(data=st.data())
    def test_same_seed_gives_the_same_suggestions(self, data: st.DataObject) -> None:
        """Two samplers built with the same seed suggest the same sequence
        (same values and types) when told the same results, pending points
        included."""
        if not self.deterministic:
            pytest.skip("the sampler does not promise determinism (deterministic = False)")
        space, seed = self._draw(data)
        first = self.make_sampler(space, seed)
        second = self.make_sampler(SearchSpace(space), seed)
        pending: list[tuple[int, dict[str, Any]]] = []
        for i in range(self._limit(space)):
            a = self._ask(first, space, i)
            b = self._ask(second, space, i)
            assert (a is None) == (b is None), (
                f"suggestion {i}: only one of two samplers with seed {seed} is exhausted"
            )
            if a is None:
                break
            assert same_params(a, b), (
                f"suggestion {i} differs between two samplers with seed {seed}: {a!r} != {b!r}"
            )
            pending.append((i, a))
            if i % 2 == 1:  # ask, ask, tell, tell: two points pending at a time
                for j, p in pending:
                    self._tell(first, space, p, j)
                    self._tell(second, space, p, j)
                pending.clear()

    @_contract_settings
    @given(data=st.data())
    def test_finite_space_no_duplicates_then_exhausted(self, data: st.DataObject) -> None:
        """In a finite space (cardinality <= max_finite_cardinality) the first
        ``cardinality`` suggestions are all different, pending ones
        included, and the next ``ask()`` raises StrategyExhausted."""
        if not self.finite_no_duplicates:
            pytest.skip("the sampler may repeat points (finite_no_duplicates = False)")
        space, seed = self._draw(data, finite=True, max_cardinality=self.max_finite_cardinality)
        cardinality = space.cardinality
        assert cardinality is not None and cardinality <= self.max_finite_cardinality, (
            f"spaces(finite=True, max_cardinality=...) returned {space!r}"
        )
        sampler = self.make_sampler(space, seed)
        seen: dict[tuple[float, ...], int] = {}
        pending: list[tuple[int, dict[str, Any]]] = []
        for i in range(cardinality):
            try:
                params = sampler.ask()
            except StrategyExhausted:
                raise AssertionError(
                    f"ask() raised StrategyExhausted after {i} of the {cardinality} points "
                    f"of {space!r}"
                ) from None
            check_suggestion(space, params)
            key = _point_key(space, params)
            assert key not in seen, (
                f"suggestion {i} {dict(params)!r} repeats suggestion {seen[key]} in a finite "
                f"space of {cardinality} points"
            )
            seen[key] = i
            pending.append((i, dict(params)))
            if i % 2 == 1:
                for j, p in pending:
                    self._tell(sampler, space, p, j)
                pending.clear()
        try:
            extra = sampler.ask()
        except StrategyExhausted:
            return
        raise AssertionError(
            f"ask() returned {extra!r} after all {cardinality} points of {space!r} had been "
            "suggested; it must raise StrategyExhausted"
        )

    @_contract_settings
    @given(data=st.data())
    def test_failed_trials_are_accepted(self, data: st.DataObject) -> None:
        """``tell(params, None, state='failed')`` is accepted, also for every
        point in a row, and the sampler keeps suggesting valid points."""
        space, seed = self._draw(data)
        sampler = self.make_sampler(space, seed)
        limit = self._limit(space)
        for i in range(limit):
            params = self._ask(sampler, space, i)
            if params is None:
                break
            if i < (limit + 1) // 2:
                sampler.tell(params, None, state="failed")  # a run of failures first
            else:
                self._tell(sampler, space, params, i)

    @_contract_settings
    @given(data=st.data())
    def test_pending_points_can_be_told_in_any_order(self, data: st.DataObject) -> None:
        """Several points can be asked before any is told (pending), be told
        in another order, and the sampler then keeps suggesting valid
        points; in a finite space the pending points are not repeated."""
        space, seed = self._draw(data)
        sampler = self.make_sampler(space, seed)
        limit = self._limit(space)
        k = min(4, limit)
        batch: list[dict[str, Any]] = []
        for i in range(k):
            params = self._ask(sampler, space, i)
            if params is None:
                break
            batch.append(params)
        order = data.draw(st.permutations(range(len(batch))), label="tell order")
        for j in order:
            self._tell(sampler, space, batch[j], j)
        later: list[dict[str, Any]] = []
        for i in range(len(batch), limit):
            params = self._ask(sampler, space, i)
            if params is None:
                break
            later.append(params)
            self._tell(sampler, space, params, i)
        if space.cardinality is not None and self.finite_no_duplicates:
            keys = [_point_key(space, p) for p in batch + later]
            assert len(set(keys)) == len(keys), (
                f"repeated suggestions in a finite space: {batch + later!r}"
            )
