"""Which devices a machine has, and how trials are placed on them.

Placement is static and per worker: a pool of ``k`` workers gets ``k``
*slots*, each a tuple of devices, and a worker runs its trials on its own
slot only (its process is started with ``CUDA_VISIBLE_DEVICES`` set to
the slot, before any user code can import torch). Since a worker runs one
trial at a time, no two overlapping trials ever share a slot, and the
slots themselves encode the packing:

* ``gpus_per_trial = 0``: slots are empty, the environment is left alone;
* ``0 < gpus_per_trial < 1``: each device holds ``floor(1 / g)`` slots of
  one device (0.5: two trials per GPU, 0.3: three). A fraction is always
  within one device, never summed across devices. Slots are dealt
  round-robin over the devices, so fewer workers than slots spread out
  (one trial per GPU first) rather than pile onto the first device;
* ``gpus_per_trial = g >= 1`` (a whole number): disjoint groups of ``g``
  consecutive devices.

The number of slots caps the pool, whatever ``n_jobs`` says.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from collections.abc import Sequence

from ..errors import ArgumentError, ExecutorError

__all__ = ["Device", "detect_devices", "plan_slots", "check_resources"]

#: A GPU as ``CUDA_VISIBLE_DEVICES`` names it: an index or a UUID string.
Device = int | str


def _parse_visible(value: str) -> list[Device]:
    out: list[Device] = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        if item.lstrip("-").isdigit():
            if int(item) < 0:  # CUDA stops at the first invalid index
                break
            out.append(int(item))
        else:
            out.append(item)
    return out


def detect_devices() -> list[Device]:
    """The GPUs trials may use on this machine.

    In order: ``CUDA_VISIBLE_DEVICES`` when set (an empty value means
    none), else the NVIDIA driver's list (``nvidia-smi -L``), else torch's
    count when torch is installed, else none.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return _parse_visible(visible)
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            out = None
        if out is not None and out.returncode == 0:
            ids = [int(m) for m in re.findall(r"^GPU (\d+):", out.stdout, flags=re.M)]
            if ids:
                return ids
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        try:
            import torch

            return list(range(torch.cuda.device_count()))
        except Exception:  # a broken CUDA install: no GPUs, not a crash
            return []
    return []


def check_resources(gpus_per_trial: float, cpus_per_trial: float | None) -> float:
    """Validate the per-trial resource arguments; returns ``gpus_per_trial`` as a float."""
    if isinstance(gpus_per_trial, bool) or not isinstance(gpus_per_trial, (int, float)):
        raise ArgumentError(f"gpus_per_trial must be a number, got {gpus_per_trial!r}.")
    g = float(gpus_per_trial)
    if not math.isfinite(g) or g < 0:
        raise ArgumentError(f"gpus_per_trial must be >= 0, got {gpus_per_trial!r}.")
    if g > 1 and g != int(g):
        raise ArgumentError(
            f"gpus_per_trial={gpus_per_trial!r}: above 1 it must be a whole number of GPUs "
            "(fractions share one GPU: use a value below 1, such as 0.5)."
        )
    if cpus_per_trial is not None and (
        isinstance(cpus_per_trial, bool)
        or not isinstance(cpus_per_trial, (int, float))
        or not cpus_per_trial > 0
    ):
        raise ArgumentError(f"cpus_per_trial must be a positive number, got {cpus_per_trial!r}.")
    return g


def plan_slots(
    n_jobs: int,
    gpus_per_trial: float = 0.0,
    devices: Sequence[Device] | None = None,
    cpus_per_trial: float | None = None,
    cpu_count: int | None = None,
) -> list[tuple[Device, ...]]:
    """The device slot of each worker (see the module docstring).

    Parameters
    ----------
    n_jobs : int
        Workers wanted; the result may be shorter when resources are fewer.
    gpus_per_trial : float
        GPUs per trial: 0, a fraction below 1, or a whole number.
    devices : sequence, optional
        The GPUs to use; default :func:`detect_devices` (only consulted
        when ``gpus_per_trial > 0``).
    cpus_per_trial : float, optional
        Cores per trial; caps the workers at ``cpu_count // cpus_per_trial``.
    cpu_count : int, optional
        Cores of the machine; default ``os.cpu_count()``.

    Raises
    ------
    ExecutorError
        GPUs were asked for and there are none, or fewer than one trial needs.
    """
    g = check_resources(gpus_per_trial, cpus_per_trial)
    limit = n_jobs
    if cpus_per_trial is not None:
        cpus = cpu_count or os.cpu_count() or 1
        limit = min(limit, max(1, int(cpus // cpus_per_trial)))
    if g == 0:
        return [()] * limit
    devs = list(detect_devices() if devices is None else devices)
    if not devs:
        raise ExecutorError(
            f"gpus_per_trial={gpus_per_trial} but no GPU was found (CUDA_VISIBLE_DEVICES, "
            "nvidia-smi and torch.cuda report none). Pass devices=[0, 1, ...] or set "
            "CUDA_VISIBLE_DEVICES, or use gpus_per_trial=0 to run on CPUs."
        )
    if len(set(map(str, devs))) != len(devs):
        raise ArgumentError(f"devices lists a device twice: {devs!r}.")
    if g < 1:
        per_device = int(math.floor(1.0 / g + 1e-9))
        slots = [(dev,) for _ in range(per_device) for dev in devs]
    else:
        need = int(g)
        if need > len(devs):
            raise ExecutorError(
                f"gpus_per_trial={gpus_per_trial} but only {len(devs)} GPU(s) are available "
                f"({devs!r}). Lower gpus_per_trial or pass more devices."
            )
        slots = [tuple(devs[i * need : (i + 1) * need]) for i in range(len(devs) // need)]
    return slots[:limit]
