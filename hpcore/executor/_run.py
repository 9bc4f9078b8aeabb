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
from ..objectives import Objectives
from ..trial import FrozenTrial, Trial, TrialState

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
    """What every trial of a run calls: ``train_fn``, and what its result holds.

    ``objectives`` may be given as one metric name (or None: ``train_fn``
    returns a number); :attr:`metric` is the first objective's.

    An executor receives it once (:meth:`Executor.start`) and ships it to its
    workers once; each trial then only needs its record and config.
    """

    train_fn: Callable[..., Any]
    objectives: Objectives | str | None = None
    #: Whether train_fn takes the trial handle as its second argument.
    pass_trial: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pass_trial", accepts_trial(self.train_fn))
        if not isinstance(self.objectives, Objectives):
            object.__setattr__(self, "objectives", Objectives.of(self.objectives))

    @property
    def metric(self) -> str | None:
        """The first objective's metric (the one ``trial.report(step, value)`` reports)."""
        return self.objectives.metrics[0]  # type: ignore[union-attr]


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
    objectives: Objectives = objective.objectives  # type: ignore[assignment]
    try:
        fn = objective.train_fn
        result = fn(handle.config, handle) if objective.pass_trial else fn(handle.config)
        values, metrics, violations = objectives.interpret(_keep_model(result, handle))
    except TrialStopped:
        return _stopped(handle, objectives)
    except ResultError as exc:
        return {"state": TrialState.FAILED, "error": str(exc), "fatal": str(exc)}
    except Exception as exc:
        return {"state": TrialState.FAILED, "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc()}
    bad = [(m or "value", v) for m, v in zip(objectives.metrics, values) if not math.isfinite(v)]
    if bad:
        return {"state": TrialState.FAILED, "metrics": metrics,
                "error": f"train_fn returned a non-finite {bad[0][0]}: {bad[0][1]}"}
    ended = {"values": values, "metrics": metrics, "constraints": violations}
    if handle.stop_reason is not None:  # it caught TrialStopped and returned
        return {"state": TrialState.STOPPED, "error": f"stopped early: {handle.stop_reason}",
                **ended}
    return {"state": TrialState.COMPLETED, **ended}


def _stopped(handle: Trial, objectives: Objectives) -> dict[str, Any]:
    """A trial stopped out of ``report``: its values are its last reported ones.

    With several objectives or constraints, each is the last report that
    named it; a trial that never reported one of them has no values.
    """
    reason = {"state": TrialState.STOPPED, "error": f"stopped early: {handle.stop_reason}"}
    names = list(objectives.metrics) + [c.metric for c in objectives.constraints]
    last = [_last_value(handle.reports, m, first=i == 0) for i, m in enumerate(names)]
    if any(v is None or not math.isfinite(v) for v in last):
        return reason
    metrics = {m: v for m, v in zip(names, last) if m is not None}
    values = tuple(last[: objectives.n])
    return {**reason, "values": values, "metrics": metrics,  # type: ignore[dict-item]
            "constraints": objectives.violations_of(metrics)}  # type: ignore[arg-type]


def _last_value(reports: list[dict[str, Any]], metric: str | None,
                first: bool = True) -> float | None:
    """The last reported value of ``metric`` (``report(step, value)`` reports the first)."""
    for entry in reversed(reports):
        if first and "value" in entry:
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
