"""Run trials on a Dask cluster (``pip install "hpcore[dask]"``).

:class:`DaskExecutor` submits each trial as one Dask task and hands back
outcomes as the futures finish. ``dask.distributed`` is imported only when
an executor is made, never by ``import hpcore``.

Shipping ``train_fn``
    It is pickled once (cloudpickle) in :meth:`DaskExecutor.start` and put
    on the cluster as one computed key that every trial depends on; a worker
    fetches it once and keeps the unpickled function. A computed key, unlike
    scattered data, is recomputed by the scheduler if every worker holding it
    dies, so a crash never takes the function away from later trials.

Where a trial runs
    Without ``trial_timeout`` it runs in a worker thread, its Python-level
    stdout and stderr captured. A thread cannot be killed, so with
    ``trial_timeout`` each trial runs in a child process of the worker, in
    a session of its own, killed with its children when it exceeds the
    timeout or when its future is cancelled (:mod:`._dask_worker`).

GPUs
    Trials that ask for ``gpus_per_trial`` are placed through Dask worker
    resources (``dask worker <addr> --resources GPU=1``), one worker per GPU
    with ``CUDA_VISIBLE_DEVICES`` set per worker, as dask-cuda's
    ``LocalCUDACluster`` does. A trial's devices are the first of its
    worker's visible devices.

Nothing on the workers writes results anywhere: every outcome comes back to
the driver, which stays the single writer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from ..errors import ArgumentError, ExecutorError
from ..trial import TrialState
from ._dask_worker import _identity, _Placement, _run_remote
from .base import Executor, TrialOutcome, TrialTask
from .local import _dumps

__all__ = ["DaskExecutor"]


def _distributed() -> Any:
    """The ``distributed`` module, or an :class:`ExecutorError` saying how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise ExecutorError(
            'DaskExecutor needs dask.distributed: pip install "hpcore[dask]"'
        ) from exc
    return distributed


