"""Parameter importance and the GP-mean surface of a study, for its page.

Both come from :mod:`hpcore.analysis` (a GP fit to at most a few hundred
trials, after reading the study: 0.1 s at 100 trials, 1 s at 10,000, 5 s at
100,000), so they are never computed inside a request. A background process
at a low priority, one at a time for every study, computes them; a page
gets the latest result at once, labelled with the number of trials it used.
A study with new finished trials is computed again only when the last result
is old enough that recomputing costs at most ``1 / DUTY`` of a core, and no
sooner than ``MIN_GAP_S``: an open page's cost stays small and bounded
whatever the study's size.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis import gp_surface, importance
from ..analysis.view import view
from ..errors import ArgumentError
from ..space import Categorical
from ..storage.study import load
from .feed import StudyFeed

__all__ = ["Insights", "compute_insight", "MIN_GAP_S", "DUTY"]

#: Seconds between two computations of one study, at least.
MIN_GAP_S = 10.0
#: A study is recomputed after ``DUTY`` times its last computation's duration, at least.
DUTY = 20.0
#: A computation not back after this many seconds is ended and given up.
LOST_S = 600.0
#: Grid points per continuous axis of the surface, and trials the GPs are fit to.
RESOLUTION = 40
MAX_POINTS = 300


def compute_insight(root: str | Path) -> dict[str, Any]:
    """Importance per objective and the surface of the first, as JSON-able data.

    Every part that cannot be computed (too few trials, one parameter) is
    replaced by a note that says why.
    """
    study = load(root, reports=False)
    metrics = [m if m is not None else "value" for m in study.objectives.metrics]
    out: dict[str, Any] = {"importance": {}, "surface": None, "notes": []}
    for k, metric in enumerate(metrics):
        try:
            shares = importance(study, objective=k if len(metrics) > 1 else None,
                                max_trials=MAX_POINTS)
        except ArgumentError as exc:
            out["notes"].append(f"importance: {exc}")
            break
        out["importance"][metric] = {str(p): float(v) for p, v in shares.items()}
    first = out["importance"].get(metrics[0])
    if first is not None and len(study.space) < 2:
        out["notes"].append("GP mean: the space has a single parameter")
    elif first is not None:
        try:
            surface = gp_surface(study, importances=first, resolution=RESOLUTION,
                                 max_points=MAX_POINTS)
        except ArgumentError as exc:
            out["notes"].append(f"GP mean: {exc}")
        else:
            out["surface"] = _surface_json(surface, study)
            out["surface"]["metric"] = metrics[0]
    return out


def _surface_json(surface: Any, study: Any) -> dict[str, Any]:
    """The surface's axes in parameter units, its values (None where the GP is unsure)
    and the trials it was fit to."""
    space = view(study).space
    axes = []
    for key, coords in zip(surface.keys, surface.coords):
        dim = space[key]
        if isinstance(dim, Categorical):
            axes.append({"key": key, "categorical": True, "log": False,
                         "values": [str(c) for c in dim.choices]})
        else:
            axes.append({"key": key, "categorical": False, "log": bool(getattr(dim, "log", False)),
                         "values": [_short(v) for v in coords]})
    z = np.where(surface.unsure, np.nan, surface.surface)
    values = [[_short(v) if math.isfinite(v) else None for v in row] for row in z]

    def coordinate(axis: dict[str, Any], value: Any) -> Any:
        return str(value) if axis["categorical"] else float(value)

    points = [[coordinate(axes[0], t.params.get(surface.keys[0])),
               coordinate(axes[1], t.params.get(surface.keys[1])), t.trial_id]
              for t in surface.done]
    return {"axes": axes, "z": values, "points": points,
            "unsure_everywhere": bool(surface.unsure.all())}


def _short(v: float) -> float:
    # Five significant digits: more than a colour scale or a hover can show, and the
    # surface's JSON a third of the size.
    return float(f"{v:.5g}")


@dataclass
class _Entry:
    result: dict[str, Any] | None = None
    finished: int = -1  # finished trials the result used
    created: float | None = None  # the study it was computed for (resume=False replaces it)
    busy: bool = False
    done_at: float = field(default=-math.inf)
    took: float = 0.0  # seconds the last computation took
    stamp: int = 0  # counts results: a page that holds the latest needs nothing more


def _main(root: str) -> None:
    """``python -m hpcore.dashboard.insight ROOT``: the computation, as JSON on stdout."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)  # below the server and the searches: a busy machine runs them first
    try:
        result = compute_insight(root)
    except Exception as exc:  # a damaged study: the page says so
        result = {"importance": {}, "surface": None, "notes": [f"analysis failed: {exc}"]}
    sys.stdout.write(json.dumps(result, allow_nan=False))


