"""What a Dask worker process keeps for the runs of :class:`~hpcore.executor.dask.DaskExecutor`.

The run's placement (:class:`_Placement`), its unpickled objective (loaded
once per worker process and run), and the stop requests the driver pushed
(:data:`_STOPS`): a trial's ``stop_check`` is a dictionary lookup here.
Shared by the trial in a worker thread (:mod:`.worker`) and the worker's side
of a trial in a child process (:mod:`.child`).
"""

from __future__ import annotations

import os
import pickle
import socket
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, replace

from ...errors import ExecutorError
from ...trial import FrozenTrial, TrialState
from .._run import Job, Objective

#: Unpickled objectives in this worker process, by the token of their executor's start().
_FN_CACHE: dict[str, Objective] = {}
_FN_CACHE_SIZE = 8
#: Stop requests that reached this worker process: run token -> trial id -> reason.
_STOPS: dict[str, dict[int, str]] = {}
#: Runs whose executor shut down (most recent last): their trials stop at their next report.
_CLOSED: OrderedDict[str, None] = OrderedDict()
_CLOSED_SIZE = 256
#: The stop reason of a trial whose executor shut down while it ran.
_CLOSED_REASON = "the search's executor shut down"


@dataclass(frozen=True)
class _Placement:
    """What every trial of one executor needs besides its task (sent with each)."""

    token: str
    gpus_per_trial: float
    cpus_per_trial: float | None
    trial_timeout: float | None
    grace_period: float
    start_timeout: float = 120.0
    #: The most bytes of a trial's model files sent back to the driver (:mod:`.models`).
    max_model_bytes: int = 200 * 2**20

    @property
    def topic(self) -> str:
        """The Dask event topic that carries this run's reports to the driver."""
        return report_topic(self.token)


def report_topic(token: str) -> str:
    """The event topic of the run started with ``token``."""
    return f"hpcore-reports-{token}"


def _deliver_stop(token: str, trial_id: int, reason: str) -> None:
    """Run on the trial's worker (or on every worker) by the driver's ``stop()``."""
    _STOPS.setdefault(token, {})[trial_id] = reason


def _close_run(token: str) -> None:
    """Run on every worker when the executor shuts down: forget its stops, mute its trials.

    A trial of the run still going in a worker thread (cancelled, its result
    dropped) stops at its next report, and sends no more reports.
    """
    _STOPS.pop(token, None)
    _CLOSED[token] = None
    while len(_CLOSED) > _CLOSED_SIZE:
        _CLOSED.popitem(last=False)


def _stop_reason(token: str, trial_id: int) -> str | None:
    """Why the driver asked this trial to stop, if it has (a dictionary lookup)."""
    stops = _STOPS.get(token)
    if stops is not None:
        reason = stops.get(trial_id)
        if reason is not None:
            return reason
    return _CLOSED_REASON if token in _CLOSED else None


def _visible_devices() -> list[str]:
    """This worker's ``CUDA_VISIBLE_DEVICES`` entries (its own GPU first under dask-cuda)."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    return [d.strip() for d in value.split(",") if d.strip()]


def _load_fn(token: str, payload: bytes) -> Objective:
    """The unpickled objective (``train_fn``), kept per worker process for the executor's run."""
    fn = _FN_CACHE.get(token)
    if fn is None:
        fn = pickle.loads(payload)
        if len(_FN_CACHE) >= _FN_CACHE_SIZE:
            _FN_CACHE.clear()
        _FN_CACHE[token] = fn
    return fn


class _ImportFailed(ExecutorError):
    """Raised by a trial's task when its worker cannot import what ``train_fn`` needs.

    Not a trial's failure but the cluster's: every trial would fail alike, so
    the task errs and the driver ends the search with a message that says how
    to make the module importable there (:func:`.cluster._import_error`).
    """

    def __init__(self, error: str, module: str | None, host: str) -> None:
        super().__init__(error, module, host)
        self.error, self.module, self.host = error, module, host

    @classmethod
    def from_exc(cls, exc: ImportError) -> _ImportFailed:
        return cls(f"{type(exc).__name__}: {exc}", exc.name, socket.gethostname())

    def __str__(self) -> str:
        return f"train_fn could not be loaded on the Dask worker {self.host} ({self.error})"


def _unloadable(job: Job, exc: Exception) -> FrozenTrial:
    return replace(
        job.trial,
        state=TrialState.FAILED,
        error=(
            f"train_fn could not be loaded on the worker ({type(exc).__name__}: {exc}); "
            "install the module that defines it on every worker, or define it in the "
            "driver's script so that it is sent by value."
        ),
        traceback=traceback.format_exc(),
        end=time.time(),
        host=socket.gethostname(),
    )
