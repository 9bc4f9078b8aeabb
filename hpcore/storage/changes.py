"""Reading what changed in a study since a reader last looked, at a cost bounded by the change.

A live view of a study (the dashboard) must not reload every trial each time
a driver writes one: at 100,000 trials that is seconds of work per update.
What a driver can change is narrow, and this module reads only that:

* a trial is written when it starts and when it ends, and a finished trial
  is never run again (:meth:`Storage.start_trial` refuses it), so the rows
  that can differ from what a reader holds are those with an id above the
  largest it has seen and those it holds unfinished (running, interrupted);
* reports are appended to a trial while it runs, in order, and replaced
  whole when it starts again or finishes, so a running trial's new reports
  are its rows beyond the number the reader holds;
* ``resume=False`` deletes the study and creates a new one: its ``created``
  time changes, and the reader starts again from nothing.

Each read is one SQLite read transaction, so the trials and the reports come
from one consistent snapshot while the driver goes on writing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..trial import FrozenTrial, TrialState
from .database import DB_NAME, Storage
from .lock import lock_held
from .rows import _report, _trial

__all__ = ["StudyChanges", "file_signature", "read_changes", "read_reports"]

_BULK = 256  # more trials than this: their reports in one pass over the table


@dataclass(frozen=True)
class StudyChanges:
    """What :func:`read_changes` found.

    Attributes
    ----------
    created : float or None
        The study's creation time (``None``: no study stored); a different
        value than the reader's means the study was replaced.
    trials : list of FrozenTrial
        The trials above ``after_id`` and those among ``ids``, without reports,
        by id. A ``running`` trial of a driver that died shows as
        ``interrupted`` (as :meth:`Storage.trials` shows it).
    reports : dict
        Trial id -> its reports from the offset asked, in order.
    driver_alive : bool
        Whether a live driver holds the study lock.
    """

    created: float | None
    trials: list[FrozenTrial] = field(default_factory=list)
    reports: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    driver_alive: bool = False


def read_changes(
    storage: Storage,
    after_id: int,
    ids: Iterable[int] = (),
    report_offsets: Mapping[int, int] | None = None,
) -> StudyChanges:
    """The trials and reports that may have changed since a reader's last look.

    Parameters
    ----------
    storage : Storage
        An open store, usually ``readonly``.
    after_id : int
        The largest trial id the reader holds (-1 for none): every trial
        above it is returned.
    ids : iterable of int
        Trials the reader holds unfinished: they are returned whatever
        their state now.
    report_offsets : mapping, optional
        Trial id -> how many of its reports the reader holds; the reports
        after those are returned (0 for the whole curve).

    Returns
    -------
    StudyChanges
    """
    ids = sorted(set(int(i) for i in ids if i <= after_id))
    offsets = dict(report_offsets or {})
    with storage._read() as c:
        row = c.execute("SELECT created FROM study").fetchone()
        rows = c.execute(
            f"SELECT {storage._trial_cols} FROM trials WHERE trial_id > ? ORDER BY trial_id",
            (after_id,),
        ).fetchall()
        for chunk in _chunks(ids, 500):  # SQLite's limit on bound parameters
            marks = ",".join("?" * len(chunk))
            rows += c.execute(
                f"SELECT {storage._trial_cols} FROM trials WHERE trial_id IN ({marks})", chunk
            ).fetchall()
        reports = _reports(c, offsets)
    alive = storage.driver_alive()
    trials = sorted((_trial(r, []) for r in rows), key=lambda t: t.trial_id)
    if not alive:
        trials = [
            replace(t, state=TrialState.INTERRUPTED) if t.state is TrialState.RUNNING else t
            for t in trials
        ]
    created = None if row is None else float(row[0])
    return StudyChanges(created=created, trials=trials, reports=reports, driver_alive=alive)


def read_reports(storage: Storage, offsets: Mapping[int, int]) -> dict[int, list[dict[str, Any]]]:
    """Each trial's reports from an offset on (trial id -> how many to skip), in order."""
    with storage._read() as c:
        return _reports(c, offsets)


def _reports(c: Any, offsets: Mapping[int, int]) -> dict[int, list[dict[str, Any]]]:
    if len(offsets) > _BULK:  # a first look at a large study: one pass, not a query a trial
        out: dict[int, list[dict[str, Any]]] = {tid: [] for tid in offsets}
        seen: dict[int, int] = {}
        for tid, step, value, metrics, t in c.execute(
            "SELECT trial_id, step, value, metrics, time FROM reports ORDER BY trial_id, rowid"
        ):
            if tid in out:
                seen[tid] = seen.get(tid, 0) + 1
                if seen[tid] > offsets[tid]:
                    out[tid].append(_report(step, value, metrics, t))
        return out
    return {
        tid: [
            _report(*r)
            for r in c.execute(
                "SELECT step, value, metrics, time FROM reports WHERE trial_id = ? "
                "ORDER BY rowid LIMIT -1 OFFSET ?",
                (tid, start),
            )
        ]
        for tid, start in offsets.items()
    }


def file_signature(root: str | os.PathLike[str]) -> tuple[Any, ...]:
    """What changes whenever a driver writes the study under ``root``, read without opening it.

    The sizes and modification times of ``hpcore.db`` and its ``-wal`` (a
    commit appends to the log, a checkpoint rewrites the database) and
    whether a driver holds the lock. Two equal signatures mean nothing
    was written in between, so a reader can skip the database entirely.
    """
    root = Path(root)
    sig: list[Any] = []
    for name in (DB_NAME, DB_NAME + "-wal"):
        try:
            st = os.stat(root / name)
            sig += [st.st_size, st.st_mtime_ns, st.st_ino]
        except FileNotFoundError:
            sig += [None, None, None]
    sig.append(lock_held(root))
    return tuple(sig)


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
