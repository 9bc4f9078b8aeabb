"""Shared by the dashboard tests: real studies, and the real server started by the CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hpcore.search import RandomSearch
from hpcore.search.space import Real

ROOT = Path(__file__).resolve().parents[2]


def curve_fn(config: dict, trial) -> float:
    """A learning curve that ends at ``(x - 0.3)^2``; sleeps ``pause`` per step."""
    v = (config["x"] - 0.3) ** 2
    for step in range(config.get("steps", 5)):
        time.sleep(config.get("pause", 0.0))
        trial.report(step, v + 1.0 / (step + 1))
    return v


def make_study(root: Path, n_trials: int = 12, seed: int = 0, name: str | None = None) -> Path:
    """A finished RandomSearch study of ``n_trials`` under ``root``."""
    search = RandomSearch({"steps": 5, "x": 0.5}, {"x": Real(0.0, 1.0)}, metric="loss", n_trials=n_trials,
                          random_state=seed)
    search.run(curve_fn, experiment_root=str(root), verbose=0, study_name=name)
    return root


_SEARCH = """
import json, sys
from hpcore.search import RandomSearch
from hpcore.search.space import Real
from helpers.dashboard import curve_fn
kw = json.loads(sys.argv[2])
RandomSearch({"steps": kw["steps"], "pause": kw["pause"], "x": 0.5}, {"x": Real(0.0, 1.0)},
             metric="loss", n_trials=kw["n_trials"], random_state=kw["seed"]).run(
    curve_fn, experiment_root=sys.argv[1], verbose=0)
"""


@contextmanager
def searching(root: Path, steps: int, pause: float, n_trials: int = 1,
              seed: int = 0) -> Iterator[subprocess.Popen]:
    """A RandomSearch of :func:`curve_fn` trials running in a process of its own,
    yielded once its study exists (killed on the way out if still running)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    kw = json.dumps({"steps": steps, "pause": pause, "n_trials": n_trials, "seed": seed})
    proc = subprocess.Popen([sys.executable, "-c", _SEARCH, str(root), kw], env=env, cwd=ROOT)
    try:
        for _ in range(1200):
            if (root / "hpcore.db").exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        yield proc
    finally:
        proc.kill()
        proc.wait()


@contextmanager
def dashboard(*args: str) -> Iterator[tuple[str, str, subprocess.Popen]]:
    """``hpcore dashboard ARGS`` in a process of its own: (base URL, first lines, process)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "hpcore", "dashboard", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, cwd=ROOT)
    try:
        first = proc.stdout.readline()
        found = re.search(r"(http://\S+?/)(\?token=\S+)?\s", first)
        if found is None:
            raise AssertionError(f"the dashboard printed no address: {first!r}{proc.stdout.read()}")
        text = first
        if found.group(2):
            text += proc.stdout.readline()
        url = found.group(1).replace("0.0.0.0", "127.0.0.1")
        _wait_until_up(url, proc)
        yield url, text, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_up(url: str, proc: subprocess.Popen) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise AssertionError(f"the dashboard exited: {proc.stdout.read()}")
        try:
            urllib.request.urlopen(url + "static/app.css", timeout=5).read()
            return
        except urllib.error.HTTPError:  # up, and answering (a token is needed)
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the dashboard did not start")
