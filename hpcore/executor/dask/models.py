"""A trial's saved model, sent from its Dask worker to the driver's trial folder.

Without ``shared_filesystem`` the driver's experiment root does not exist on
the workers. A trial there saves its model (``trial.save_model`` or a
returned ``'model'``) in a temporary folder of its worker
(``trial.model_dir``, :func:`_model_folder`); when the trial ends, its task
returns the model file's bytes with the outcome (:class:`_Sent`) if they fit
in ``max_model_bytes``, and the driver writes them into the trial's folder
(:func:`_receive_model`) before the trial is recorded, so ``best/`` and
``hpcore.load(root).load_best_model()`` find them. A larger model stays
behind: the trial keeps its result, and its ``error`` says why the model is
missing and what to change.
"""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..._io import MODEL_PICKLE, MODEL_TORCH, write_bytes_atomic
from ...trial import FrozenTrial
from .._run import Job

__all__ = ["DEFAULT_MAX_MODEL_BYTES"]

#: The most bytes of model files a trial's task sends back by default (200 MiB).
DEFAULT_MAX_MODEL_BYTES = 200 * 2**20
#: The files ``hpcore._io.save_model`` writes.
_MODEL_FILES = (MODEL_TORCH, MODEL_PICKLE)


@dataclass(frozen=True)
class _Sent:
    """What a trial's task returns when it saved a model: the outcome and the model's files.

    ``files`` maps a file name to its bytes; it is empty when the files
    (``size`` bytes together) were over the limit and stayed on the worker.
    """

    outcome: FrozenTrial
    files: dict[str, bytes]
    size: int


# -- on the worker ------------------------------------------------------------------------
@contextlib.contextmanager
def _model_folder(job: Job, send: bool) -> Iterator[Job]:
    """The job, with a temporary ``model_dir`` of this worker for the block when ``send``."""
    if not send:
        yield job
        return
    with tempfile.TemporaryDirectory(prefix="hpcore-model-") as tmp:
        yield job._replace(model_dir=Path(tmp))


def _send_model(outcome: FrozenTrial, job: Job, limit: int) -> FrozenTrial | _Sent:
    """The task's result: the outcome, with the files of a model saved in ``job.model_dir``."""
    if job.model_dir is None:
        return outcome
    paths = [job.model_dir / name for name in _MODEL_FILES if (job.model_dir / name).is_file()]
    if not paths:
        return outcome
    size = sum(p.stat().st_size for p in paths)
    files = {p.name: p.read_bytes() for p in paths} if size <= limit else {}
    return _Sent(outcome, files, size)


# -- on the driver ------------------------------------------------------------------------
def _receive_model(result: Any, dir: Path | None, limit: int) -> FrozenTrial:
    """The trial's record from its task's result; a model sent with it is written to ``dir``."""
    if not isinstance(result, _Sent):
        return result
    outcome = result.outcome
    if not result.files:
        return _noted(outcome, _too_big(result.size, limit))
    if dir is None:
        return outcome
    try:
        for name, data in result.files.items():
            write_bytes_atomic(Path(dir) / name, data)
    except OSError as exc:
        return _noted(outcome, f"the trial's model could not be written to {dir}: {exc}")
    return outcome


def _too_big(size: int, limit: int) -> str:
    return (
        f"the trial's model ({_mib(size)}) was not sent back to the driver: it is larger than "
        f"max_model_bytes={limit} ({_mib(limit)}). Raise the limit (DaskExecutor(client, "
        "max_model_bytes=...)) or let the workers write into the experiment root on a "
        "filesystem they all mount (DaskExecutor(client, shared_filesystem=True))."
    )


def _mib(n: int) -> str:
    return f"{n / 2**20:.3g} MiB"


def _noted(outcome: FrozenTrial, note: str) -> FrozenTrial:
    """The outcome with ``note`` added to its error (it keeps its state), and a warning."""
    warnings.warn(f"trial {outcome.trial_id}: {note}", RuntimeWarning, stacklevel=2)
    return replace(outcome, error=note if outcome.error is None else f"{outcome.error}; {note}")
