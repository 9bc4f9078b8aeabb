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

This module imports nothing of dask at import time.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..trial import TrialState
from ._run import run_trial
from .base import OUTPUT_TAIL, TrialOutcome, TrialTask
from .local import _THREAD_VARS, _dumps, _exit_reason

#: Seconds between checks of a child's deadline and of its task's cancellation.
_POLL = 0.1
#: Unpickled train functions in this worker process, by the token of their executor's start().
_FN_CACHE: dict[str, Callable[..., Any]] = {}
_FN_CACHE_SIZE = 8
_CHILD_CODE = (
    "import sys; from hpcore.executor._dask_worker import _child_main; _child_main(*sys.argv[1:])"
)


@dataclass(frozen=True)
class _Placement:
    """What every trial of one executor needs besides its task (sent with each)."""

    token: str
    gpus_per_trial: float
    cpus_per_trial: float | None
    trial_timeout: float | None
    grace_period: float


def _identity(payload: bytes) -> bytes:
    """The task that holds the pickled ``train_fn`` on the cluster."""
    return payload


def _run_remote(payload: bytes, task: TrialTask, placement: _Placement) -> TrialOutcome:
    """Body of one trial's Dask task: run it in this thread or in a child process."""
    if placement.gpus_per_trial > 0:
        visible = _visible_devices()[: max(1, math.ceil(placement.gpus_per_trial))]
        task = dataclasses.replace(
            task, devices=tuple(int(d) for d in visible if d.strip().isdigit())
        )
    if placement.trial_timeout is not None:
        return _run_in_child(payload, task, placement)
    return _run_in_thread(payload, task, placement.token)


def _visible_devices() -> list[str]:
    """This worker's ``CUDA_VISIBLE_DEVICES`` entries (its own GPU first under dask-cuda)."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    return [d.strip() for d in value.split(",") if d.strip()]


def _load_fn(token: str, payload: bytes) -> Callable[..., Any]:
    """The unpickled ``train_fn``, kept per worker process for the executor's run."""
    fn = _FN_CACHE.get(token)
    if fn is None:
        fn = pickle.loads(payload)
        if len(_FN_CACHE) >= _FN_CACHE_SIZE:
            _FN_CACHE.clear()
        _FN_CACHE[token] = fn
    return fn


def _unloadable(task: TrialTask, exc: Exception) -> TrialOutcome:
    return TrialOutcome(
        task.trial_id,
        TrialState.FAILED,
        error=(
            f"train_fn could not be loaded on the worker ({type(exc).__name__}: {exc}); "
            "install the module that defines it on every worker, or define it in the "
            "driver's script so that it is sent by value."
        ),
        traceback=traceback.format_exc(),
        end=time.time(),
        devices=tuple(task.devices),
        host=socket.gethostname(),
    )


def _run_in_thread(payload: bytes, task: TrialTask, token: str) -> TrialOutcome:
    """Run the trial in this worker thread, capturing what it prints."""
    with _captured() as output:
        try:
            fn = _load_fn(token, payload)
        except Exception as exc:
            outcome = _unloadable(task, exc)
        else:
            try:
                outcome = run_trial(fn, task)
            except (KeyboardInterrupt, SystemExit) as exc:  # ends this trial, not the worker
                outcome = TrialOutcome(
                    task.trial_id,
                    TrialState.FAILED,
                    error=f"train_fn raised {type(exc).__name__}({exc})",
                    traceback=traceback.format_exc(),
                    end=time.time(),
                    devices=tuple(task.devices),
                    host=socket.gethostname(),
                )
    outcome.output = output.getvalue() or None
    return outcome


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
def _run_in_child(payload: bytes, task: TrialTask, placement: _Placement) -> TrialOutcome:
    """Run the trial in a child process of this worker; kill it at ``trial_timeout``."""
    with tempfile.TemporaryDirectory(prefix="hpcore-trial-") as tmp:
        work = Path(tmp)
        (work / "input.pkl").write_bytes(_dumps((payload, task)))
        start = time.time()
        with open(work / "output.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-c", _CHILD_CODE, tmp, str(os.getpid())],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_child_env(task, placement),
                start_new_session=os.name == "posix",
            )
        try:
            ended = _watch_child(proc, placement)
        finally:
            if proc.poll() is None:  # this thread was interrupted: leave no orphan
                _kill_session(proc, placement.grace_period)
        outcome = _child_outcome(work, task, proc.returncode, ended, placement)
        outcome.output = _read_tail(work / "output.log")
    outcome.start = outcome.start or start
    outcome.end = outcome.end or time.time()
    outcome.host = outcome.host or socket.gethostname()
    outcome.devices = tuple(task.devices)
    return outcome


