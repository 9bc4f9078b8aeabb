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
descriptors 1 and 2 to a log in a temporary folder (so C extensions and
grandchildren are captured too) and leaves its pickled outcome there. The
worker thread kills the whole session when the deadline passes or the task
is cancelled; the child kills its session itself if the worker dies.

Live reports and stop requests (see :mod:`.dask` for the choice of channels)
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
    pair (:class:`_ChildLink`: batches of entries up every
    :data:`_CHILD_FLUSH` seconds, ``("stop", reason)`` down); the worker
    thread forwards the entries and relays the stop while it watches the
    child.

This module imports nothing of dask at import time.
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from ...trial import FrozenTrial, TrialState
from .._run import Job, Objective, run_trial
from ..base import OUTPUT_TAIL
from ..local import _THREAD_VARS, _dumps, _exit_reason

#: Seconds between checks of a child's deadline and of its task's cancellation.
_POLL = 0.1
#: Unpickled train functions in this worker process, by the token of their executor's start().
_FN_CACHE: dict[str, Callable[..., Any]] = {}
_FN_CACHE_SIZE = 8
#: The file a trial's child writes (its start time) once ``train_fn`` is loaded.
_STARTED = "started"
_CHILD_CODE = (
    "import sys; from hpcore.executor.dask.worker import _child_main; _child_main(*sys.argv[1:])"
)
#: Seconds a trial's reports may wait on its worker before they are sent as one event.
_FLUSH = 0.05
#: Seconds a child's reports may wait in the child before they go to its worker thread.
_CHILD_FLUSH = 0.02
#: Most reports in one event (a trial reporting in a tight loop sends more events).
_MAX_BATCH = 1000
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

    @property
    def topic(self) -> str:
        """The Dask event topic that carries this run's reports to the driver."""
        return report_topic(self.token)


def report_topic(token: str) -> str:
    """The event topic of the run started with ``token``."""
    return f"hpcore-reports-{token}"


def _identity(payload: bytes) -> bytes:
    """The task that holds the pickled ``train_fn`` on the cluster."""
    return payload


def _run_remote(payload: bytes, job: Job, placement: _Placement) -> FrozenTrial:
    """Body of one trial's Dask task: run it in this thread or in a child process."""
    if placement.gpus_per_trial > 0:
        visible = _visible_devices()[: max(1, math.ceil(placement.gpus_per_trial))]
        devices = tuple(int(d) for d in visible if d.strip().isdigit())
        job = job._replace(trial=replace(job.trial, devices=devices))
    forwarder = _Forwarder.for_task(placement)
    try:
        if placement.trial_timeout is not None:
            return _run_in_child(payload, job, placement, forwarder)
        return _run_in_thread(payload, job, placement.token, forwarder)
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


def _run_in_thread(
    payload: bytes, job: Job, token: str, forwarder: _Forwarder | None = None
) -> FrozenTrial:
    """Run the trial in this worker thread, capturing what it prints."""
    trial_id = job.trial.trial_id

    def stop_check() -> str | None:
        return _stop_reason(token, trial_id)

    with _captured() as output:
        try:
            fn = _load_fn(token, payload)
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


class _Tail:
    """A text sink that keeps only the last ``limit`` characters written to it."""

    def __init__(self, limit: int = OUTPUT_TAIL) -> None:
        self.limit = limit
        self._chunks: list[str] = []
        self._size = 0

    def write(self, text: str) -> int:
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
def _captured() -> Iterator[_Tail]:
    """Send this thread's ``print`` output (stdout and stderr) to one sink for the block."""
    sink, ident = _Tail(), threading.get_ident()
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


# -- a trial in a child process (trial_timeout) ----------------------------------
def _run_in_child(
    payload: bytes, job: Job, placement: _Placement, forwarder: _Forwarder | None = None
) -> FrozenTrial:
    """Run the trial in a child process of this worker; kill it at ``trial_timeout``."""
    with tempfile.TemporaryDirectory(prefix="hpcore-trial-") as tmp:
        work = Path(tmp)
        (work / "input.pkl").write_bytes(_dumps((payload, job)))
        start = time.time()
        # A socket pair carries reports up and the stop request down (POSIX: the
        # child's end is passed as an open file descriptor).
        ours, theirs = socket.socketpair() if os.name == "posix" else (None, None)
        try:
            with open(work / "output.log", "wb") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-c", _CHILD_CODE, tmp, str(os.getpid()),
                     str(-1 if theirs is None else theirs.fileno())],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=_child_env(placement),
                    start_new_session=os.name == "posix",
                    pass_fds=() if theirs is None else (theirs.fileno(),),
                )
        except BaseException:
            if ours is not None:
                ours.close()
            raise
        finally:
            if theirs is not None:
                theirs.close()
        channel = None if ours is None else _ChildChannel(ours, forwarder, placement.token,
                                                          job.trial.trial_id)
        try:
            ended = _watch_child(proc, placement, channel, work / _STARTED)
        finally:
            if proc.poll() is None:  # this thread was interrupted: leave no orphan
                _kill_session(proc, placement.grace_period)
            if channel is not None:
                channel.close()
        outcome = _child_outcome(work, job, proc.returncode, ended, placement)
        output = _read_tail(work / "output.log")
    return replace(outcome, output=output, start=outcome.start or start,
                   end=outcome.end or time.time(), host=outcome.host or socket.gethostname(),
                   devices=job.trial.devices)


