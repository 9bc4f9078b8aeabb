"""What runs on a Dask worker for :class:`~hpcore.executor.dask.DaskExecutor`.

:func:`_run_remote` is the body of every trial's Dask task. Without a
timeout it runs the trial in the worker's thread: ``train_fn`` is unpickled
once per worker process and per run, and the thread's ``print`` output
(stdout and stderr) is captured by :class:`_ThreadRouter`, which stands in
for ``sys.stdout``/``sys.stderr`` and routes each thread's writes to its own
sink, so concurrent trials in one worker never mix.

With ``trial_timeout`` the trial runs in a child process started with
``subprocess`` (a Dask worker is a daemonic process and may not start
``multiprocessing`` children; a fresh interpreter also never re-imports the
driver's script). The child leads a session of its own, writes file
descriptors 1 and 2 to a log in a temporary folder (the trial's own
``trial.log`` with ``shared_filesystem``; so C extensions and grandchildren
are captured too) and leaves its pickled outcome there. The
worker thread kills the whole session when the deadline passes or the task
is cancelled; the child kills its session itself if the worker dies.

Live reports and stop requests (see :mod:`.client` for the choice of channels)
    Each ``trial.report`` entry goes to a :class:`_Forwarder`, which sends
    the entries as Dask events (``Worker.log_event``, a non-blocking send
    on the worker's batched stream to the scheduler) to the run's topic,
    batched: one event per trial at most every :data:`_FLUSH` seconds (or
    per :data:`_MAX_BATCH` reports), and the rest when the trial ends,
    before its task does. A stop request is pushed by the driver
    (``client.run`` of :func:`_deliver_stop`) into :data:`_STOPS` of the
    trial's worker process, so a trial's ``stop_check`` is a dictionary
    lookup.
    A trial in a child process talks to its worker thread over a socket
    pair (:class:`.child._ChildLink`: batches of entries up every
    :data:`.child._CHILD_FLUSH` seconds, ``("stop", reason)`` down); the worker
    thread forwards the entries and relays the stop while it watches the
    child.

This module imports nothing of dask at import time.
"""

from __future__ import annotations

import contextlib
import math
import pickle
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from ...trial import FrozenTrial, TrialState
from .._run import Job, run_trial
from ..base import OUTPUT_TAIL
from .child import _run_in_child
from .models import _model_folder, _send_model, _Sent
from .runs import (  # noqa: F401 - the client and the tests use them from here
    _CLOSED,
    _STOPS,
    _close_run,
    _deliver_stop,
    _ImportFailed,
    _load_fn,
    _Placement,
    _stop_reason,
    _unloadable,
    _visible_devices,
    report_topic,
)

#: Seconds a trial's reports may wait on its worker before they are sent as one event.
_FLUSH = 0.05
#: Most reports in one event (a trial reporting in a tight loop sends more events).
_MAX_BATCH = 1000


def _identity(payload: bytes) -> bytes:
    """The task that holds the pickled ``train_fn`` on the cluster."""
    return payload


def _run_remote(
    payload: bytes, job: Job, placement: _Placement, send_model: bool = False
) -> FrozenTrial | _Sent:
    """Body of one trial's Dask task: run it in this thread or in a child process.

    With ``send_model`` (the driver has a trial folder this worker cannot
    see) a model the trial saves is returned with its outcome (:mod:`.models`).
    """
    if placement.gpus_per_trial > 0:
        visible = _visible_devices()[: max(1, math.ceil(placement.gpus_per_trial))]
        devices = tuple(int(d) for d in visible if d.strip().isdigit())
        job = job._replace(trial=replace(job.trial, devices=devices))
    forwarder = _Forwarder.for_task(placement)
    try:
        with _model_folder(job, send_model) as job:
            if placement.trial_timeout is not None:
                outcome = _run_in_child(payload, job, placement, forwarder)
            else:
                outcome = _run_in_thread(payload, job, placement.token, forwarder)
            return _send_model(outcome, job, placement.max_model_bytes)
    finally:
        if forwarder is not None:
            forwarder.close()  # the last reports leave before the task's result


