"""ASHA (Li et al., MLSys 2020): asynchronous successive halving.

Rungs ``k`` of the budget ladder (see :mod:`hpcore.strategies.hyperband`). On
each ``ask``, promote a configuration of the highest rung ``k < s_max`` that is
among the best ``floor(n_k / eta)`` of the ``n_k`` trials finished in rung ``k``
and was not promoted yet; otherwise start a new configuration at the bottom
rung. It never waits for a rung to fill, so workers stay busy.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ArgumentError, StrategyExhausted, WaitForResults
from ..space import SearchSpace
from ..trial import FrozenTrial, TrialState
from ._resource import (
    _is_int,
    _key,
    _promotable,
    _ResourceStrategy,
    _same_budget,
)
from .base import same_params
from .random import RandomStrategy

__all__ = ["ASHAStrategy"]


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
    trials is the driver's ``n_trials``. An enqueued configuration
    (:meth:`enqueue`) starts as a new configuration at the bottom rung.

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

    def _enqueued(self, fixed: dict[str, Any]) -> dict[str, Any]:
        """A new configuration at the bottom rung: ``fixed``, given to the sampler so that
        it takes one place in the sampler's sequence (whose point fills the keys it
        leaves out) and is never drawn again."""
        self._sampler.queue.append(fixed)
        sampled = self._draw(self._sampler)
        j = self._add_config(sampled, 0)
        params = self._with_budget(sampled, self.ladder[0])
        self._outstanding.append((params, j, 0))
        return params

    def _restored(self, n_suggested: int) -> None:
        # New configurations continue the sampler's sequence after the restored ones.
        self._sampler._restored(len(self.configs))