def _child_env(task: TrialTask, placement: _Placement) -> dict[str, str]:
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


def _watch_child(proc: subprocess.Popen[bytes], placement: _Placement) -> str:
    """Wait for the child: ``'exited'``, or ``'timeout'``/``'cancelled'`` once it is killed."""
    assert placement.trial_timeout is not None
    deadline = time.monotonic() + placement.trial_timeout
    while True:
        left = deadline - time.monotonic()
        try:
            proc.wait(timeout=max(0.0, min(_POLL, left)))
            return "exited"
        except subprocess.TimeoutExpired:
            pass
        if left <= 0 or _task_cancelled():
            _kill_session(proc, placement.grace_period)
            return "timeout" if left <= 0 else "cancelled"


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
    work: Path, task: TrialTask, returncode: int | None, ended: str, placement: _Placement
) -> TrialOutcome:
    if ended == "timeout":
        return TrialOutcome(
            task.trial_id,
            TrialState.TIMED_OUT,
            error=f"the trial exceeded trial_timeout={placement.trial_timeout:g}s and was killed",
        )
    if ended == "cancelled":
        return TrialOutcome(task.trial_id, TrialState.INTERRUPTED)
    result = work / "outcome.pkl"
    if returncode == 0 and result.exists():
        return pickle.loads(result.read_bytes())
    reason = _exit_reason(returncode).replace("the worker process", "the trial's process")
    if returncode == 0:
        reason += " before returning a result"
    return TrialOutcome(task.trial_id, TrialState.FAILED, error=reason)


def _read_tail(path: Path) -> str | None:
    """The last :data:`OUTPUT_TAIL` characters of a log file (None when it is empty)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 4 * OUTPUT_TAIL))
        return f.read().decode("utf-8", errors="replace")[-OUTPUT_TAIL:] or None


def _child_main(workdir: str, parent_pid: str) -> None:
    """Body of a trial's child process: run it and leave the outcome in ``workdir``."""
    _die_with_parent(int(parent_pid))
    work = Path(workdir)
    payload, task = pickle.loads((work / "input.pkl").read_bytes())
    try:
        fn = pickle.loads(payload)
    except Exception as exc:
        outcome = _unloadable(task, exc)
    else:
        outcome = run_trial(fn, task)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        blob = _dumps(outcome)
    except Exception as exc:  # an unpicklable metric or report
        blob = _dumps(
            TrialOutcome(
                task.trial_id,
                TrialState.FAILED,
                error=f"the trial's result could not be sent back: {exc}",
                start=outcome.start,
                end=outcome.end,
            )
        )
    part = work / "outcome.pkl.part"
    part.write_bytes(blob)
    os.replace(part, work / "outcome.pkl")


def _die_with_parent(parent_pid: int) -> None:
    """Kill this child's session if its worker dies (no orphan trials on the machine)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        if os.name == "posix" and os.getpgrp() == os.getpid():
            os.killpg(0, signal.SIGKILL)
        os._exit(1)

    threading.Thread(target=watch, name="hpcore-parent-watch", daemon=True).start()
