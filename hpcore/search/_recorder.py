"""What a run writes to disk: the study database, trial folders, ``best``.

The run loop talks to a recorder at five moments: when the run opens
(resume: which trials exist already), when a trial starts, when it reports
(its live curve), when it ends, and when the run closes. Without an ``experiment_root`` the recorder does
nothing and the search stays in memory.

Order of writes when a trial ends: the database row first (one
transaction), then ``result.json``, then the ``best`` link. A crash
between them leaves the database ahead; opening the study again repairs
the link, so ``best`` always matches the database's best trial.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from .._io import jsonable
from ..errors import SearchError
from ..space import Categorical
from ..storage import DB_NAME, Storage, StudyInfo, Tracker
from ..trial import FrozenTrial, best_of
from ._enqueue import META_KEY as ENQUEUED_KEY

__all__ = ["Recorder"]


class Recorder:
    """Persistence of one run (a no-op without ``root``)."""

    def __init__(
        self,
        search: Any,
        root: str | Path | None,
        track: bool = True,
        resume: bool = True,
        study_name: str | None = None,
    ) -> None:
        self.search = search
        self.experiment_root = root  # as given (callbacks receive it)
        self.root = None if root is None else Path(root)
        self.track = track and self.root is not None
        self.resume = resume
        self.study_name = study_name
        self.storage: Any = None
        self.tracker: Any = None
        self.notes: list[str] = []  # allowed differences from the stored study
        #: ``[trial_id, identity]`` of the trials started from the queue (search/_enqueue.py).
        self.enqueued_marks: list[list[Any]] = []

    # -- opening and closing --------------------------------------------------
    def open(self) -> list[FrozenTrial]:
        """Open (or create) the study; returns the stored trials, oldest first.

        Trials a dead driver left running come back as ``interrupted``.

        Raises
        ------
        hpcore.storage.StudyLockedError
            Another driver has the study open.
        hpcore.storage.StudyMismatchError
            The stored study has another search space, metric or mode.
        """
        if self.root is None:
            return []
        if self.resume:
            _refuse_orphaned_trials(self.root, _database_lost(self.root))
        self.storage = Storage(self.root)
        try:
            self.tracker = Tracker(self.root)
            info = self._study_info()
            stored = self.storage.load_study()
            if not self.resume:
                if stored is not None:
                    self.storage.delete_study()
                self.tracker.reset()
                stored = None
            elif stored is None:
                _refuse_orphaned_trials(self.root, "holds no study")
            if stored is None:
                self.storage.create_study(info)
            else:
                self.notes = list(self.storage.check_study(info) or [])
            self.enqueued_marks = list(self.storage.get_meta(ENQUEUED_KEY, []))
            self.storage.recover_running()
            trials = [replace(t, params=_stored_choices(self.search.space, t.params))
                      for t in self.storage.trials()]
            self._repair_best(trials)
        except BaseException:
            self.close()
            raise
        return trials

    def set_budget(self, budget: int) -> None:
        """The trials this run may start in all: what ``hpcore status`` shows progress against."""
        if self.storage is not None:
            self.storage.set_meta("n_trials", int(budget))

    def close(self) -> None:
        if self.storage is not None:
            self.storage.close()
            self.storage = None

    def _study_info(self) -> StudyInfo:
        s = self.search
        settings = {
            k: jsonable(v)
            for k, v in vars(s).items()
            if not k.startswith("_")
            and k not in ("base_config", "space", "metric", "mode", "random_state", "trials",
                          "n_trials")  # raising n_trials is how a study is continued
            and isinstance(v, (int, float, str, bool, dict, list, tuple, type(None)))
        }
        return StudyInfo(
            name=self.study_name or self.root.name,  # type: ignore[union-attr]
            strategy=type(s).__name__,
            settings=settings,
            seed=s.random_state,
            metric=s.metric,
            mode=s.mode,
            base_config=jsonable(s.base_config),
            space=s.space.to_json(),
            space_fingerprint=s.space.fingerprint(),
            created=0.0,
            objectives=s.objectives.to_json(),
        )

    def _repair_best(self, trials: list[FrozenTrial]) -> None:
        if not self.track:
            return
        multi = self.search.objectives.multi  # a front, no single best: best/ stays empty
        best = None if multi else best_of(trials, self.search.mode)
        if best is None:
            self.tracker.clear_best()
        elif self.tracker.best_id() != best.trial_id:
            self.tracker.set_best(best.trial_id)

    # -- trials ---------------------------------------------------------------
    def start(self, trial: FrozenTrial, config: Any) -> Path | None:
        """Record the trial as running; its folder (``trial.dir``) when trials are tracked."""
        if self.root is None:
            return None
        folder = self.tracker.prepare(trial.trial_id, config, trial.params) if self.track else None
        self.storage.start_trial(trial.trial_id, trial.params, trial.start, trial.attempt)
        return folder

    def mark_enqueued(self, trial_id: int, identity: str) -> None:
        """Trial ``trial_id`` starts from the enqueued configuration ``identity`` (written
        before its row, so that a mark without a trial only makes it run again)."""
        if self.storage is None:
            return
        self.enqueued_marks.append([trial_id, identity])
        self.storage.set_meta(ENQUEUED_KEY, self.enqueued_marks)

    def add_reports(self, reports: list[tuple[int, dict[str, Any]]]) -> None:
        """Keep live reports ``(trial_id, entry)`` of running trials (their curves so far)."""
        if self.root is None or not reports:
            return
        by_trial: dict[int, list[dict[str, Any]]] = {}
        for trial_id, entry in reports:
            by_trial.setdefault(trial_id, []).append(entry)
        for trial_id, entries in by_trial.items():
            self.storage.add_reports(trial_id, entries)

    def finish(self, record: FrozenTrial, is_best: bool, output: str | None = None) -> None:
        """Record how the trial ended; point ``best`` at it when it is the new best.

        ``output`` is the end of the trial's captured output: written to its
        log when the trial could not write the log itself (a cluster worker
        without the driver's filesystem), like its reports.
        """
        if self.root is None:
            return
        self.storage.finish_trial(record)
        if self.track:
            self.tracker.finish(record, output)
            if is_best and record.state.can_be_best:
                self.tracker.set_best(record.trial_id)

    def interrupted(self, records: list[FrozenTrial]) -> None:
        """Record trials cut short by Ctrl-C/SIGTERM (they run again on resume)."""
        if self.root is None or self.storage is None:
            return
        for record in records:
            self.storage.finish_trial(record)


def _stored_choices(space: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Map stored values back to the space's choices (:meth:`Categorical.match`'s one rule:
    a choice that is not plain data was stored as its ``repr``)."""
    out = dict(params)
    for key, dim in space.items():
        if key in out and isinstance(dim, Categorical):
            level = dim.match(out[key])
            if level is not None:
                out[key] = dim.choices[level]
    return out


def _database_lost(root: Path) -> str | None:
    """How ``hpcore.db`` is lost (``'is missing'``, ``'is empty'``), or None."""
    db = root / DB_NAME
    if not db.is_file():
        return "is missing"
    return "is empty" if db.stat().st_size == 0 else None


def _refuse_orphaned_trials(root: Path, lost: str | None) -> None:
    """Refuse to start a new study over trial folders whose database is ``lost``.

    ``hpcore.db`` missing, empty (a partial copy, a deleted file) or holding
    no study while ``trials/`` holds trial folders: a new study would reuse
    their numbers and overwrite them.
    """
    trials = root / "trials"
    if lost is None or not trials.is_dir():
        return
    try:
        n = sum(1 for _ in trials.iterdir())
    except OSError:
        return
    if n:
        raise SearchError(
            f"{trials} holds {n} trial folder(s) but the study database {root / DB_NAME} "
            f"{lost}: a new study would overwrite them. Restore the database from a backup "
            "to resume the study, or pass resume=False to discard the trial folders and "
            "start anew."
        )


class LiveReports:
    """Reports of running trials on their way to storage (their live curves).

    The run loop adds them as they come and writes them whenever it waits for
    results. A trial that runs in the driver's own thread (``n_jobs=1``) keeps
    the loop away from its wait until it ends, so a timer also writes them, at
    most ``period`` seconds after the first unwritten one: ``hpcore status``
    and the dashboard see every running trial's curve grow.
    """

    def __init__(self, recorder: Recorder, period: float) -> None:
        self._recorder = recorder
        self._period = period
        self._pending: list[tuple[int, dict[str, Any]]] = []
        self._lock = threading.Lock()  # one writer at a time: writes keep their order
        self._timer: threading.Timer | None = None

    def add(self, trial_id: int, entry: dict[str, Any]) -> None:
        if self._recorder.root is None:
            return
        with self._lock:
            self._pending.append((trial_id, entry))
            if self._timer is None:
                self._timer = threading.Timer(self._period, self._flush_late)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Write every pending report now (before any trial's end is stored)."""
        with self._lock:
            pending, self._pending = self._pending, []
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._recorder.add_reports(pending)

    def _flush_late(self) -> None:
        # A live curve that cannot be written now is written whole when its trial ends.
        with contextlib.suppress(Exception):
            self.flush()
