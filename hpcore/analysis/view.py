"""One view of whatever the analysis functions are given: a finished search, a
stored study (whose space is rebuilt from its JSON description), or any object
with ``trials``, ``space`` and ``mode`` (``metric`` optional).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ArgumentError
from ..space import SearchSpace
from ..trial import FrozenTrial, best_of, ranked

__all__ = ["View", "view", "scored"]


@dataclass(frozen=True)
class View:
    """What every analysis function, plot and the report read: trials, the space,
    metric and mode, and the study's name and strategy."""

    trials: list[FrozenTrial]
    space: SearchSpace
    metric: str | None
    mode: str
    name: str = "search"
    strategy: str = "search"

    @property
    def label(self) -> str:
        """The metric's name, or ``'value'``."""
        return self.metric or "value"

    def sign(self, value: float) -> float:
        """``value`` as minimised (negated for ``mode='max'``)."""
        return value if self.mode == "min" else -value

    def scored(self) -> list[FrozenTrial]:
        """Completed and stopped trials with a finite value, by trial id."""
        return sorted(scored(self), key=lambda t: t.trial_id)

    @property
    def best(self) -> FrozenTrial | None:
        """The best trial (:func:`hpcore.trial.best_of`'s one rule)."""
        return best_of(self.trials, self.mode)

    def need_scored(self, what: str, at_least: int = 1) -> list[FrozenTrial]:
        """The scored trials by id, or an error naming what is missing."""
        done = self.scored()
        if len(done) < at_least:
            counts: dict[str, int] = {}
            for t in self.trials:
                counts[str(t.state)] = counts.get(str(t.state), 0) + 1
            have = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"
            raise ArgumentError(
                f"{what} needs at least {at_least} completed (or stopped) trial"
                f"{'s' if at_least > 1 else ''} with a value; {self.name!r} has "
                f"{len(done)} (trials: {have})."
            )
        return done


def _is_json_space(space: Any) -> bool:
    return (
        isinstance(space, Mapping)
        and bool(space)
        and all(
            isinstance(v, Mapping) and v.get("type") in ("real", "integer", "categorical")
            for v in space.values()
        )
    )


def view(obj: Any) -> View:
    """Trials, space, metric and mode of a search, a stored study or a look-alike."""
    if isinstance(obj, View):
        return obj
    trials = getattr(obj, "trials", None)
    space = getattr(obj, "space", None)
    mode = getattr(obj, "mode", None)
    if trials is None or space is None or mode not in ("min", "max"):
        raise ArgumentError(
            f"expected a search (after run()) or a study from hpcore.load(), got "
            f"{type(obj).__name__}: it needs `trials`, `space` and `mode` ('min' or 'max')."
        )
    if isinstance(space, SearchSpace):
        rebuilt = space
    elif _is_json_space(space):
        rebuilt = SearchSpace.from_json(space)
    else:
        rebuilt = SearchSpace(space)
    kind = type(obj).__name__
    return View(list(trials), rebuilt, getattr(obj, "metric", None), mode,
                name=str(getattr(obj, "name", kind)), strategy=str(getattr(obj, "strategy", kind)))


def scored(view: View) -> list[FrozenTrial]:
    """Completed or stopped trials with a finite value, best first (:func:`hpcore.trial.ranked`)."""
    return ranked(view.trials, view.mode)
