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

from ..errors import ResultError
from ..trial import Trial, TrialState, interpret_result
from .base import TrialOutcome, TrialTask


def run_trial(train_fn: Callable[..., Any], task: TrialTask) -> TrialOutcome:
    """Run ``train_fn`` on ``task``; exceptions become failed outcomes.

    ``KeyboardInterrupt`` and ``SystemExit`` propagate: they end the search,
    not the trial.
    """
    trial = Trial(task.trial_id, dict(task.params), task.config, task.dir,
                  devices=tuple(task.devices))
    if task.dir is not None:
        from ..tracking import jsonl_writer

        trial.on_report = jsonl_writer(Path(task.dir) / "metrics.jsonl")
    outcome = TrialOutcome(task.trial_id, TrialState.RUNNING, start=time.time(),
                           devices=tuple(task.devices), host=socket.gethostname())
    try:
        result = train_fn(task.config, trial) if task.pass_trial else train_fn(task.config)
        result = _keep_model(result, trial)
        value, metrics = interpret_result(result, task.metric)
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
        else:
            outcome.state = TrialState.FAILED
            outcome.error = f"train_fn returned a non-finite {task.metric or 'value'}: {value}"
    outcome.end = time.time()
    outcome.reports = trial.reports
    return outcome


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
