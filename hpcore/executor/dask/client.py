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
    timeout or when its future is cancelled (:mod:`.worker`).

GPUs
    Trials that ask for ``gpus_per_trial`` are placed through Dask worker
    resources (``dask worker <addr> --resources GPU=1``), one worker per GPU
    with ``CUDA_VISIBLE_DEVICES`` set per worker, as dask-cuda's
    ``LocalCUDACluster`` does. A trial's devices are the first of its
    worker's visible devices.

Live reports and early stopping
    Each ``trial.report`` reaches the driver while the trial runs, and
    ``stop()`` reaches the trial, in both modes. The channels, measured on
    a ``LocalCluster`` of process workers (distributed 2026.8; a 2-core VM,
    2026-11-23), per call from inside a task:

    ========================================  =========  =====================
    ``Worker.log_event`` (an event)            17 us     no wait: the worker's
                                                         batched stream
    ``Queue.put``                             0.5-0.8 ms a scheduler round trip
    ``Variable.set`` / ``Variable.get``       0.5-0.9 ms a scheduler round trip
    ``Event.is_set``                          0.5-0.9 ms a scheduler round trip
    ========================================  =========  =====================

    (``Pub``/``Sub`` no longer exist in distributed.) So reports travel as
    events: the worker batches a trial's reports (one event per trial at
    most every 50 ms, :class:`.worker._Forwarder`) and logs them
    under a topic of the run, ``hpcore-reports-<token>``; the executor
    subscribes to it (``Client.subscribe_topic``), and the handler, on the
    client's event loop, only queues the event and wakes :meth:`wait`.
    :meth:`wait` hands the entries to :attr:`on_report` in the loop's
    thread, in order per trial (events carry their index), and returns as
    soon as a trial ends. Events of one worker travel in order on its
    stream, ahead of its task's result; any report that did not arrive live
    is taken from the outcome before the outcome is returned, so
    ``on_report`` sees every report exactly once. A trial pays about
    1 us per report in either mode (docs/cluster.md).

    A stop request is pushed, not polled for: ``stop()`` runs
    ``_deliver_stop`` with ``client.run`` on the trial's worker (its
    events name it; every worker if none came yet), fire and forget on the
    client's loop (about 1.5 ms), which puts the reason in a dictionary of
    the worker process; the trial's ``stop_check`` is a lookup in it, so
    neither reports nor ``trial.should_stop`` ever wait on the scheduler.
    If reports of a trial asked to stop still come a second later (a task
    run again on another worker), the request goes again, to every
    worker. A trial in a child process (``trial_timeout``) reports over a
    socket pair to its worker thread, which forwards the reports and
    relays the stop request (it looks every 0.1 s).

    :meth:`shutdown` cleans up: the workers forget the run's stop requests
    (and a trial of the run still running in a worker thread stops at its
    next report), the client unsubscribes, and the scheduler drops the
    run's topic.

Nothing on the workers writes results anywhere: every outcome comes back to
the driver, which stays the single writer. Without ``shared_filesystem`` a
model a trial saves comes back too, as its file's bytes, and the driver
writes it into the trial's folder (:mod:`.models`).