class DaskExecutor(Executor):
    """Run trials on a Dask cluster, as many at once as its workers allow.

    Parameters
    ----------
    client : distributed.Client, Cluster or str
        A connected client (never closed by the executor), or a cluster
        object or a scheduler address such as ``"tcp://10.0.0.5:8786"``, to
        which the executor connects in :meth:`start` and which it
        disconnects from in :meth:`shutdown`.
    gpus_per_trial : float
        GPUs each trial needs, from the workers' ``GPU`` resource
        (``dask worker <addr> --resources GPU=1``); fractions share a GPU.
    cpus_per_trial : float, optional
        Cores each trial needs: from the workers' ``CPU`` resource if they
        declare one, else counted against the workers' threads.
    trial_timeout : float, optional
        Seconds after which a trial is killed and recorded as timed out.
        Each trial then runs in a child process of its worker.
    grace_period : float
        Seconds between SIGTERM and SIGKILL when a trial's child process is
        killed (timed out or cancelled).
    worker_timeout : float
        Seconds :meth:`start` waits for the first worker to join.
    shared_filesystem : bool
        Whether every worker sees the driver's ``experiment_root`` at the
        same path. Only then do trials write into their folder on the
        workers (``trial.dir``, saved models, live ``metrics.jsonl``, the
        log); otherwise workers write nothing, the driver writes each
        trial's log and reports from its outcome, and returned models are
        dropped.

    Notes
    -----
    :attr:`max_concurrency` is measured in :meth:`start`: workers that join
    later run trials but do not raise it.
    """

    def __init__(
        self,
        client: Any,
        gpus_per_trial: float = 0,
        cpus_per_trial: float | None = None,
        trial_timeout: float | None = None,
        *,
        grace_period: float = 5.0,
        worker_timeout: float = 60.0,
        shared_filesystem: bool = False,
    ) -> None:
        distributed = _distributed()
        if not isinstance(client, (distributed.Client, str)) and not isinstance(
            getattr(client, "scheduler_address", None), str
        ):
            raise ArgumentError(
                "client must be a dask.distributed.Client, a Dask cluster or a scheduler "
                f"address such as 'tcp://127.0.0.1:8786', got {type(client).__name__}."
            )
        self.gpus_per_trial = _number("gpus_per_trial", gpus_per_trial, allow_zero=True)
        self.cpus_per_trial = _optional("cpus_per_trial", cpus_per_trial)
        self.trial_timeout = _optional("trial_timeout", trial_timeout)
        self.grace_period = _number("grace_period", grace_period, allow_zero=True)
        self.worker_timeout = _number("worker_timeout", worker_timeout)
        self.shared_filesystem = bool(shared_filesystem)
        self._target = client
        self._own_client = not isinstance(client, distributed.Client)
        self._client: Any = None if self._own_client else client
        self._fn_future: Any = None
        self._placement: _Placement | None = None
        self._max: int | None = None
        self._cpu_resource = False  # whether trials ask the workers' CPU resource
        self._running: dict[str, tuple[Any, TrialTask]] = {}

    # -- the Executor protocol -------------------------------------------------
    @property
    def max_concurrency(self) -> int:
        """Trials the cluster can run at once (measured in :meth:`start`)."""
        if self._max is None:
            self._max = self._measure()
        return self._max

    @property
    def n_running(self) -> int:
        return len(self._running)

    def start(self, train_fn: Callable[..., Any]) -> None:
        try:
            payload = _dumps(train_fn)
        except Exception as exc:
            raise ExecutorError(
                f"train_fn cannot be sent to Dask workers ({type(exc).__name__}: {exc}). "
                "Define it at module level or make what it captures picklable."
            ) from exc
        client = self._connect()
        try:
            self._max = self._measure()
        except BaseException:
            self._close_client()
            raise
        self._release_fn()
        token = uuid.uuid4().hex
        self._fn_future = client.submit(
            _identity, payload, key=f"hpcore-train-fn-{token}", pure=False
        )
        self._placement = _Placement(
            token, self.gpus_per_trial, self.cpus_per_trial, self.trial_timeout, self.grace_period
        )

    def submit(self, task: TrialTask) -> None:
        if self._fn_future is None or self._placement is None:
            raise RuntimeError("start() must be called before submit()")
        resources = {}
        if self.gpus_per_trial > 0:
            resources["GPU"] = self.gpus_per_trial
        if self._cpu_resource:
            resources["CPU"] = self.cpus_per_trial
        key = f"hpcore-trial-{task.trial_id}-{task.attempt}-{uuid.uuid4().hex[:12]}"
        # The driver's trial folder usually does not exist on other machines: unless
        # it is on a filesystem every worker mounts, the workers write nothing and
        # the driver keeps the log and reports from the outcome.
        remote = task if self.shared_filesystem else dataclasses.replace(
            task, dir=None, log_path=None
        )
        future = self._client.submit(
            _run_remote,
            self._fn_future,
            remote,
            self._placement,
            key=key,
            pure=False,
            resources=resources or None,
        )
        self._running[key] = (future, task)

    def wait(self, timeout: float | None = None) -> list[TrialOutcome]:
        if not self._running:
            return []
        done = self._done()
        if not done:
            distributed = _distributed()
            futures = [future for future, _ in self._running.values()]
            with self._client.as_current(), contextlib.suppress(
                distributed.TimeoutError, TimeoutError, distributed.CancelledError
            ):  # wait() uses the current client, which need not be ours
                distributed.wait(futures, timeout=timeout, return_when="FIRST_COMPLETED")
            done = self._done()
        return [self._collect(key) for key in done]

    def shutdown(self, cancel: bool = False) -> list[TrialOutcome]:
        """Release the cluster; trials still running are cancelled and returned as interrupted.

        The search loop drains every trial before a plain ``shutdown()``, so
        only ``cancel=True`` finds any. A cancelled trial in a child process
        (``trial_timeout``) is killed at once; one in a worker thread runs on
        until it returns, and its result is dropped.
        """
        interrupted = [
            TrialOutcome(task.trial_id, TrialState.INTERRUPTED, end=time.time())
            for _, task in self._running.values()
        ]
        futures = [future for future, _ in self._running.values()]
        self._running.clear()
        if futures and self._client is not None:
            with contextlib.suppress(Exception):
                self._client.cancel(futures)
        self._release_fn()
        self._close_client()
        return interrupted

    # -- driver-side helpers ---------------------------------------------------
    def _connect(self) -> Any:
        """The client, connected (made here for an address) and with a worker."""
        distributed = _distributed()
        if self._client is None:
            address = getattr(self._target, "scheduler_address", self._target)
            try:
                self._client = distributed.Client(address, set_as_default=False)
            except Exception as exc:  # OSError, TimeoutError: no scheduler there
                raise ExecutorError(
                    f"cannot connect to the Dask scheduler at {address!r} "
                    f"({type(exc).__name__}: {exc}); start one with `dask scheduler`."
                ) from exc
        try:
            self._client.wait_for_workers(1, timeout=self.worker_timeout)
        except (distributed.TimeoutError, TimeoutError) as exc:
            self._close_client()
            raise ExecutorError(
                f"no Dask worker joined the scheduler within {self.worker_timeout:g}s; start "
                "workers with `dask worker <scheduler address>` (or raise worker_timeout)."
            ) from exc
        return self._client

    def _workers(self) -> dict[str, dict[str, Any]]:
        """The scheduler's view of every worker (address -> identity)."""
        try:
            info = self._client.scheduler_info(n_workers=-1)
        except TypeError:  # distributed before 2025: no n_workers, every worker listed
            info = self._client.scheduler_info()
        return dict(info["workers"])

    def _measure(self) -> int:
        if self._client is None:
            self._connect()
        workers = self._workers()
        self._cpu_resource = self.cpus_per_trial is not None and any(
            "CPU" in (w.get("resources") or {}) for w in workers.values()
        )
        return _cluster_slots(workers, self.gpus_per_trial, self.cpus_per_trial)

    def _done(self) -> list[str]:
        return [key for key, (future, _) in self._running.items() if future.done()]

    def _collect(self, key: str) -> TrialOutcome:
        """The outcome of a finished future; an error or cancellation becomes a failed trial."""
        future, task = self._running.pop(key)
        try:
            outcome = future.result()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # the task's own error, KilledWorker, cancellation
            outcome = _failed(task, exc)
        finally:
            future.release()
        return outcome

    def _release_fn(self) -> None:
        if self._fn_future is not None:
            with contextlib.suppress(Exception):
                self._fn_future.release()
        self._fn_future = None

    def _close_client(self) -> None:
        if self._own_client and self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None


