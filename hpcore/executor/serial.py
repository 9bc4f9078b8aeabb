"""Run trials one at a time in the calling process (``n_jobs=1``)."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from ..trial import FrozenTrial
from ._run import Job, Objective, run_trial
from .base import Executor

__all__ = ["SerialExecutor"]


class SerialExecutor(Executor):
    """Runs each trial in this process when :meth:`wait` is called.

    Nothing is pickled, so any ``train_fn`` works (lambdas, closures,
    notebook functions), and a debugger stops inside it.
    """

    def __init__(self) -> None:
        self._objective: Objective | None = None
        self._queue: list[Job] = []
        self._stops: dict[int, str] = {}

    @property
    def max_concurrency(self) -> int:
        return 1

    @property
    def n_running(self) -> int:
        return len(self._queue)

    def start(self, objective: Objective) -> None:
        self._objective = objective

    def submit(self, trial: FrozenTrial, config: Any, dir: Path | None = None) -> None:
        log = None if dir is None else Path(dir) / "trial.log"
        self._queue.append(Job(trial, config, dir, log))

    def stop(self, trial_id: int, reason: str) -> None:
        if any(job.trial.trial_id == trial_id for job in self._queue):
            self._stops[trial_id] = reason

    def wait(self, timeout: float | None = None) -> list[FrozenTrial]:
        if not self._queue:
            return []
        assert self._objective is not None, "start() must be called before wait()"
        job = self._queue[0]
        tid = job.trial.trial_id

        def forward(entry: dict[str, Any]) -> None:
            if self.on_report is not None:
                self.on_report(tid, entry)  # the loop may call stop() from here

        with _tee_output(job.log_path):
            ended = run_trial(self._objective, job, forward, lambda: self._stops.pop(tid, None))
        self._queue.pop(0)
        return [ended]

    def shutdown(self, cancel: bool = False) -> list[FrozenTrial]:
        now = time.time()
        interrupted = [job.trial.interrupted(now) for job in self._queue]
        self._queue.clear()
        return interrupted


class _Tee:
    """A text stream that writes to the console stream and a log file."""

    def __init__(self, console: TextIO, log: TextIO) -> None:
        self._console, self._log = console, log

    def write(self, text: str) -> int:
        self._log.write(text)
        return self._console.write(text)

    def flush(self) -> None:
        self._log.flush()
        self._console.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding...: the console's
        return getattr(self._console, name)


@contextlib.contextmanager
def _tee_output(path: Path | None) -> Iterator[None]:
    """Copy what the trial prints (Python-level stdout/stderr) into ``path``.

    The console still shows it and a debugger still works; output written
    by C code straight to the file descriptors is not copied (process
    executors capture that too).
    """
    if path is None:
        yield
        return
    with open(path, "a") as log:
        with contextlib.redirect_stdout(_Tee(sys.stdout, log)), \
                contextlib.redirect_stderr(_Tee(sys.stderr, log)):
            yield
