"""Train functions for the Dask executor tests, importable by the Dask workers.

The workers of a ``LocalCluster`` are spawned processes that inherit the
test process's ``sys.path``, so ``helpers.dask_fns`` imports there too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def noisy(config):
    """Prints to stdout and stderr, then returns ``x``."""
    print(f"hello from trial x={config['x']}")
    print("a warning on stderr", file=sys.stderr)
    return config["x"]


def hangs(config):
    """Prints its pid and a grandchild's pid, then sleeps far past any test's timeout."""
    child = subprocess.Popen(["sleep", "600"])
    print(f"pids {os.getpid()} {child.pid}", flush=True)
    if config.get("pidfile"):
        with open(config["pidfile"], "w") as f:
            f.write(f"{os.getpid()} {child.pid}")
    time.sleep(600)
    return 0.0


def kills_itself(config):
    """SIGKILLs its own process for mode 'kill'; otherwise returns ``x``."""
    if config["mode"] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    return config["x"]


def visible_gpus(config):
    """Prints the ``CUDA_VISIBLE_DEVICES`` its process sees; returns ``x``."""
    print(f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')}")
    return config["x"]


def calls_exit(config):
    """Calls ``sys.exit(5)``: in a worker thread this must end the trial, not the worker."""
    sys.exit(5)


def until_stopped(config, trial):
    """Reports every ``pause`` seconds until ``trial.should_stop`` (at most ``steps`` times).

    Returns the step it noticed the stop at and whether it did
    (``saw_stop``); with ``marker`` set, writes 'started' there at the first
    step and the stop reason when it ends.
    """
    marker = config.get("marker")
    step = 0
    for step in range(config["steps"]):
        if marker and step == 0:
            with open(marker, "w") as f:
                f.write("started")
        if trial.should_stop:
            break
        trial.report(step, float(step))
        time.sleep(config.get("pause", 0.01))
    if marker:
        with open(marker, "w") as f:
            f.write(f"ended: {trial.stop_reason}")
    return {"loss": float(step), "saw_stop": float(trial.should_stop), "step": float(step)}


def report_loop(config, trial):
    """Makes ``n`` reports in a loop that does nothing else; returns the seconds per report."""
    n = config["n"]
    start = time.perf_counter()
    for step in range(n):
        trial.report(step, 0.5)
    return (time.perf_counter() - start) / n


def returns_a_torch_model(config):
    """Returns ``{'loss', 'model'}``, a ``torch.nn.Linear(2, 1)`` whose weights are all ``x``."""
    import torch

    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(config["x"])
        model.bias.fill_(config["x"])
    return {"loss": (config["x"] - 0.5) ** 2, "model": model}


def saves_a_model(config, trial):
    """Saves ``{'x': x, 'blob': size bytes}`` with ``trial.save_model``; returns ``(x - 0.5)^2``."""
    trial.save_model({"x": config["x"], "blob": b"\0" * config.get("size", 0)})
    return (config["x"] - 0.5) ** 2


def long_output(config):
    """Prints a first line, then 30,000 characters: more than the tail an outcome carries."""
    print("the first line of a long log")
    for _ in range(300):
        print("x" * 99)
    return config["x"]
