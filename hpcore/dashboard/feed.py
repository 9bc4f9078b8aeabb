"""One study as the dashboard's pages see it: a snapshot, then versioned changes.

A :class:`StudyFeed` holds the study's trials as compact JSON-able rows and
their learning curves, and brings them up to date with
:func:`hpcore.storage.changes.read_changes`, which reads only what can have
changed. Every refresh that finds a change makes a new version; a page that
holds version ``v`` asks :meth:`StudyFeed.since` for what changed after it and
gets the changed trials and the new points of the curves, a payload
proportional to the change, never to the study.

Refreshes are cheap when nothing happened: the files' sizes and times
(:func:`~hpcore.storage.changes.file_signature`) are compared first, and the
database is opened only when they differ (or every few seconds while a
driver runs, which catches a write that left both unchanged).
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from pathlib import Path
from typing import Any

from .._io import jsonable
from ..objectives import Objectives
from ..storage import Storage
from ..storage.changes import file_signature, read_changes, read_reports
from ..trial import FrozenTrial, TrialState

__all__ = ["StudyFeed", "trial_row", "ROW_FIELDS"]

#: The fields of a trial row, in order (the page reads rows by these positions).
ROW_FIELDS = ("id", "state", "values", "params", "metrics", "start", "end", "devices",
              "host", "attempts", "error", "feasible")
_ERROR_CHARS = 400
_RECHECK_S = 3.0  # re-read a live study at least this often, whatever its files say


def _number(v: Any) -> Any:
    """A float for JSON: non-finite values become their names ('nan', 'inf', '-inf')."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def trial_row(t: FrozenTrial) -> list[Any]:
    """``t`` as a row of :data:`ROW_FIELDS` (no curve, no output, errors cut short)."""
    error = t.error
    if error is not None and len(error) > _ERROR_CHARS:
        error = error[: _ERROR_CHARS - 1] + "\u2026"
    return [
        t.trial_id,
        t.state.value,
        None if t.values is None else [_number(v) for v in t.values],
        jsonable(t.params),
        jsonable(t.metrics) if t.metrics else None,
        t.start,
        t.end,
        list(t.devices) or None,
        t.host,
        t.attempts,
        error,
        None if t.constraints is None else t.feasible,
    ]


def _points(reports: list[dict[str, Any]], metric: str | None) -> list[list[Any]]:
    """A curve as ``[step, value]`` points: the report's value, or its metric by name."""
    out = []
    for i, r in enumerate(reports):
        v = r.get("value", r.get(metric) if metric else None)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append([r.get("step", i), _number(float(v))])
    return out


