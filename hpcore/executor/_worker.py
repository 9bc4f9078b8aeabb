"""The worker side of :mod:`hpcore.executor.local`: the body of a spawned worker
process.

A worker leads its own process group, watches its driver (and kills its group
once the driver is gone), loads ``train_fn`` with its start-up output kept for
the driver to quote, then runs the trials it is sent one at a time, their
stdout and stderr (file descriptors 1 and 2) going to each trial's log.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from multiprocessing.connection import Connection
from multiprocessing.reduction import DupFd
from pathlib import Path
from typing import Any

from ..trial import FrozenTrial, TrialState
from ._run import Job, Objective, run_trial

__all__ = ["worker_main", "PassedFd", "dumps", "descendants", "kill_descendants"]


def dumps(obj: Any) -> bytes:
    """Pickle with cloudpickle: what the user's ``__main__`` defines (train_fn, a lambda,
    a closure, a notebook cell's function or class) travels by value."""
    import cloudpickle

    return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _watch_parent(parent_pid: int) -> None:
    """Kill this worker's process group and descendants once the driver is gone (``kill -9``)."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            kill_descendants(os.getpid())
            os.killpg(os.getpgrp(), signal.SIGKILL)


# -- every process a trial started -------------------------------------------------
# A trial's children are in its worker's process group, unless one starts its own
# session (subprocess's start_new_session=True, a daemon's double fork): killing the
# group misses those. So the worker becomes a "child subreaper" (Linux): orphaned
# descendants are re-parented to it instead of to init, and the parent links under
# /proc always lead back to it. The driver (or the worker) kills that tree.

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux); whether it worked."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (from /proc's parent links; empty where there is no /proc)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        children.setdefault(ppid, []).append(int(name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_descendants(pid: int, sig: int = signal.SIGKILL) -> list[int]:
    """Send ``sig`` to every process below ``pid``; the pids it reached."""
    reached = []
    for child in descendants(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child, sig)
            reached.append(child)
    return reached


def _has_children() -> bool:
    """Whether this process has a child (a subreaper's descendants all hang below one)."""
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children") as f:
                if f.read().strip():
                    return True
    except OSError:
        return True  # cannot tell: look through /proc
    return False


def _reap_leftovers() -> None:
    """Kill what a finished trial left running, and collect the exit statuses."""
    if not _has_children():  # the common case, in microseconds instead of a /proc scan
        return
    for child in kill_descendants(os.getpid()):
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(child, os.WNOHANG)


@contextlib.contextmanager
def _output_to(target: Path | int | None) -> Iterator[None]:
    """Send file descriptors 1 and 2 (and Python's streams) to ``target`` (a path, or an
    open file descriptor, which stays open) inside the block."""
    if target is None:
        yield
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = os.dup(1), os.dup(2)
    if isinstance(target, int):
        fd = os.dup(target)
    else:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (*saved, fd):
            os.close(f)


class PassedFd:
    """An open file descriptor handed to a spawned child: pickled while the child is
    spawned, it travels with the spawn itself (as a Connection's does), not through a
    helper thread of the parent that a killed driver no longer runs."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, ...]:
        return (_received_fd, (DupFd(self.fd),))


def _received_fd(passed: Any) -> int:
    return passed.detach()


def worker_main(conn: Connection, payload: bytes, parent_pid: int, startup_fd: int) -> None:
    """Body of a worker process: run tasks from ``conn`` until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C
    with contextlib.suppress(OSError):
        os.setpgrp()  # lead a group: killing it reaches the trial's own children
    become_subreaper()
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    for stream in (sys.stdout, sys.stderr):  # lines reach the log (and the echo) at once
        with contextlib.suppress(Exception):
            stream.reconfigure(line_buffering=True)
    objective = _load_objective(payload, startup_fd)
    try:
        _serve(conn, objective)
    except (BrokenPipeError, ConnectionResetError, EOFError):
        pass  # the driver is gone (killed): no one to report to, and no traceback to show
    finally:
        _reap_leftovers()


def _load_objective(payload: bytes, startup_fd: int) -> Objective:
    """Unpickle train_fn (importing its module), this start-up's output going to the
    driver's unnamed file ``startup_fd``; on failure the traceback goes there too and
    the worker exits 1, for the driver to quote (a worker that cannot start fails the
    search, not each trial)."""
    with _output_to(startup_fd):
        try:
            return pickle.loads(payload)
        except BaseException:
            traceback.print_exc()
            raise SystemExit(1) from None


def _serve(conn: Connection, objective: Objective) -> None:
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        msg = pickle.loads(data)
        if msg is None:
            return
        if msg[0] == "stop":  # a stop request that came after its trial ended
            continue
        job: Job = msg[1]
        trial = job.trial
        # The trial's clock (trial_timeout) starts now, not when it was submitted: a
        # fresh worker first spends seconds importing and unpickling train_fn.
        conn.send_bytes(pickle.dumps(("started", trial.trial_id), protocol=pickle.HIGHEST_PROTOCOL))
        forward, stop_check = _channel(conn, trial.trial_id)
        with _output_to(job.log_path):
            ended = run_trial(objective, job, forward, stop_check)
        _reap_leftovers()  # the trial is over: so is every process it started
        conn.send_bytes(_result_bytes(ended))


def _result_bytes(ended: FrozenTrial) -> bytes:
    """The pickled record; a failed one if the trial's own values cannot be pickled."""
    try:
        return dumps(ended)
    except Exception as exc:  # an unpicklable metric or report
        failed = FrozenTrial(ended.trial_id, ended.params, TrialState.FAILED,
                             error=f"the trial's result could not be sent back: {exc}",
                             start=ended.start, end=ended.end, devices=ended.devices,
                             host=ended.host, attempts=ended.attempts, budget=ended.budget)
        return dumps(failed)


def _channel(conn: Connection, trial_id: int):
    """The worker's side of live reporting: send reports, collect stop requests.

    Reports go to the driver as ``("report", trial_id, entry)``; the driver
    answers only when it wants the trial to stop, with ``("stop",
    trial_id, reason)``, which is picked up (without blocking) when the
    trial next reports or checks ``trial.should_stop``.
    """
    reason: list[str] = []

    def forward(entry: dict[str, Any]) -> None:
        conn.send_bytes(pickle.dumps(("report", trial_id, entry), protocol=pickle.HIGHEST_PROTOCOL))

    def stop_check() -> str | None:
        while not reason and conn.poll():
            msg = pickle.loads(conn.recv_bytes())
            if isinstance(msg, tuple) and msg[0] == "stop" and msg[1] == trial_id:
                reason.append(msg[2])
        return reason[0] if reason else None

    return forward, stop_check
