"""Trial folders, saved models and the ``best/`` link under an experiment root.

Layout of ``<experiment_root>``::

    hpcore.db             the study and every trial (hpcore.storage)
    trials/00007/         one folder per trial (trial.dir):
        config.json       the full merged config the trial ran with
        metrics.jsonl     trial.report(...) lines, written as they come
        result.json       state, value, metrics, error, times, devices
        trial.log         the trial's stdout and stderr
        model.pt          the saved model (model.pkl without torch), if any
        ...               whatever the trial writes into trial.dir
    best -> trials/00007  the best finished trial, swapped atomically

``best`` is a symbolic link, replaced with one ``rename`` (atomic on
POSIX): a reader sees the old best or the new one, never a half-written
folder, and nothing (a model of gigabytes) is copied.

The driver writes ``config.json``, ``result.json`` and ``best``; the trial's
own process writes ``metrics.jsonl``, ``trial.log``, the model and its
artifacts, inside its own folder only. A trial on a Dask worker that does
not see this folder sends its model back and the driver writes it here
(``hpcore.executor.dask.models``), with the log and ``metrics.jsonl``
(:meth:`Tracker.finish`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

from .._io import jsonl_writer, own_directory, write_json_atomic, write_text_atomic
from ..trial import FrozenTrial

__all__ = ["Tracker"]


class Tracker:
    """The folders of one experiment root (see the module docstring)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.trials_dir = self.root / "trials"
        self.best_link = self.root / "best"

    def trial_dir(self, trial_id: int) -> Path:
        return self.trials_dir / f"{trial_id:05d}"

    def prepare(self, trial_id: int, config: Any, params: dict[str, Any]) -> Path:
        """Create the trial's folder with its ``config.json``; returns the folder.

        A re-run (retry, resume) starts from an empty folder, so nothing of
        the lost attempt is mistaken for this one's output.
        """
        own_directory(self.trials_dir)  # never a link: trials would be written elsewhere
        d = self.trial_dir(trial_id)
        if d.is_symlink():
            d.unlink()  # the link itself, not what it points at
        elif d.exists():
            shutil.rmtree(d)
        d.mkdir()
        write_json_atomic(d / "config.json", {"params": params, "config": config})
        return d

    def finish(self, trial: FrozenTrial, output: str | None = None) -> None:
        """Write the trial's ``result.json`` (:meth:`~hpcore.trial.FrozenTrial.to_dict`).

        A trial that ran where this folder does not exist (a cluster worker)
        wrote no log and no ``metrics.jsonl``: they are written here from
        its captured ``output`` and its reports.
        """
        own_directory(self.trials_dir)
        d = own_directory(self.trial_dir(trial.trial_id))
        if output and not (d / "trial.log").exists():
            write_text_atomic(d / "trial.log", output)  # never through a planted symlink
        if trial.reports and not (d / "metrics.jsonl").exists():
            write = jsonl_writer(d / "metrics.jsonl")
            for entry in trial.reports:
                write(entry)
        write_json_atomic(d / "result.json", trial.to_dict(reports=False))

    def set_best(self, trial_id: int) -> None:
        """Point ``best`` at the trial's folder, atomically."""
        target = os.path.join("trials", f"{trial_id:05d}")
        tmp = self.root / f".best.{os.getpid()}.tmp"
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        os.symlink(target, tmp, target_is_directory=True)
        if self.best_link.exists() and not self.best_link.is_symlink():
            shutil.rmtree(self.best_link)  # a folder of an older layout
        os.replace(tmp, self.best_link)

    def best_id(self) -> int | None:
        """The trial ``best`` points at, or None (also when it points anywhere but at a
        trial folder of this root: a planted or copied link is then replaced)."""
        try:
            trial_id = int(os.readlink(self.best_link).rstrip("/").split("/")[-1])
        except (OSError, ValueError):
            return None
        target = os.path.realpath(self.best_link)
        if target != os.path.realpath(self.trial_dir(trial_id)):
            return None
        return trial_id

    def clear_best(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.best_link)

    def reset(self) -> None:
        """Remove every trial folder and ``best`` (``resume=False``)."""
        self.clear_best()
        shutil.rmtree(self.trials_dir, ignore_errors=True)
