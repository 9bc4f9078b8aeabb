"""Running one trial: call ``train_fn`` and turn what happened into an outcome.

Shared by every executor, in the driver process or in a worker.
"""

from __future__ import annotations

import math
import socket
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .._io import jsonl_writer
from ..errors import ResultError, TrialStopped
from ..trial import Trial, TrialState, interpret_result
from .base import TrialOutcome, TrialTask


def run_trial(
    train_fn: Callable[..., Any],
    task: TrialTask,
    report_hook: Callable[[dict[str, Any]], None] | None = None,
    stop_check: Callable[[], str | None] | None = None,
) -> TrialOutcome:
    """Run ``train_fn`` on ``task``; exceptions become failed outcomes.

    ``report_hook`` receives each ``trial.report`` as it is made (the
    executor forwards it to the driver); ``stop_check`` returns the reason
    the driver gave to stop this trial, if one has arrived. A trial that
    stops (:class:`~hpcore.errors.TrialStopped` out of ``report``, or
    caught and followed by a return) is recorded as ``stopped``, with its
    returned value or else its last reported one.

    ``KeyboardInterrupt`` and ``SystemExit`` propagate: they end the search,
    not the trial.
    """
    trial = Trial(task.trial_id, dict(task.params), task.config, task.dir,
                  devices=tuple(task.devices), attempt=task.attempt, budget=task.budget)
    if report_hook is not None:
        trial.add_report_hook(report_hook)
    trial.stop_check = stop_check
    if task.dir is not None:
        trial.add_report_hook(jsonl_writer(Path(task.dir) / "metrics.jsonl"))
    outcome = TrialOutcome(task.trial_id, TrialState.RUNNING, start=time.time(),
                           devices=tuple(task.devices), host=socket.gethostname())
    try:
        result = train_fn(task.config, trial) if task.pass_trial else train_fn(task.config)
        result = _keep_model(result, trial)
        value, metrics = interpret_result(result, task.metric)
    except TrialStopped:
        value = _last_value(trial.reports, task.metric)
        outcome.state = TrialState.STOPPED
        outcome.error = f"stopped early: {trial.stop_reason}"
        if value is not None and math.isfinite(value):
            outcome.value = value
            outcome.metrics = {task.metric: value} if task.metric else {}
    except ResultError as exc:
        outcome.state = TrialState.FAILED
        outcome.error = outcome.fatal = str(exc)
    except Exception as exc:
        outcome.state = TrialState.FAILED
        outcome.error = f"{type(exc).__name__}: {exc}"
        outcome.traceback = traceback.format_exc()
    else:
        outcome.metrics = metrics
        if math.isfinite(value):
            outcome.state = TrialState.COMPLETED
            outcome.value = value
            if trial.stop_reason is not None:  # it caught TrialStopped and returned
                outcome.state = TrialState.STOPPED
                outcome.error = f"stopped early: {trial.stop_reason}"
        else:
            outcome.state = TrialState.FAILED
            outcome.error = f"train_fn returned a non-finite {task.metric or 'value'}: {value}"
    outcome.end = time.time()
    outcome.reports = trial.reports
    return outcome


def _last_value(reports: list[dict[str, Any]], metric: str | None) -> float | None:
    """The last reported value of the search's metric."""
    for entry in reversed(reports):
        if "value" in entry:
            return float(entry["value"])
        if metric is not None and metric in entry:
            return float(entry[metric])
    return None


def _keep_model(result: Any, trial: Trial) -> Any:
    """Save a returned ``'model'`` into the trial's folder and drop it from the result.

    The model never travels back to the driver (it may be gigabytes on a
    GPU); without a trial folder it is simply dropped.
    """
    if isinstance(result, Mapping) and "model" in result:
        result = dict(result)
        model = result.pop("model")
        if model is not None:
            trial.save_model(model)
    return result