A module the workers cannot import while loading ``train_fn`` fails no
trial: :meth:`DaskExecutor.wait` raises an :class:`ExecutorError` that says
how to make it importable there (:func:`.cluster._import_error`), and the
search loop records its running trials as interrupted.
"""

from __future__ import annotations

import contextlib
import math
import pickle
import time
import uuid
from pathlib import Path
from typing import Any

from ...errors import ArgumentError, ExecutorError
from ...trial import FrozenTrial
from .._run import Job, Objective
from .._worker import dumps as _dumps
from ..base import Executor
from .cluster import _cluster_slots, _failed, _import_error
from .models import DEFAULT_MAX_MODEL_BYTES, _receive_model
from .reports import _Inbox, _run_quietly, _Stream, _topic_eraser
from .worker import (
    _close_run,
    _deliver_stop,
    _identity,
    _ImportFailed,
    _Placement,
    _run_remote,
    report_topic,
)

__all__ = ["DaskExecutor"]

#: Longest that :meth:`DaskExecutor.wait` sleeps between looks at its futures and reports.
_SLICE = 0.2
#: Seconds after a stop request before reports still coming from its trial send it again.
_RESEND = 1.0
#: Seconds that cleaning up a run on the cluster may take at shutdown.
_CLEANUP_TIMEOUT = 10.0
#: Seconds the scheduler keeps a run's event topic after shutdown, for late events.
_TOPIC_LINGER = 1.0


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
        Seconds a trial may run before it is killed and recorded as timed
        out. Each trial then runs in a child process of its worker, and its
        clock starts once that process has loaded ``train_fn`` (the new
        interpreter's start-up is not charged to the trial).
    start_timeout : float
        With ``trial_timeout``: seconds a trial's process may take to start
        up and load ``train_fn`` before it is killed (timed out).
    grace_period : float
        Seconds between SIGTERM and SIGKILL when a trial's child process is
        killed (timed out or cancelled).
    worker_timeout : float
        Seconds :meth:`start` waits for the first worker to join.
    shared_filesystem : bool
        Whether every worker sees the driver's ``experiment_root`` at the
        same path. Only then do trials write into their folder on the
        workers (``trial.dir``, saved models, live ``metrics.jsonl``, the
        whole log); otherwise ``trial.dir`` is None on the workers, the driver
        writes each trial's log and reports from its outcome, and a model
        the trial saves (``trial.save_model`` or a returned ``'model'``)
        comes back with the outcome into the trial's folder, up to
        ``max_model_bytes``.
    max_model_bytes : int
        Without ``shared_filesystem``: the most bytes of a trial's model
        files sent back to the driver (200 MiB). A larger model stays on
        the worker and the trial's ``error`` says so (its result is kept).

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
        start_timeout: float = 120.0,
        grace_period: float = 5.0,
        worker_timeout: float = 60.0,
        shared_filesystem: bool = False,
        max_model_bytes: int = DEFAULT_MAX_MODEL_BYTES,
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
        self.start_timeout = _number("start_timeout", start_timeout)
        self.grace_period = _number("grace_period", grace_period, allow_zero=True)
        self.worker_timeout = _number("worker_timeout", worker_timeout)
        self.shared_filesystem = bool(shared_filesystem)
        self.max_model_bytes = int(_number("max_model_bytes", max_model_bytes, allow_zero=True))
        self._target = client
        self._own_client = not isinstance(client, distributed.Client)
        self._client: Any = None if self._own_client else client
        self._fn_future: Any = None
        self._placement: _Placement | None = None
        self._max: int | None = None
        self._cpu_resource = False  # whether trials ask the workers' CPU resource
        self._running: dict[str, tuple[Any, FrozenTrial]] = {}
        self._dirs: dict[str, Path] = {}  # the driver's folder of a trial whose model comes back
        # Live reports and stop requests of the current run (see the module docstring).
        self._token: str | None = None
        self._inbox = _Inbox()
        self._streams: dict[str, _Stream] = {}  # by the trial's Dask key
        self._stops: dict[int, list[Any]] = {}  # trial id -> [reason, when last sent]

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

    def start(self, objective: Objective) -> None:
        try:
            payload = _dumps(objective)
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
        self._end_run()
        token = uuid.uuid4().hex
        self._fn_future = client.submit(
            _identity, payload, key=f"hpcore-train-fn-{token}", pure=False
        )
        self._placement = _Placement(
            token, self.gpus_per_trial, self.cpus_per_trial, self.trial_timeout, self.grace_period,
            self.start_timeout, self.max_model_bytes,
        )
        # Subscribed before any trial is submitted (both go down the client's one
        # stream to the scheduler, in order), so no report is published unheard.
        self._token, self._inbox = token, _Inbox()
        client.subscribe_topic(report_topic(token), self._inbox)

    def submit(self, trial: FrozenTrial, config: Any, dir: Path | None = None) -> None:
        if self._fn_future is None or self._placement is None:
            raise RuntimeError("start() must be called before submit()")
        resources = {}
        if self.gpus_per_trial > 0:
            resources["GPU"] = self.gpus_per_trial
        if self._cpu_resource:
            resources["CPU"] = self.cpus_per_trial
        key = f"hpcore-trial-{trial.trial_id}-{trial.attempt}-{uuid.uuid4().hex[:12]}"
        # The driver's trial folder usually does not exist on other machines: unless
        # it is on a filesystem every worker mounts, the workers write nothing and
        # the driver keeps the log and reports from the outcome.
        shared = self.shared_filesystem and dir is not None
        remote = Job(trial, config, dir, Path(dir) / "trial.log") if shared else Job(trial, config)
        send_model = dir is not None and not shared  # the model comes back with the outcome
        future = self._client.submit(
            _run_remote,
            self._fn_future,
            remote,
            self._placement,
            send_model,
            key=key,
            pure=False,
            resources=resources or None,
        )
        self._running[key] = (future, trial)
        if send_model:
            self._dirs[key] = Path(dir)  # type: ignore[arg-type]
        wake = self._inbox.wake
        future.add_done_callback(lambda _: wake.set())  # in a Dask callback thread

    def stop(self, trial_id: int, reason: str) -> None:
        """Ask a running trial to stop at its next report (pushed to its worker)."""
        if self._token is None or not any(
            trial.trial_id == trial_id for _, trial in self._running.values()
        ):
            return
        self._stops[trial_id] = [reason, time.monotonic()]
        workers = [
            stream.worker
            for key, (_, trial) in self._running.items()
            if trial.trial_id == trial_id
            and (stream := self._streams.get(key)) is not None
            and stream.worker is not None
        ]
        self._push_stop(trial_id, reason, workers or None)

    def wait(self, timeout: float | None = None) -> list[FrozenTrial]:
        """Block until a trial ends (or ``timeout``), handing live reports to :attr:`on_report`.

        Reports are delivered from this thread as they arrive; the call
        returns as soon as a future finishes (a Dask callback wakes it).
        """
        if not self._running:
            self._drain()
            return []
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            self._inbox.wake.clear()
            self._drain()
            done = self._done()
            if done:
                self._check_imports(done)
                return [self._collect(key) for key in done]
            left = _SLICE if end is None else min(_SLICE, end - time.monotonic())
            if left <= 0:
                return []
            self._inbox.wake.wait(left)

    def shutdown(self, cancel: bool = False) -> list[FrozenTrial]:
        """Release the cluster; trials still running are cancelled and returned as interrupted.

        The search loop drains every trial before a plain ``shutdown()``, so
        only ``cancel=True`` finds any. A cancelled trial in a child process
        (``trial_timeout``) is killed at once; one in a worker thread stops at
        its next report (or runs on until it returns, if it makes none), and
        its result is dropped.
        """
        now = time.time()
        interrupted = [trial.interrupted(now) for _, trial in self._running.values()]
        futures = [future for future, _ in self._running.values()]
        self._running.clear()
        self._dirs.clear()
        if futures and self._client is not None:
            with contextlib.suppress(Exception):
                self._client.cancel(futures)
        self._end_run()
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
        # Asked of the scheduler directly: Client.scheduler_info() returns a
        # cached identity that the client's periodic refresh replaces, every
        # few seconds, with one that lists no workers at all; read between the
        # two, a healthy cluster looks empty.
        identity = self._client.scheduler.identity
        try:
            info = self._client.sync(identity, n_workers=-1)
        except TypeError:  # distributed before 2025: no n_workers, every worker listed
            info = self._client.sync(identity)
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

    def _check_imports(self, done: list[str]) -> None:
        """Raise if a worker could not import train_fn's module: every trial would fail.

        The trials stay running here, so that the search loop's way out
        records them (this one included) as interrupted: they run again on
        resume, once the workers can import the module.
        """
        for key in done:
            exc = _task_error(self._running[key][0])
            if isinstance(exc, _ImportFailed):
                raise _import_error(exc, getattr(self._client.scheduler, "address", None))

    def _collect(self, key: str) -> FrozenTrial:
        """The outcome of a finished future; an error or cancellation becomes a failed trial.

        Reports of the trial that did not arrive live go to :attr:`on_report`
        first, from the outcome.
        """
        future, trial = self._running.pop(key)
        stream = self._streams.pop(key, None)
        dir = self._dirs.pop(key, None)
        self._stops.pop(trial.trial_id, None)
        try:
            outcome = _receive_model(future.result(), dir, self.max_model_bytes)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # the task's own error, KilledWorker, cancellation
            outcome = _failed(trial, exc)
        finally:
            future.release()
        for entry in outcome.reports[0 if stream is None else stream.delivered :]:
            self._emit(trial.trial_id, entry)
        return outcome

    # -- live reports and stop requests -------------------------------------------
    def _drain(self) -> None:
        """Hand the report events that arrived to :attr:`on_report` (this thread only)."""
        messages = self._inbox.messages
        while messages:
            self._take(messages.popleft())

    def _take(self, msg: Any) -> None:
        """Deliver one event's entries, in order, each once (see :class:`_Stream`)."""
        try:
            key, nonce, first, blob = msg["k"], msg["x"], int(msg["n"]), msg["r"]
            entries = pickle.loads(blob) if isinstance(blob, bytes) else list(blob)
        except Exception:  # not one of ours
            return
        running = self._running.get(key)
        if running is None:  # its trial ended: the outcome had every report
            return
        stream = self._streams.setdefault(key, _Stream())
        if nonce != stream.nonce:  # Dask runs the task again: a new curve
            if nonce in stream.old:
                return
            if stream.nonce is not None:
                stream.old.add(stream.nonce)
            stream.nonce, stream.delivered, stream.pending = nonce, 0, {}
            stream.worker = msg.get("w")
        for i, entry in enumerate(entries):
            if first + i >= stream.delivered:
                stream.pending[first + i] = entry
        trial_id = running[1].trial_id
        while stream.delivered in stream.pending:
            entry = stream.pending.pop(stream.delivered)
            stream.delivered += 1
            self._emit(trial_id, entry)

    def _emit(self, trial_id: int, entry: dict[str, Any]) -> None:
        if self.on_report is not None:
            self.on_report(trial_id, entry)
        stop = self._stops.get(trial_id)
        if stop is not None and time.monotonic() - stop[1] >= _RESEND:
            stop[1] = time.monotonic()  # it reports on: the request missed its worker
            self._push_stop(trial_id, stop[0], None)

    def _push_stop(self, trial_id: int, reason: str, workers: list[str] | None) -> None:
        """Run ``_deliver_stop`` on ``workers`` (None: all), without waiting for it."""
        client, token = self._client, self._token
        if client is None or token is None:
            return
        with contextlib.suppress(Exception):  # a closing client
            client.loop.add_callback(
                _run_quietly, client, workers, _deliver_stop, token, trial_id, reason
            )

    def _end_run(self) -> None:
        """Clean up the run's live channels on the cluster (see the module docstring)."""
        token, client = self._token, self._client
        self._token = None
        self._inbox.closed = True
        self._streams.clear()
        self._stops.clear()
        if token is None or client is None:
            return
        topic = report_topic(token)
        with contextlib.suppress(Exception):
            client.run(_close_run, token, on_error="ignore", callback_timeout=_CLEANUP_TIMEOUT)
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(topic)
        with contextlib.suppress(Exception):  # in the background, on the scheduler
            client.run_on_scheduler(_topic_eraser(), topic, _TOPIC_LINGER, wait=False,
                                    callback_timeout=_CLEANUP_TIMEOUT)

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


def _task_error(future: Any) -> BaseException | None:
    """The exception a finished Dask task raised, or None."""
    if future.status != "error":
        return None
    try:
        return future.exception()
    except Exception:  # a closing client
        return None


def _number(name: str, value: Any, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        rule = ">= 0" if allow_zero else "> 0"
        raise ArgumentError(f"{name} must be a number {rule}, got {value!r}.")
    return float(value)


def _optional(name: str, value: Any) -> float | None:
    return None if value is None else _number(name, value)
