"""Requests to a running search from outside its driver: stop one trial.

``hpcore dashboard --allow-control`` (or any program) writes a request with
:func:`request_stop`; the driver picks it up (:class:`StopRequests`, read by
the run loop at most every ``period`` seconds) and asks the trial to stop,
exactly as an early-stopping rule does: at its next ``trial.report`` it
sees ``trial.should_stop`` and the trial is recorded ``stopped``, with
its last value and the reason. Nobody signals a process.

A request is one file, ``<experiment_root>/control/stop-<trial id>``,
written atomically, so the driver's database is never written by another
process; the driver removes each request it reads. A request for a trial
that is not running when it is read (finished meanwhile, or never started)
is removed without effect.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

from .._io import own_directory, write_json_atomic

__all__ = ["CONTROL_DIR", "request_stop", "StopRequests"]

#: The folder of requests, under the experiment root.
CONTROL_DIR = "control"
_PREFIX = "stop-"


def request_stop(root: str | os.PathLike[str], trial_id: int, by: str = "") -> Path:
    """Ask the driver of the study under ``root`` to stop trial ``trial_id``.

    Parameters
    ----------
    root : path
        The study's experiment root.
    trial_id : int
        The running trial to stop.
    by : str
        Who asks (kept in the request, for the record).

    Returns
    -------
    Path
        The request written.

    Raises
    ------
    ValueError
        ``trial_id`` is not a non-negative integer.
    NotADirectoryError
        ``root/control`` is a link or a file: nothing is written through it.
    """
    if isinstance(trial_id, bool) or not isinstance(trial_id, int) or trial_id < 0:
        raise ValueError(f"trial_id must be a non-negative integer, got {trial_id!r}")
    folder = own_directory(Path(root) / CONTROL_DIR)
    return write_json_atomic(folder / f"{_PREFIX}{trial_id}",
                             {"trial": trial_id, "at": time.time(), "by": by})


class StopRequests:
    """The driver's side: the trials asked to stop since the last look.

    Looking costs one listing of a (nearly always empty) folder, at most
    every ``period`` seconds.
    """

    def __init__(self, root: str | os.PathLike[str] | None, period: float = 0.5) -> None:
        self.folder = None if root is None else Path(root) / CONTROL_DIR
        self.period = period
        self._next = 0.0

    def take(self) -> dict[int, str]:
        """Trials asked to stop since the last call, and who asked (their requests removed)."""
        now = time.monotonic()
        if self.folder is None or now < self._next:
            return {}
        self._next = now + self.period
        try:
            if os.path.islink(self.folder) or not self.folder.is_dir():
                return {}  # nothing of ours (never read through a link)
            entries = list(os.scandir(self.folder))
        except OSError:
            return {}
        asked = {}
        for entry in entries:
            name = entry.name
            if not (name.startswith(_PREFIX) and name[len(_PREFIX):].isdigit()):
                continue
            by = ""
            with contextlib.suppress(OSError, ValueError, AttributeError):
                if entry.is_file(follow_symlinks=False):
                    by = str(json.loads(Path(entry.path).read_text()).get("by", ""))[:200]
            asked[int(name[len(_PREFIX):])] = by
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
        return dict(sorted(asked.items()))
