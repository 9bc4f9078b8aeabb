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


def placement(config, trial):
    """Records when it ran and what GPUs its process sees, in a file per trial."""
    import json

    start = time.time()
    time.sleep(config["sleep"])
    record = {
        "trial": trial.trial_id,
        "visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "devices": list(trial.devices),
        "start": start,
        "end": time.time(),
        "pid": os.getpid(),
    }
    with open(os.path.join(config["out"], f"{trial.trial_id}.json"), "w") as f:
        json.dump(record, f)
    return config["x"]


def hangs_with_child(config, trial):
    """Starts a child process, writes both pids, then hangs (for trial 0) or returns."""
    import subprocess
    import sys

    if trial.trial_id == 0:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(os.path.join(config["out"], "pids"), "w") as f:
            f.write(f"{os.getpid()} {child.pid}")
        time.sleep(120)
    return config["x"]


def fails_first_time(config, trial):
    """Raises on a trial's first attempt (a marker file remembers it), then succeeds."""
    marker = os.path.join(config["out"], f"tried-{trial.trial_id}")
    if not os.path.exists(marker):
        assert trial.attempt == 0, trial.attempt
        open(marker, "w").close()
        if config.get("die"):
            os.kill(os.getpid(), signal.SIGKILL)
        raise RuntimeError("flaky")
    if trial.attempt != 1:  # the retry knows it is one
        raise RuntimeError(f"the retry's trial.attempt is {trial.attempt}, not 1")
    return config["x"]


def chatty(config, trial):
    """Prints lines (from Python and from a child process), then fails for trial 1."""
    import subprocess
    import sys

    for i in range(3):
        print(f"epoch {i} of trial {trial.trial_id}")
    subprocess.run([sys.executable, "-c", "print('from a child process')"], check=True)
    print("to stderr", file=sys.stderr)
    if trial.trial_id == 1:
        raise ValueError("bad epoch")
    return config["x"]


def tracked(config, trial):
    """Reports three steps, prints, and returns a value with a model (torch when asked)."""
    value = (config["x"] - 0.3) ** 2
    for step in range(3):
        trial.report(step, value + 1.0 / (step + 1), lr=0.1 * step)
    print(f"training trial {trial.trial_id}")
    if config.get("torch"):
        import torch

        torch.manual_seed(trial.trial_id)
        model = torch.nn.Linear(2, 1)
    else:
        model = {"weights": [config["x"], trial.trial_id]}
    if config.get("save_directly"):
        trial.save_model(model)
        return {"val_loss": value, "acc": 1.0 - value}
    return {"val_loss": value, "acc": 1.0 - value, "model": model}


def sleepy_value(config):
    """Sleeps a little (so a driver can be killed mid-trial) and returns a function of x."""
    time.sleep(config.get("sleep", 0.05))
    return (config["x"] - 0.3) ** 2 + config.get("n", 0)


def curve(config, trial):
    """A learning curve: level + 1 / (step + 1), reported for config['steps'] steps."""
    for step in range(config["steps"]):
        trial.report(step, config["level"] + 1.0 / (step + 1))
        time.sleep(config.get("pause", 0.0))
    return config["level"] + 1.0 / config["steps"]


def curve_catches_stop(config, trial):
    """Like curve, but catches TrialStopped and returns a value of its own."""
    from hpcore import TrialStopped

    try:
        return curve(config, trial)
    except TrialStopped:
        return -123.0


def reports_then_waits(config, trial):
    """Report three steps, then wait for ``config['release']`` to exist (the test's go-ahead)."""
    from pathlib import Path

    for step in range(3):
        trial.report(step, 1.0 / (step + 1))
    release = Path(config["release"])
    for _ in range(6000):  # a guard against hanging (10 min), not a time limit
        if release.exists():
            break
        time.sleep(0.1)
    return 0.1


def starts_session_children(config, trial):
    """Starts processes in sessions of their own (one directly, one through a parent that
    exits: a daemon's double fork), writes their pids, then hangs (trial 0) or returns."""
    import subprocess
    import sys

    sleeper = [sys.executable, "-c", "import time; time.sleep(300)"]
    direct = subprocess.Popen(sleeper, start_new_session=True)
    starter = subprocess.run(
        [sys.executable, "-c",
         "import subprocess, sys; p = subprocess.Popen(sys.argv[1:], start_new_session=True,"
         " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); print(p.pid)", *sleeper],
        capture_output=True, text=True, check=True,
    )
    with open(os.path.join(config["out"], f"pids-{trial.trial_id}"), "w") as f:
        f.write(f"{direct.pid} {int(starter.stdout)}")
    if trial.trial_id == 0:
        time.sleep(300)
    return config["x"]