def _cluster_slots(
    workers: dict[str, dict[str, Any]], gpus_per_trial: float, cpus_per_trial: float | None
) -> int:
    """How many trials the workers can run at once.

    Each worker runs at most one trial per thread; with ``gpus_per_trial``
    also at most ``floor(GPU / gpus_per_trial)``, and likewise for a
    declared ``CPU`` resource. Without a ``CPU`` resource, ``cpus_per_trial``
    divides the threads of the whole cluster.

    Parameters
    ----------
    workers : dict
        ``client.scheduler_info()['workers']``: per worker, at least
        ``nthreads`` and ``resources``.

    Raises
    ------
    ExecutorError
        The workers cannot run a single trial; the message says why.
    """
    declares_cpu = cpus_per_trial is not None and any(
        "CPU" in (w.get("resources") or {}) for w in workers.values()
    )
    total = 0
    for w in workers.values():
        slots = int(w.get("nthreads", 1))
        resources = w.get("resources") or {}
        if gpus_per_trial > 0:
            slots = min(slots, _fits(resources.get("GPU", 0), gpus_per_trial))
        if declares_cpu:
            slots = min(slots, _fits(resources.get("CPU", 0), cpus_per_trial))  # type: ignore[arg-type]
        total += slots
    if cpus_per_trial is not None and not declares_cpu:
        threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
        total = min(total, _fits(threads, cpus_per_trial))
    if total < 1:
        raise ExecutorError(_no_slot_message(workers, gpus_per_trial, cpus_per_trial))
    return total


def _fits(available: float, per_trial: float) -> int:
    """``floor(available / per_trial)``, forgiving float rounding (0.3 / 0.1 is 3)."""
    return int(math.floor(available / per_trial + 1e-9))


def _no_slot_message(
    workers: dict[str, dict[str, Any]], gpus_per_trial: float, cpus_per_trial: float | None
) -> str:
    gpus = [(w.get("resources") or {}).get("GPU", 0) for w in workers.values()]
    if gpus_per_trial > 0 and not any(gpus):
        return (
            f"gpus_per_trial={gpus_per_trial:g} but none of the {len(workers)} Dask workers "
            "declares a GPU resource: start one worker per GPU with "
            "`dask worker <scheduler address> --resources GPU=1` (or LocalCUDACluster("
            "resources={'GPU': 1})), or set gpus_per_trial=0 to run on CPUs."
        )
    if gpus_per_trial > 0 and max(gpus) < gpus_per_trial:
        return (
            f"gpus_per_trial={gpus_per_trial:g} but no Dask worker has that many GPUs "
            f"(the most is GPU={max(gpus):g}): lower gpus_per_trial or start workers with "
            f"`--resources GPU={math.ceil(gpus_per_trial)}`."
        )
    threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
    return (
        f"cpus_per_trial={cpus_per_trial:g} but the Dask workers have {threads} threads and "
        "no worker's CPU resource fits one trial: lower cpus_per_trial or add workers "
        "(`dask worker <scheduler address> --nthreads N --resources CPU=N`)."
    )


def _failed(task: TrialTask, exc: BaseException) -> TrialOutcome:
    """A failed outcome for a trial whose Dask task raised, died or was cancelled."""
    name = type(exc).__name__
    if name == "KilledWorker":
        last = getattr(exc, "last_worker", None)
        error = (
            f"the Dask worker running this trial died (KilledWorker: {exc}). A crash in "
            "train_fn (os._exit, a segfault, running out of memory) kills its worker; "
            "with trial_timeout set each trial runs in a child process instead."
        )
        host = getattr(last, "host", None)
    elif isinstance(exc, ModuleNotFoundError) and "hpcore" in str(exc):
        error = f"{name}: {exc}: install hpcore (the driver's version) on every Dask worker."
        host = None
    elif "Cancelled" in name:
        error = f"the trial's Dask task was cancelled ({name}: {exc})"
        host = None
    else:
        error = f"the trial's Dask task failed ({name}: {exc})"
        host = None
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return TrialOutcome(
        task.trial_id, TrialState.FAILED, error=error, traceback=tb, end=time.time(), host=host
    )


def _number(name: str, value: Any, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        rule = ">= 0" if allow_zero else "> 0"
        raise ArgumentError(f"{name} must be a number {rule}, got {value!r}.")
    return float(value)


def _optional(name: str, value: Any) -> float | None:
    return None if value is None else _number(name, value)
