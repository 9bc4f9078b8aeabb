"""What every framework callback shares: report to the trial, decide to stop.

A callback holds a :class:`Reporter`; at each evaluation it hands over the
step and the numbers the framework logged, and gets back whether training
should end. The order is that of a hand-written loop::

    trial.report(step, value)        # unless a stop has already arrived
    if trial.should_stop: ...        # end training through the framework

A stop decided by the driver while the step was running makes the next
``trial.report`` raise :class:`~hpcore.errors.TrialStopped`; a callback
cannot let that escape through a framework's training loop (some catch
and log exceptions), so the reporter asks :attr:`Trial.should_stop` first
and reports only while the trial may go on. Either way :attr:`value` is the
last value reported, which is what a stopped trial should return.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from ..errors import ArgumentError, ResultError
from ..trial import Trial, as_float

__all__ = ["Reporter", "Reporting", "require"]


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import ``module``, or fail with the ``pip install`` that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{what} needs the {module.split('.')[0]!r} package, which could not be imported "
            f"({exc}). Install it with: pip install 'hpcore[{extra}]'"
        ) from exc


def check_dashed(monitor: str | None, owner: str, example: str) -> str | None:
    """``monitor`` if None or ``'<data set>-<metric>'``; else an ``ArgumentError`` naming
    ``owner`` with ``example``."""
    if monitor is not None and (not isinstance(monitor, str) or "-" not in monitor):
        raise ArgumentError(
            f"{owner}: monitor must be '<data set>-<metric>', e.g. {example}, got {monitor!r}."
        )
    return monitor


class Reporter:
    """A trial's side of a framework callback.

    Parameters
    ----------
    trial : Trial
        The handle ``train_fn(config, trial)`` received.
    monitor : str or None
        The logged metric that is the search's value. ``None``: the
        search's own ``metric`` (``trial.metric``); a callback whose
        framework names its metrics itself passes its own default.
    owner : str
        The callback's name, for messages.
    """

    def __init__(self, trial: Trial, monitor: str | None, owner: str) -> None:
        if not isinstance(trial, Trial):
            raise ArgumentError(
                f"{owner}(trial, ...): trial must be the hpcore Trial that train_fn(config, "
                f"trial) receives, got {type(trial).__name__}. Define train_fn with two "
                "arguments and pass the second one."
            )
        if monitor is not None and not isinstance(monitor, str):
            raise ArgumentError(f"{owner}: monitor must be a metric name (a str), got {monitor!r}.")
        self.trial = trial
        self.monitor = monitor
        self.owner = owner
        #: The last value reported to the trial (None before the first report).
        self.value: float | None = None
        #: The step of that report.
        self.step: int | None = None
        #: Whether this reporter asked the framework to stop.
        self.stopped = False
        self._name: str | None = None

    def pick(self, logged: Mapping[str, Any], default: str | None = None) -> tuple[str, float]:
        """The monitored metric's name and value in ``logged``; a missing one is an error.

        The error is a :class:`~hpcore.errors.ResultError`: every trial would
        repeat it, so the search ends at once with the message.
        """
        name = self.monitor or self.trial.metric or default
        if name is None:
            raise ArgumentError(
                f"{self.owner}: no metric to monitor. Pass monitor='val_loss' (the logged "
                "metric that is the search's value), or give the search a metric=."
            )
        if name not in logged:
            have = ", ".join(repr(k) for k in sorted(map(str, logged))) or "none"
            raise ResultError(
                f"{self.owner}: the monitored metric {name!r} was not logged at this "
                f"evaluation (logged: {have}). Pass monitor= one of them, or log {name!r}."
            )
        value = as_float(logged[name])
        if value is None:
            raise ResultError(
                f"{self.owner}: the monitored metric {name!r} is not a number: "
                f"{logged[name]!r}."
            )
        self._name = name
        return name, value

    def __call__(self, step: int, value: float, extra: Mapping[str, Any] = ()) -> bool:
        """Report ``value`` at ``step`` (with the finite numbers of ``extra``); True to stop."""
        trial = self.trial
        if not trial.should_stop:
            metrics = {}
            for key, raw in dict(extra).items():
                v = as_float(raw)
                if (v is not None and math.isfinite(v) and key != trial.metric
                        and key != self._name):
                    metrics[str(key)] = v
            trial.report(int(step), float(value), **metrics)
            self.value, self.step = float(value), int(step)
        self.stopped = trial.should_stop
        return self.stopped


class Reporting:
    """What every callback shows of its :class:`Reporter` (a mixin: ``self._reporter``)."""

    _reporter: Reporter

    @property
    def value(self) -> float | None:
        """The last value reported (None before the first evaluation)."""
        return self._reporter.value

    @property
    def stopped(self) -> bool:
        """Whether this callback ended training."""
        return self._reporter.stopped