class StudyFeed:
    """The live view of the study under ``root`` (thread-safe)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.version = 0
        self.reset_version = 0  # a page older than this must load a snapshot again
        self.info: dict[str, Any] | None = None
        self.created: float | None = None
        self.driver_alive = False
        self.rows: dict[int, list[Any]] = {}
        self.curves: dict[int, list[list[Any]]] = {}
        self._report_counts: dict[int, int] = {}  # reports read per unfinished trial
        self._changed: list[tuple[int, int]] = []  # (version, trial id), by version
        self._appended: list[tuple[int, int, int]] = []  # (version, trial id, first point)
        self._signature: tuple[Any, ...] | None = None
        self._read_at = 0.0
        self.last_activity: float | None = None

    # -- reading ------------------------------------------------------------
    def refresh(self) -> int:
        """Bring the feed up to date with the database; returns the current version."""
        with self._lock:
            sig = file_signature(self.root)
            stale = self.driver_alive and time.monotonic() - self._read_at > _RECHECK_S
            if sig == self._signature and not stale:
                return self.version
            self._signature = sig
            self._read_at = time.monotonic()
            with Storage(self.root, readonly=True) as storage:
                if self.info is None or storage.load_study() is None:
                    self._load_info(storage)
                self._apply(storage)
            return self.version

    def _load_info(self, storage: Storage) -> None:
        info = storage.load_study()
        if info is None:
            self.info = None
            return
        objectives = Objectives.from_json(info.objectives, info.metric, info.mode)
        self.info = jsonable({
            "name": info.name,
            "strategy": info.strategy,
            "metrics": [m if m is not None else "value" for m in objectives.metrics],
            "modes": list(objectives.modes),
            "constraints": [str(c) for c in objectives.constraints],
            "space": info.space,
            "settings": info.settings,
            "created": info.created,
        })

    def _apply(self, storage: Storage) -> None:
        unfinished = [i for i, r in self.rows.items() if not TrialState(r[1]).is_finished]
        after = max(self.rows) if self.rows else -1
        changes = read_changes(storage, after, unfinished, self._report_counts)
        if changes.created != self.created and self.rows:
            before = self.version
            self._reset()  # resume=False replaced the study: start again from nothing
            self.reset_version = self.version = before + 1  # pages before it load again
            self._load_info(storage)
            changes = read_changes(storage, -1)
        self.created = changes.created
        self.driver_alive = changes.driver_alive
        fresh = [t for t in changes.trials if trial_row(t) != self.rows.get(t.trial_id)]
        grown = {
            tid: reps for tid, reps in changes.reports.items()
            if reps and tid not in {t.trial_id for t in fresh}
        }
        if not fresh and not grown:
            return
        self.version += 1
        self._take_trials(fresh, storage)
        for tid, reps in grown.items():
            points = _points(reps, self._metric())
            self._appended.append((self.version, tid, len(self.curves.setdefault(tid, []))))
            self.curves[tid].extend(points)
            self._report_counts[tid] += len(reps)
        self.last_activity = time.time()

    def _take_trials(self, fresh: list[FrozenTrial], storage: Storage) -> None:
        """Store changed trials with their whole curves (a re-run or a finish replaced them)."""
        curves = read_reports(storage, {t.trial_id: 0 for t in fresh})
        for t in fresh:
            self.rows[t.trial_id] = trial_row(t)
            self._changed.append((self.version, t.trial_id))
            reps = curves.get(t.trial_id, [])
            self.curves[t.trial_id] = _points(reps, self._metric())
            if t.state.is_finished:
                self._report_counts.pop(t.trial_id, None)
            else:
                self._report_counts[t.trial_id] = len(reps)

    def _metric(self) -> str | None:
        return None if self.info is None else self.info["metrics"][0]

    # -- what pages get -------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The whole study (no curves): the first thing a page loads."""
        with self._lock:
            return {
                "version": self.version,
                "study": self.info,
                "driver_alive": self.driver_alive,
                "fields": ROW_FIELDS,
                "trials": [self.rows[i] for i in sorted(self.rows)],
            }

    def since(self, version: int) -> dict[str, Any]:
        """What changed after ``version``: changed trials with their curves and new points.

        ``{"reset": true}`` when the page must load a snapshot again (its
        version is from before the study was replaced, or from the future).
        """
        with self._lock:
            if version < self.reset_version or version > self.version:
                return {"version": self.version, "reset": True}
            start = bisect.bisect_right(self._changed, (version, math.inf))
            ids = sorted({tid for _, tid in self._changed[start:]})
            points: dict[int, list[list[Any]]] = {}
            first = bisect.bisect_right(self._appended, (version, math.inf, 0))
            for _, tid, at in self._appended[first:]:
                if tid not in points and tid not in ids:
                    points[tid] = self.curves[tid][at:]
            return {
                "version": self.version,
                "driver_alive": self.driver_alive,
                "trials": [self.rows[i] for i in ids],
                "curves": {str(i): self.curves.get(i, []) for i in ids},
                "points": {str(i): p for i, p in points.items()},
            }

    def curves_of(self, ids: list[int]) -> dict[str, list[list[Any]]]:
        """The learning curves of ``ids`` (unknown ids are left out)."""
        with self._lock:
            return {str(i): self.curves[i] for i in ids if i in self.curves}

    def summary(self) -> dict[str, Any]:
        """A line of the study list: name, objectives, counts by state, best, liveness."""
        with self._lock:
            counts: dict[str, int] = {}
            for r in self.rows.values():
                counts[r[1]] = counts.get(r[1], 0) + 1
            return {
                "study": None if self.info is None else {
                    k: self.info[k] for k in ("name", "strategy", "metrics", "modes", "constraints")
                },
                "n_trials": len(self.rows),
                "counts": counts,
                "best": self._best(),
                "driver_alive": self.driver_alive,
                "last_activity": self.last_activity,
                "version": self.version,
            }

    def _best(self) -> Any:
        """The best value of one objective; the size of the front for several."""
        if self.info is None:
            return None
        modes = self.info["modes"]
        done = [r for r in self.rows.values()
                if TrialState(r[1]).can_be_best and r[2] is not None and r[11] is not False
                and all(isinstance(v, (int, float)) for v in r[2])]
        if not done:
            return None
        if len(modes) > 1:
            return {"front": len(_front(done, modes))}
        pick = min if modes[0] == "min" else max
        best = pick(done, key=lambda r: r[2][0])
        return {"value": best[2][0], "trial": best[0]}


def _front(rows: list[list[Any]], modes: list[str]) -> list[list[Any]]:
    """The non-dominated rows (every objective turned to minimisation)."""
    signs = [1.0 if m == "min" else -1.0 for m in modes]
    pts = sorted((tuple(s * v for s, v in zip(signs, r[2])), i) for i, r in enumerate(rows))
    front: list[tuple[float, ...]] = []
    keep = []
    for p, i in pts:
        if not any(all(q[k] <= p[k] for k in range(len(p))) and q != p for q in front):
            front.append(p)
            keep.append(rows[i])
    return keep
