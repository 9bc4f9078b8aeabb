"""The executor interface the search loop drives.

An executor runs an :class:`~hpcore.executor.Objective` (``train_fn`` and its
metric) on trials somewhere (this process, a local pool, a Dask cluster).
The loop submits a trial's record (:class:`~hpcore.trial.FrozenTrial`, state
``running``) with its config; the executor hands back the trial's finished
record as it ends, in any order. The loop keeps at most
:attr:`Executor.max_concurrency` trials in flight and refills a slot as soon
as :meth:`Executor.wait` returns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..trial import FrozenTrial
from ._run import Objective

__all__ = ["Executor", "OUTPUT_TAIL"]

#: Characters of a trial's captured output kept in its outcome (the full
#: output stays in its log file).
OUTPUT_TAIL = 20_000


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
    def start(self, objective: Objective) -> None:
        """Get ready to run ``objective`` (start workers, ship ``train_fn``)."""

    @abstractmethod
    def submit(self, trial: FrozenTrial, config: Any, dir: Path | None = None) -> None:
        """Start one trial; only called while ``n_running < max_concurrency``.

        ``config`` is the trial's full config; ``dir``, when given, is its
        folder (``trial.dir``), whose ``trial.log`` receives its output.
        """

    @abstractmethod
    def wait(self, timeout: float | None = None) -> list[FrozenTrial]:
        """Block until at least one trial ends (or ``timeout``); return their records."""

    @abstractmethod
    def shutdown(self, cancel: bool = False) -> list[FrozenTrial]:
        """Stop workers; with ``cancel``, end running trials and return them as interrupted."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(cancel=True)
