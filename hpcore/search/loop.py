"""The run loop: one object that runs the trials of one ``search.run(...)`` to the end.

:class:`RunLoop` joins a strategy (what to try), an executor (where it runs),
the early stopper (curves and stopping rules), the recorder (what is kept on
disk) and the console (progress). Each turn of :meth:`RunLoop.run`:

1. *launch*: re-runs first (interrupted by an earlier run, or retried), then
   the strategy's points (the enqueued configurations first), while the
   executor has a free slot and the budget allows;
2. *receive*: wait for trials to end; every finished record of the batch is
   stored before anything else happens (telling the strategy, printing,
   callbacks), so a Ctrl-C or a callback's exception loses none of them;
3. *learn*: tell the strategy, print, call the callbacks.

Whatever ends the loop (the budget, Ctrl-C, SIGTERM, an error), the way out
stores what finished, records the running trials as interrupted (they run
again on resume) and shuts the executor down.

A trial's record (:class:`~hpcore.trial.FrozenTrial`) never changes: each
change of state makes a new record, which replaces the old one in
``search.trials``.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from ..errors import ResultError, StrategyExhausted, WaitForResults
from ..executor import Executor, Objective
from ..storage.control import StopRequests
from ..strategies import Strategy
from ..trial import FrozenTrial, TrialState, best_of
from ._early import EarlyStopper
from ._enqueue import identity, still_to_run
from ._progress import Progress
from ._recorder import LiveReports, Recorder
from .callbacks import call as call_back

__all__ = ["RunLoop"]

#: Longest that live reports wait before they are written to storage (hpcore status,
#: hpcore.load and the dashboard read the curves of running trials from there).
LIVE_REPORTS_SECONDS = 1.0
#: Why a trial stopped when someone asked for it (hpcore.storage.control.request_stop).
STOP_REQUESTED = "requested"


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Inside the block, SIGTERM raises ``SystemExit(143)`` (in the main thread).

    So ``kill <driver>`` takes the same path as Ctrl-C: launching stops,
    running trials are ended within the executor's grace period and
    recorded as interrupted, and the exit status still says SIGTERM.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class RunLoop:
    """Runs a search's trials (see the module docstring).

    Parameters
    ----------
    search : BaseSearch
        Its ``trials``, ``stop_reason``, ``base_config`` and hooks are used.
    strategy, executor, recorder, stopper, progress
        The parts it joins.
    objective : Objective
        ``train_fn`` and the metric, shipped once to the executor.
    budget : int
        How many trials this run may start (stored ones included); computed
        again once the strategy holds the enqueued configurations (a grid
        runs those off the grid on top of its points).
    enqueued : list of dict
        The search's enqueued configurations (:mod:`hpcore.search._enqueue`).
    max_retries : int
        Times a failed trial is run again before it is recorded as failed.
    callbacks : list
        Told when the search starts, each trial ends and the search ends.
    """

    def __init__(
        self,
        search: Any,
        strategy: Strategy,
        executor: Executor,
        recorder: Recorder,
        stopper: EarlyStopper,
        progress: Progress,
        *,
        objective: Objective,
        budget: int,
        max_retries: int = 0,
        callbacks: list[Any] | None = None,
        enqueued: list[dict[str, Any]] | None = None,
    ) -> None:
        self.search = search
        self.strategy = strategy
        self.executor = executor
        self.recorder = recorder
        self.stopper = stopper
        self.progress = progress
        self.objective = objective
        self.budget = budget
        self.max_retries = max_retries
        self.callbacks = callbacks or []
        self.enqueued = list(enqueued or [])  # as enqueued, in the strategy's queue order
        self.queue: list[FrozenTrial] = []  # re-runs waiting for a slot
        self.in_flight: set[int] = set()
        self.unstored: list[FrozenTrial] = []  # ended, not yet stored (the way out stores them)
        self.live = LiveReports(recorder, LIVE_REPORTS_SECONDS)
        self.requests = StopRequests(recorder.root)
        self.best: FrozenTrial | None = None
        self.started = 0
        self.next_id = 0
        self.n_done = 0
        self.exhausted = False

    # -- the records --------------------------------------------------------------
    def _put(self, trial: FrozenTrial) -> FrozenTrial:
        """Make ``trial`` the current record of its id in ``search.trials``."""
        trials = self.search.trials
        if trial.trial_id in self._index:
            trials[self._index[trial.trial_id]] = trial
        else:
            self._index[trial.trial_id] = len(trials)
            trials.append(trial)
        return trial

    def current(self, trial_id: int) -> FrozenTrial:
        """The current record of a trial."""
        return self.search.trials[self._index[trial_id]]

    # -- start and end --------------------------------------------------------------
    def run(self, stored: list[FrozenTrial]) -> None:
        """Resume from the ``stored`` trials, then run until the budget is spent or nothing runs."""
        try:
            self._resume(stored)
        except BaseException:  # e.g. an enqueued configuration the strategy has no room for
            self.recorder.close()
            self.progress.close()
            raise
        self.executor.on_report = self._on_report
        self.requests.take()  # requests left from an earlier run name trials of that run
        try:
            call_back(self.callbacks, "on_search_start", self.search, self.recorder.root)
            with _sigterm_raises():
                self.executor.start(self.objective)
                while True:
                    self._launch()
                    if self.executor.n_running == 0 and not self.queue:
                        break
                    self._learn(self._receive())
        except BaseException:
            self._abort()
            raise
        self.executor.shutdown()
        self._close(error=None)

    def _resume(self, stored: list[FrozenTrial]) -> None:
        """Finished trials are told to the strategy; interrupted ones are queued to run again."""
        self.search.trials = []
        self._index: dict[int, int] = {}
        finished = [t for t in stored if t.state.is_finished]
        rerun = [t for t in stored if not t.state.is_finished]
        self.strategy.restore(
            [(t.params, self._signed(t), t.state, t.constraints) for t in finished],
            [t.params for t in rerun],
        )
        for trial in stored:
            self._put(trial)
        self._enqueue({t.trial_id for t in stored})
        self.queue = [t.restarted(start=time.time()) for t in rerun]
        self.started = len(stored)
        self.next_id = max((t.trial_id for t in stored), default=-1) + 1
        self.n_done = len(finished)
        self.best = self._best_of(stored)
        if stored and not rerun and self.started >= self.budget:
            self.progress.nothing_to_run(self.recorder.root, len(stored), self.budget)
        elif stored:
            self.progress.resumed(self.recorder.root, len(finished), len(rerun))

    def _enqueue(self, stored: set[int]) -> None:
        """Hand the strategy the enqueued configurations that no stored trial started
        from, then settle the budget (a grid counts those off the grid)."""
        self.enqueued = still_to_run(self.enqueued, self.recorder.enqueued_marks, stored)
        for config in self.enqueued:
            self.strategy.enqueue(config)
        self.budget = self.search._budget(self.strategy)
        self.progress.total = self.budget
        self.recorder.set_budget(self.budget)

    def _close(self, error: BaseException | None) -> None:
        self.live.flush()
        self.recorder.close()
        self.progress.close()
        call_back(self.callbacks, "on_search_end", self.search, error=error)

    def _abort(self) -> None:
        """The way out after Ctrl-C, SIGTERM or an error: keep what finished, mark the rest."""
        now = time.time()
        cut = []
        with contextlib.suppress(Exception):  # never hide the error being raised
            self.live.flush()
        for ended in self.unstored:  # finished, but the search was cut before storing them
            if self._retries(ended):
                cut.append(self.current(ended.trial_id).interrupted(now))
                continue  # its retry never started: it runs again on resume
            with contextlib.suppress(Exception):  # never hide the error being raised
                self._store(ended)
        for waiting in self.queue:  # retries that never started
            if self.current(waiting.trial_id).state is TrialState.RUNNING:
                cut.append(self.current(waiting.trial_id).interrupted(now))
        cut += self.executor.shutdown(cancel=True)
        for trial in cut:
            self._put(trial)
        self.recorder.interrupted(cut)
        self._close(error=sys.exc_info()[1])

    # -- 1. launch --------------------------------------------------------------------
    def _launch(self) -> None:
        """Fill the executor's free slots: re-runs first, then new suggestions."""
        ex = self.executor
        while self.queue and ex.n_running < ex.max_concurrency:
            self._submit(self.queue.pop(0))
        if self.search.stop_reason is None and (reason := self.stopper.search_over(
            self.started, None if self.best is None else self.best.value
        )):
            self._end_search(reason)
        while self._may_start() and ex.n_running < ex.max_concurrency:
            queued = len(self.strategy.queue)
            try:
                params = self.strategy.ask()
            except WaitForResults:
                break  # (Hyperband between rungs) ask again after a result
            except StrategyExhausted:
                self.exhausted = True
                break
            trial = FrozenTrial(self.next_id, params, budget=self.search._trial_budget(params))
            if len(self.strategy.queue) < queued:  # ask() took the queue's head
                self.recorder.mark_enqueued(trial.trial_id, identity(self.enqueued.pop(0)))
            self._submit(trial)
            self.started += 1
            self.next_id += 1

    def _may_start(self) -> bool:
        return not self.exhausted and self.search.stop_reason is None and (
            self.started < self.budget
        )

    def _submit(self, trial: FrozenTrial) -> None:
        trial = self._put(trial.evolve(state=TrialState.RUNNING, start=time.time(), end=None))
        config = self.search._config(trial.params)
        dir = self.recorder.start(trial, config)
        self.in_flight.add(trial.trial_id)
        self.executor.submit(trial, config, dir)

    def _end_search(self, reason: str) -> None:
        """No trial starts any more; running ones stop at their next report."""
        self.search.stop_reason = reason
        for tid in sorted(self.in_flight):
            self.stopper.ask(self.executor, tid, f"the search ended: {reason}")
        self.progress.ended_early(reason)

    # -- 2. receive ---------------------------------------------------------------------
    def _on_report(self, trial_id: int, entry: dict[str, Any]) -> None:
        """A live report: the stopping rule sees it; storage keeps it (the live curve)."""
        self.live.add(trial_id, entry)
        self.stopper.on_report(self.executor, self.current(trial_id), entry)
        self._stop_requested()

    def _stop_requested(self) -> None:
        """Ask the running trials someone asked to stop (hpcore.storage.control) to stop."""
        for tid, by in self.requests.take().items():
            if tid in self.in_flight:
                self.stopper.ask(self.executor, tid, f"{STOP_REQUESTED} by {by}" if by else STOP_REQUESTED)

    def _receive(self) -> list[FrozenTrial]:
        """Wait for trials to end; store each (or queue its retry). Returns the stored ones."""
        timeout = self.stopper.wait_timeout()
        if self.recorder.root is not None:  # live curves reach storage at least this often
            timeout = LIVE_REPORTS_SECONDS if timeout is None else min(timeout, LIVE_REPORTS_SECONDS)
        self.unstored = self.executor.wait(timeout)
        self._stop_requested()
        self.live.flush()
        stored = []
        while self.unstored:
            ended = self.unstored[0]
            if self._retries(ended):
                self.progress.retrying(ended, self.current(ended.trial_id).attempts,
                                       self.max_retries)
                self.in_flight.discard(ended.trial_id)
                self.queue.append(self.current(ended.trial_id).restarted(start=time.time()))
            else:
                stored.append(self._store(ended))
            self.unstored.pop(0)
        return stored

    def _retries(self, ended: FrozenTrial) -> bool:
        """Whether a failed trial gets another attempt (``max_retries`` not spent)."""
        return (
            ended.state is TrialState.FAILED
            and ended.fatal is None
            and self.current(ended.trial_id).attempts <= self.max_retries
        )

    def _store(self, ended: FrozenTrial) -> FrozenTrial:
        """The trial's end, in memory and on disk (``best/`` follows the best trial)."""
        if ended.end is None:
            ended = ended.evolve(end=time.time())
        # Output is kept for the trials that need explaining; tracking keeps every log.
        kept = ended if ended.state is not TrialState.COMPLETED else ended.evolve(output=None)
        self._put(kept)
        self.in_flight.discard(kept.trial_id)
        self.stopper.on_finish(kept)
        if kept.state.can_be_best and self._best_of([kept, self.best or kept]) is kept:
            self.best = kept
        self.recorder.finish(kept, self.best is kept, ended.output)
        return kept

    # -- 3. learn -------------------------------------------------------------------------
    def _learn(self, stored: list[FrozenTrial]) -> None:
        """Tell the strategy each stored trial, print it, call the callbacks."""
        for trial in stored:
            if trial.fatal is not None:
                raise ResultError(trial.fatal)
            self.strategy.tell(trial.params, self._signed(trial), trial.state,
                               constraints=trial.constraints)
            self.n_done += 1
            self.progress.trial_ended(trial, self.search, self.budget)
            call_back(self.callbacks, "on_trial_end", self.search, trial)
            self.progress.update(self.n_done, None if self.best is None else self.best.value,
                                 self.executor.n_running, force=True)

    def _signed(self, trial: FrozenTrial) -> float | tuple[float, ...] | None:
        """The value the strategy minimises (negated for ``mode='max'``); a tuple of
        them with several objectives."""
        values = self.search.objectives.minimised(trial.values)
        if values is None or len(values) != self.search.objectives.n:
            return None
        return values if self.search.objectives.multi else values[0]

    def _best_of(self, trials: list[FrozenTrial]) -> FrozenTrial | None:
        """The best trial (``best/`` follows it); None with several objectives, which
        have a front and no single best."""
        if self.search.objectives.multi:
            return None
        return best_of(trials, self.search.mode)
