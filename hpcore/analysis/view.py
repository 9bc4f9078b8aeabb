"""One view of whatever the analysis functions are given: a finished search, a
stored study (whose space is rebuilt from its JSON description), or any object
with ``trials``, ``space`` and ``mode`` (``metric`` optional).

With several objectives a view looks at one of them (the first unless
``objective=`` names another): its trials carry that objective's value as
their value, so every table, plot and importance reads it as they read a
single objective; :attr:`View.front` is the Pareto front over all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ArgumentError
from ..objectives import Objectives, pareto_trials
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
    #: Every objective and constraint of the study (the view's is one of them).
    objectives: Objectives | None = None
    #: The trials with all their values (``trials`` carry the viewed objective's).
    all_trials: list[FrozenTrial] | None = None
    #: The search's ``reference_point`` (``{metric: value}``, user units), if it had one.
    reference_point: Mapping[str, float] | None = None

    @property
    def multi(self) -> bool:
        """Whether the study has several objectives."""
        return self.objectives is not None and self.objectives.multi

    @property
    def front(self) -> list[FrozenTrial]:
        """The Pareto front over every objective (one objective: the best trial)."""
        if not self.multi:
            best = self.best
            return [] if best is None else [best]
        return pareto_trials(self.all_trials or [], self.objectives)  # type: ignore[arg-type]

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


def view(obj: Any, objective: str | int | None = None) -> View:
    """Trials, space, metric and mode of a search, a stored study or a look-alike.

    ``objective`` picks one of several objectives by metric name or position
    (default: the first); a name the study does not have is an error.
    """
    if isinstance(obj, View):
        return obj if objective is None else _project(obj, objective)
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
    metric = getattr(obj, "metric", None)
    objectives = getattr(obj, "objectives", None)
    if not isinstance(objectives, Objectives):
        objectives = Objectives((metric,), (mode,))
    ref = getattr(obj, "reference_point", None)
    if ref is None:  # a stored study keeps it in its settings
        settings = getattr(obj, "settings", None)
        ref = settings.get("reference_point") if isinstance(settings, Mapping) else None
    base = View(list(trials), rebuilt, metric, mode, name=str(getattr(obj, "name", kind)),
                strategy=str(getattr(obj, "strategy", kind)), objectives=objectives,
                all_trials=list(trials),
                reference_point=dict(ref) if isinstance(ref, Mapping) else None)
    return _project(base, objective) if objectives.multi or objective is not None else base


def _project(v: View, objective: str | int | None) -> View:
    """``v`` looking at one objective: each trial's value is that objective's."""
    objectives = v.objectives or Objectives((v.metric,), (v.mode,))
    metrics = list(objectives.metrics)
    if objective is None:
        j = 0
    elif isinstance(objective, int) and not isinstance(objective, bool):
        if not 0 <= objective < len(metrics):
            raise ArgumentError(f"objective={objective} is out of range: the study has "
                                f"{len(metrics)} objective(s) {metrics}.")
        j = objective
    elif objective in metrics:
        j = metrics.index(objective)
    else:
        raise ArgumentError(f"objective={objective!r} is not an objective of this study; "
                            f"its objectives are {metrics}.")
    trials = v.all_trials if v.all_trials is not None else v.trials
    projected = [t if not t.values or len(t.values) <= j else t.evolve(values=(t.values[j],))
                 for t in trials]
    return View(projected, v.space, metrics[j], objectives.modes[j], name=v.name,
                strategy=v.strategy, objectives=objectives, all_trials=list(trials),
                reference_point=v.reference_point)


def scored(view: View) -> list[FrozenTrial]:
    """Completed or stopped trials with a finite value, best first (:func:`hpcore.trial.ranked`)."""
    return ranked(view.trials, view.mode)
