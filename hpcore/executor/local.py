"""A pool of local worker processes (``n_jobs > 1``).

Workers are started with ``spawn`` (never ``fork``: a forked copy of a
driver that imported torch, numba or BLAS threads can deadlock), each
with its BLAS/OpenMP/numba thread count limited so that ``n`` workers
share the machine's cores instead of oversubscribing them.

Each worker runs one trial at a time, and a free worker gets the next
task as soon as its trial ends. A worker that dies (segfault,
``os._exit``, killed for memory) fails only its own trial; a new worker
takes its place.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from ..errors import ExecutorError
from ..trial import TrialState
from ._run import run_trial
from .base import Executor, TrialOutcome, TrialTask

__all__ = ["LocalProcessExecutor", "thread_limits"]

_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def _dumps(obj: Any) -> bytes:
    """Pickle with cloudpickle when installed (closures, notebook functions), else pickle."""
    try:
        import cloudpickle
    except ImportError:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def thread_limits(n_workers: int, cpu_count: int | None = None) -> dict[str, str]:
    """Thread-count variables for one of ``n_workers`` workers on this machine.

    Variables the user already set are left alone.
    """
    cpus = cpu_count or os.cpu_count() or 1
    per_worker = str(max(1, cpus // max(1, n_workers)))
    return {var: per_worker for var in _THREAD_VARS if var not in os.environ}


@contextlib.contextmanager
def _environ(updates: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them."""
    saved = {k: os.environ.get(k) for k in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _worker_main(conn: Connection, payload: bytes) -> None:
    """Body of a worker process: run tasks from ``conn`` until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C
    train_fn = pickle.loads(payload)
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        task = pickle.loads(data)
        if task is None:
            return
        outcome = run_trial(train_fn, task)
        try:
            blob = _dumps(outcome)
        except Exception as exc:  # an unpicklable metric or report
            outcome = TrialOutcome(
                task.trial_id,
                TrialState.FAILED,
                error=f"the trial's result could not be sent back: {exc}",
                start=outcome.start,
                end=outcome.end,
            )
            blob = _dumps(outcome)
        conn.send_bytes(blob)


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is None:
        return "the worker process stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"the worker process was killed by {name}"
    return f"the worker process exited with code {exitcode}"


@dataclass
class _Worker:
    process: Any  # multiprocessing.context.SpawnProcess
    conn: Connection
    task: TrialTask | None = None


class LocalProcessExecutor(Executor):
    """Run up to ``n_workers`` trials at once in spawned worker processes.

    Parameters
    ----------
    n_workers : int
        Worker processes, hence trials at once.
    threads_per_worker : int, optional
        BLAS/OpenMP/numba threads each worker may use; default: the
        machine's cores divided among the workers.
    """

    def __init__(self, n_workers: int, threads_per_worker: int | None = None) -> None:
        if n_workers < 1:
            raise ValueError("n_workers must be >= 1")
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self._ctx = mp.get_context("spawn")
        self._workers: list[_Worker] = []
        self._payload: bytes | None = None

    @property
    def max_concurrency(self) -> int:
        return self.n_workers

    @property
    def n_running(self) -> int:
        return sum(w.task is not None for w in self._workers)

    def start(self, train_fn: Callable[..., Any]) -> None:
        try:
            self._payload = _dumps(train_fn)
        except Exception as exc:
            raise ExecutorError(
                f"train_fn cannot be sent to worker processes ({type(exc).__name__}: {exc}). "
                "Define it at module level (not a lambda, closure or local function), "
                "install cloudpickle, or run with n_jobs=1."
            ) from exc
        while len(self._workers) < self.n_workers:
            self._workers.append(self._spawn())

    def _spawn(self) -> _Worker:
        assert self._payload is not None
        parent, child = self._ctx.Pipe(duplex=True)
        env = thread_limits(self.n_workers)
        if self.threads_per_worker is not None:
            env = {var: str(self.threads_per_worker) for var in _THREAD_VARS}
        process = self._ctx.Process(
            target=_worker_main, args=(child, self._payload), daemon=True, name="hpcore-worker"
        )
        with _environ(env):
            process.start()
        child.close()
        return _Worker(process, parent)

    def submit(self, task: TrialTask) -> None:
        data = _dumps(task)
        for i, w in enumerate(self._workers):
            if w.task is None:
                if not w.process.is_alive():
                    self._reap(w)
                    w = self._workers[i] = self._spawn()
                w.conn.send_bytes(data)
                w.task = task
                return
        raise RuntimeError("submit() called with every worker busy")

    def wait(self, timeout: float | None = None) -> list[TrialOutcome]:
        busy = [w for w in self._workers if w.task is not None]
        if not busy:
            return []
        handles: list[Any] = [w.conn for w in busy] + [w.process.sentinel for w in busy]
        ready = set(wait(handles, timeout))
        outcomes = []
        for i, w in enumerate(self._workers):
            if w.task is None or (w.conn not in ready and w.process.sentinel not in ready):
                continue
            task = w.task
            outcome = None
            try:
                if w.conn.poll():
                    outcome = pickle.loads(w.conn.recv_bytes())
            except (EOFError, OSError):
                outcome = None
            if outcome is None:  # the process died mid-trial
                w.process.join(timeout=5)
                outcome = TrialOutcome(
                    task.trial_id,
                    TrialState.FAILED,
                    error=_exit_reason(w.process.exitcode),
                    end=time.time(),
                )
                self._reap(w)
                self._workers[i] = self._spawn()
            else:
                self._workers[i].task = None
            outcomes.append(outcome)
        return outcomes

    def _reap(self, w: _Worker) -> None:
        if w.process.is_alive():
            w.process.kill()
        w.process.join(timeout=5)
        w.conn.close()
        w.process.close()

    def shutdown(self, cancel: bool = False) -> list[TrialOutcome]:
        interrupted = []
        for w in self._workers:
            if w.task is not None:
                if not cancel:
                    continue  # pragma: no cover - the loop always drains first
                interrupted.append(TrialOutcome(w.task.trial_id, TrialState.INTERRUPTED))
                w.process.terminate()
            else:
                with contextlib.suppress(OSError):
                    w.conn.send_bytes(pickle.dumps(None))
        deadline = time.monotonic() + 5.0
        for w in self._workers:
            w.process.join(timeout=max(0.0, deadline - time.monotonic()))
            self._reap(w)
        self._workers.clear()
        return interrupted
