"""The executor interface the search loop drives.

An executor runs ``train_fn`` on trial tasks somewhere (this process, a
local pool, later a cluster) and hands back outcomes as trials end, in any
order. The loop keeps at most :attr:`Executor.max_concurrency` tasks in
flight and refills a slot as soon as :meth:`Executor.wait` returns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..trial import TrialState

__all__ = ["Executor", "TrialTask", "TrialOutcome", "OUTPUT_TAIL"]

#: Characters of a trial's captured output kept in its outcome (the full
#: output stays in its log file).
OUTPUT_TAIL = 20_000


@dataclass
class TrialTask:
    """What a worker needs to run one trial.

    ``devices`` are the GPU ids the trial may use (filled in by the executor
    that places it; empty for CPU trials). ``attempt`` counts retries of the
    same trial (0 for the first run). ``log_path``, when set, is the file
    that receives the trial's stdout and stderr. ``budget`` is the trial's
    resource under Hyperband (``trial.budget``).
    """

    trial_id: int
    params: dict[str, Any]
    config: Any
    metric: str | None
    pass_trial: bool
    dir: Path | None = None
    devices: tuple[int, ...] = ()
    attempt: int = 0
    log_path: Path | None = None
    budget: float | None = None


@dataclass
class TrialOutcome:
    """How a trial ended, as sent back by a worker.

    ``fatal`` holds the message of a :class:`~hpcore.errors.ResultError`: a
    broken ``train_fn`` contract that stops the whole search. ``devices``
    and ``host`` say where it ran; ``output`` holds the end of its captured
    stdout/stderr (at most :data:`OUTPUT_TAIL` characters), when the
    executor captures it.
    """

    trial_id: int
    state: TrialState
    value: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    start: float | None = None
    end: float | None = None
    reports: list[dict[str, Any]] = field(default_factory=list)
    fatal: str | None = None
    devices: tuple[int, ...] = ()
    host: str | None = None
    output: str | None = None  # the end of the trial's stdout/stderr, when captured


class Executor(ABC):
    """Runs trials; see the module docstring for the protocol.

    Live reports: the loop sets :attr:`on_report`; an executor that can
    forward reports while trials run calls it with ``(trial_id, entry)``
    from :meth:`wait` (never from another thread), and delivers
    :meth:`stop` requests to the trial, whose next ``report`` then raises
    :class:`~hpcore.errors.TrialStopped`.
    """

    #: ``on_report(trial_id, entry)``, set by the search loop (None: nobody listens).
    on_report: Callable[[int, dict[str, Any]], None] | None = None

    def stop(self, trial_id: int, reason: str) -> None:  # noqa: B027 - optional
        """Ask a running trial to stop at its next report (default: not supported)."""

    @property
    @abstractmethod
    def max_concurrency(self) -> int:
        """How many trials may run at once."""

    @property
    @abstractmethod
    def n_running(self) -> int:
        """How many submitted trials have not been returned by :meth:`wait` yet."""

    @abstractmethod
    def start(self, train_fn: Callable[..., Any]) -> None:
        """Get ready to run ``train_fn`` (start workers, ship the function)."""

    @abstractmethod
    def submit(self, task: TrialTask) -> None:
        """Start one trial; only called while ``n_running < max_concurrency``."""

    @abstractmethod
    def wait(self, timeout: float | None = None) -> list[TrialOutcome]:
        """Block until at least one trial ends (or ``timeout``); return the ended ones."""

    @abstractmethod
    def shutdown(self, cancel: bool = False) -> list[TrialOutcome]:
        """Stop workers; with ``cancel``, end running trials and return them as interrupted."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(cancel=True)
