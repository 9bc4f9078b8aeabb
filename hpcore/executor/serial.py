"""Run trials one at a time in the calling process (``n_jobs=1``)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from ._run import run_trial
from .base import Executor, TrialOutcome, TrialTask

__all__ = ["SerialExecutor"]


class SerialExecutor(Executor):
    """Runs each trial in this process when :meth:`wait` is called.

    Nothing is pickled, so any ``train_fn`` works (lambdas, closures,
    notebook functions), and a debugger stops inside it.
    """

    def __init__(self) -> None:
        self._fn: Callable[..., Any] | None = None
        self._queue: list[TrialTask] = []
        self._stops: dict[int, str] = {}

    @property
    def max_concurrency(self) -> int:
        return 1

    @property
    def n_running(self) -> int:
        return len(self._queue)

    def start(self, train_fn: Callable[..., Any]) -> None:
        self._fn = train_fn

    def submit(self, task: TrialTask) -> None:
        self._queue.append(task)

    def stop(self, trial_id: int, reason: str) -> None:
        if any(t.trial_id == trial_id for t in self._queue):
            self._stops[trial_id] = reason

    def wait(self, timeout: float | None = None) -> list[TrialOutcome]:
        if not self._queue:
            return []
        assert self._fn is not None, "start() must be called before wait()"
        task = self._queue[0]
        tid = task.trial_id

        def forward(entry: dict[str, Any]) -> None:
            if self.on_report is not None:
                self.on_report(tid, entry)  # the loop may call stop() from here

        with _tee_output(task.log_path):
            outcome = run_trial(self._fn, task, forward, lambda: self._stops.pop(tid, None))
        self._queue.pop(0)
        return [outcome]

    def shutdown(self, cancel: bool = False) -> list[TrialOutcome]:
        from ..trial import TrialState

        interrupted = [TrialOutcome(t.trial_id, TrialState.INTERRUPTED) for t in self._queue]
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
