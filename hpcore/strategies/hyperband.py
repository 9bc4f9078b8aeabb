"""Hyperband and ASHA: successive halving of a resource (epochs, steps, samples).

Both strategies give each trial a *budget* of a resource and spend most of
it on the configurations that look best at small budgets. The budget is
one more parameter of the trial: ``ask()`` returns the sampled values plus
``{resource_key: budget}``, so a trial's config carries its budget. A
*promotion* (training a good configuration again with ``eta`` times more
resource) is a later ``ask()`` that returns the same sampled values with a
larger budget: a new trial. Values are minimised.

Symbols
-------
``R`` (``max_resource``), ``r_min`` (``min_resource``), ``eta``
    The largest budget, the smallest, and the reduction factor.
``s_max = floor(log_eta(R / r_min))``
    Number of halvings from the smallest budget to ``R``.
Ladder
    The budgets ``R * eta**(k - s_max)`` for ``k = 0..s_max`` (ascending,
    the last one exactly ``R``). Rounded half up to integers when ``R`` and
    ``r_min`` are ints, floats otherwise.

Hyperband (Li et al., JMLR 2018)
    Brackets ``s = s_max, ..., 0``. Bracket ``s`` draws
    ``n = ceil((s_max + 1) / (s + 1) * eta**s)`` configurations and runs
    successive halving on them: rung ``i = 0..s`` has
    ``n_i = floor(n * eta**-i)`` configurations at budget
    ``r_i = R * eta**(i - s)``; the best ``n_{i+1}`` completed ones of rung
    ``i`` are promoted to rung ``i + 1`` once every trial of rung ``i`` has
    finished. For ``R = 81, eta = 3``: 81/27/9/3/1 at 1/3/9/27/81,
    34/11/3/1 at 3/9/27/81, 15/5/1 at 9/27/81, 8/2 at 27/81 and 5 at 81
    (206 trials).

ASHA (Li et al., MLSys 2020)
    Rungs ``k`` of the ladder. On each ``ask``, promote a configuration of
    the highest rung ``k < s_max`` that is among the best
    ``floor(n_k / eta)`` of the ``n_k`` trials finished in rung ``k`` and
    was not promoted yet; otherwise start a new configuration at the
    bottom rung. It never waits for a rung to fill, so workers stay busy.

In both, failed, timed-out and early-stopped trials count as finished in
their rung (a rung whose trials all ended is complete) but are never
promoted: a stopping rule already judged the trial not worth more
resource. Ties are broken by the order in which configurations were drawn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ArgumentError, StrategyExhausted, WaitForResults
from ..space import SearchSpace
from ..trial import FrozenTrial, TrialState
from ._resource import (
    SAMPLERS,
    _key,
    _promotable,
    _ResourceStrategy,
    _same_budget,
    budget_ladder,
    check_resource_args,
)
from .asha import ASHAStrategy
from .base import same_params
from .random import RandomStrategy

__all__ = ["HyperbandStrategy", "ASHAStrategy", "WaitForResults", "budget_ladder",
           "check_resource_args", "SAMPLERS"]


@dataclass
class _Rung:
    """One rung of a synchronous bracket: who runs at ``budget`` and how they did."""

    budget: Any
    planned: int
    members: list[int] | None = None  # config indices, best first; None until known
    cursor: int = 0  # members before it have been started
    started: set[int] = field(default_factory=set)
    results: dict[int, tuple[float | None, TrialState]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.members is not None and len(self.results) == len(self.members)


class _Bracket:
    """Successive halving of ``n`` configurations from budget ``budgets[0]`` to ``R``."""

    def __init__(self, s: int, n: int, sizes: list[int], budgets: list[Any], sampler: Any) -> None:
        self.s = s
        self.n = n
        self.sampler = sampler
        self.configs: list[dict[str, Any]] = []
        self._lookup: dict[str, list[int]] = {}
        self.rungs = [_Rung(b, k) for b, k in zip(budgets, sizes)]
        self.rungs[0].members = list(range(n))
        self.active = 0  # the highest rung whose members are known
        self.done = False

    # configurations, drawn lazily: config j is draw j of the bracket's own sampler
    def config(self, j: int, draw: Any) -> dict[str, Any]:
        while len(self.configs) <= j:
            params = draw(self.sampler)
            self._lookup.setdefault(_key(params), []).append(len(self.configs))
            self.configs.append(params)
        return self.configs[j]

    def place(self, j: int, sampled: dict[str, Any], draw: Any) -> None:
        """Configuration ``j`` is ``sampled`` (an enqueued one) instead of draw ``j``,
        which is still drawn so that the later configurations keep their draws."""
        drawn = self.config(j, draw)
        same = self._lookup[_key(drawn)]
        same.remove(j)
        if not same:
            del self._lookup[_key(drawn)]
        self.configs[j] = sampled
        self._lookup.setdefault(_key(sampled), []).append(j)

    def find(self, sampled: Mapping[str, Any], draw: Any) -> list[int]:
        """Indices of the configurations equal to ``sampled`` (drawing up to ``n``)."""
        key = _key(sampled)
        while key not in self._lookup and len(self.configs) < self.n:
            self.config(len(self.configs), draw)
        return [j for j in self._lookup.get(key, []) if same_params(self.configs[j], sampled)]

    def next_slot(self) -> int | None:
        """The next member of the active rung not started yet, or None."""
        rung = self.rungs[self.active]
        members = rung.members or []
        while rung.cursor < len(members) and members[rung.cursor] in rung.started:
            rung.cursor += 1
        return members[rung.cursor] if rung.cursor < len(members) else None

    def record(self, j: int, c: int, value: float | None, state: TrialState) -> None:
        """Record a result; once the active rung is complete, promote its best."""
        rung = self.rungs[c]
        rung.results[j] = (value, state)
        if c != self.active or not rung.complete:
            return
        if c + 1 == len(self.rungs):
            self.done = True
            return
        ranked = sorted((v, i) for i, (v, st) in rung.results.items() if _promotable(st, v))
        nxt = self.rungs[c + 1]
        members = [i for _, i in ranked[: nxt.planned]]
        if not members:  # every trial of the rung failed: the bracket ends here
            self.done = True
            return
        nxt.members = members
        self.active = c + 1


class HyperbandStrategy(_ResourceStrategy):
    """Hyperband: successive halving in brackets that trade breadth for depth.

    ``ask()`` returns sampled values plus ``{resource_key: budget}``. The
    brackets ``s = s_max..0`` (see :mod:`hpcore.strategies.hyperband` for
    the arithmetic, and :attr:`plan`) are run in that order; a rung's
    promotions are decided once all its trials have been told.

    Parallel drivers: while the earliest unfinished bracket waits for its
    rung to complete, ``ask()`` starts the next brackets' first-rung
    configurations instead of idling, and promotions of an earlier bracket
    come before anything of a later one. When nothing at all can start,
    ``ask()`` raises :class:`WaitForResults` (``ready`` is False); at the
    end, ``StrategyExhausted``. Each bracket draws its configurations from
    its own seeded stream and decides its promotions from its own results
    alone, so the trials run (configurations and budgets) are the same
    whatever the number of workers or the order in which results arrive.

    An enqueued configuration (:meth:`enqueue`) runs in the place of the
    next first-rung configuration of the first bracket with room, whose draw
    fills the keys it leaves out; more than the first rungs start are refused.

    Parameters
    ----------
    space : SearchSpace or mapping
        What to search; must not contain ``resource_key``.
    resource_key : str
        Dotted config key that receives the budget (``'training.epochs'``).
    max_resource : int or float
        ``R``: the budget of a fully trained configuration.
    min_resource : int or float
        The smallest budget a configuration gets (default 1).
    eta : int or float
        Reduction factor (default 3): each rung keeps the best ``1/eta``.
    seed : int, optional
        Seed of the configurations drawn; ``None`` draws fresh entropy once.
    sampler : {'random', 'quasi'}
        New configurations: independent draws, or a scrambled Sobol
        sequence per bracket. In a finite space a bracket never repeats a
        configuration (and has at most as many as the space has points).
    """

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        resource_key: str,
        max_resource: float,
        min_resource: float = 1,
        eta: float = 3,
        seed: int | None = None,
        sampler: str = "random",
    ) -> None:
        super().__init__(space, resource_key, max_resource, min_resource, eta, seed, sampler)
        cardinality = self.space.cardinality
        self.brackets: list[_Bracket] = []
        for index, s in enumerate(range(self.s_max, -1, -1)):
            n = self._bracket_n(s)
            if cardinality is not None:
                n = min(n, cardinality)
            sizes = [max(1, self._floor_div(n, i)) for i in range(s + 1)]
            budgets = self.ladder[self.s_max - s :]
            sub = RandomStrategy(self.space, seed=self._child_seed(index), quasi=sampler == "quasi")
            self.brackets.append(_Bracket(s, n, sizes, budgets, sub))
        # (params asked, bracket index, config index, rung) of trials not told yet
        self._outstanding: list[tuple[dict[str, Any], int, int, int]] = []

    def _bracket_n(self, s: int) -> int:
        """``ceil((s_max + 1) / (s + 1) * eta**s)``, exact for an int ``eta``."""
        if isinstance(self.eta, int):
            return -(-((self.s_max + 1) * self.eta**s) // (s + 1))
        return math.ceil((self.s_max + 1) / (s + 1) * self.eta**s - 1e-9)

    def _floor_div(self, n: int, i: int) -> int:
        """``floor(n * eta**-i)``, exact for an int ``eta``."""
        if isinstance(self.eta, int):
            return n // self.eta**i
        return math.floor(n / self.eta**i + 1e-9)

    @property
    def plan(self) -> list[dict[str, Any]]:
        """Per bracket: ``{'s', 'n': [n_i...], 'budget': [r_i...]}`` (``n_i`` planned)."""
        return [
            {"s": b.s, "n": [r.planned for r in b.rungs], "budget": [r.budget for r in b.rungs]}
            for b in self.brackets
        ]

    @property
    def size(self) -> int:
        """Trials of all brackets (fewer run when every trial of a rung fails)."""
        return sum(r.planned for b in self.brackets for r in b.rungs)

    @property
    def ready(self) -> bool:
        return any(b.next_slot() is not None for b in self.brackets)

    def _suggest(self) -> dict[str, Any]:
        for index, bracket in enumerate(self.brackets):
            j = bracket.next_slot()
            if j is None:
                continue
            c = bracket.active
            bracket.rungs[c].started.add(j)
            params = self._with_budget(bracket.config(j, self._draw), bracket.rungs[c].budget)
            self._outstanding.append((params, index, j, c))
            return params
        waiting = [b for b in self.brackets if not b.done]
        if waiting:
            b = waiting[0]
            rung = b.rungs[b.active]
            raise WaitForResults(
                f"bracket s={b.s} waits for {len(rung.members or []) - len(rung.results)} "
                f"result(s) at budget {rung.budget} before it can promote"
            )
        raise StrategyExhausted(f"all {len(self.brackets)} Hyperband brackets are done")

    def _locate(self, params: Mapping[str, Any]) -> tuple[int, int, int] | None:
        """(bracket, config, rung) of params told or restored without having been asked."""
        sampled, budget = self._split(params)
        for index, b in enumerate(self.brackets):  # a promotion: its rung is known by now
            c = b.active
            rung = b.rungs[c]
            if c > 0 and _same_budget(rung.budget, budget):
                for j in rung.members or []:
                    if j not in rung.started and same_params(b.configs[j], sampled):
                        return index, j, c
        for index, b in enumerate(self.brackets):  # a first-rung trial
            if b.active == 0 and _same_budget(b.rungs[0].budget, budget):
                for j in b.find(sampled, self._draw):
                    if j not in b.rungs[0].started:
                        return index, j, 0
        # A configuration no bracket drew (an enqueued one, or a point told from outside):
        # it takes the next first-rung slot of its budget, as an enqueued one did when asked.
        slot = self._first_rung_slot(budget)
        if slot is None:
            return None
        index, j = slot
        self.brackets[index].place(j, sampled, self._draw)
        return index, j, 0

    # -- enqueued configurations enter the first rung --------------------------------
    def _first_rung_slot(self, budget: Any = None) -> tuple[int, int] | None:
        """(bracket, config) of the next first-rung trial not started (at ``budget``)."""
        for index, b in enumerate(self.brackets):
            if b.active == 0 and (budget is None or _same_budget(b.rungs[0].budget, budget)):
                j = b.next_slot()
                if j is not None:
                    return index, j
        return None

    def _queued(self, fixed: dict[str, Any]) -> dict[str, Any]:
        free = sum(len(b.rungs[0].members or []) - len(b.rungs[0].started)
                   for b in self.brackets if b.active == 0)
        if len(self.queue) >= free:
            raise ArgumentError(
                f"Hyperband has no first-rung trial left for another enqueued configuration: "
                f"{free} of its {sum(b.rungs[0].planned for b in self.brackets)} first-rung "
                f"trials are still to start and {len(self.queue)} configuration(s) are enqueued. "
                "Enqueue fewer, or use ASHA (asynchronous=True), which starts new "
                "configurations as long as n_trials allows."
            )
        return fixed

    def _enqueued(self, fixed: dict[str, Any]) -> dict[str, Any]:
        """The next first-rung trial runs ``fixed`` instead of its draw, which fills the keys
        ``fixed`` leaves out."""
        slot = self._first_rung_slot()
        if slot is None:
            raise StrategyExhausted("no first-rung trial is left for an enqueued configuration")
        index, j = slot
        b = self.brackets[index]
        drawn = b.config(j, self._draw)
        sampled = dict(fixed) if self._is_complete(fixed) else self.space.complete(fixed, drawn)
        b.place(j, sampled, self._draw)
        b.rungs[0].started.add(j)
        params = self._with_budget(sampled, b.rungs[0].budget)
        self._outstanding.append((params, index, j, 0))
        return params

    def _observe(self, observation: FrozenTrial, was_pending: bool) -> None:
        slot = None
        for i, (asked, index, j, c) in enumerate(self._outstanding):
            if same_params(asked, observation.params):
                slot = (index, j, c)
                del self._outstanding[i]
                break
        if slot is None:
            slot = self._locate(observation.params)
            if slot is None:
                return  # not one of this strategy's trials: kept in history only
            index, j, c = slot
            self.brackets[index].rungs[c].started.add(j)
        index, j, c = slot
        if observation.state is TrialState.RUNNING:  # restored, to be run again
            self._outstanding.append((dict(observation.params), index, j, c))
            return
        self.brackets[index].record(j, c, observation.value, observation.state)


# -- ASHA ---------------------------------------------------------------------------
