"""Trials: their states, the record of a finished trial, and the handle
``train_fn`` receives.

These are plain data types with no I/O, shared by strategies (which read
states), executors (which fill records) and the search loop.
"""

from __future__ import annotations

import enum
import math
import numbers
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ._io import jsonable, save_model
from .errors import ResultError, TrialStopped

__all__ = ["TrialState", "Trial", "FrozenTrial", "best_of", "ranked",
           "to_records", "as_float", "is_scorable"]


class TrialState(str, enum.Enum):
    """Where a trial is in its life.

    ``COMPLETED`` trials have a finite value. ``FAILED`` ones raised, returned
    NaN/inf or lost their process. ``INTERRUPTED`` ones were running when the
    search was stopped (Ctrl-C) and are run again on resume.
    """

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"

    @property
    def can_be_best(self) -> bool:
        """Whether a trial in this state may be the best: completed or stopped early.

        A stopped trial's value is its last report: a rule stopped it either
        because it converged (no improvement, its budget) or because it was
        hopeless, and then its value rarely beats a completed trial's.
        """
        return self in (TrialState.COMPLETED, TrialState.STOPPED)

    @property
    def is_finished(self) -> bool:
        """Whether the trial ended for good (it is not run again on resume)."""
        return self not in (TrialState.RUNNING, TrialState.INTERRUPTED)

    def __str__(self) -> str:
        return self.value


@dataclass
class Trial:
    """The handle ``train_fn(config, trial)`` receives.

    Attributes
    ----------
    trial_id : int
        0-based, in the order trials were started.
    params : dict
        The searched values, by dotted key.
    config : object
        The full config of this trial (base config plus ``params``).
    dir : pathlib.Path or None
        A folder for this trial's artifacts when the search has an
        ``experiment_root``; ``None`` for in-memory searches.
    devices : tuple of int
        The GPUs given to this trial, as numbered on the machine (empty for
        a CPU trial). Its process sees only these (``CUDA_VISIBLE_DEVICES``
        is set to them), so inside the trial they are ``cuda:0``,
        ``cuda:1``, ...
    attempt : int
        0 on the trial's first run, 1 on its first retry (``max_retries``,
        or a run cut short and resumed), and so on: a retry can pick up a
        checkpoint in ``dir`` that an earlier attempt left.
    model_dir : pathlib.Path or None
        Where :meth:`save_model` writes when ``dir`` is None (set by an
        executor that sends the model to the driver's trial folder: a Dask
        worker without the driver's filesystem).
    """

    trial_id: int
    params: dict[str, Any]
    config: Any = None
    dir: Path | None = None
    reports: list[dict[str, Any]] = field(default_factory=list)
    devices: tuple[int, ...] = ()
    attempt: int = 0
    #: Budget of this trial (Hyperband's resource: epochs, steps...), or None.
    budget: float | None = None
    #: The search's metric: ``report(step, **{metric: v})`` reports the value.
    metric: str | None = None
    model_dir: Path | None = field(default=None, repr=False)
    #: Asked after each report: a reason to stop, or None (set by the executor).
    stop_check: Callable[[], str | None] | None = field(default=None, repr=False)
    stop_reason: str | None = field(default=None, repr=False)

    _report_hooks: list[Callable[[dict[str, Any]], None]] = field(
        default_factory=list, init=False, repr=False
    )

    def add_report_hook(self, hook: Callable[[dict[str, Any]], None]) -> None:
        """Call ``hook(entry)`` with every report from now on (executors use this)."""
        self._report_hooks.append(hook)

    def save_model(self, model: Any) -> Path | None:
        """Save ``model`` into this trial's folder now; returns the file, or None.

        A ``torch.nn.Module`` is saved as its ``state_dict`` (``model.pt``),
        anything else pickled (``model.pkl``); see
        :func:`hpcore.storage.save_model`. Without an experiment root
        (``trial.dir is None``) nothing is written and None is returned.
        When this trial becomes the best, ``<experiment_root>/best/`` holds
        the model. On a Dask worker without the driver's filesystem the
        model is saved in a folder of the worker (:attr:`model_dir`) and its
        file sent to the driver's trial folder when the trial ends.
        """
        folder = self.dir if self.dir is not None else self.model_dir
        if folder is None:
            return None
        return save_model(model, folder)

    def report(self, step: int, value: float | None = None, **metrics: float) -> None:
        """Record an intermediate result (one point of the learning curve).

        Parameters
        ----------
        step : int
            Epoch, iteration or any increasing counter: the first argument
            (Optuna's ``report(value, step)`` has the other order; a step
            that is not a whole number is refused, so a swap cannot pass).
        value : float, optional
            The value of the search's metric at this step. It may also be
            given by the metric's name: ``trial.report(3, val_loss=0.25)``.
        **metrics
            Other named values to keep alongside it.

        Raises
        ------
        TrialStopped
            When a stopping rule decided, on an earlier report, that this
            trial should stop (check :attr:`should_stop` to end on your own).
        ResultError
            When ``step`` is not a whole number, or the metric is given both
            as ``value`` and by name; the search stops at once, since every
            trial would repeat the mistake.
        """
        if self.should_stop:
            raise TrialStopped(f"trial {self.trial_id} was stopped: {self.stop_reason}")
        if self.metric is not None and self.metric in metrics:
            if value is not None:
                raise ResultError(
                    f"trial.report({step!r}, {value!r}, {self.metric}=...): the metric "
                    f"{self.metric!r} was given twice; give it once, as the value or by name."
                )
            value = metrics.pop(self.metric)
        entry: dict[str, Any] = {"step": _step(step, value), "time": time.time()}
        if value is not None:
            entry["value"] = float(value)
        entry.update({k: float(v) for k, v in metrics.items()})
        self.reports.append(entry)
        for hook in self._report_hooks:
            hook(entry)

    @property
    def should_stop(self) -> bool:
        """Whether a stopping rule has asked this trial to stop.

        Decisions arrive from the driver after reports; checking costs no
        round trip (the answer is whatever has arrived so far).
        """
        if self.stop_reason is None and self.stop_check is not None:
            self.stop_reason = self.stop_check()
        return self.stop_reason is not None


