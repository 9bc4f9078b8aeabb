"""GPU/CPU placement, timeouts, retries and output capture, with real worker processes.

GPUs are fake device lists (``devices=[0, 1, 2, 3]``): what is checked is
what hpcore controls, the ``CUDA_VISIBLE_DEVICES`` each trial's process
sees and that overlapping trials never share a slot.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import train_fns

from hpcore import RandomSearch, TrialState
from hpcore.errors import ArgumentError, ExecutorError, SearchError
from hpcore.executor import LocalProcessExecutor
from hpcore.executor.resources import detect_devices, plan_slots
from hpcore.search.space import Real

# -- planning (no processes) ------------------------------------------------------


def test_whole_gpus_give_disjoint_groups_and_cap_the_jobs():
    assert plan_slots(8, 1, [0, 1, 2, 3]) == [(0,), (1,), (2,), (3,)]
    assert plan_slots(8, 2, [0, 1, 2, 3]) == [(0, 1), (2, 3)]
    assert plan_slots(2, 1, [0, 1, 2, 3]) == [(0,), (1,)]
    assert plan_slots(3, 2, [0, 1, 2, 3, 4]) == [(0, 1), (2, 3)]


def test_fractions_pack_per_device_and_spread_first():
    assert plan_slots(8, 0.5, [0, 1]) == [(0,), (1,), (0,), (1,)]
    assert plan_slots(2, 0.5, [0, 1]) == [(0,), (1,)]  # one per GPU before sharing
    assert plan_slots(9, 0.3, [5]) == [(5,), (5,), (5,)]
    assert plan_slots(4, 0.25, ["GPU-a"]) == [("GPU-a",)] * 4


def test_cpu_slots_and_cpus_per_trial_cap():
    assert plan_slots(3) == [(), (), ()]
    assert len(plan_slots(8, cpus_per_trial=2, cpu_count=4)) == 2
    assert len(plan_slots(8, cpus_per_trial=3, cpu_count=2)) == 1  # at least one


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"gpus_per_trial": 1, "devices": []}, ExecutorError, "no GPU was found"),
        ({"gpus_per_trial": 3, "devices": [0, 1]}, ExecutorError, "only 2 GPU"),
        ({"gpus_per_trial": 1.5, "devices": [0, 1]}, ArgumentError, "whole number"),
        ({"gpus_per_trial": -1}, ArgumentError, ">= 0"),
        ({"gpus_per_trial": 1, "devices": [0, 0]}, ArgumentError, "twice"),
        ({"cpus_per_trial": 0}, ArgumentError, "cpus_per_trial"),
    ],
)
def test_bad_resources_are_refused_with_the_fix(kwargs, error, match):
    with pytest.raises(error, match=match):
        plan_slots(4, **kwargs)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0,2", [0, 2]), ("", []), ("GPU-a,GPU-b", ["GPU-a", "GPU-b"]), ("1,-1,2", [1]), (" 3 ", [3])],
)
def test_cuda_visible_devices_is_the_first_source(monkeypatch, value, expected):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", value)
    assert detect_devices() == expected


def test_run_refuses_bad_arguments_before_any_trial():
    search = RandomSearch({}, {"x": Real(0, 1)}, n_trials=2, random_state=0)
    calls = []
    for kwargs, match in [
        ({"trial_timeout": 0}, "trial_timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"gpus_per_trial": "one"}, "gpus_per_trial"),
        ({"executor": object()}, "executor must be"),
        ({"executor": LocalProcessExecutor(1), "trial_timeout": 5}, "to the executor itself"),
    ]:
        with pytest.raises(ArgumentError, match=match):
            search.run(calls.append, **kwargs)
    assert calls == []


# -- real processes ----------------------------------------------------------------


def _records(out: Path) -> list[dict]:
    return sorted((json.loads(p.read_text()) for p in out.glob("*.json")), key=lambda r: r["trial"])


def _overlap(a: dict, b: dict) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def _running_at_each_start(recs: list[dict]) -> list[list[dict]]:
    """For each trial, the trials running at the moment it started (itself included)."""
    return [[b for b in recs if b["start"] <= a["start"] < b["end"]] for a in recs]


@pytest.mark.slow
def test_each_running_trial_sees_only_its_own_gpu(tmp_path):
    search = RandomSearch({"sleep": 0.4, "out": str(tmp_path)}, {"x": Real(0, 1)},
                          n_trials=12, random_state=0, allow_new_keys=True)
    search.run(train_fns.placement, n_jobs=8, gpus_per_trial=1, devices=[0, 1, 2, 3])
    recs = _records(tmp_path)
    assert len(recs) == 12
    for r in recs:
        assert r["visible"] == str(r["devices"][0]) and len(r["devices"]) == 1
    # n_jobs=8 is capped at the 4 GPUs: never more than 4 at once, never a GPU twice.
    for concurrent in _running_at_each_start(recs):
        assert len(concurrent) <= 4
        assert len({b["visible"] for b in concurrent}) == len(concurrent)
    assert len({r["visible"] for r in recs}) == 4
    assert all(t.devices == (int(r["visible"]),) for t, r in
               zip(sorted(search.trials, key=lambda t: t.trial_id), recs))


@pytest.mark.slow
def test_fractional_gpus_share_a_device_two_at_a_time(tmp_path):
    search = RandomSearch({"sleep": 0.4, "out": str(tmp_path)}, {"x": Real(0, 1)},
                          n_trials=8, random_state=0, allow_new_keys=True)
    search.run(train_fns.placement, n_jobs=4, gpus_per_trial=0.5, devices=[0, 1])
    recs = _records(tmp_path)
    for concurrent in _running_at_each_start(recs):
        for dev in ("0", "1"):
            assert sum(b["visible"] == dev for b in concurrent) <= 2
    # Two trials did share a device at some moment.
    assert any(_overlap(a, b) and a["visible"] == b["visible"] and a is not b
               for a in recs for b in recs)


@pytest.mark.slow
def test_gpus_per_trial_with_one_job_still_sets_the_device(tmp_path):
    search = RandomSearch({"sleep": 0.0, "out": str(tmp_path)}, {"x": Real(0, 1)},
                          n_trials=2, random_state=0, allow_new_keys=True)
    search.run(train_fns.placement, gpus_per_trial=2, devices=[3, 1])
    assert {r["visible"] for r in _records(tmp_path)} == {"3,1"}
    assert all(r["pid"] != os.getpid() for r in _records(tmp_path))


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0) until reaped: count it as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.slow
def test_a_hung_trial_is_killed_with_its_children_and_recorded_timed_out(tmp_path):
    search = RandomSearch({"out": str(tmp_path)}, {"x": Real(0, 1)}, n_trials=3, random_state=0,
                          allow_new_keys=True)
    search.run(train_fns.hangs_with_child, n_jobs=2, trial_timeout=2.0)
    states = {t.trial_id: t.state for t in search.trials}
    assert states == {0: TrialState.TIMED_OUT, 1: TrialState.COMPLETED, 2: TrialState.COMPLETED}
    assert "trial_timeout=2s" in search.trials[0].error
    worker, child = map(int, (tmp_path / "pids").read_text().split())
    for pid in (worker, child):
        for _ in range(100):  # the kill is immediate; allow the kernel to reap
            if _gone(pid):
                break
            time.sleep(0.05)
        assert _gone(pid), pid


@pytest.mark.slow
def test_failed_trials_are_retried_and_a_killed_worker_is_a_failure(tmp_path):
    search = RandomSearch({"out": str(tmp_path)}, {"x": Real(0, 1)}, n_trials=3, random_state=0,
                          allow_new_keys=True)
    search.run(train_fns.fails_first_time, n_jobs=2, max_retries=1)
    assert all(t.state is TrialState.COMPLETED and t.attempts == 2 for t in search.trials)

    out2 = tmp_path / "die"
    out2.mkdir()
    search = RandomSearch({"out": str(out2), "die": True}, {"x": Real(0, 1)}, n_trials=2,
                          random_state=0, allow_new_keys=True)
    with pytest.raises(Exception, match="no trial completed"):
        search.run(train_fns.fails_first_time, n_jobs=2)  # no retries: both die
    assert all(t.state is TrialState.FAILED and "SIGKILL" in t.error for t in search.trials)

    out3 = tmp_path / "die-retry"
    out3.mkdir()
    search = RandomSearch({"out": str(out3), "die": True}, {"x": Real(0, 1)}, n_trials=2,
                          random_state=0, allow_new_keys=True)
    search.run(train_fns.fails_first_time, n_jobs=2, max_retries=2)
    assert [t.attempts for t in search.trials] == [2, 2]
    assert all(t.state is TrialState.COMPLETED for t in search.trials)


@pytest.mark.slow
def test_output_is_captured_per_trial_and_echoed_line_by_line(capfd):
    search = RandomSearch({}, {"x": Real(0, 1)}, n_trials=3, random_state=0)
    search.run(train_fns.chatty, n_jobs=2)
    out = capfd.readouterr().out
    for tid in (0, 1, 2):
        for i in range(3):
            assert f"[trial {tid}] epoch {i} of trial {tid}\n" in out
        assert f"[trial {tid}] from a child process\n" in out
        assert f"[trial {tid}] to stderr\n" in out
    failed = search.trials[1]
    assert failed.state is TrialState.FAILED
    assert "epoch 2 of trial 1" in failed.output and "from a child process" in failed.output
    assert search.trials[0].output is None  # completed trials keep no output in memory


DRIVER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from hpcore import RandomSearch
    from hpcore.search.space import Real

    PIDS = Path(sys.argv[1])

    def train_fn(config):
        import subprocess
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(PIDS, "a") as f:
            f.write(f"{os.getpid()} {child.pid}\\n")
        time.sleep(120)
        return config["x"]

    if __name__ == "__main__":
        search = RandomSearch({}, {"x": Real(0, 1)}, n_trials=10, random_state=0)
        try:
            search.run(train_fn, n_jobs=2)
        except SystemExit:
            print("states", sorted(str(t.state) for t in search.trials), flush=True)
            raise
    """
)


