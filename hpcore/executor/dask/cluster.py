"""What a Dask cluster offers a search, and how a trial's task can fail there.

:func:`_cluster_slots` turns the workers' threads and resources into the
number of trials that can run at once (or a message that says how to start
workers that can run one); :func:`_failed` turns a task's error into the
trial's failed record, with the reason a user can act on;
:func:`_import_error` says how to make a module the workers could not
import importable there.
"""

from __future__ import annotations

import math
import sys
import time
import traceback
from dataclasses import replace
from typing import Any

from ...errors import ExecutorError
from ...trial import FrozenTrial, TrialState

__all__ = ["_cluster_slots", "_failed", "_import_error"]


def _cluster_slots(
    workers: dict[str, dict[str, Any]], gpus_per_trial: float, cpus_per_trial: float | None
) -> int:
    """How many trials the workers can run at once.

    Each worker runs at most one trial per thread; with ``gpus_per_trial``
    also at most ``floor(GPU / gpus_per_trial)``, and likewise for a
    declared ``CPU`` resource. Without a ``CPU`` resource, ``cpus_per_trial``
    divides the threads of the whole cluster.

    Parameters
    ----------
    workers : dict
        the scheduler identity's ``'workers'``: per worker, at least
        ``nthreads`` and ``resources``.

    Raises
    ------
    ExecutorError
        The workers cannot run a single trial; the message says why.
    """
    declares_cpu = cpus_per_trial is not None and any(
        "CPU" in (w.get("resources") or {}) for w in workers.values()
    )
    total = 0
    for w in workers.values():
        slots = int(w.get("nthreads", 1))
        resources = w.get("resources") or {}
        if gpus_per_trial > 0:
            slots = min(slots, _fits(resources.get("GPU", 0), gpus_per_trial))
        if declares_cpu:
            slots = min(slots, _fits(resources.get("CPU", 0), cpus_per_trial))  # type: ignore[arg-type]
        total += slots
    if cpus_per_trial is not None and not declares_cpu:
        threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
        total = min(total, _fits(threads, cpus_per_trial))
    if total < 1:
        raise ExecutorError(_no_slot_message(workers, gpus_per_trial, cpus_per_trial))
    return total


def _fits(available: float, per_trial: float) -> int:
    """``floor(available / per_trial)``, forgiving float rounding (0.3 / 0.1 is 3)."""
    return int(math.floor(available / per_trial + 1e-9))


def _no_slot_message(
    workers: dict[str, dict[str, Any]], gpus_per_trial: float, cpus_per_trial: float | None
) -> str:
    if not workers:
        return (
            "the Dask scheduler lists no workers (they left after the executor connected); "
            "restart them with `dask worker <scheduler address>`."
        )
    gpus = [(w.get("resources") or {}).get("GPU", 0) for w in workers.values()]
    if gpus_per_trial > 0 and not any(gpus):
        return (
            f"gpus_per_trial={gpus_per_trial:g} but none of the {len(workers)} Dask workers "
            "declares a GPU resource: start one worker per GPU with "
            "`dask worker <scheduler address> --resources GPU=1` (or LocalCUDACluster("
            "resources={'GPU': 1})), or set gpus_per_trial=0 to run on CPUs."
        )
    if gpus_per_trial > 0 and max(gpus) < gpus_per_trial:
        return (
            f"gpus_per_trial={gpus_per_trial:g} but no Dask worker has that many GPUs "
            f"(the most is GPU={max(gpus):g}): lower gpus_per_trial or start workers with "
            f"`--resources GPU={math.ceil(gpus_per_trial)}`."
        )
    threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
    return (
        f"cpus_per_trial={cpus_per_trial:g} but the Dask workers have {threads} threads and "
        "no worker's CPU resource fits one trial: lower cpus_per_trial or add workers "
        "(`dask worker <scheduler address> --nthreads N --resources CPU=N`)."
    )


def _failed(trial: FrozenTrial, exc: BaseException) -> FrozenTrial:
    """A failed outcome for a trial whose Dask task raised, died or was cancelled."""
    name = type(exc).__name__
    if name == "KilledWorker":
        last = getattr(exc, "last_worker", None)
        error = (
            f"the Dask worker running this trial died (KilledWorker: {exc}). A crash in "
            "train_fn (os._exit, a segfault, running out of memory) kills its worker; "
            "with trial_timeout set each trial runs in a child process instead."
        )
        host = getattr(last, "host", None)
    elif isinstance(exc, ModuleNotFoundError) and "hpcore" in str(exc):
        error = f"{name}: {exc}: install hpcore (the driver's version) on every Dask worker."
        host = None
    elif "Cancelled" in name:
        error = f"the trial's Dask task was cancelled ({name}: {exc})"
        host = None
    else:
        error = f"the trial's Dask task failed ({name}: {exc})"
        host = None
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return replace(trial, state=TrialState.FAILED, error=error, traceback=tb, end=time.time(),
                   host=host)


def _import_error(exc: Any, address: str | None) -> ExecutorError:
    """The error that ends a search whose workers cannot import a module ``train_fn`` needs.

    ``exc`` is the worker's :class:`.runs._ImportFailed`; ``address`` the
    scheduler's, for the upload command. One line (the CLI prints it as is).
    """
    module = exc.module or "the module that defines train_fn"
    path = getattr(sys.modules.get(exc.module or ""), "__file__", None)
    if path and path.endswith("__init__.py"):  # a package: zip it (or install it)
        upload = f"upload it as a zip of its folder (client.upload_file('{module}.zip'))"
    else:
        shown = path or f"{module.split('.')[0]}.py"
        client = f"Client({address!r})" if address else "client"
        upload = f"upload it to the workers ({client}.upload_file({shown!r}))"
    return ExecutorError(
        f"{exc}: the Dask workers cannot import {module!r} (the driver can). Make it "
        f"importable on every worker: {upload}, install it there (pip install ...), or "
        "start the workers with PYTHONPATH set to the folder that holds it. The trials that "
        "were running are recorded as interrupted: resuming the search runs them again."
    )
