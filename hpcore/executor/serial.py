"""Run trials one at a time in the calling process (``n_jobs=1``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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

    def wait(self, timeout: float | None = None) -> list[TrialOutcome]:
        if not self._queue:
            return []
        assert self._fn is not None, "start() must be called before wait()"
        task = self._queue[0]
        outcome = run_trial(self._fn, task)
        self._queue.pop(0)
        return [outcome]

    def shutdown(self, cancel: bool = False) -> list[TrialOutcome]:
        from ..trial import TrialState

        interrupted = [TrialOutcome(t.trial_id, TrialState.INTERRUPTED) for t in self._queue]
        self._queue.clear()
        return interrupted
