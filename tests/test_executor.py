"""Executors on their own, and interrupting a search (real processes, real signals)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import train_fns

from hpcore import FrozenTrial, RandomSearch, TrialState
from hpcore.executor import LocalProcessExecutor, Objective, SerialExecutor
from hpcore.executor.local import thread_limits
from hpcore.search.space import Real


def _task(i, x):
    """A trial to submit (its record and its config)."""
    return FrozenTrial(i, {"x": x}), {"x": x}


def test_serial_executor_runs_on_wait_and_reports_failures():
    ex = SerialExecutor()
    ex.start(Objective(train_fns.slow, "loss"))
    ex.submit(*_task(0, 0.0))
    assert ex.n_running == 1
    (out,) = ex.wait()
    assert out.state is TrialState.COMPLETED and out.value == 0.0 and ex.n_running == 0
    ex.start(Objective(lambda c: 1 / 0, "loss"))
    ex.submit(*_task(1, 0.0))
    (out,) = ex.wait()
    assert out.state is TrialState.FAILED and "ZeroDivisionError" in out.error
    ex.submit(*_task(2, 0.0))
    assert [o.state for o in ex.shutdown(cancel=True)] == [TrialState.INTERRUPTED]


def test_thread_limits_divide_the_cores_and_respect_user_settings(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "7")
    limits = thread_limits(4, cpu_count=16)
    assert limits["OMP_NUM_THREADS"] == "4" and limits["NUMBA_NUM_THREADS"] == "4"
    assert "MKL_NUM_THREADS" not in limits
    assert thread_limits(8, cpu_count=2)["OMP_NUM_THREADS"] == "1"


@pytest.mark.slow
def test_local_executor_is_asynchronous():
    """A short trial finishes (and its slot is refilled) while a long one still runs."""
    ex = LocalProcessExecutor(2)
    ex.start(Objective(train_fns.slow, "loss"))
    try:
        ex.submit(*_task(0, 3.0))
        ex.submit(*_task(1, 0.01))
        first = ex.wait(timeout=60)
        assert [o.trial_id for o in first] == [1]
        ex.submit(*_task(2, 0.01))
        second = ex.wait(timeout=60)
        assert [o.trial_id for o in second] == [2]
        assert ex.n_running == 1
        third = ex.wait(timeout=60)
        assert [o.trial_id for o in third] == [0]
    finally:
        ex.shutdown(cancel=True)


@pytest.mark.slow
def test_local_executor_cancel_interrupts_running_trials_and_reaps_workers():
    ex = LocalProcessExecutor(2)
    ex.start(Objective(train_fns.slow, "loss"))
    ex.submit(*_task(0, 30.0))
    procs = [w.process for w in ex._workers]
    pids = [p.pid for p in procs]
    out = ex.shutdown(cancel=True)
    assert [(o.trial_id, o.state) for o in out] == [(0, TrialState.INTERRUPTED)]
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_serial_keyboard_interrupt_marks_the_trial_and_propagates():
    calls = []

    def fn(config):
        calls.append(config)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return config["x"]

    search = RandomSearch({}, {"x": Real(0, 1)}, n_trials=10, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        search.run(fn)
    assert [t.state for t in search.trials] == [
        TrialState.COMPLETED,
        TrialState.COMPLETED,
        TrialState.INTERRUPTED,
    ]


SCRIPT = textwrap.dedent(
    """
    import faulthandler, os, signal, sys, time
    from pathlib import Path
    from hpcore import RandomSearch
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # the test dumps stacks on a hang
    # A shell without job control starts background jobs with SIGINT ignored, and
    # Python then installs no KeyboardInterrupt handler: put the default back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from hpcore.search.space import Real

    PIDS = Path(sys.argv[1])

    def train_fn(config):
        with open(PIDS, "a") as f:
            f.write(f"{os.getpid()}\\n")
        time.sleep(60)
        return config["x"]

    if __name__ == "__main__":
        search = RandomSearch({}, {"x": Real(0, 1)}, n_trials=10, random_state=0)
        try:
            search.run(train_fn, n_jobs=2)
        except KeyboardInterrupt:
            print("states", sorted(str(t.state) for t in search.trials), flush=True)
            raise SystemExit(130)
    """
)


@pytest.mark.slow
def test_ctrl_c_on_the_driver_interrupts_trials_and_leaves_no_orphans(tmp_path: Path):
    script = tmp_path / "search.py"
    script.write_text(SCRIPT)
    pids_file = tmp_path / "pids"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(pids_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if pids_file.exists() and len(pids_file.read_text().split()) >= 2:
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the trials never started: " + proc.communicate()[1])
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)  # where is it stuck?
        time.sleep(1)
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the driver did not stop within 60 s of Ctrl-C; its stacks:\n{err}")
    assert proc.returncode == 130, err
    assert "states ['interrupted', 'interrupted']" in out
    for pid in map(int, pids_file.read_text().split()):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
