"""Module-level train functions, importable by spawned worker processes."""

from __future__ import annotations

import math
import os
import signal
import time


def quadratic(config):
    """A smooth function of 'x' (real) and 'n' (int); minimum 0 at x=0.3, n=4."""
    return {"loss": (config["x"] - 0.3) ** 2 + (config["n"] - 4) ** 2, "aux": 1.0}


def quadratic_with_trial(config, trial):
    for step in range(3):
        trial.report(step, float(step), extra=2.0 * step)
    return (config["x"] - 0.3) ** 2 + trial.trial_id * 0.0


def faulty(config):
    """Fails in three ways, depending on 'mode'."""
    mode = config["mode"]
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "nan":
        return float("nan")
    if mode == "inf":
        return {"loss": math.inf}
    return {"loss": config["x"]}


def dies(config):
    """Kills its own process for mode 'exit' or 'segv'; otherwise succeeds."""
    if config["mode"] == "exit":
        os._exit(3)
    if config["mode"] == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    return config["x"]


def missing_metric(config):
    return {"accuracy": 0.9}


def returns_none(config):
    return None


def pid_and_threads(config):
    time.sleep(0.2)
    return {"loss": config["x"], "pid": float(os.getpid()),
            "omp": float(os.environ.get("OMP_NUM_THREADS", "0"))}


def slow(config):
    time.sleep(config["x"])
    return config["x"]