def _child_env(placement: _Placement) -> dict[str, str]:
    """The worker's environment, plus its import path, the trial's GPUs and thread limits."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if isinstance(p, str))
    if placement.gpus_per_trial > 0:
        visible = _visible_devices()[: max(1, math.ceil(placement.gpus_per_trial))]
        if visible:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(visible)
    if placement.cpus_per_trial is not None:
        threads = str(max(1, int(placement.cpus_per_trial)))
        for var in _THREAD_VARS:
            env.setdefault(var, threads)
    return env


class _ChildChannel:
    """The worker's end of a child's socket: reports come up, a stop request goes down."""

    #: Messages read in one go before the deadline and the cancellation are looked at again.
    BURST = 100

    def __init__(
        self, sock: socket.socket, forwarder: _Forwarder | None, token: str, trial_id: int
    ) -> None:
        self.conn = Connection(sock.detach())
        self.forwarder = forwarder
        self.token = token
        self.trial_id = trial_id
        self.open = True
        self.stop_sent = False

    def pump(self, timeout: float) -> None:
        """Wait up to ``timeout`` for reports and forward them; relay a stop request."""
        self._relay_stop()
        if self.open and wait([self.conn], timeout):
            self.drain()

    def drain(self) -> None:
        """Forward the batches of reports that have arrived (at most :attr:`BURST`)."""
        try:
            for _ in range(self.BURST):
                if not self.open or not self.conn.poll():
                    return
                batch = pickle.loads(self.conn.recv_bytes())
                if self.forwarder is not None:
                    for entry in batch:
                        self.forwarder.add(entry)
        except (EOFError, OSError, pickle.UnpicklingError):  # the child ended or closed it
            self.open = False

    def _relay_stop(self) -> None:
        if self.stop_sent or not self.open:
            return
        reason = _stop_reason(self.token, self.trial_id)
        if reason is not None:
            self.stop_sent = True
            with contextlib.suppress(OSError):
                self.conn.send_bytes(pickle.dumps(("stop", reason)))

    def close(self) -> None:
        self.open = False
        with contextlib.suppress(OSError):
            self.conn.close()


def _watch_child(
    proc: subprocess.Popen[bytes],
    placement: _Placement,
    channel: _ChildChannel | None = None,
    started: Path | None = None,
) -> str:
    """Wait for the child: ``'exited'``, or ``'timeout'``/``'start-timeout'``/``'cancelled'``.

    Meanwhile the child's reports are forwarded and a stop request relayed
    (``channel``). The ``trial_timeout`` clock starts when the child has
    loaded ``train_fn`` and writes the time to ``started``; until then the
    child has ``start_timeout`` seconds (a new interpreter that imports the
    user's modules). Without ``started`` the clock starts at once.
    """
    assert placement.trial_timeout is not None
    now = time.monotonic()
    deadline = None if started is not None else now + placement.trial_timeout
    start_deadline = now + placement.start_timeout
    while True:
        if deadline is None and started is not None and started.exists():
            with contextlib.suppress(OSError, ValueError):
                ran = max(0.0, time.time() - float(started.read_text()))
                deadline = time.monotonic() + placement.trial_timeout - ran
        left = (start_deadline if deadline is None else deadline) - time.monotonic()
        step = max(0.0, min(_POLL, left))
        if channel is not None and channel.open:
            channel.pump(step)  # returns early when reports arrive (or the child ends)
            if proc.poll() is not None:
                while channel.open and channel.conn.poll():
                    channel.drain()
                return "exited"
        else:
            try:
                proc.wait(timeout=step)
                return "exited"
            except subprocess.TimeoutExpired:
                pass
        if left <= 0 or _task_cancelled():
            _kill_session(proc, placement.grace_period)
            if left > 0:
                return "cancelled"
            return "timeout" if deadline is not None else "start-timeout"


def _kill_session(proc: subprocess.Popen[bytes], grace_period: float) -> None:
    """SIGTERM the child and everything it started, SIGKILL after ``grace_period`` seconds."""
    def signal_all(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.name == "posix":
                os.killpg(proc.pid, sig)
            else:  # pragma: no cover - no sessions to kill
                proc.send_signal(sig)

    signal_all(signal.SIGTERM)
    try:
        proc.wait(timeout=grace_period)
    except subprocess.TimeoutExpired:
        pass
    signal_all(signal.SIGKILL if os.name == "posix" else signal.SIGTERM)
    proc.wait()


def _task_cancelled() -> bool:
    """Whether the Dask task running in this thread was cancelled by its client."""
    try:
        from distributed import get_worker

        worker = get_worker()
        key = worker.get_current_task()
        state = worker.state.tasks.get(key)
    except Exception:  # not in a Dask task, or another distributed version
        return False
    return key is not None and (state is None or state.state in ("cancelled", "released"))


def _child_outcome(
    work: Path, job: Job, returncode: int | None, ended: str, placement: _Placement
) -> FrozenTrial:
    """The trial's record from what its child process left (or how it ended)."""
    trial = replace(job.trial, start=None)  # the child's own start time, if it ran
    if ended == "timeout":
        return replace(
            trial,
            state=TrialState.TIMED_OUT,
            error=f"the trial exceeded trial_timeout={placement.trial_timeout:g}s and was killed",
        )
    if ended == "start-timeout":
        return replace(
            trial,
            state=TrialState.TIMED_OUT,
            error=f"the trial's process did not start it within start_timeout="
            f"{placement.start_timeout:g}s (stuck starting up or importing train_fn's "
            "module) and was killed",
        )
    if ended == "cancelled":
        return replace(trial, state=TrialState.INTERRUPTED)
    result = work / "outcome.pkl"
    if returncode == 0 and result.exists():
        return pickle.loads(result.read_bytes())
    reason = _exit_reason(returncode).replace("the worker process", "the trial's process")
    if returncode == 0:
        reason += " before returning a result"
    return replace(trial, state=TrialState.FAILED, error=reason)


def _read_tail(path: Path) -> str | None:
    """The last :data:`OUTPUT_TAIL` characters of a log file (None when it is empty)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 4 * OUTPUT_TAIL))
        return f.read().decode("utf-8", errors="replace")[-OUTPUT_TAIL:] or None


def _child_main(workdir: str, parent_pid: str, channel_fd: str = "-1") -> None:
    """Body of a trial's child process: run it and leave the outcome in ``workdir``."""
    _die_with_parent(int(parent_pid))
    work = Path(workdir)
    payload, job = pickle.loads((work / "input.pkl").read_bytes())
    link = None
    if int(channel_fd) >= 0:
        os.set_inheritable(int(channel_fd), False)  # not for the trial's own children
        link = _ChildLink(Connection(int(channel_fd)))
    try:
        fn = pickle.loads(payload)
    except Exception as exc:
        outcome = _unloadable(job, exc)
    else:
        # The trial's clock (trial_timeout) starts now, after the interpreter's start-up.
        part = work / (_STARTED + ".part")
        part.write_text(repr(time.time()))
        os.replace(part, work / _STARTED)
        if link is None:
            outcome = run_trial(fn, job)
        else:
            outcome = run_trial(fn, job, link.forward, link.stop_check)
            link.close()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        blob = _dumps(outcome)
    except Exception as exc:  # an unpicklable metric or report
        blob = _dumps(FrozenTrial(
            job.trial.trial_id, job.trial.params, TrialState.FAILED,
            error=f"the trial's result could not be sent back: {exc}", start=outcome.start,
            end=outcome.end, attempts=job.trial.attempts, budget=job.trial.budget))
    part = work / "outcome.pkl.part"
    part.write_bytes(blob)
    os.replace(part, work / "outcome.pkl")


class _ChildLink:
    """The child's side of its socket: reports go up in batches, a stop request comes down.

    A thread of the child sends the reports of the last :data:`_CHILD_FLUSH`
    seconds as one message and waits for a stop request in between, so a
    report costs an append and ``stop_check`` a lookup. If the worker side
    is gone, reports only stay in the outcome.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        self.batch: list[dict[str, Any]] = []
        self.reason: str | None = None
        self.broken = False
        self.done = False
        threading.Thread(target=self._run, name="hpcore-report-link", daemon=True).start()

    def forward(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.batch.append(entry)

    def stop_check(self) -> str | None:
        return self.reason

    def _run(self) -> None:
        while not self.done and not self.broken:
            try:
                if wait([self.conn], _CHILD_FLUSH):
                    msg = pickle.loads(self.conn.recv_bytes())
                    if isinstance(msg, tuple) and msg[0] == "stop":
                        self.reason = msg[1]
            except (EOFError, OSError, pickle.UnpicklingError):
                self.broken = True
            self.flush()

    def flush(self) -> None:
        """Send the reports made since the last flush, as one message."""
        with self.lock:  # also keeps the batches in order
            batch, self.batch = self.batch, []
            if batch and not self.broken:
                try:
                    self.conn.send_bytes(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
                except OSError:
                    self.broken = True

    def close(self) -> None:
        """Send what is left (the trial ended)."""
        self.flush()
        self.done = True


def _die_with_parent(parent_pid: int) -> None:
    """Kill this child's session if its worker dies (no orphan trials on the machine)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        if os.name == "posix" and os.getpgrp() == os.getpid():
            os.killpg(0, signal.SIGKILL)
        os._exit(1)

    threading.Thread(target=watch, name="hpcore-parent-watch", daemon=True).start()
