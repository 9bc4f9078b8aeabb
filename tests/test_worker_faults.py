"""Worker processes that cannot start, and drivers killed while workers run (issue 15).

Each case runs a real driver in a subprocess with real spawned workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# A module that imports in the driver but not in a worker (a missing GPU driver, a
# dependency only the login node has...), as a fresh process imports train_fn's module.
CRASHES_IN_WORKERS = textwrap.dedent("""
    import multiprocessing, sys
    if multiprocessing.parent_process() is not None:
        sys.stderr.write("crashmod: libcuda.so.1 not found in this process\\n")
        raise ImportError("no GPU driver here")

    def train_fn(config):
        return config["x"]
""")

DRIVER = textwrap.dedent("""
    import sys
    sys.path.insert(0, "mods")  # only the driver has it: a worker cannot import {module}
    from {module} import train_fn
    from hpcore import GridSearch

    search = GridSearch({{"x": 0}}, {{"x": [1, 2, 3, 4, 5, 6]}})
    print(search.run(train_fn, n_jobs=2, experiment_root="root"), flush=True)
""")


def _write(tmp_path: Path, module: str, source: str) -> Path:
    (tmp_path / "mods").mkdir(exist_ok=True)
    (tmp_path / "mods" / f"{module}.py").write_text(source)
    (tmp_path / "driver.py").write_text(DRIVER.format(module=module))
    return tmp_path / "driver.py"


def test_a_worker_that_cannot_start_stops_the_search_with_its_output(tmp_path):
    import hpcore

    _write(tmp_path, "crashmod", CRASHES_IN_WORKERS)
    out = subprocess.run([sys.executable, "driver.py"], cwd=tmp_path, capture_output=True,
                         text=True)
    assert out.returncode == 1
    err = out.stderr
    assert "ExecutorError: a worker process could not start" in err
    assert "crashmod: libcuda.so.1 not found in this process" in err  # its stderr, quoted
    assert "ImportError: no GPU driver here" in err
    assert err.count("Traceback (most recent call last)") == 2  # the driver's, and the quote
    assert "] trial " not in err and len(err.splitlines()) < 60  # no line per failed trial
    study = hpcore.load(tmp_path / "root")
    assert study.counts().get("failed", 0) == 0  # not one failed trial per configuration


CHATTY = textwrap.dedent("""
    import time

    def train_fn(config, trial):
        for step in range(10 ** 8):  # reports as fast as it can, until killed
            trial.report(step, 0.5)
        return config["x"]
""")


@pytest.mark.parametrize("delay", [0.5, 2.0])
def test_killing_the_driver_shows_no_worker_tracebacks(tmp_path, delay):
    _write(tmp_path, "chatty", CHATTY)
    log = tmp_path / "out.log"
    with open(log, "w") as f:
        driver = subprocess.Popen([sys.executable, "driver.py"], cwd=tmp_path, stdout=f,
                                  stderr=subprocess.STDOUT)
        _wait_for_running_trials(tmp_path / "root", driver)
        time.sleep(delay)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        time.sleep(3)  # the workers notice (their watchdog polls every 0.5 s) and go
    text = log.read_text()
    assert "Traceback" not in text and "BrokenPipeError" not in text, text[-3000:]


def _wait_for_running_trials(root: Path, driver: subprocess.Popen) -> None:
    for _ in range(600):  # a guard against hanging, not a time limit
        if any((root / "trials").glob("*/trial.log")) or driver.poll() is not None:
            return
        time.sleep(0.1)


UNTRACKED = textwrap.dedent("""
    import time
    from hpcore import GridSearch

    def train_fn(config):
        time.sleep(config["x"])
        return config["x"]

    GridSearch({"x": 0}, {"x": [30, 31]}).run(train_fn, n_jobs=2)
""")


def test_a_killed_untracked_search_leaves_no_log_folder_behind_for_long(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    (tmp_path / "untracked.py").write_text(UNTRACKED)
    driver = subprocess.Popen([sys.executable, "untracked.py"], cwd=tmp_path, env=env)
    for _ in range(600):
        if list(tmp.glob("hpcore-logs-*/trial-*.log")):
            break
        time.sleep(0.1)
    left = list(tmp.glob("hpcore-logs-*"))
    assert len(left) == 1 and left[0].name.startswith(f"hpcore-logs-{driver.pid}-")
    driver.kill()
    driver.wait()
    time.sleep(1.5)
    # The next untracked run removes the dead driver's folder, then its own when done.
    short = UNTRACKED.replace("[30, 31]", "[0, 0.01]")
    (tmp_path / "short.py").write_text(short)
    subprocess.run([sys.executable, "short.py"], cwd=tmp_path, env=env, check=True)
    assert list(tmp.glob("hpcore-logs-*")) == []


def test_a_tracked_search_makes_no_temporary_log_folder(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    script = UNTRACKED.replace("[30, 31]", "[0, 0.01]").replace(
        "n_jobs=2)", "n_jobs=2, experiment_root='root')")
    (tmp_path / "tracked.py").write_text(script + "\nimport os\nprint(os.listdir(os.environ['TMPDIR']))\n")
    out = subprocess.run([sys.executable, "tracked.py"], cwd=tmp_path, capture_output=True,
                         text=True, env={**os.environ, "TMPDIR": str(tmp)})
    assert out.returncode == 0, out.stderr
    assert "hpcore-logs" not in out.stdout
