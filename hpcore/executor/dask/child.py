"""A trial in a child process of its Dask worker (``trial_timeout``).

The child is a fresh interpreter started with ``subprocess`` (a Dask worker
is a daemonic process and may not start ``multiprocessing`` children; a new
interpreter also never re-imports the driver's script). It leads a session of
its own, writes file descriptors 1 and 2 to a log in a temporary folder (the
trial's ``trial.log`` with ``shared_filesystem``; so C extensions and
grandchildren are captured too) and leaves its pickled record there. The worker thread kills the whole session when the deadline passes or
the task is cancelled; the child kills its session itself if the worker dies.
Reports go up and a stop request comes down a socket pair
(:class:`_ChildLink` in the child, :class:`_ChildChannel` in the worker).
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
from dataclasses import replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...trial import FrozenTrial, TrialState
from .._run import Job, run_trial
from .._worker import dumps as _dumps
from ..base import OUTPUT_TAIL
from ..local import _THREAD_VARS, _exit_reason
from .runs import _ImportFailed, _Placement, _stop_reason, _unloadable, _visible_devices

if TYPE_CHECKING:
    from .worker import _Forwarder

#: Seconds between checks of a child's deadline and of its task's cancellation.
_POLL = 0.1
#: The file a trial's child writes (its start time) once ``train_fn`` is loaded.
_STARTED = "started"
_CHILD_CODE = (
    "import sys; from hpcore.executor.dask.child import _child_main; _child_main(*sys.argv[1:])"
)
#: Seconds a child's reports may wait in the child before they go to its worker thread.
_CHILD_FLUSH = 0.02


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
        # With shared_filesystem the trial's log is written where the driver keeps it.
        log_path = job.log_path or work / "output.log"
        try:
            with open(log_path, "wb") as log:
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
        output = _read_tail(log_path)
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
        outcome = pickle.loads(result.read_bytes())
        if isinstance(outcome, _ImportFailed):  # the cluster's failure, not the trial's
            raise outcome
        return outcome
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
    except ImportError as exc:  # the cluster's failure: the worker thread raises it
        _leave(work, _dumps(_ImportFailed.from_exc(exc)))
        return
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
    try:
        blob = _dumps(outcome)
    except Exception as exc:  # an unpicklable metric or report
        blob = _dumps(FrozenTrial(
            job.trial.trial_id, job.trial.params, TrialState.FAILED,
            error=f"the trial's result could not be sent back: {exc}", start=outcome.start,
            end=outcome.end, attempts=job.trial.attempts, budget=job.trial.budget))
    _leave(work, blob)


def _leave(work: Path, blob: bytes) -> None:
    """Flush the child's output and leave its pickled outcome for the worker thread."""
    sys.stdout.flush()
    sys.stderr.flush()
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