def _start_driver(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    pids = tmp_path / "pids"
    proc = subprocess.Popen([sys.executable, str(script), str(pids)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    for _ in range(1200):
        if pids.exists() and len(pids.read_text().split()) >= 4:
            return proc, pids
        time.sleep(0.1)
    proc.kill()
    pytest.fail("the trials never started: " + proc.communicate()[1])


def _assert_all_gone(pids: Path) -> None:
    for pid in map(int, pids.read_text().split()):
        for _ in range(200):  # the watchdog polls every 0.5 s
            if _gone(pid):
                break
            time.sleep(0.05)
        assert _gone(pid), pid


@pytest.mark.slow
def test_sigterm_to_the_driver_interrupts_trials_and_kills_their_children(tmp_path):
    proc, pids = _start_driver(tmp_path)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "states ['interrupted', 'interrupted']" in out
    _assert_all_gone(pids)


@pytest.mark.slow
def test_kill_9_of_the_driver_leaves_no_orphans(tmp_path):
    proc, pids = _start_driver(tmp_path)
    proc.kill()
    proc.communicate(timeout=60)
    _assert_all_gone(pids)


@pytest.mark.slow
def test_a_workers_start_up_is_not_charged_to_its_trials_timeout():
    from helpers import slow_import

    # Every worker spends IMPORT_SECONDS (4 s) loading train_fn's module, and a fresh one
    # is started for the pool; the trials themselves return at once. A 2 s clock that
    # started at submission would time every first trial out.
    search = RandomSearch({}, {"x": Real(0, 1)}, n_trials=4, random_state=0)
    search.run(slow_import.quick, n_jobs=2, trial_timeout=2.0)
    assert [t.state for t in search.trials] == [TrialState.COMPLETED] * 4
    assert slow_import.IMPORT_SECONDS > 2.0


@pytest.mark.slow
def test_a_worker_that_cannot_start_its_trial_is_timed_out_after_start_timeout():
    from helpers import slow_import

    search = RandomSearch({}, {"x": Real(0, 1)}, n_trials=2, random_state=0)
    executor = LocalProcessExecutor(2, trial_timeout=60.0, start_timeout=1.0)
    with pytest.raises(SearchError):
        search.run(slow_import.quick, executor=executor)
    assert [t.state for t in search.trials] == [TrialState.TIMED_OUT] * 2
    assert all("did not start the trial within start_timeout=1s" in t.error
               for t in search.trials)


@pytest.mark.slow
def test_shutdown_ends_workers_still_starting_up_without_the_grace_period(tmp_path, monkeypatch):
    from helpers import hangs_on_import

    monkeypatch.setenv("HANGS_ON_IMPORT_MARKERS", str(tmp_path))
    ex = LocalProcessExecutor(2, grace_period=10.0)
    ex.start(hangs_on_import.quick)  # both workers are stuck importing train_fn's module
    pids = sorted(w.process.pid for w in ex._workers)
    assert ex.shutdown(cancel=True) == []
    # Each got SIGTERM once it did not leave at once; a SIGKILL (no marker) would mean
    # that shutdown waited out the trials' grace period for it first.
    assert sorted(int(p.name.split("-")[1]) for p in tmp_path.iterdir()) == pids


@pytest.mark.slow
def test_processes_a_trial_starts_in_their_own_session_end_with_it(tmp_path):
    # Trial 0 hangs and is killed at its timeout; trial 1 returns and leaves its
    # processes running. Neither trial's processes outlive it (issue 15).
    search = RandomSearch({"out": str(tmp_path), "x": 0.0}, {"x": Real(0, 1)}, n_trials=2,
                          random_state=0)
    try:
        search.run(train_fns.starts_session_children, n_jobs=2, trial_timeout=3.0)
    finally:
        pids = [int(p) for f in sorted(tmp_path.glob("pids-*")) for p in f.read_text().split()]
        for pid in pids:
            for _ in range(100):  # the kill is immediate; allow the kernel to reap
                if _gone(pid):
                    break
                time.sleep(0.05)
        left = [pid for pid in pids if not _gone(pid)]
        for pid in left:  # never leave them behind, even when the test fails
            os.kill(pid, signal.SIGKILL)
    assert [t.state for t in search.trials] == [TrialState.TIMED_OUT, TrialState.COMPLETED]
    assert len(pids) == 4 and left == []
