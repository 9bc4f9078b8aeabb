"""Early-stopping rules: read a trial's reported curve and its peers', answer "stop?".

Rules are pure: they see numbers, never processes or files. The search
loop feeds them every report as it arrives and, when one answers with a
reason, asks the trial to stop (its next ``trial.report`` raises
:class:`~hpcore.TrialStopped`). Several rules combine with *any*: the
trial stops as soon as one of them says so.

Values are in the search's own direction: for ``mode='max'`` a larger
value is better. A rule's decision depends only on the curves it is
given, so it is the same whatever the number of workers.

======================================  =====================================================
rule                                    stops a trial when
======================================  =====================================================
``MedianStopping(grace_steps,           its best value so far is worse than the median of the
min_trials)``                           other trials' values at the same step
``ImprovementStopping(patience,         it has not improved by ``min_delta`` for ``patience``
min_delta)``                            reports
``ThresholdStopping(threshold,          it is still worse than ``threshold`` at or after
after_step)``                           ``after_step``
``BudgetStopping(max_steps,             it reached ``max_steps`` or ran ``max_seconds``
max_seconds)``
======================================  =====================================================

:class:`SearchBudget` ends the whole search (wall time, trials, a target
value reached).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .errors import ArgumentError

__all__ = [
    "Curve",
    "StoppingRule",
    "MedianStopping",
    "ImprovementStopping",
    "ThresholdStopping",
    "BudgetStopping",
    "AnyOf",
    "SearchBudget",
    "as_rule",
]

#: A learning curve: ``(step, value)`` pairs in the order reported.
Curve = Sequence[tuple[int, float]]


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ArgumentError(f"{name} must be an int >= {low}, got {value!r}.")
    return value


def _check_number(name: str, value: object, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ArgumentError(f"{name} must be a finite number, got {value!r}.")
    if positive and not value > 0:
        raise ArgumentError(f"{name} must be > 0, got {value!r}.")
    return float(value)


class StoppingRule(ABC):
    """Base class: ``decide`` returns a reason to stop, or None.

    ``bind(mode)`` is called by the search before any report, so rules
    compare values in the right direction.
    """

    mode: str = "min"

    def bind(self, mode: str) -> StoppingRule:
        self.mode = mode
        return self

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b`` in this search's direction."""
        return a < b if self.mode == "min" else a > b

    def best(self, values: Iterable[float]) -> float:
        values = list(values)
        return min(values) if self.mode == "min" else max(values)

    @abstractmethod
    def decide(
        self,
        trial_id: int,
        curve: Curve,
        others: Mapping[int, Curve],
        elapsed: float,
    ) -> str | None:
        """Why trial ``trial_id`` should stop now, or None to let it go on.

        Parameters
        ----------
        trial_id : int
        curve : sequence of (step, value)
            The trial's reports so far (at least one).
        others : mapping of trial id to curve
            Every other trial's reports (running and finished).
        elapsed : float
            Seconds since the trial started.
        """

    def explain(self, trial_id: int, curve: Curve, others: Mapping[int, Curve],
                elapsed: float) -> str | None:
        """:meth:`decide`'s reason, led by the rule's name (what a stopped trial records).

        ``MedianStopping: its best value 0.52 is worse than ...``: the trials
        table, ``hpcore status`` and the dashboard say which rule stopped a trial.
        """
        reason = self.decide(trial_id, curve, others, elapsed)
        return None if reason is None else f"{type(self).__name__}: {reason}"


@dataclass
class MedianStopping(StoppingRule):
    """Stop a trial whose best value so far is worse than the others' median at its step.

    Parameters
    ----------
    grace_steps : int
        Reports a trial may make before it can be stopped (its first steps
        are noisy).
    min_trials : int
        Other trials that must have reported at the step for a median to count.
    """

    grace_steps: int = 5
    min_trials: int = 5

    def __post_init__(self) -> None:
        _check_int("grace_steps", self.grace_steps, 0)
        _check_int("min_trials", self.min_trials, 1)

    def decide(self, trial_id, curve, others, elapsed):
        if len(curve) <= self.grace_steps:
            return None
        step = curve[-1][0]
        at_step = [v for c in others.values() if (v := _value_at(c, step)) is not None]
        if len(at_step) < self.min_trials:
            return None
        median = _median(at_step)
        mine = self.best(v for _, v in curve)
        if self.better(median, mine):
            return (f"its best value {mine:.6g} is worse than the median {median:.6g} of "
                    f"{len(at_step)} other trials at step {step}")
        return None


@dataclass
class ImprovementStopping(StoppingRule):
    """Stop a trial that has not improved by ``min_delta`` for ``patience`` reports."""

    patience: int = 5
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        _check_int("patience", self.patience, 1)
        _check_number("min_delta", self.min_delta)
        if self.min_delta < 0:
            raise ArgumentError(f"min_delta must be >= 0, got {self.min_delta!r}.")

    def decide(self, trial_id, curve, others, elapsed):
        best = curve[0][1]
        since = 0
        for _, v in curve[1:]:
            gain = (best - v) if self.mode == "min" else (v - best)
            if gain > self.min_delta:
                best, since = v, 0
            else:
                since += 1
        if since >= self.patience:
            return f"no improvement by more than {self.min_delta:g} in {since} reports"
        return None


