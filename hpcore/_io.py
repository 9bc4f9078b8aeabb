"""Low-level file helpers every layer may use: JSON, atomic writes, JSONL, models.

This module imports nothing else of hpcore, so that storage, the executor's
workers and the analysis layer share one copy of each helper without
importing one another.

Atomic writes go to a new temporary file in the target's folder (created
with ``O_EXCL``, so a planted file or symlink of that name is never
followed) and are renamed over the target with ``os.replace``: a reader sees
the old file or the new one, never half of one, and a symlink at the target
is replaced, not written through. :func:`own_directory` makes sure the
folder itself is one (not a symlink to somewhere else) before files are
written into it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "jsonable",
    "write_text_atomic",
    "write_bytes_atomic",
    "write_json_atomic",
    "own_directory",
    "jsonl_writer",
    "save_model",
    "load_model",
    "MODEL_TORCH",
    "MODEL_PICKLE",
]

MODEL_TORCH = "model.pt"
MODEL_PICKLE = "model.pkl"


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data.

    Mappings become dicts with string keys, sequences lists, dataclasses
    their fields, numpy scalars Python numbers, non-finite floats the
    strings ``'nan'``, ``'inf'``, ``'-inf'``; anything else its ``repr``.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    item = getattr(value, "item", None)  # numpy scalars, one-element tensors
    if callable(item):
        try:
            return jsonable(item())
        except (TypeError, ValueError, RuntimeError):
            pass
    return repr(value)


def _replace_with(path: Path, write: Callable[[Any], None], mode: str) -> None:
    """Write a temporary file beside ``path`` with ``write(f)``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        text = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **text) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    path = Path(path)
    _replace_with(path, lambda f: f.write(text), "w")
    return path


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    path = Path(path)
    _replace_with(path, lambda f: f.write(data), "wb")
    return path


def own_directory(path: str | os.PathLike[str]) -> Path:
    """``path`` as a folder of its own to write into, created (with its parents) if missing.

    Raises
    ------
    NotADirectoryError
        Naming ``path``, when it is a symbolic link (to a folder or not:
        files written into it would land wherever it points) or exists and is
        not a folder. Nothing is written or removed then.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True)
    except FileExistsError:
        pass
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        raise NotADirectoryError(
            f"{path} is a symbolic link (to {os.readlink(path)}); refusing to write through "
            "it: remove the link or choose another folder"
        )
    if not stat.S_ISDIR(mode):
        raise NotADirectoryError(f"{path} exists and is not a folder; refusing to write there")
    return path


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``jsonable(data)`` as indented JSON to ``path`` atomically; returns the path."""
    return write_text_atomic(path, json.dumps(jsonable(data), indent=2))


def jsonl_writer(path: str | os.PathLike[str]) -> Callable[[dict[str, Any]], None]:
    """A function that appends one JSON line to ``path`` and flushes it."""
    path = Path(path)

    def write(entry: dict[str, Any]) -> None:
        with open(path, "a") as f:
            f.write(json.dumps(jsonable(entry)) + "\n")

    return write


def _is_torch_module(model: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def save_model(model: Any, directory: str | os.PathLike[str]) -> Path:
    """Save ``model`` into ``directory`` atomically; returns the file written.

    A ``torch.nn.Module`` is saved as its ``state_dict`` with ``torch.save``
    (``model.pt``; load it into a freshly built module). Anything else is
    pickled (``model.pkl``; cloudpickle when installed, so closures and
    locally defined classes work).
    """
    directory = Path(directory)
    if _is_torch_module(model):
        import torch

        state = model.state_dict()
        path = directory / MODEL_TORCH
        _replace_with(path, lambda f: torch.save(state, f), "wb")
        return path
    try:
        import cloudpickle as pickler
    except ImportError:
        pickler = pickle  # type: ignore[assignment]
    path = directory / MODEL_PICKLE
    _replace_with(path, lambda f: pickler.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL), "wb")
    return path


def load_model(directory: str | os.PathLike[str], model: Any = None) -> Any:
    """Load the model saved in a trial folder (or ``<experiment_root>/best``).

    Parameters
    ----------
    directory : path
        A trial folder, or ``<experiment_root>/best``.
    model : torch.nn.Module, optional
        For a torch state dict: a freshly built module to load it into
        (returned). Without it, the state dict itself is returned.

    Warnings
    --------
    A pickled model (``model.pkl``) is loaded with :mod:`pickle`, which
    runs whatever code the file says: load models only from experiment
    roots you trust (your own, not a downloaded one). A torch model
    (``model.pt``) is loaded with ``weights_only=True``, which runs no code.
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
