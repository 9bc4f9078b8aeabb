"""A pool of local worker processes (``n_jobs > 1``, GPUs, timeouts).

Workers are started with ``spawn`` (never ``fork``: a forked copy of a
driver that imported torch, numba or BLAS threads can deadlock), each
with its BLAS/OpenMP/numba thread count limited so that ``n`` workers
share the machine's cores instead of oversubscribing them, and each with
its own device slot (:mod:`hpcore.executor.resources`): its
``CUDA_VISIBLE_DEVICES`` is set before the worker imports anything of the
user's.

Each worker runs one trial at a time, and a free worker gets the next
task as soon as its trial ends. Faults stay local to a trial:

* a worker that dies (segfault, ``os._exit``, killed for memory) fails
  only its own trial, with the signal or exit code; a new worker with the
  same slot takes its place;
* a trial running past ``trial_timeout`` is killed (with every process it
  started) and recorded as timed out; its clock starts when its worker
  starts it, so a fresh worker's start-up is not charged to it;
* each worker leads its own process group, so killing it also kills the
  processes its trial started (data loader workers and the like), and a
  watchdog thread in the worker kills the group if the driver itself dies
  (``kill -9``): no orphans either way;
* on cancel (Ctrl-C, SIGTERM) running trials get SIGTERM, then SIGKILL
  after ``grace_period`` seconds.

A trial's stdout and stderr (file descriptors 1 and 2, so output of C
extensions and child processes too) go to its log file; the driver echoes
complete lines as they arrive, prefixed with ``[trial N]``, so parallel
trials never interleave mid-line.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import shutil
import signal
import sys
import tempfile
import time
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from ..errors import ExecutorError
from ..trial import FrozenTrial, TrialState
from ._run import Job, Objective
from ._worker import PassedFd, dumps, kill_descendants, worker_main
from .base import OUTPUT_TAIL, Executor
from .resources import Device, plan_slots

__all__ = ["LocalProcessExecutor", "thread_limits"]

_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """While a worker is spawned, multiprocessing sees a blank ``__main__``.

    ``spawn`` runs the parent's main module again in each child (as
    ``__mp_main__``): in a script without an ``if __name__ == "__main__":``
    guard that is the whole search again, in every worker. A worker needs
    nothing of it (train_fn and the trials' configs travel by value), so the
    child is told there is no main module to run, as loky's workers are.
    """
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


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


#: Seconds an idle worker gets to leave on shutdown before it is sent SIGTERM.
IDLE_EXIT_SECONDS = 1.0


@dataclass
class _Worker:
    process: Any  # multiprocessing.context.SpawnProcess
    conn: Connection
    slot: tuple[Device, ...] = ()
    trial: FrozenTrial | None = None  # the trial it runs, as submitted (devices set)
    log_path: Path | None = None  # where its output goes
    deadline: float = float("inf")
    started: bool = False  # the worker has begun running its task (the timeout clock runs)
    echoed: int = 0  # bytes of the trial's log already echoed
    partial: bytes = field(default=b"")  # an echoed line still waiting for its newline
    own_log: bool = False  # the log is a temporary file of the executor
    # An unnamed file (nothing to leave behind) with the worker's start-up output.
    startup: Any = None
    ran: bool = False  # it has started a trial: its start-up went well
    tree: list[int] = field(default_factory=list)  # processes below it that were signalled


class LocalProcessExecutor(Executor):
    """Run trials in spawned worker processes, one trial per worker at a time.

    Parameters
    ----------
    n_workers : int
        Worker processes wanted; fewer are started when the resources
        (device slots, ``cpus_per_trial``) allow fewer trials at once.
    threads_per_worker : int, optional
        BLAS/OpenMP/numba threads per worker; default ``cpus_per_trial``
        when given, else the machine's cores divided among the workers.
    gpus_per_trial : float
        0 (leave ``CUDA_VISIBLE_DEVICES`` alone), a fraction below 1 (that
        many trials share one GPU), or a whole number of GPUs per trial.
    cpus_per_trial : float, optional
        Cores per trial: caps the workers at ``cores // cpus_per_trial``
        and sets their thread counts.
    devices : sequence, optional
        GPUs to use (indices or UUIDs); default: detected
        (:func:`hpcore.executor.resources.detect_devices`).
    trial_timeout : float, optional
        Seconds a trial may run before it is killed and recorded as timed
        out, counted from the moment its worker starts it: a fresh worker's
        start-up (spawning, importing and unpickling ``train_fn``) is not
        charged to the trial.
    start_timeout : float
        Seconds a worker may take to start a trial it was given, with
        ``trial_timeout`` set (a worker stuck importing ``train_fn``'s
        module); past it the trial is recorded as timed out.
    grace_period : float
        Seconds between SIGTERM and SIGKILL when running trials are cancelled.
    echo_output : bool
        Print the trials' output lines, prefixed ``[trial N]``, as they come.
    """

    def __init__(
        self,
        n_workers: int,
        threads_per_worker: int | None = None,
        *,
        gpus_per_trial: float = 0,
        cpus_per_trial: float | None = None,
        devices: Sequence[Device] | None = None,
        trial_timeout: float | None = None,
        start_timeout: float = 120.0,
        grace_period: float = 5.0,
        echo_output: bool = True,
    ) -> None:
        if n_workers < 1:
            raise ValueError("n_workers must be >= 1")
        if trial_timeout is not None and not trial_timeout > 0:
            raise ValueError(f"trial_timeout must be a positive number of seconds, got {trial_timeout!r}")
        self.slots = plan_slots(n_workers, gpus_per_trial, devices, cpus_per_trial)
        self.n_workers = len(self.slots)
        self.gpus_per_trial = float(gpus_per_trial)
        if threads_per_worker is None and cpus_per_trial is not None:
            threads_per_worker = max(1, int(cpus_per_trial))
        self.threads_per_worker = threads_per_worker
        if not start_timeout > 0:
            raise ValueError(f"start_timeout must be a positive number of seconds, got {start_timeout!r}")
        self.trial_timeout = trial_timeout
        self.start_timeout = float(start_timeout)
        self.grace_period = float(grace_period)
        self.echo_output = echo_output
        self._ctx = mp.get_context("spawn")
        self._workers: list[_Worker] = []
        self._payload: bytes | None = None
        self._log_dir: str | None = None

    @property
    def max_concurrency(self) -> int:
        return self.n_workers

    @property
    def n_running(self) -> int:
        return sum(w.trial is not None for w in self._workers)

    def start(self, objective: Objective) -> None:
        try:
            self._payload = dumps(objective)
        except Exception as exc:
            raise ExecutorError(
                f"train_fn cannot be sent to worker processes ({type(exc).__name__}: {exc}). "
                "Make what it uses picklable (an open file, a lock or a live connection "
                "cannot be sent), or run with n_jobs=1."
            ) from exc
        while len(self._workers) < self.n_workers:
            self._workers.append(self._spawn(self.slots[len(self._workers)]))

    def _spawn(self, slot: tuple[Device, ...]) -> _Worker:
        assert self._payload is not None
        parent, child = self._ctx.Pipe(duplex=True)
        env = thread_limits(self.n_workers)
        if self.threads_per_worker is not None:
            env = {var: str(self.threads_per_worker) for var in _THREAD_VARS}
        if self.gpus_per_trial > 0:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, slot))
        startup = tempfile.TemporaryFile()
        process = self._ctx.Process(
            target=worker_main,
            args=(child, self._payload, os.getpid(), PassedFd(startup.fileno())),
            daemon=True,
            name="hpcore-worker",
        )
        with _environ(env), _main_module_hidden():
            process.start()
        child.close()
        return _Worker(process, parent, slot, startup=startup)

    def submit(self, trial: FrozenTrial, config: Any, dir: Path | None = None) -> None:
        for i, w in enumerate(self._workers):
            if w.trial is None:
                if not w.process.is_alive():
                    if not w.ran:
                        raise self._startup_failed(w)
                    self._reap(w)
                    w = self._workers[i] = self._spawn(w.slot)
                trial = replace(trial, devices=tuple(w.slot))  # type: ignore[arg-type]
                w.own_log = dir is None
                if w.own_log:
                    if self._log_dir is None:
                        self._log_dir = _log_dir()
                    log = Path(self._log_dir) / f"trial-{trial.trial_id}-{trial.attempt}.log"
                else:
                    log = Path(dir) / "trial.log"  # type: ignore[arg-type]
                w.conn.send_bytes(dumps(("run", Job(trial, config, dir, log))))
                w.trial, w.log_path = trial, log
                w.started = False
                w.echoed, w.partial = 0, b""
                w.deadline = (
                    time.monotonic() + self.start_timeout if self.trial_timeout else float("inf")
                )
                return
        raise RuntimeError("submit() called with every worker busy")

    def stop(self, trial_id: int, reason: str) -> None:
        for w in self._workers:
            if w.trial is not None and w.trial.trial_id == trial_id:
                with contextlib.suppress(OSError):
                    w.conn.send_bytes(pickle.dumps(("stop", trial_id, reason)))
                return

    def wait(self, timeout: float | None = None) -> list[FrozenTrial]:
        """Block until a trial ends, times out, or ``timeout`` passes."""
        end = float("inf") if timeout is None else time.monotonic() + timeout
        while True:
            busy = [w for w in self._workers if w.trial is not None]
            if not busy:
                return []
            now = time.monotonic()
            limit = min(end, min(w.deadline for w in busy)) - now
            if self.echo_output:
                limit = min(limit, 0.2)
            handles: list[Any] = [w.conn for w in busy] + [w.process.sentinel for w in busy]
            ready = set(wait(handles, None if limit == float("inf") else max(0.0, limit)))
            outcomes = self._collect(ready)
            outcomes += self._expire()
            if self.echo_output:
                for w in self._workers:
                    if w.trial is not None:
                        self._echo(w, final=False)
            if outcomes or time.monotonic() >= end:
                return outcomes

    def _collect(self, ready: set[Any]) -> list[FrozenTrial]:
        outcomes = []
        for i, w in enumerate(self._workers):
            if w.trial is None or (w.conn not in ready and w.process.sentinel not in ready):
                continue
            trial = w.trial
            outcome = None
            try:
                while w.conn.poll():
                    msg = pickle.loads(w.conn.recv_bytes())
                    if isinstance(msg, tuple) and msg[0] == "started":
                        if not w.ran:
                            self._started_up(w)
                        w.started = True
                        if self.trial_timeout:
                            w.deadline = time.monotonic() + self.trial_timeout
                        continue
                    if isinstance(msg, tuple) and msg[0] == "report":
                        if self.on_report is not None:
                            self.on_report(msg[1], msg[2])
                        continue
                    outcome = msg
                    break
            except (EOFError, OSError):
                outcome = None
            if outcome is None and w.process.sentinel not in ready and w.process.is_alive():
                continue  # only reports arrived; the trial goes on
            if outcome is None and not w.ran:  # it died before running anything
                raise self._startup_failed(w)
            if outcome is None:  # the process died mid-trial
                w.process.join(timeout=5)
                outcome = replace(trial, state=TrialState.FAILED,
                                  error=_exit_reason(w.process.exitcode), end=time.time())
                outcome = self._finish(w, outcome)
                self._reap(w)
                self._workers[i] = self._spawn(w.slot)
            else:
                outcome = self._finish(w, outcome)
            outcomes.append(outcome)
        return outcomes

    def _expire(self) -> list[FrozenTrial]:
        """Kill the trials past their deadline; their outcomes say timed out."""
        outcomes = []
        now = time.monotonic()
        for i, w in enumerate(self._workers):
            if w.trial is None or now < w.deadline:
                continue
            if w.started:
                error = f"the trial exceeded trial_timeout={self.trial_timeout:g}s and was killed"
            else:
                error = (
                    f"the worker did not start the trial within start_timeout="
                    f"{self.start_timeout:g}s (stuck starting up or importing train_fn's "
                    "module) and was killed"
                )
            outcome = replace(w.trial, state=TrialState.TIMED_OUT, error=error, end=time.time())
            self._kill_group(w, signal.SIGKILL)
            outcome = self._finish(w, outcome)
            self._reap(w)
            self._workers[i] = self._spawn(w.slot)
            outcomes.append(outcome)
        return outcomes

    def _finish(self, w: _Worker, ended: FrozenTrial) -> FrozenTrial:
        """Echo the rest of the trial's output, free the worker; the record with
        the end of its output attached."""
        assert w.trial is not None
        if self.echo_output:
            self._echo(w, final=True)
        if w.log_path is not None:
            ended = replace(ended, output=_tail(w.log_path, OUTPUT_TAIL))
            if w.own_log:
                with contextlib.suppress(OSError):
                    os.unlink(w.log_path)
        w.trial, w.log_path = None, None
        w.started = False
        w.deadline = float("inf")
        return ended

    def _echo(self, w: _Worker, final: bool) -> None:
        """Print the new complete lines of ``w``'s trial log, prefixed with its id."""
        if w.trial is None or w.log_path is None:
            return
        try:
            with open(w.log_path, "rb") as f:
                f.seek(w.echoed)
                data = f.read()
        except OSError:
            return
        w.echoed += len(data)
        data = w.partial + data
        lines = data.split(b"\n")
        w.partial = lines.pop()
        if final and w.partial:
            lines.append(w.partial)
            w.partial = b""
        if lines:
            prefix = f"[trial {w.trial.trial_id}] "
            text = "".join(prefix + ln.decode("utf-8", "replace") + "\n" for ln in lines)
            sys.stdout.write(text)
            sys.stdout.flush()

    def _started_up(self, w: _Worker) -> None:
        """The worker started its first trial: show what its start-up printed."""
        w.ran = True
        text = _read_all(w.startup)
        if text and self.echo_output:
            sys.stderr.write("".join(f"[worker] {line}\n" for line in text.splitlines()))
            sys.stderr.flush()

    def _startup_failed(self, w: _Worker) -> ExecutorError:
        """The error for a worker that died before its first trial: no trial can run."""
        w.process.join(timeout=5)
        tail = (_read_all(w.startup) or "").strip()[-STARTUP_TAIL:]
        quoted = "\n".join("    " + line for line in tail.splitlines()) or "    (nothing)"
        return ExecutorError(
            f"a worker process could not start ({_exit_reason(w.process.exitcode)}), so no "
            f"trial can run; the search stops. The end of its output:\n{quoted}\n"
            "A worker imports train_fn's module afresh: that import must work in a new "
            "process (the same sys.path, its dependencies installed)."
        )

    def _kill_group(self, w: _Worker, sig: int) -> None:
        """Send ``sig`` to the worker, every process of its group and every process below
        it (those a trial started in a session of their own too)."""
        pid = w.process.pid
        if pid is None:
            return
        # Remembered: once the worker exits, those in their own session are re-parented
        # away from it, and the SIGKILL that follows a SIGTERM must still reach them.
        w.tree = sorted(set(w.tree) | set(kill_descendants(pid, sig)))
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError, OSError):
            with contextlib.suppress(Exception):
                os.kill(pid, sig)

    def _reap(self, w: _Worker) -> None:
        if w.process.is_alive():
            self._kill_group(w, signal.SIGKILL)
        else:  # the worker is gone; make sure its trial's children are too
            with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
                os.killpg(w.process.pid, signal.SIGKILL)
        for pid in w.tree:
            with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
                os.kill(pid, signal.SIGKILL)
        w.process.join(timeout=5)
        w.conn.close()
        w.process.close()
        if w.startup is not None:
            w.startup.close()

    def shutdown(self, cancel: bool = False) -> list[FrozenTrial]:
        interrupted = []
        idle = []
        for w in self._workers:
            if w.trial is not None:
                if not cancel:
                    continue  # pragma: no cover - the loop always drains first
                out = w.trial.interrupted(time.time())
                self._kill_group(w, signal.SIGTERM)
                interrupted.append((w, out))
            else:
                idle.append(w)
                with contextlib.suppress(OSError):
                    w.conn.send_bytes(pickle.dumps(None))
        start = time.monotonic()
        # An idle worker leaves at once when told to; one still starting up (importing
        # train_fn's module) would only read that after its import: it holds nothing
        # of the search's, so it gets SIGTERM instead of the trials' grace period.
        idle_deadline = start + min(self.grace_period, IDLE_EXIT_SECONDS)
        for w in idle:
            w.process.join(timeout=max(0.0, idle_deadline - time.monotonic()))
            if w.process.is_alive():
                self._kill_group(w, signal.SIGTERM)
        deadline = start + max(self.grace_period, 0.0)
        for w in self._workers:
            w.process.join(timeout=max(0.0, deadline - time.monotonic()))
        ended = [self._finish(w, out) for w, out in interrupted]
        for w in self._workers:
            self._reap(w)
        self._workers.clear()
        if self._log_dir is not None:
            shutil.rmtree(self._log_dir, ignore_errors=True)
            self._log_dir = None
        return ended


def _log_dir() -> str:
    """A temporary folder for the logs of untracked trials (a tracked trial's log is in
    its own folder), named by this process's id; those of drivers that died without
    removing theirs (``kill -9``) are removed first."""
    base = Path(tempfile.gettempdir())
    for old in base.glob("hpcore-logs-*-*"):
        pid = old.name.split("-")[2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"hpcore-logs-{os.getpid()}-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True


#: Characters of a failed worker start-up's output quoted in the error.
STARTUP_TAIL = 3000


def _read_all(f: Any) -> str | None:
    """The whole content of an open (unnamed) file, read without moving its offset."""
    try:
        size = os.fstat(f.fileno()).st_size
        return os.pread(f.fileno(), size, 0).decode("utf-8", "replace") or None
    except (OSError, ValueError):
        return None


def _tail(path: Path, n: int) -> str | None:
    """The last ``n`` characters (about) of a text file, or None when it is missing or empty."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 4 * n))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    return text[-n:] or None
