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
import gzip
import json
import math
import threading
import time
from collections import OrderedDict
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
_CURVE_CACHE = 5_000  # finished trials' curves kept after a page asked for them
_RECHECK_S = 3.0  # re-read a live study at least this often, whatever its files say


def _number(v: Any) -> Any:
    """A float for JSON: non-finite values become their names ('nan', 'inf', '-inf')."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


_SCALARS = (str, int, bool, type(None))


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    """``jsonable(d)``, with a fast path for the common flat dict of plain scalars."""
    for v in d.values():
        if not (type(v) in _SCALARS or (type(v) is float and math.isfinite(v))):
            return jsonable(d)
    return d


def trial_row(t: FrozenTrial) -> list[Any]:
    """``t`` as a row of :data:`ROW_FIELDS` (no curve, no output, errors cut short)."""
    error = t.error
    if error is not None and len(error) > _ERROR_CHARS:
        error = error[: _ERROR_CHARS - 1] + "\u2026"
    return [
        t.trial_id,
        t.state.value,
        None if t.values is None else [_number(v) for v in t.values],
        _plain(t.params),
        _plain(t.metrics) if t.metrics else None,
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

    def __init__(self, root: str | Path, sid: str = "", label: str = "") -> None:
        self.root = Path(root)
        self.sid, self.label = sid, label  # how pages name the study
        self._lock = threading.RLock()
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
        self._max_id = -1
        self._summary: tuple[int, dict[str, Any]] | None = None
        self._done_curves: OrderedDict[int, list[list[Any]]] = OrderedDict()  # recently asked
        self._packed: tuple[int, bytes, bytes] | None = None  # the last snapshot, encoded
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
        # The unfinished trials are those whose reports are counted: no scan of every row.
        changes = read_changes(storage, self._max_id, list(self._report_counts),
                               self._report_counts)
        if changes.created != self.created and self.rows:
            before = self.version
            self._reset()  # resume=False replaced the study: start again from nothing
            self.reset_version = self.version = before + 1  # pages before it load again
            self._load_info(storage)
            changes = read_changes(storage, -1)
        self.created = changes.created
        self.driver_alive = changes.driver_alive
        rows = {t.trial_id: trial_row(t) for t in changes.trials}
        fresh = [t for t in changes.trials if rows[t.trial_id] != self.rows.get(t.trial_id)]
        grown = {
            tid: reps for tid, reps in changes.reports.items()
            if reps and tid not in {t.trial_id for t in fresh}
        }
        if not fresh and not grown:
            return
        self.version += 1
        self._take_trials(fresh, rows, storage)
        for tid, reps in grown.items():
            points = _points(reps, self._metric())
            self._appended.append((self.version, tid, len(self.curves.setdefault(tid, []))))
            self.curves[tid].extend(points)
            self._report_counts[tid] += len(reps)
        # When the study last changed, by its own clock: a trial's start, end or newest
        # report (a study finished last week is not "active now" because it was just read).
        times = [*(t.start for t in fresh), *(t.end for t in fresh),
                 *(rep.get("time") for reps in grown.values() for rep in reps)]
        times = [t for t in times if isinstance(t, (int, float))]
        if times:
            self.last_activity = max(self.last_activity or 0.0, *times)

    def _take_trials(self, fresh: list[FrozenTrial], rows: dict[int, list[Any]],
                     storage: Storage) -> None:
        """Store changed trials; an unfinished one's whole curve too (a re-run replaced it).

        Finished trials' curves stay in the database until a page asks
        (:meth:`curves_of`): a study of 100,000 trials would otherwise hold
        millions of points in memory.
        """
        curves = read_reports(storage, {t.trial_id: 0 for t in fresh if not t.state.is_finished})
        for t in fresh:
            self.rows[t.trial_id] = rows[t.trial_id]
            self._max_id = max(self._max_id, t.trial_id)
            self._changed.append((self.version, t.trial_id))
            self._done_curves.pop(t.trial_id, None)
            if t.state.is_finished:
                self._report_counts.pop(t.trial_id, None)
                self.curves.pop(t.trial_id, None)
            else:
                reps = curves.get(t.trial_id, [])
                self.curves[t.trial_id] = _points(reps, self._metric())
                self._report_counts[t.trial_id] = len(reps)

    def _metric(self) -> str | None:
        return None if self.info is None else self.info["metrics"][0]

    # -- what pages get -------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The whole study (no curves): the first thing a page loads."""
        with self._lock:  # re-entrant: snapshot_bytes holds it
            return {
                "id": self.sid,
                "label": self.label,
                "version": self.version,
                "study": self.info,
                "driver_alive": self.driver_alive,
                "fields": ROW_FIELDS,
                "trials": [self.rows[i] for i in sorted(self.rows)],
            }

    def snapshot_bytes(self) -> tuple[bytes, bytes]:
        """:meth:`snapshot` as JSON, plain and gzip-compressed, encoded once per version."""
        with self._lock:
            if self._packed is None or self._packed[0] != self.version:
                raw = json.dumps(self.snapshot(), separators=(",", ":"),
                                 allow_nan=False).encode()
                self._packed = (self.version, raw, gzip.compress(raw, 5, mtime=0))
            return self._packed[1], self._packed[2]

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
                if tid not in points and tid not in ids and tid in self.curves:
                    points[tid] = self.curves[tid][at:]
            return {
                "version": self.version,
                "driver_alive": self.driver_alive,
                "trials": [self.rows[i] for i in ids],
                "curves": self.curves_of(ids),
                "points": {str(i): p for i, p in points.items()},
            }

    def curves_of(self, ids: list[int]) -> dict[str, list[list[Any]]]:
        """The learning curves of ``ids`` (unknown ids are left out)."""
        with self._lock:
            known = [i for i in ids if i in self.rows]
            done = [i for i in known if i not in self.curves and i not in self._done_curves]
            if done:
                with Storage(self.root, readonly=True) as storage:
                    read = read_reports(storage, {i: 0 for i in done})
                for i in done:
                    self._done_curves[i] = _points(read.get(i, []), self._metric())
                while len(self._done_curves) > _CURVE_CACHE:
                    self._done_curves.popitem(last=False)
            out = {}
            for i in known:
                curve = self.curves.get(i)
                if curve is None:
                    curve = self._done_curves[i]
                    self._done_curves.move_to_end(i)
                out[str(i)] = curve
            return out

    def summary(self) -> dict[str, Any]:
        """A line of the study list: name, objectives, counts by state, best, liveness."""
        with self._lock:
            if self._summary is not None and self._summary[0] == self.version:
                return {**self._summary[1], "driver_alive": self.driver_alive}
            counts: dict[str, int] = {}
            for r in self.rows.values():
                counts[r[1]] = counts.get(r[1], 0) + 1
            out = {
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
            self._summary = (self.version, out)
            return out

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