def _step(step: Any, value: Any) -> int:
    """``step`` as an int; a float that is not whole (a swapped value) is refused."""
    whole = isinstance(step, numbers.Integral) or (
        isinstance(step, numbers.Real) and math.isfinite(step) and float(step).is_integer()
    )
    if isinstance(step, bool) or not whole:
        swap = f" (did you mean report({value!r}, {step!r})?)" if value is not None else ""
        raise ResultError(
            f"trial.report(step, value): step must be a whole number (an epoch or iteration "
            f"count), got {step!r}{swap}. The step comes first, then the value; Optuna's "
            f"report(value, step) has the other order."
        )
    return int(step)


@dataclass(frozen=True)
class FrozenTrial:
    """The record of one trial: the one type that carries a trial from the worker
    to storage, the strategy, analysis and the report.

    A record never changes: where a trial's state changes (it starts, ends,
    is retried or interrupted) a new record is made with
    :func:`dataclasses.replace` (or :meth:`restarted`, :meth:`interrupted`).

    Attributes
    ----------
    trial_id : int
        0-based, in the order trials were started.
    params : dict
        The searched values, by dotted key.
    state : TrialState
    values : tuple of float, or None
        The objective values as ``train_fn`` returned them (not negated for
        ``mode='max'``), one per metric of the search; ``None`` while the
        trial has none (running, failed). :attr:`value` is the first. A
        single number given here is taken as a 1-tuple.
    metrics : dict
        Every number the trial returned, by name (the objectives included).
    constraints : tuple of float, or None
        The violation of each of the search's constraints
        (:class:`hpcore.objectives.Constraint`): ``<= 0`` where it is met.
        ``None`` for a search without constraints (or a trial without values).
    error, traceback : str or None
        Why the trial did not complete.
    start, end : float or None
        Unix times it started and ended.
    reports : list of dict
        Its learning curve: one ``{'step', 'time', 'value', ...}`` per
        ``trial.report`` (read-only).
    devices : tuple of int
        The GPUs it ran on; ``host`` the machine.
    attempts : int
        How many times it was run (retries and resumes included).
    output : str or None
        The end of its stdout/stderr when it did not complete.
    budget : float or None
        Its resource under Hyperband/ASHA (``trial.budget``).
    """

    trial_id: int
    params: dict[str, Any]
    state: TrialState = TrialState.RUNNING
    values: tuple[float, ...] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    start: float | None = None
    end: float | None = None
    reports: list[dict[str, Any]] = field(default_factory=list)
    devices: tuple[int, ...] = ()
    host: str | None = None
    attempts: int = 1
    output: str | None = None
    budget: float | None = None
    constraints: tuple[float, ...] | None = None
    #: The message of a broken ``train_fn`` contract (a ResultError) that ends the
    #: whole search; travels from the worker to the run loop, never stored.
    fatal: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # One objective given as a bare number (FrozenTrial(0, params, state, 0.12)) is a 1-tuple.
        if self.values is not None and not isinstance(self.values, tuple):
            values = self.values
            values = tuple(values) if isinstance(values, Iterable) else (values,)
            object.__setattr__(self, "values", tuple(float(v) for v in values))
        if not isinstance(self.state, TrialState):
            object.__setattr__(self, "state", TrialState(self.state))
        if self.constraints is not None and not isinstance(self.constraints, tuple):
            object.__setattr__(self, "constraints", tuple(float(c) for c in self.constraints))

    @property
    def feasible(self) -> bool:
        """Whether every constraint is met (True without constraints; NaN is not met)."""
        return self.constraints is None or all(c <= 0.0 for c in self.constraints)

    @property
    def value(self) -> float | None:
        """The (first) objective value, or ``None``."""
        return self.values[0] if self.values else None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or ``None`` while running."""
        if self.start is None or self.end is None:
            return None
        return self.end - self.start

    @property
    def attempt(self) -> int:
        """0 for the first run of the trial, 1 for the second, ... (``trial.attempt``)."""
        return self.attempts - 1

    def to_dict(self, *, reports: bool = True) -> dict[str, Any]:
        """The record as JSON-able data (``duration`` included); :meth:`from_dict` reads it back.

        With ``reports=False`` the learning curve and the captured output are
        left out (``result.json`` keeps them in ``metrics.jsonl`` and ``trial.log``).
        """
        out: dict[str, Any] = {
            "trial_id": self.trial_id,
            "state": str(self.state),
            "value": self.value,
            "values": None if self.values is None else list(self.values),
            "metrics": dict(self.metrics),
            "params": self.params,
            "error": self.error,
            "traceback": self.traceback,
            "start": self.start,
            "end": self.end,
            "duration": self.duration,
            "devices": list(self.devices),
            "host": self.host,
            "attempts": self.attempts,
            "budget": self.budget,
        }
        if self.constraints is not None:
            out["constraints"] = list(self.constraints)
        if reports:
            out["reports"] = list(self.reports)
            out["output"] = self.output
        return jsonable(out)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FrozenTrial:
        """The record :meth:`to_dict` wrote (``values`` or, from older files, ``value``)."""
        values = data.get("values")
        if values is None and data.get("value") is not None:
            values = [data["value"]]
        return cls(
            trial_id=int(data["trial_id"]),
            params=dict(data.get("params") or {}),
            state=TrialState(data.get("state", "running")),
            values=None if values is None else tuple(float(v) for v in values),
            metrics={str(k): float(v) for k, v in (data.get("metrics") or {}).items()},
            error=data.get("error"),
            traceback=data.get("traceback"),
            start=data.get("start"),
            end=data.get("end"),
            reports=list(data.get("reports") or []),
            devices=tuple(data.get("devices") or ()),
            host=data.get("host"),
            attempts=int(data.get("attempts", 1)),
            output=data.get("output"),
            budget=data.get("budget"),
            constraints=None if data.get("constraints") is None
            else tuple(float(c) for c in data["constraints"]),
        )

    # -- the new records of a trial's life -------------------------------------
    def evolve(self, **changes: Any) -> FrozenTrial:
        """A new record with ``changes``: :func:`dataclasses.replace`, made by copying
        the fields instead of running the frozen ``__init__`` field by field (the run
        loop makes several per trial: ``replace`` cost a no-op trial 46 µs of 144)."""
        unknown = changes.keys() - _FIELDS
        if unknown:
            raise TypeError(f"FrozenTrial has no field {sorted(unknown)[0]!r}")
        new = object.__new__(FrozenTrial)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        if "values" in changes or "state" in changes or "constraints" in changes:
            new.__post_init__()  # a bare number as a 1-tuple, a state name as a TrialState
        return new

    def restarted(self, start: float) -> FrozenTrial:
        """The record of its next run (a retry, or a resume of an interrupted trial)."""
        return self.evolve(state=TrialState.RUNNING, values=None, metrics={}, error=None,
                           traceback=None, start=start, end=None, reports=[], host=None,
                           output=None, attempts=self.attempts + 1, fatal=None,
                           constraints=None)

    def interrupted(self, end: float) -> FrozenTrial:
        """The record of a run cut short by Ctrl-C/SIGTERM (it runs again on resume)."""
        return self.evolve(state=TrialState.INTERRUPTED, end=end)


_FIELDS = frozenset(f.name for f in fields(FrozenTrial))


def as_float(x: Any) -> float | None:
    """A Python float from a number, numpy scalar or one-element tensor, else None."""
    if isinstance(x, bool):
        return None
    if isinstance(x, numbers.Real):
        return float(x)
    item = getattr(x, "item", None)
    size = getattr(x, "size", None)
    size = size() if callable(size) and not isinstance(size, int) else size
    if callable(item) and (size in (1, None) or getattr(x, "numel", lambda: 0)() == 1):
        try:
            v = item()
        except (ValueError, RuntimeError, TypeError):
            return None
        if isinstance(v, numbers.Real) and not isinstance(v, bool):
            return float(v)
    return None


def is_finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def is_scorable(t: FrozenTrial) -> bool:
    """Whether ``t`` may be best: completed or early-stopped, every value finite,
    every constraint met."""
    return (t.state.can_be_best and bool(t.values) and t.feasible
            and all(math.isfinite(v) for v in t.values))  # type: ignore[union-attr]


def _scorable(trials: Iterable[FrozenTrial]) -> list[FrozenTrial]:
    return [t for t in trials if is_scorable(t)]


def _rank_key(mode: str) -> Callable[[FrozenTrial], tuple[float, int]]:
    sign = 1.0 if mode == "min" else -1.0
    return lambda t: (sign * t.value, t.trial_id)  # type: ignore[operator]


def ranked(trials: Iterable[FrozenTrial], mode: str) -> list[FrozenTrial]:
    """The trials that can be best, best first: the one best-trial rule of hpcore.

    Only completed or early-stopped trials with finite values that meet every
    constraint count (:func:`is_scorable`); they
    are ordered by value in direction ``mode`` ('min' or 'max'), ties by
    the earlier trial.
    """
    return sorted(_scorable(trials), key=_rank_key(mode))


def best_of(trials: Iterable[FrozenTrial], mode: str) -> FrozenTrial | None:
    """The first trial by :func:`ranked`'s rule (in O(n)), or None when no trial qualifies."""
    done = _scorable(trials)
    return min(done, key=_rank_key(mode)) if done else None


#: The fields of :func:`to_records`, in order.
_SUMMARY = ("trial_id", "state", "value", "params", "metrics", "duration", "start", "end", "error")


def to_records(trials: Iterable[FrozenTrial]) -> list[dict[str, Any]]:
    """One JSON-able dict per trial: id, state, value, params, metrics, times, error.

    A summary of :meth:`FrozenTrial.to_dict`: the curve is counted
    (``n_reports``), not listed.
    """
    out = []
    for t in trials:
        d = t.to_dict(reports=False)
        out.append({**{k: d[k] for k in _SUMMARY}, "n_reports": len(t.reports)})
    return out