# -- live reports and stop requests -------------------------------------------------
class _Forwarder:
    """Sends one trial's reports to the driver as Dask events, batched.

    :meth:`add` (called by the trial's thread, or by the worker thread that
    watches a child) only appends to a list; the first entry of a batch
    arms a timer on the worker's event loop, which sends the batch
    :data:`_FLUSH` seconds later with ``Worker.log_event``, pickled. Each
    event carries the task's key, a nonce of this execution of the task
    (Dask may run a task again after a worker died), the worker's address
    (where a stop request goes) and the index of its first entry, so the
    driver can put the entries in order and skip any it already has.
    :meth:`close` sends the rest from the task's thread: that event is
    queued on the worker's loop before the task's result.
    """

    def __init__(self, worker: Any, topic: str, token: str, key: str) -> None:
        self._worker = worker
        self._topic = topic
        self._token = token
        self._head = {"k": key, "x": uuid.uuid4().hex[:12], "w": str(worker.address)}
        self._lock = threading.Lock()
        self._batch: list[dict[str, Any]] = []
        self._sent = 0  # entries handed to Dask so far (the index of the next batch)
        self._armed = False

    @classmethod
    def for_task(cls, placement: _Placement) -> _Forwarder | None:
        """A forwarder for the Dask task running in this thread (None outside one)."""
        try:
            from distributed import get_worker

            worker = get_worker()
            key = worker.get_current_task()
        except Exception:  # not in a Dask task, or another distributed version
            return None
        return None if key is None else cls(worker, placement.topic, placement.token, str(key))

    def add(self, entry: dict[str, Any]) -> None:
        """Queue one report; it leaves within :data:`_FLUSH` seconds."""
        with self._lock:
            self._batch.append(entry)
            full = len(self._batch) >= _MAX_BATCH
            if self._armed and not full:
                return
            self._armed = True
        if full:  # a trial that reports in a tight loop: keep events small
            self.flush()
            return
        try:
            self._worker.loop.add_callback(self._arm)
        except Exception:  # the worker's loop is closing: the outcome still has the report
            with self._lock:
                self._armed = False

    def _arm(self) -> None:  # on the worker's event loop
        self._worker.loop.call_later(_FLUSH, self.flush)

    def flush(self) -> None:
        """Send the queued reports now, as one event."""
        with self._lock:
            batch, self._batch = self._batch, []
            first = self._sent
            self._sent += len(batch)
            self._armed = False
        if not batch or self._token in _CLOSED:
            return
        with contextlib.suppress(Exception):  # a closing worker
            # Pickled: one bytes value is far cheaper for log_event's checks and msgpack
            # than a list of dicts (and the repeated keys are stored once).
            blob = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
            self._worker.log_event(self._topic, {**self._head, "n": first, "r": blob})

    def close(self) -> None:
        """Send what is left (the trial ended)."""
        self.flush()


def _run_in_thread(
    payload: bytes, job: Job, token: str, forwarder: _Forwarder | None = None
) -> FrozenTrial:
    """Run the trial in this worker thread, capturing what it prints."""
    trial_id = job.trial.trial_id

    def stop_check() -> str | None:
        return _stop_reason(token, trial_id)

    with _log_file(job.log_path) as log, _captured(log) as output:
        try:
            fn = _load_fn(token, payload)
        except ImportError as exc:  # the cluster lacks a module: no trial can run here
            raise _ImportFailed.from_exc(exc) from None
        except Exception as exc:
            outcome = _unloadable(job, exc)
        else:
            try:
                outcome = run_trial(
                    fn, job, None if forwarder is None else forwarder.add, stop_check
                )
            except (KeyboardInterrupt, SystemExit) as exc:  # ends this trial, not the worker
                outcome = replace(
                    job.trial,
                    state=TrialState.FAILED,
                    error=f"train_fn raised {type(exc).__name__}({exc})",
                    traceback=traceback.format_exc(),
                    end=time.time(),
                    host=socket.gethostname(),
                )
    return replace(outcome, output=output.getvalue() or None)


@contextlib.contextmanager
def _log_file(path: Path | None) -> Iterator[TextIO | None]:
    """The trial's log opened for the block (with ``shared_filesystem``), or None."""
    if path is None:
        yield None
        return
    with open(path, "w", encoding="utf-8", errors="replace", buffering=1) as f:
        yield f


class _Tail:
    """A text sink that keeps only the last ``limit`` characters written to it.

    With a ``log`` file, everything written goes there too (line-buffered).
    """

    def __init__(self, limit: int = OUTPUT_TAIL, log: TextIO | None = None) -> None:
        self.limit = limit
        self.log = log
        self._chunks: list[str] = []
        self._size = 0

    def write(self, text: str) -> int:
        if self.log is not None:
            with contextlib.suppress(OSError, ValueError):  # a full disk loses the log only
                self.log.write(text)
        self._chunks.append(text)
        self._size += len(text)
        if self._size > 2 * self.limit:
            kept = "".join(self._chunks)[-self.limit :]
            self._chunks, self._size = [kept], len(kept)
        return len(text)

    def getvalue(self) -> str:
        return "".join(self._chunks)[-self.limit :]


class _ThreadRouter:
    """Stands in for ``sys.stdout``/``sys.stderr``: each capturing thread writes to its own sink.

    Threads that capture nothing write to the stream it replaced, so the
    worker's own logging and concurrent trials never mix.
    """

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.sinks: dict[int, _Tail] = {}

    def write(self, text: str) -> int:
        sink = self.sinks.get(threading.get_ident())
        return (self.stream if sink is None else sink).write(text)

    def flush(self) -> None:
        if threading.get_ident() not in self.sinks and self.stream is not None:
            self.stream.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, isatty, buffer...
        return getattr(self.stream, name)


_ROUTER_LOCK = threading.Lock()


@contextlib.contextmanager
def _captured(log: TextIO | None = None) -> Iterator[_Tail]:
    """Send this thread's ``print`` output (stdout and stderr) to one sink for the block
    (and to ``log``)."""
    sink, ident = _Tail(log=log), threading.get_ident()
    with _ROUTER_LOCK:
        routers = {name: _router(name) for name in ("stdout", "stderr")}
        for router in routers.values():
            router.sinks[ident] = sink
    try:
        yield sink
    finally:
        with _ROUTER_LOCK:
            for name, router in routers.items():
                router.sinks.pop(ident, None)
                if not router.sinks and getattr(sys, name) is router:
                    setattr(sys, name, router.stream)


def _router(name: str) -> _ThreadRouter:
    current = getattr(sys, name)
    if isinstance(current, _ThreadRouter):
        return current
    router = _ThreadRouter(current)
    setattr(sys, name, router)
    return router
