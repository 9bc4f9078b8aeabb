"""The ask/tell protocol every strategy implements.

A strategy is a pure object: it suggests parameters and learns from
results, and does no I/O. Strategies **minimise**; the search negates the
value for ``mode='max'``.

* ``ask()`` returns one parameter dict (``ask(n)`` a list of up to ``n``,
  fewer when a finite strategy runs out); asked points are *pending* until
  told. ``StrategyExhausted`` means nothing is left to suggest.
* ``tell(params, value, state, constraints=None)`` records a result.
  ``value`` is ``None`` for a trial without one (failed, timed out), a
  tuple of values with several objectives (each minimised);
  ``constraints`` are the trial's violations (``<= 0``: met). Points told
  that were never asked (a resumed study, a warm start) are recorded the
  same way.

* ``enqueue(params)`` queues a known configuration (all the keys or some of
  them): the next ``ask()`` calls return the queued ones first, in order,
  each completed by the strategy's own suggestion for that trial when keys
  are missing (:meth:`Strategy.enqueue`). They are told like any other point.

``history`` keeps every told result as a :class:`~hpcore.trial.FrozenTrial`
(the one trial record), numbered in the order told, whose value is the one
the strategy minimises.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, overload

import numpy as np

from ..errors import StrategyExhausted
from ..space import SearchSpace
from ..space.dimensions import same_value
from ..trial import FrozenTrial, TrialState

__all__ = ["Strategy"]


def same_params(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Equal keys and type-aware equal values (``1`` differs from ``1.0``)."""
    return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)


class Strategy(ABC):
    """Base class of ask/tell strategies.

    Subclasses implement :meth:`_suggest`; the base class keeps the pending
    points and the history.

    Parameters
    ----------
    space : SearchSpace or mapping
        What to search.
    """

    def __init__(self, space: SearchSpace | Mapping[str, Any]) -> None:
        self.space = space if isinstance(space, SearchSpace) else SearchSpace(space)
        self.pending: list[dict[str, Any]] = []
        self.history: list[FrozenTrial] = []
        #: Enqueued configurations not asked yet, as :meth:`_queued` keeps them.
        self.queue: list[dict[str, Any]] = []

    @property
    def size(self) -> int | None:
        """How many points this strategy can suggest in all, ``None`` if unbounded."""
        return None

    @abstractmethod
    def _suggest(self) -> dict[str, Any]:
        """The next point; raise ``StrategyExhausted`` when there is none."""

    def _observe(self, observation: FrozenTrial, was_pending: bool) -> None:  # noqa: B027
        """Hook for subclasses that learn from results (no-op by default)."""

    @overload
    def ask(self, n: None = None) -> dict[str, Any]: ...

    @overload
    def ask(self, n: int) -> list[dict[str, Any]]: ...

    def restore(
        self,
        finished: Iterable[tuple[Any, ...]],
        running: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        """Bring a fresh strategy to where an earlier run of it stopped (resume).

        ``finished`` are ``(params, value, state)`` (or ``(params, value,
        state, constraints)``) of the trials that ended, in the order they
        were started; they are told. ``running`` are the
        params of trials that will be run again: they become pending, so
        they are neither suggested again nor forgotten, and they count
        towards the position in the sequence of suggestions (a seeded
        strategy continues as an uninterrupted run would).
        """
        for params, value, state, *constraints in finished:
            self.tell(params, value, state, constraints=constraints[0] if constraints else None)
        for params in running:
            params = dict(params)
            n = len(self.history) + len(self.pending)
            self._observe(FrozenTrial(n, params, TrialState.RUNNING), False)
            self.pending.append(params)
        self._restored(len(self.history) + len(self.pending))

    def _restored(self, n_suggested: int) -> None:  # noqa: B027 - optional hook
        """Hook: ``n_suggested`` suggestions were made by the run being resumed."""

    def enqueue(self, params: Mapping[str, Any]) -> None:
        """Have the next ``ask()`` return ``params`` (after those enqueued before).

        ``params`` may give every key of the space or only some (dotted keys,
        checked by :meth:`SearchSpace.check_partial`); the keys it leaves out
        come from the strategy's own suggestion for that trial, so a seeded
        strategy stays deterministic. A complete configuration takes the place
        of one suggestion without asking for it.

        Raises
        ------
        hpcore.errors.SearchSpaceError
            A key that is not in the space, a value outside its dimension, a
            conditional key that its given parents leave inactive.
        """
        self.queue.append(self._queued(self.space.check_partial(params)))

    def _queued(self, fixed: dict[str, Any]) -> dict[str, Any]:
        """Hook: what the queue keeps of a checked configuration (itself by default)."""
        return fixed

    def _is_complete(self, fixed: Mapping[str, Any]) -> bool:
        """Whether ``fixed`` gives every key that is active at its values."""
        return self.space.active(fixed).issubset(fixed)

    def _enqueued(self, fixed: dict[str, Any]) -> dict[str, Any]:
        """Hook: the point an enqueued configuration runs as, when it is asked.

        A complete one as it is; otherwise its values over this strategy's
        own suggestion (:meth:`SearchSpace.complete`).
        """
        if self._is_complete(fixed):
            return dict(fixed)
        return self.space.complete(fixed, self._suggest())

    def _next(self) -> dict[str, Any]:
        """The head of the queue (taken off once it is placed), else a suggestion."""
        if not self.queue:
            return self._suggest()
        params = self._enqueued(self.queue[0])
        self.queue.pop(0)
        return params

    def ask(self, n: int | None = None) -> dict[str, Any] | list[dict[str, Any]]:
        """Suggest one point, or (with ``n``) a list of up to ``n`` points.

        Enqueued configurations come first (:meth:`enqueue`).

        Raises
        ------
        StrategyExhausted
            When asked for one point and none is left (``ask(n)`` returns
            an empty list instead).
        """
        if n is None:
            params = self._next()
            self.pending.append(params)
            return dict(params)
        batch: list[dict[str, Any]] = []
        for _ in range(n):
            try:
                batch.append(self.ask())
            except StrategyExhausted:
                break
        return batch

    def tell(
        self,
        params: Mapping[str, Any],
        value: float | Sequence[float] | None,
        state: TrialState | str = TrialState.COMPLETED,
        *,
        constraints: Sequence[float] | None = None,
    ) -> None:
        """Record the result of ``params``: a value to minimise (a sequence of them
        with several objectives) or ``None``, and its constraint violations."""
        state = TrialState(state)
        if state is TrialState.COMPLETED and value is None:
            raise ValueError("a completed trial needs a value; use state='failed' for none")
        values = None if value is None else (
            tuple(float(v) for v in value) if isinstance(value, (Sequence, np.ndarray))
            else (float(value),)
        )
        was_pending = False
        for i, p in enumerate(self.pending):
            if same_params(p, params):
                del self.pending[i]
                was_pending = True
                break
        obs = FrozenTrial(len(self.history), dict(params), state, values=values,
                          constraints=None if constraints is None else tuple(constraints))
        self.history.append(obs)
        self._observe(obs, was_pending)