@dataclass
class ThresholdStopping(StoppingRule):
    """Stop a trial still worse than ``threshold`` at or after step ``after_step``."""

    threshold: float = 0.0
    after_step: int = 0

    def __post_init__(self) -> None:
        _check_number("threshold", self.threshold)
        _check_int("after_step", self.after_step, 0)

    def decide(self, trial_id, curve, others, elapsed):
        step = curve[-1][0]
        if step < self.after_step:
            return None
        mine = self.best(v for _, v in curve)
        if self.better(self.threshold, mine):
            return f"its best value {mine:.6g} is worse than the threshold {self.threshold:g} at step {step}"
        return None


@dataclass
class BudgetStopping(StoppingRule):
    """Stop a trial at ``max_steps`` (reported step) or after ``max_seconds``."""

    max_steps: int | None = None
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.max_steps is None and self.max_seconds is None:
            raise ArgumentError("BudgetStopping needs max_steps or max_seconds.")
        if self.max_steps is not None:
            _check_int("max_steps", self.max_steps, 0)
        if self.max_seconds is not None:
            _check_number("max_seconds", self.max_seconds, positive=True)

    def decide(self, trial_id, curve, others, elapsed):
        step = curve[-1][0]
        if self.max_steps is not None and step >= self.max_steps:
            return f"it reached max_steps={self.max_steps}"
        if self.max_seconds is not None and elapsed >= self.max_seconds:
            return f"it ran {elapsed:.1f}s, over max_seconds={self.max_seconds:g}"
        return None


@dataclass
class AnyOf(StoppingRule):
    """Stop when any of ``rules`` says so (the first reason is given)."""

    rules: list[StoppingRule] = field(default_factory=list)

    def bind(self, mode: str) -> StoppingRule:
        self.mode = mode
        for r in self.rules:
            r.bind(mode)
        return self

    def decide(self, trial_id, curve, others, elapsed):
        for rule in self.rules:
            reason = rule.decide(trial_id, curve, others, elapsed)
            if reason is not None:
                return reason
        return None

    def explain(self, trial_id, curve, others, elapsed):
        for rule in self.rules:  # named by the rule that decided, not by AnyOf
            reason = rule.explain(trial_id, curve, others, elapsed)
            if reason is not None:
                return reason
        return None


def as_rule(stopping: StoppingRule | Iterable[StoppingRule] | None) -> StoppingRule | None:
    """One rule from a rule, a list of rules (any of them) or None."""
    if stopping is None:
        return None
    if isinstance(stopping, StoppingRule):
        return stopping
    rules = list(stopping)
    for r in rules:
        if not isinstance(r, StoppingRule):
            raise ArgumentError(
                f"stopping must be a StoppingRule or a list of them, got {type(r).__name__}."
            )
    return rules[0] if len(rules) == 1 else AnyOf(rules)


@dataclass
class SearchBudget:
    """When the whole search ends early.

    Parameters
    ----------
    max_seconds : float, optional
        Wall time of the run: no trial starts after it, running ones are stopped.
    max_trials : int, optional
        Trials started (like ``n_trials``, but on top of a space's own size).
    target : float, optional
        A value at least this good ends the search once a trial reaches it.
    """

    max_seconds: float | None = None
    max_trials: int | None = None
    target: float | None = None

    def __post_init__(self) -> None:
        if self.max_seconds is not None:
            _check_number("max_seconds", self.max_seconds, positive=True)
        if self.max_trials is not None:
            _check_int("max_trials", self.max_trials, 1)
        if self.target is not None:
            _check_number("target", self.target)

    def reached(self, elapsed: float, started: int, best: float | None, mode: str) -> str | None:
        """Why the search should end now, or None."""
        if self.max_seconds is not None and elapsed >= self.max_seconds:
            return f"the search ran {elapsed:.1f}s, over max_seconds={self.max_seconds:g}"
        if self.max_trials is not None and started >= self.max_trials:
            return f"{started} trials were started (max_trials={self.max_trials})"
        if self.target is not None and best is not None and (
            best <= self.target if mode == "min" else best >= self.target
        ):
            return f"a trial reached the target {self.target:g} (best {best:.6g})"
        return None


def _value_at(curve: Curve, step: int) -> float | None:
    """The curve's value at ``step``: its last report at or before it.

    None when the curve has not reached ``step`` yet (its trial is behind)
    or starts after it.
    """
    if not curve or _last_step(curve) < step:
        return None
    value = None
    for s, v in curve:
        if s <= step:
            value = v
    return value


def _last_step(curve: Curve) -> int:
    return max(s for s, _ in curve)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])
