"""Running one trial: call ``train_fn`` and turn what happened into the trial's record.

Shared by every executor, in the driver process or in a worker.
"""

from __future__ import annotations

import inspect
import math
import socket
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .._io import jsonl_writer
from ..errors import ResultError, TrialStopped
from ..trial import FrozenTrial, Trial, TrialState, interpret_result

__all__ = ["Objective", "Job", "run_trial", "accepts_trial"]


def accepts_trial(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` can be called as ``fn(config, trial)``."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    positional = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return True
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 2


@dataclass(frozen=True)
class Objective:
    """What every trial of a run calls: ``train_fn``, and the metric its result holds.

    An executor receives it once (:meth:`Executor.start`) and ships it to its
    workers once; each trial then only needs its record and config.
    """

    train_fn: Callable[..., Any]
    metric: str | None = None
    #: Whether train_fn takes the trial handle as its second argument.
    pass_trial: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pass_trial", accepts_trial(self.train_fn))


class Job(NamedTuple):
    """One trial to run, as an executor sends it to a worker.

    ``trial`` is its record (state ``running``, ``devices`` set where it was
    placed), ``config`` its full config, ``dir`` its folder (``trial.dir``),
    ``log_path`` the file that receives its stdout and stderr and
    ``model_dir`` where a model is saved without a folder (``trial.model_dir``:
    the Dask worker sends it back).
    """

    trial: FrozenTrial
    config: Any
    dir: Path | None = None
    log_path: Path | None = None
    model_dir: Path | None = None


def run_trial(
    objective: Objective,
    job: Job,
    report_hook: Callable[[dict[str, Any]], None] | None = None,
    stop_check: Callable[[], str | None] | None = None,
) -> FrozenTrial:
    """Run ``objective`` on ``job``'s trial; return its finished record (exceptions become failures).

    ``report_hook`` receives each ``trial.report`` as it is made (the
    executor forwards it to the driver); ``stop_check`` returns the reason
    the driver gave to stop this trial, if one has arrived. A trial that
    stops (:class:`~hpcore.errors.TrialStopped` out of ``report``, or
    caught and followed by a return) is recorded as ``stopped``, with its
    returned value or else its last reported one.

    ``KeyboardInterrupt`` and ``SystemExit`` propagate: they end the search,
    not the trial.
    """
    trial, dir = job.trial, job.dir
    handle = Trial(trial.trial_id, dict(trial.params), job.config, dir,
                   devices=tuple(trial.devices), attempt=trial.attempt, budget=trial.budget,
                   metric=objective.metric, model_dir=job.model_dir)
    if report_hook is not None:
        handle.add_report_hook(report_hook)
    handle.stop_check = stop_check
    if dir is not None:
        handle.add_report_hook(jsonl_writer(Path(dir) / "metrics.jsonl"))
    start = time.time()
    ended = _call(objective, handle)
    return trial.evolve(**ended, start=start, end=time.time(), reports=handle.reports,
                        host=socket.gethostname())


def _call(objective: Objective, handle: Trial) -> dict[str, Any]:
    """Call train_fn; the fields of the record that say how it ended."""
    metric = objective.metric
    try:
        fn = objective.train_fn
        result = fn(handle.config, handle) if objective.pass_trial else fn(handle.config)
        value, metrics = interpret_result(_keep_model(result, handle), metric)
    except TrialStopped:
        value = _last_value(handle.reports, metric)
        ok = value is not None and math.isfinite(value)
        return {"state": TrialState.STOPPED, "error": f"stopped early: {handle.stop_reason}",
                "values": (value,) if ok else None,
                "metrics": ({metric: value} if metric else {}) if ok else {}}
    except ResultError as exc:
        return {"state": TrialState.FAILED, "error": str(exc), "fatal": str(exc)}
    except Exception as exc:
        return {"state": TrialState.FAILED, "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc()}
    if not math.isfinite(value):
        return {"state": TrialState.FAILED, "metrics": metrics,
                "error": f"train_fn returned a non-finite {metric or 'value'}: {value}"}
    if handle.stop_reason is not None:  # it caught TrialStopped and returned
        return {"state": TrialState.STOPPED, "values": (value,), "metrics": metrics,
                "error": f"stopped early: {handle.stop_reason}"}
    return {"state": TrialState.COMPLETED, "values": (value,), "metrics": metrics}


def _last_value(reports: list[dict[str, Any]], metric: str | None) -> float | None:
    """The last reported value of the search's metric."""
    for entry in reversed(reports):
        if "value" in entry:
            return float(entry["value"])
        if metric is not None and metric in entry:
            return float(entry[metric])
    return None


def _keep_model(result: Any, handle: Trial) -> Any:
    """Save a returned ``'model'`` into the trial's folder and drop it from the result.

    The model object never travels back to the driver (it may be gigabytes
    on a GPU); without a trial folder (or a ``model_dir``) it is dropped.
    """
    if isinstance(result, Mapping) and "model" in result:
        result = dict(result)
        model = result.pop("model")
        if model is not None:
            handle.save_model(model)
    return result
