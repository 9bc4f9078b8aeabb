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

import bisect
import itertools
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ArgumentError, StrategyExhausted, WaitForResults
from ..space import SearchSpace
from ..trial import FrozenTrial, TrialState
from .base import Strategy, same_params
from .random import RandomStrategy

__all__ = ["HyperbandStrategy", "ASHAStrategy", "WaitForResults", "budget_ladder"]

#: Samplers of new configurations, by name.
SAMPLERS = ("random", "quasi")


# -- arguments and the budget ladder -------------------------------------------------


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ArgumentError(f"{name} must be a finite number, got {value!r}.")
    return value  # type: ignore[return-value]


def _n_halvings(max_resource: float, min_resource: float, eta: float) -> int:
    """``floor(log_eta(max_resource / min_resource))``, exact for ints."""
    s = 0
    if all(isinstance(v, int) for v in (max_resource, min_resource, eta)):
        while min_resource * eta ** (s + 1) <= max_resource:
            s += 1
        return s
    while min_resource * eta ** (s + 1) <= max_resource * (1 + 1e-12):
        s += 1
    return s


def budget_ladder(max_resource: float, min_resource: float = 1, eta: float = 3) -> list[Any]:
    """The budgets ``R * eta**(k - s_max)``, ``k = 0..s_max``, ascending.

    Integers (rounded half up) when ``max_resource`` and ``min_resource``
    are ints, floats otherwise; the last budget is ``max_resource`` itself.

    >>> budget_ladder(81, 1, 3)
    [1, 3, 9, 27, 81]
    >>> budget_ladder(100, 1, 3)
    [1, 4, 11, 33, 100]
    """
    s_max = _n_halvings(max_resource, min_resource, eta)
    integral = isinstance(max_resource, int) and isinstance(min_resource, int)
    ladder: list[Any] = []
    for k in range(s_max + 1):
        down = s_max - k  # halvings below R
        if integral and isinstance(eta, int):
            d = eta**down
            ladder.append((2 * max_resource + d) // (2 * d))  # round half up, exactly
        elif integral:
            ladder.append(math.floor(max_resource / eta**down + 0.5))
        else:
            ladder.append(float(max_resource) / eta**down)
    ladder[-1] = max_resource
    return ladder


class _ResourceStrategy(Strategy):
    """What Hyperband and ASHA share: arguments, the ladder, budgets in params."""

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
        super().__init__(space)
        check_resource_args(self.space, resource_key, max_resource, min_resource, eta)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ArgumentError(f"seed must be an int or None, got {seed!r}.")
        if sampler not in SAMPLERS:
            raise ArgumentError(
                f"sampler must be one of {list(SAMPLERS)}, got {sampler!r}. 'random' draws "
                "independent points, 'quasi' a scrambled Sobol sequence."
            )
        self.resource_key = resource_key
        self.max_resource = int(max_resource) if _is_int(max_resource) else float(max_resource)
        self.min_resource = int(min_resource) if _is_int(min_resource) else float(min_resource)
        self.eta = int(eta) if _is_int(eta) else float(eta)
        self.seed = seed
        self.sampler = sampler
        self._entropy = np.random.SeedSequence(seed).entropy
        self.ladder = budget_ladder(self.max_resource, self.min_resource, self.eta)
        self.s_max = len(self.ladder) - 1

    @property
    def ready(self) -> bool:
        """Whether ``ask()`` would return a trial now (without waiting for a result)."""
        raise NotImplementedError

    def _draw(self, sampler: RandomStrategy) -> dict[str, Any]:
        params = sampler.ask()
        sampler.pending.clear()  # our own bookkeeping; the sampler is never told
        return params

    def _split(self, params: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
        """The sampled values and the budget of ``params``."""
        sampled = {k: v for k, v in params.items() if k != self.resource_key}
        return sampled, params.get(self.resource_key)

    def _with_budget(self, sampled: Mapping[str, Any], budget: Any) -> dict[str, Any]:
        return {**sampled, self.resource_key: budget}

    def _child_seed(self, index: int) -> int:
        """A seed of its own for sub-sampler ``index`` (independent streams)."""
        words = np.random.SeedSequence(self._entropy, spawn_key=(index,)).generate_state(4)
        return int.from_bytes(words.astype("<u4").tobytes(), "little")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _same_budget(a: Any, b: Any) -> bool:
    if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
        return False
    try:
        return a == b or math.isclose(float(a), float(b), rel_tol=1e-9)
    except (TypeError, ValueError):
        return False


def _key(params: Mapping[str, Any]) -> str:
    """A hashable stand-in for a parameter dict (type-aware: ``1`` is not ``1.0``)."""
    return repr(sorted(params.items(), key=lambda kv: kv[0]))


def _promotable(state: TrialState, value: float | None) -> bool:
    return state is TrialState.COMPLETED and value is not None and math.isfinite(value)


def check_resource_args(
    space: SearchSpace,
    resource_key: Any,
    max_resource: Any,
    min_resource: Any,
    eta: Any,
) -> None:
    """Raise ``ArgumentError`` naming the argument and the fix for any bad one."""
    if not isinstance(resource_key, str) or not resource_key or "" in resource_key.split("."):
        raise ArgumentError(
            f"resource_key must be a dotted config key such as 'training.epochs', got "
            f"{resource_key!r}."
        )
    for key in space:
        if key == resource_key or key.startswith(resource_key + ".") or resource_key.startswith(
            key + "."
        ):
            raise ArgumentError(
                f"resource_key '{resource_key}' overlaps the search space key '{key}': the "
                "budget is set by Hyperband, not searched. Remove it from the search space "
                "(or choose another resource_key)."
            )
    _real("max_resource", max_resource)
    _real("min_resource", min_resource)
    _real("eta", eta)
    if not min_resource > 0:
        raise ArgumentError(f"min_resource must be > 0, got {min_resource!r}.")
    if not max_resource > min_resource:
        raise ArgumentError(
            f"max_resource must be > min_resource, got max_resource={max_resource!r}, "
            f"min_resource={min_resource!r}."
        )
    if not eta >= 2:
        raise ArgumentError(f"eta must be >= 2 (3 is usual), got {eta!r}.")
    if _n_halvings(max_resource, min_resource, eta) < 1:
        raise ArgumentError(
            f"max_resource / min_resource = {max_resource / min_resource:.3g} is below "
            f"eta = {eta!r}: there is no halving to do. Raise max_resource, or lower "
            "min_resource or eta."
        )


# -- Hyperband ----------------------------------------------------------------------


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
        return None

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


@dataclass
class _AshaRung:
    finished: int = 0
    ranking: list[tuple[float, int]] = field(default_factory=list)  # (value, config), sorted
    promoted: set[int] = field(default_factory=set)


class ASHAStrategy(_ResourceStrategy):
    """Asynchronous successive halving: promote when possible, else start a new one.

    On each ``ask``: look at the rungs from the highest below ``R`` down;
    in rung ``k`` with ``n_k`` finished trials, the best
    ``floor(n_k / eta)`` completed configurations are promotable; the best
    one not promoted yet is returned with the next rung's budget. If no
    rung has one, a new configuration starts at the bottom rung. A
    configuration is promoted from a rung at most once, and never beyond
    ``max_resource``. The decisions depend on the seed and on the order of
    the tells; the strategy never waits (except in a finite space with no
    new configuration left, see :class:`WaitForResults`), so the number of
    trials is the driver's ``n_trials``.

    Parameters
    ----------
    space, resource_key, max_resource, min_resource, eta, seed, sampler
        As in :class:`HyperbandStrategy`.
    brackets : int
        Asynchronous Hyperband: ``brackets`` ASHA brackets; bracket ``b``
        starts its configurations ``b`` rungs up the ladder (at
        ``ladder[b]``). New configurations go to the brackets in turn.
        Default 1 (plain ASHA from ``min_resource``).
    """

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        resource_key: str,
        max_resource: float,
        min_resource: float = 1,
        eta: float = 3,
        seed: int | None = None,
        brackets: int = 1,
        sampler: str = "random",
    ) -> None:
        super().__init__(space, resource_key, max_resource, min_resource, eta, seed, sampler)
        if not _is_int(brackets) or not 1 <= brackets <= self.s_max + 1:
            raise ArgumentError(
                f"brackets must be an int from 1 to {self.s_max + 1} (the rungs of "
                f"{self.ladder}), got {brackets!r}."
            )
        self.brackets = int(brackets)
        self._sampler = RandomStrategy(self.space, seed=seed, quasi=sampler == "quasi")
        self._cardinality = self.space.cardinality
        self._exhausted = False
        self.configs: list[dict[str, Any]] = []
        self._bracket_of: list[int] = []
        self._lookup: dict[str, list[int]] = {}
        self._rungs = [[_AshaRung() for _ in self.ladder] for _ in range(self.brackets)]
        self._outstanding: list[tuple[dict[str, Any], int, int]] = []  # (params, config, rung)

    @property
    def rungs(self) -> list[dict[str, Any]]:
        """Per rung (all brackets): budget, trials finished, configurations promoted."""
        return [
            {
                "budget": budget,
                "finished": sum(self._rungs[b][k].finished for b in range(self.brackets)),
                "promoted": sum(len(self._rungs[b][k].promoted) for b in range(self.brackets)),
            }
            for k, budget in enumerate(self.ladder)
        ]

    def _promotion(self) -> tuple[int, int, int] | None:
        """(bracket, rung, config) of the next promotion, or None."""
        for k in range(self.s_max - 1, -1, -1):
            for b in range(min(k + 1, self.brackets)):
                rung = self._rungs[b][k]
                top = self._floor_div(rung.finished)
                for _, j in itertools.islice(rung.ranking, top):
                    if j not in rung.promoted:
                        return b, k, j
        return None

    def _floor_div(self, n: int) -> int:
        if isinstance(self.eta, int):
            return n // self.eta
        return math.floor(n / self.eta + 1e-9)

    def _can_draw(self) -> bool:
        if self._exhausted:
            return False
        return self._cardinality is None or len(self.configs) < self._cardinality

    @property
    def ready(self) -> bool:
        return self._can_draw() or self._promotion() is not None

    def _add_config(self, sampled: dict[str, Any], bracket: int) -> int:
        j = len(self.configs)
        self.configs.append(sampled)
        self._bracket_of.append(bracket)
        self._lookup.setdefault(_key(sampled), []).append(j)
        return j

    def _suggest(self) -> dict[str, Any]:
        promotion = self._promotion()
        if promotion is not None:
            b, k, j = promotion
            self._rungs[b][k].promoted.add(j)
            params = self._with_budget(self.configs[j], self.ladder[k + 1])
            self._outstanding.append((params, j, k + 1))
            return params
        if self._can_draw():
            try:
                sampled = self._draw(self._sampler)
            except StrategyExhausted:
                self._exhausted = True
            else:
                b = len(self.configs) % self.brackets
                j = self._add_config(sampled, b)
                params = self._with_budget(sampled, self.ladder[b])
                self._outstanding.append((params, j, b))
                return params
        if self._outstanding:
            raise WaitForResults(
                f"every configuration of the finite space has started; {len(self._outstanding)} "
                "running trial(s) may still earn promotions"
            )
        raise StrategyExhausted("no configuration left to start or promote")

    def _locate(self, params: Mapping[str, Any]) -> tuple[int, int] | None:
        """(config, rung) of params told or restored without having been asked."""
        sampled, budget = self._split(params)
        rung = next((k for k, r in enumerate(self.ladder) if _same_budget(r, budget)), None)
        if rung is None:
            return None
        known = [j for j in self._lookup.get(_key(sampled), []) if same_params(self.configs[j], sampled)]
        for j in known:  # a promotion of a configuration seen before
            b = self._bracket_of[j]
            if rung > b and j not in self._rungs[b][rung - 1].promoted:
                self._rungs[b][rung - 1].promoted.add(j)
                return j, rung
        if not known and rung < self.brackets:  # the bottom rung of bracket `rung`: a new configuration
            self._sampler.tell(sampled, None, TrialState.FAILED)  # a finite space skips it
            return self._add_config(sampled, rung), rung
        return None

    def _observe(self, observation: FrozenTrial, was_pending: bool) -> None:
        slot = None
        for i, (asked, j, k) in enumerate(self._outstanding):
            if same_params(asked, observation.params):
                slot = (j, k)
                del self._outstanding[i]
                break
        if slot is None:
            slot = self._locate(observation.params)
            if slot is None:
                return  # not one of this strategy's trials: kept in history only
        j, k = slot
        if observation.state is TrialState.RUNNING:  # restored, to be run again
            self._outstanding.append((dict(observation.params), j, k))
            return
        rung = self._rungs[self._bracket_of[j]][k]
        rung.finished += 1
        if _promotable(observation.state, observation.value):
            bisect.insort(rung.ranking, (observation.value, j))  # type: ignore[arg-type]

    def _restored(self, n_suggested: int) -> None:
        # New configurations continue the sampler's sequence after the restored ones.
        self._sampler.skip_to(len(self.configs))