class Insights:
    """The latest importance and surface of each study, computed in the background.

    Each computation runs in a process of its own (``python -m
    hpcore.dashboard.insight ROOT``, at ``nice 10``), one at a time: the GP
    fits never hold the server's interpreter while it answers pages, a busy
    machine runs the searches first, and nothing is left behind when the
    server stops (a computation ends on its own within seconds).
    """

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._one = threading.Lock()  # one computation at a time, whatever the study
        self._closed = False
        self.computing: subprocess.Popen | None = None  # the process at work now, if any

    def get(self, feed: StudyFeed, have: int = -1) -> dict[str, Any]:
        """What is known now; starts a computation when the study moved on enough.

        ``have``: the stamp of the result the page holds; when it is the latest,
        the answer leaves the result out.
        """
        counts = feed.summary()["counts"]
        finished = counts.get("completed", 0) + counts.get("stopped", 0)
        with self._lock:
            entry = self._entries.setdefault(feed.sid, _Entry())
            changed = entry.finished != finished or entry.created != feed.created
            due = time.monotonic() - entry.done_at >= max(MIN_GAP_S, DUTY * entry.took)
            if changed and not entry.busy and not self._closed and (due or entry.result is None):
                entry.busy = True
                threading.Thread(target=self._compute, args=(feed, entry, finished),
                                 name="hpcore-insight", daemon=True).start()
            state = "computing" if entry.busy else "ready"
            head = {"state": state, "trials": max(entry.finished, 0), "stamp": entry.stamp}
            if have == entry.stamp or entry.result is None:
                return head  # the page has this result already (or there is none yet)
            return {**head, **entry.result}

    def _compute(self, feed: StudyFeed, entry: _Entry, finished: int) -> None:
        created = feed.created
        with self._one:
            started = time.monotonic()
            result = self._run(feed.root)
            took = time.monotonic() - started
        with self._lock:
            if result is not None:
                entry.result, entry.finished, entry.created = result, finished, created
            elif entry.result is None:  # the process died (killed, out of memory): said,
                entry.result = {"importance": {}, "surface": None,  # and tried again later
                                "notes": ["analysis failed: its process ended early"]}
            entry.took, entry.done_at, entry.busy = took, time.monotonic(), False
            entry.stamp += 1

    def _run(self, root: Path) -> dict[str, Any] | None:
        cmd = [sys.executable, "-m", "hpcore.dashboard.insight", str(root)]
        with self._lock:
            if self._closed:
                return None
            self.computing = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                              stderr=subprocess.DEVNULL, text=True)
        try:
            out, _ = self.computing.communicate(timeout=LOST_S)
        except subprocess.TimeoutExpired:
            self.computing.kill()
            self.computing.communicate()
            return None
        finally:
            ok = self.computing.returncode == 0
            self.computing = None
        try:
            return json.loads(out) if ok else None
        except ValueError:
            return None

    def close(self) -> None:
        """Stop computing (a computation under way is ended)."""
        with self._lock:
            self._closed = True
            proc = self.computing
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()


if __name__ == "__main__":
    _main(sys.argv[1])
