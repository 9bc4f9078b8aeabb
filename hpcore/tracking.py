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
artifacts, inside its own folder only.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "Tracker",
    "save_model",
    "load_model",
    "jsonl_writer",
    "write_json_atomic",
    "MODEL_TORCH",
    "MODEL_PICKLE",
]

MODEL_TORCH = "model.pt"
MODEL_PICKLE = "model.pkl"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` via a temporary file and ``os.replace``."""
    from .results import _jsonable

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(_jsonable(data), f, indent=2)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def jsonl_writer(path: Path) -> Callable[[dict[str, Any]], None]:
    """A function that appends one JSON line to ``path`` and flushes it."""

    def write(entry: dict[str, Any]) -> None:
        from .results import _jsonable

        with open(path, "a") as f:
            f.write(json.dumps(_jsonable(entry)) + "\n")

    return write


def _is_torch_module(model: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def save_model(model: Any, directory: Path) -> Path:
    """Save ``model`` into ``directory``; returns the file written.

    A ``torch.nn.Module`` is saved as its ``state_dict`` with ``torch.save``
    (``model.pt``; load it into a freshly built module). Anything else is
    pickled (``model.pkl``; cloudpickle when installed, so closures and
    locally defined classes work). Written to a temporary name first, then
    renamed: a crash never leaves half a model under the final name.
    """
    directory.mkdir(parents=True, exist_ok=True)
    if _is_torch_module(model):
        import torch

        path = directory / MODEL_TORCH
        tmp = directory / f".{MODEL_TORCH}.tmp"
        torch.save(model.state_dict(), tmp)
    else:
        try:
            import cloudpickle as pickler
        except ImportError:
            pickler = pickle  # type: ignore[assignment]
        path = directory / MODEL_PICKLE
        tmp = directory / f".{MODEL_PICKLE}.tmp"
        with open(tmp, "wb") as f:
            pickler.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    return path


def load_model(directory: str | os.PathLike, model: Any = None) -> Any:
    """Load the model saved in a trial folder (or ``best/``).

    Parameters
    ----------
    directory : path
        A trial folder, or ``<experiment_root>/best``.
    model : torch.nn.Module, optional
        For a torch state dict: a freshly built module to load it into
        (returned). Without it, the state dict itself is returned.
    """
    directory = Path(directory)
    if (directory / MODEL_TORCH).exists():
        import torch

        state = torch.load(directory / MODEL_TORCH, map_location="cpu", weights_only=True)
        if model is None:
            return state
        model.load_state_dict(state)
        return model
    if (directory / MODEL_PICKLE).exists():
        with open(directory / MODEL_PICKLE, "rb") as f:
            return pickle.load(f)
    raise FileNotFoundError(f"no saved model ({MODEL_TORCH} or {MODEL_PICKLE}) in {directory}")


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
        d = self.trial_dir(trial_id)
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        write_json_atomic(d / "config.json", {"params": params, "config": config})
        return d

    def finish(self, trial: Any, output: str | None = None) -> None:
        """Write the trial's ``result.json`` (a :class:`~hpcore.trial.FrozenTrial`).

        A trial that ran where this folder does not exist (a cluster worker)
        wrote no log and no ``metrics.jsonl``: they are written here from
        its captured ``output`` and its reports.
        """
        d = self.trial_dir(trial.trial_id)
        d.mkdir(parents=True, exist_ok=True)
        if output and not (d / "trial.log").exists():
            (d / "trial.log").write_text(output)
        if trial.reports and not (d / "metrics.jsonl").exists():
            write = jsonl_writer(d / "metrics.jsonl")
            for entry in trial.reports:
                write(entry)
        write_json_atomic(
            d / "result.json",
            {
                "trial_id": trial.trial_id,
                "state": str(trial.state),
                "value": trial.value,
                "metrics": trial.metrics,
                "params": trial.params,
                "error": trial.error,
                "traceback": trial.traceback,
                "start": trial.start,
                "end": trial.end,
                "duration": trial.duration,
                "devices": list(trial.devices),
                "host": trial.host,
                "attempts": trial.attempts,
            },
        )

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
        """The trial ``best`` points at, or None."""
        try:
            return int(os.readlink(self.best_link).rstrip("/").split("/")[-1])
        except (OSError, ValueError):
            return None

    def clear_best(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.best_link)

    def reset(self) -> None:
        """Remove every trial folder and ``best`` (``resume=False``)."""
        self.clear_best()
        shutil.rmtree(self.trials_dir, ignore_errors=True)
