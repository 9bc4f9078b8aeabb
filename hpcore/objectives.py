"""What a search optimises: one or several objectives and the constraints a
trial must meet, and the one rule for which trials are best.

``metric='val_loss'`` is one objective; ``metric=['val_loss', 'latency_ms']``
with ``mode=['min', 'min']`` are two. ``constraints=['peak_mem_gb <= 16']``
are metrics a trial must keep within a bound; a trial that breaks one is
*infeasible*: it is recorded and modelled, but is never best.

A constraint is stored as its *violation*, ``value - bound`` for ``<=`` and
``bound - value`` for ``>=``, so that a trial is feasible when every
violation is ``<= 0`` (Optuna's convention for ``constraints_func``).

Best trials
-----------
With one objective the best trial is the feasible completed (or
early-stopped) trial with the best value (:func:`hpcore.trial.best_of`).
With several, no trial is best on its own: :func:`pareto_trials` gives the
feasible trials no other feasible trial dominates (at least as good in
every objective and better in one), ordered by the first objective.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import apply_params
from .errors import ArgumentError, ResultError
from .trial import FrozenTrial, as_float, best_of, is_scorable

__all__ = ["Constraint", "Objectives", "reference_values", "pareto_mask", "pareto_trials",
           "BestOfTrials"]

_CONSTRAINT = re.compile(r"^\s*(?P<metric>[^<>=\s]+)\s*(?P<op><=|>=)\s*(?P<bound>\S+)\s*$")


def reference_values(ref: Any, n_objectives: int | None = None) -> tuple[float, ...]:
    """A reference point given as one number per objective, checked: two or three finite
    numbers (exactly ``n_objectives`` when given), the form the strategies and the Optuna
    sampler take (:meth:`Objectives.reference_point` reads the search's, by metric).

    Raises
    ------
    ArgumentError
        ``n_objectives`` not 2 or 3, a value that is not a number, the wrong count
        or a non-finite value.
    """
    if n_objectives is not None and not 2 <= n_objectives <= 3:
        raise ArgumentError(
            f"reference_point is for two or three objectives (the hypervolume improvement); "
            f"there are {n_objectives}. Leave it out.")
    try:
        values = tuple(float(r) for r in ref)
    except (TypeError, ValueError):
        raise ArgumentError(f"reference_point must list one number per objective, "
                            f"got {ref!r}.") from None
    count_ok = 2 <= len(values) <= 3 if n_objectives is None else len(values) == n_objectives
    if not count_ok or not all(math.isfinite(v) for v in values):
        want = "two or three" if n_objectives is None else str(n_objectives)
        raise ArgumentError(f"reference_point must be {want} finite numbers (one per "
                            f"objective), got {ref!r}.")
    return values


@dataclass(frozen=True)
class Constraint:
    """A bound on a metric the trial returns: ``Constraint('peak_mem_gb', '<=', 16)``.

    ``Constraint.parse('peak_mem_gb <= 16')`` reads the same from a string.
    """

    metric: str
    op: str
    bound: float

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise ArgumentError(f"a constraint's metric must be a non-empty string, got {self.metric!r}.")
        if self.op not in ("<=", ">="):
            raise ArgumentError(
                f"constraint on {self.metric!r}: the operator must be '<=' or '>=', got {self.op!r}."
            )
        bound = as_float(self.bound)
        if bound is None or not math.isfinite(bound):
            raise ArgumentError(
                f"constraint on {self.metric!r}: the bound must be a finite number, got {self.bound!r}."
            )
        object.__setattr__(self, "bound", bound)

    @classmethod
    def parse(cls, spec: str | Constraint | Sequence[Any]) -> Constraint:
        """A constraint from ``'metric <= bound'``, ``(metric, op, bound)`` or itself."""
        if isinstance(spec, Constraint):
            return spec
        if isinstance(spec, str):
            m = _CONSTRAINT.match(spec)
            if m is None:
                raise ArgumentError(
                    f"cannot read the constraint {spec!r}: write it as 'metric <= bound' or "
                    "'metric >= bound', e.g. 'peak_mem_gb <= 16'."
                )
            try:
                bound = float(m["bound"])
            except ValueError:
                raise ArgumentError(
                    f"cannot read the constraint {spec!r}: the bound {m['bound']!r} is not a number."
                ) from None
            return cls(m["metric"], m["op"], bound)
        if isinstance(spec, Sequence) and len(spec) == 3:
            return cls(*spec)
        raise ArgumentError(
            f"a constraint must be a string such as 'peak_mem_gb <= 16' or a "
            f"(metric, '<=' or '>=', bound) tuple, got {spec!r}."
        )

    def violation(self, value: float) -> float:
        """How far ``value`` is past the bound (``<= 0``: within it)."""
        return value - self.bound if self.op == "<=" else self.bound - value

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


def _from_item(metric: Any, rule: Any) -> Constraint:
    """A constraint from a mapping's item: ``'memory_gb': ('<=', 16.0)``."""
    if not (isinstance(rule, Sequence) and not isinstance(rule, str) and len(rule) == 2):
        raise ArgumentError(
            f"constraints[{metric!r}] must be an (operator, bound) pair such as ('<=', 16.0), "
            f"got {rule!r}."
        )
    return Constraint(metric, rule[0], rule[1])


def _as_tuple(x: Any) -> tuple[Any, ...]:
    return tuple(x) if isinstance(x, (list, tuple)) else (x,)


@dataclass(frozen=True)
class Objectives:
    """The objectives of a search (their metrics and modes) and its constraints.

    Build it with :meth:`of`, which checks the user's arguments.

    Attributes
    ----------
    metrics : tuple of str or None
        One name per objective (``(None,)``: one objective, ``train_fn``
        returns a bare number).
    modes : tuple of {'min', 'max'}
        One per objective.
    constraints : tuple of Constraint
    """

    metrics: tuple[str | None, ...] = (None,)
    modes: tuple[str, ...] = ("min",)
    constraints: tuple[Constraint, ...] = ()

    @classmethod
    def of(cls, metric: Any = None, mode: Any = "min", constraints: Any = None) -> Objectives:
        """Objectives from a search's ``metric``, ``mode`` and ``constraints`` arguments.

        ``metric`` is a name or a list of names; ``mode`` is one mode (for
        every objective) or a list of the same length; ``constraints`` a list
        of ``'metric <= bound'`` strings (or :class:`Constraint`).

        Raises
        ------
        ArgumentError
            On anything that does not fit, naming the argument and the fix.
        """
        metrics = _as_tuple(metric)
        if not metrics:
            raise ArgumentError("metric=[] names no objective: give one metric name or several.")
        for m in metrics:
            if m is not None and (not isinstance(m, str) or not m):
                raise ArgumentError(f"metric must be a string key (or a list of them), got {metric!r}.")
        if len(metrics) > 1 and None in metrics:
            raise ArgumentError(f"with several objectives each needs a metric name, got {metric!r}.")
        if len(set(metrics)) < len(metrics):
            raise ArgumentError(f"metric={list(metrics)!r} names an objective twice.")
        modes = _as_tuple(mode)
        if len(modes) == 1:
            modes = modes * len(metrics)
        if len(modes) != len(metrics):
            raise ArgumentError(
                f"mode={list(modes)!r} gives {len(modes)} modes for {len(metrics)} metrics "
                f"{list(metrics)!r}: give one mode per metric, or one for all."
            )
        for m in modes:
            if m not in ("min", "max"):
                raise ArgumentError(f"mode must be 'min' or 'max' (or a list of them), got {mode!r}.")
        if constraints is None:
            constraints = ()
        elif isinstance(constraints, (str, Constraint)):
            constraints = (constraints,)
        elif isinstance(constraints, Mapping):  # {'memory_gb': ('<=', 16.0)}
            constraints = tuple(_from_item(k, v) for k, v in constraints.items())
        parsed = tuple(Constraint.parse(c) for c in constraints)
        for c in parsed:
            if c.metric in metrics:
                raise ArgumentError(
                    f"the constraint {str(c)!r} bounds an objective; an objective is optimised, "
                    "a constraint is another metric train_fn returns."
                )
        if parsed and metrics == (None,):
            raise ArgumentError(
                "constraints need train_fn to return a mapping: pass metric= (the objective's "
                "key in that mapping) as well."
            )
        return cls(metrics, modes, parsed)

    # -- shape ----------------------------------------------------------------
    @property
    def n(self) -> int:
        """The number of objectives."""
        return len(self.metrics)

    @property
    def multi(self) -> bool:
        """Whether there are several objectives."""
        return len(self.metrics) > 1

    @property
    def signs(self) -> np.ndarray:
        """``+1`` for each minimised objective, ``-1`` for each maximised one."""
        return np.array([1.0 if m == "min" else -1.0 for m in self.modes])

    def minimised(self, values: Sequence[float] | None) -> tuple[float, ...] | None:
        """``values`` as the strategies see them: every objective minimised."""
        if values is None:
            return None
        return tuple(v if m == "min" else -v for v, m in zip(values, self.modes))

    def reference_point(self, ref: Any, *, searched: bool = True) -> dict[str, float]:
        """A hypervolume reference point checked: ``{metric: worst value of interest}``.

        ``ref`` maps each objective's metric to a number, or lists one number
        per objective in the order of ``metric``; values are in the user's
        units and direction (for a ``'max'`` objective, the lowest value of
        interest). ``searched=False``: for a hypervolume only (a plot), which
        any number of objectives from two has.

        Raises
        ------
        ArgumentError
            One objective (or, searched, more than three), a key that is not
            an objective, a missing objective, or a value that is not a finite
            number.
        """
        if self.n < 2 or (searched and self.n > 3):
            raise ArgumentError(
                f"reference_point is for two or three objectives (the hypervolume "
                f"improvement); this search has {self.describe()}. Leave it out.")
        names = list(self.metrics)
        if isinstance(ref, Mapping):
            unknown = [k for k in ref if k not in names]
            if unknown:
                raise ArgumentError(
                    f"reference_point names {unknown!r}, which are not objectives of this "
                    f"search: use the metrics {names!r}.")
            missing = [m for m in names if m not in ref]
            if missing:
                raise ArgumentError(
                    f"reference_point has no value for {missing!r}: give one per objective "
                    f"({names!r}).")
            values = [ref[m] for m in names]
        elif isinstance(ref, Sequence) and not isinstance(ref, str):
            if len(ref) != self.n:
                raise ArgumentError(
                    f"reference_point lists {len(ref)} values for {self.n} objectives "
                    f"{names!r}: give one finite number per objective, or a mapping by metric.")
            values = list(ref)
        else:
            raise ArgumentError(
                f"reference_point must map each objective to a number ({{{names[0]!r}: ...}}) "
                f"or list one per objective, got {ref!r}.")
        out = {}
        for m, v in zip(names, values):
            f = as_float(v)
            if f is None or not math.isfinite(f):
                raise ArgumentError(
                    f"reference_point[{m!r}] must be a finite number, got {v!r}.")
            out[m] = f
        return out

    def to_json(self) -> dict[str, Any] | None:
        """What a study stores; ``None`` for one objective without constraints."""
        if not self.multi and not self.constraints:
            return None
        return {"metrics": list(self.metrics), "modes": list(self.modes),
                "constraints": [str(c) for c in self.constraints]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, metric: str | None, mode: str) -> Objectives:
        """What :meth:`to_json` stored (``None``: the study's one ``metric`` and ``mode``)."""
        if data is None:
            return cls((metric,), (mode,))
        return cls(tuple(data["metrics"]), tuple(data["modes"]),
                   tuple(Constraint.parse(c) for c in data.get("constraints", ())))

    def describe(self) -> str:
        """``'val_loss (min), latency_ms (min); subject to peak_mem_gb <= 16'``."""
        what = ", ".join(f"{m or 'value'} ({mode})" for m, mode in zip(self.metrics, self.modes))
        if self.constraints:
            what += "; subject to " + ", ".join(str(c) for c in self.constraints)
        return what

    # -- results --------------------------------------------------------------
    def interpret(
        self, result: Any
    ) -> tuple[tuple[float, ...], dict[str, float], tuple[float, ...] | None]:
        """What ``train_fn`` returned as ``(values, metrics, violations)``.

        Values may be non-finite (the caller records a failed trial);
        ``violations`` is ``None`` without constraints.

        Raises
        ------
        ResultError
            A result that is not a number or a mapping, or that lacks an
            objective or a constrained metric: a bug every trial would repeat.
        """
        value = as_float(result)
        if value is not None and not self.multi and not self.constraints:
            metric = self.metrics[0]
            return (value,), ({metric: value} if metric else {}), None
        if not isinstance(result, Mapping):
            if value is not None:
                need = [m for m in self.metrics] + [c.metric for c in self.constraints]
                raise ResultError(
                    f"train_fn returned the number {result!r}, but the search needs a mapping "
                    f"with {need}: return e.g. {{{', '.join(repr(k) + ': ...' for k in need)}}}."
                )
            raise ResultError(
                f"train_fn returned {result!r} ({type(result).__name__}); it must return a number "
                "or a mapping that holds the metric, e.g. {'val_loss': 0.12}."
            )
        keys = [str(k) for k in result]
        if self.metrics == (None,):
            raise ResultError(
                f"train_fn returned a mapping with keys {keys}, but the search has no "
                "`metric`. Pass metric= one of these keys."
            )
        values = tuple(self._number(result, m, keys, "metric") for m in self.metrics)
        violations = tuple(
            c.violation(self._number(result, c.metric, keys, "constrained metric"))
            for c in self.constraints
        ) or None
        metrics = {str(k): f for k, v in result.items() if (f := as_float(v)) is not None}
        return values, metrics, violations

    @staticmethod
    def _number(result: Mapping[Any, Any], key: str | None, keys: list[str], what: str) -> float:
        if key not in result:
            raise ResultError(
                f"train_fn returned a mapping without the {what} '{key}'; the keys "
                f"returned were {keys}. Return '{key}' or change the search's "
                f"{'metric' if what == 'metric' else 'constraints'} to use these keys."
            )
        value = as_float(result[key])
        if value is None:
            raise ResultError(
                f"train_fn returned {key}={result[key]!r} ({type(result[key]).__name__}); "
                f"the {what} must be a number."
            )
        return value

    def violations_of(self, metrics: Mapping[str, float]) -> tuple[float, ...] | None:
        """The violations of a trial's ``metrics`` (NaN for a constrained metric it lacks)."""
        if not self.constraints:
            return None
        return tuple(
            c.violation(float(metrics[c.metric])) if c.metric in metrics else math.nan
            for c in self.constraints
        )


# ------------------------------------------------------------------ Pareto fronts
def pareto_mask(Y: np.ndarray) -> np.ndarray:
    """Mask of the rows of ``Y`` (n, k) no other row dominates, all minimised;
    of equal rows only the first is kept.

    The trial layer's own version of :func:`hpcore.kernels.nondominated` (equal
    on every input, which a test checks): ranking trials must not load the
    compiler (``hpcore best`` on a study, a report), and a lexicographic sort
    lets each row be checked against the front so far only, O(n m k).
    """
    Y = np.asarray(Y, dtype=float)
    n = Y.shape[0]
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    # Lexicographic order (ties by index): no row is dominated by a later one.
    order = np.lexsort(tuple(Y[:, j] for j in range(Y.shape[1] - 1, -1, -1)) )
    front: list[int] = []
    for i in order:
        if front:
            F = Y[front]
            if np.any(np.all(F <= Y[i], axis=1)):  # dominated, or equal to an earlier row
                continue
        front.append(int(i))
        keep[i] = True
    return keep


def pareto_trials(trials: Iterable[FrozenTrial], objectives: Objectives) -> list[FrozenTrial]:
    """The feasible trials no other feasible trial dominates, by the first objective.

    Only trials that can be best count (completed or early-stopped, every
    value finite, every constraint met); of trials with equal values the
    earliest is kept.
    """
    done = [t for t in trials if is_scorable(t) and t.values is not None
            and len(t.values) == objectives.n]
    if not done:
        return []
    Y = np.array([objectives.minimised(t.values) for t in done])
    front = [t for t, keep in zip(done, pareto_mask(Y)) if keep]
    sign = objectives.signs[0]
    return sorted(front, key=lambda t: (sign * t.values[0], t.trial_id))  # type: ignore[index]


class BestOfTrials:
    """``best_trial``, ``best_params``, ``best_config`` and ``best_trials`` of anything
    with ``trials``, ``objectives`` and ``base_config`` (a search, a loaded study)."""

    trials: list[FrozenTrial]
    objectives: Objectives
    base_config: Any

    @property
    def best_trial(self) -> FrozenTrial | None:
        """The feasible completed (or early-stopped) trial with the best value; the
        earliest among ties.

        Raises
        ------
        ArgumentError
            With several objectives, where no trial is best on its own: use
            :attr:`best_trials` (the Pareto front).
        """
        if self.objectives.multi:
            raise ArgumentError(
                f"this search has {self.objectives.n} objectives "
                f"({', '.join(map(str, self.objectives.metrics))}): no single trial is best. "
                "Use best_trials (the Pareto front) or pareto_front()."
            )
        return best_of(self.trials, self.objectives.modes[0])

    @property
    def best_trials(self) -> list[FrozenTrial]:
        """The Pareto front: the feasible trials no other feasible trial beats in every
        objective, ordered by the first objective (one objective: the best trial)."""
        if not self.objectives.multi:
            best = self.best_trial
            return [] if best is None else [best]
        return pareto_trials(self.trials, self.objectives)

    def pareto_front(self) -> np.ndarray:
        """The values (m, k) of :attr:`best_trials`, one column per metric, as returned."""
        front = self.best_trials
        return np.array([t.values for t in front], dtype=float).reshape(len(front), self.objectives.n)

    @property
    def best_params(self) -> dict[str, Any] | None:
        """The searched values of the best trial, by dotted key."""
        best = self.best_trial
        return None if best is None else dict(best.params)

    @property
    def best_config(self) -> Any:
        """The best trial's full config (the base config plus its values)."""
        best = self.best_trial
        return None if best is None else apply_params(self.base_config, best.params)
