"""One view of whatever the analysis functions are given: a finished search, a
stored study (whose space is rebuilt from its JSON description), or any object
with ``trials``, ``space`` and ``mode`` (``metric`` optional).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ArgumentError
from ..space import SearchSpace
from ..trial import FrozenTrial, TrialState

__all__ = ["View", "view", "scored", "state_of"]


@dataclass(frozen=True)
class View:
    """What every function here reads: trials, the space, metric and mode."""

    trials: list[FrozenTrial]
    space: SearchSpace
    metric: str | None
    mode: str


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
    return View(list(trials), rebuilt, getattr(obj, "metric", None), mode)


def state_of(trial: FrozenTrial) -> TrialState:
    return trial.state if isinstance(trial.state, TrialState) else TrialState(trial.state)


def scored(view: View) -> list[FrozenTrial]:
    """Completed or stopped trials with a finite value, best first (earliest among ties)."""
    done = [
        t
        for t in view.trials
        if state_of(t).can_be_best and t.value is not None and math.isfinite(t.value)
    ]
    sign = 1.0 if view.mode == "min" else -1.0
    return sorted(done, key=lambda t: (sign * t.value, t.trial_id))  # type: ignore[operator]
