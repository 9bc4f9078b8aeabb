"""Tests of hpcore.storage: real SQLite files under tmp_path, real processes.

The lock and crash tests start small Python processes (``sys.executable
-c``) that open the store and either wait on their stdin, exit without
closing (``os._exit``) or are killed with SIGKILL. No test waits on a clock:
a child says "ready" on its stdout once it holds what the test needs.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpcore.errors import ConfigError, HpcoreError
from hpcore.storage import (
    DB_NAME,
    LOCK_NAME,
    SCHEMA_VERSION,
    Storage,
    StudyInfo,
    StudyLockedError,
    StudyMismatchError,
)
from hpcore.trial import FrozenTrial, TrialState

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (1 is not 1.0, a tuple is
    not a list) and NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def assert_same_trial(got: FrozenTrial, want: FrozenTrial) -> None:
    for f in dataclasses.fields(FrozenTrial):
        g, w = getattr(got, f.name), getattr(want, f.name)
        if f.name == "state":
            assert g is TrialState(w), (f.name, g, w)
        else:
            assert same(g, w), (f.name, g, w)


def child(code: str, root: Path, **kwargs: Any) -> subprocess.Popen[str]:
    """Start ``python -c code root`` with hpcore importable; stdin and stdout piped."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def run_child(code: str, root: Path) -> str:
    p = child(code, root)
    out, _ = p.communicate()
    assert p.returncode == 0, out
    return out


def raw(root: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection, to look at what is really stored."""
    return sqlite3.connect(root / DB_NAME)


def study_info(**changes: Any) -> StudyInfo:
    info = StudyInfo(
        name="exp",
        strategy="BayesianSearch",
        settings={"n_initial_points": 10, "acquisition": "ei", "xi": 0.01},
        seed=42,
        metric="val_loss",
        mode="min",
        base_config={"training": {"lr": 0.001, "epochs": 10}, "shape": (3, 4)},
        space={"training.lr": {"type": "real", "low": 1e-5, "high": 1e-2, "log": True}},
        space_fingerprint="abc123",
    )
    return dataclasses.replace(info, **changes)


def trial(i: int, value: float | None, state: TrialState = TrialState.COMPLETED) -> FrozenTrial:
    return FrozenTrial(
        trial_id=i,
        params={"x": float(i)},
        state=state,
        values=None if value is None else (value,),
        start=100.0 + i,
        end=101.0 + i,
    )


# A child that holds the driver's lock with trial 0 running, until its stdin closes.
HOLDER = """
    import sys
    from hpcore.storage import Storage
    s = Storage(sys.argv[1])
    s.start_trial(0, {"x": 1.0}, 1.0)
    print("ready", flush=True)
    sys.stdin.readline()
    s.close()
"""

# A child that tries to open the store as a driver and says what happened.
OPENER = """
    import sys
    from hpcore.storage import Storage, StudyLockedError
    try:
        Storage(sys.argv[1]).close()
    except StudyLockedError as e:
        print("LOCKED", e)
    else:
        print("OPENED")
"""


# ---------------------------------------------------------------------------
# round trip
# ---------------------------------------------------------------------------

scalars = st.one_of(
    st.integers(),
    st.floats(),  # nan and +-inf included
    st.booleans(),
    st.text(max_size=8),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), inner, max_size=3),
    ),
    max_leaves=6,
)
metrics = st.dictionaries(st.text(max_size=8), st.floats(), max_size=4)
reports = st.lists(
    st.builds(
        lambda step, t, value, extra: {
            "step": step,
            "time": t,
            **({} if value is None else {"value": value}),
            **extra,
        },
        st.integers(0, 10**6),
        st.floats(0, 2e9),
        st.none() | st.floats(),
        metrics,
    ),
    max_size=5,
)
frozen_trials = st.builds(
    FrozenTrial,
    trial_id=st.integers(0, 2**40),
    params=st.dictionaries(st.text(max_size=12), values, max_size=6),
    state=st.sampled_from(TrialState),
    values=st.none() | st.floats().map(lambda v: (v,)),
    metrics=metrics,
    error=st.none() | st.text(),
    traceback=st.none() | st.text(),
    start=st.none() | st.floats(allow_nan=False),
    end=st.none() | st.floats(allow_nan=False),
    reports=reports,
    devices=st.lists(st.integers(0, 15), max_size=4).map(tuple),
    host=st.none() | st.text(max_size=10),
    attempts=st.integers(1, 5),
    output=st.none() | st.text(),
)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("roundtrip")


@given(st.lists(frozen_trials, max_size=4, unique_by=lambda t: t.trial_id))
def test_trials_round_trip(scratch: Path, written: list[FrozenTrial]) -> None:
    """Every field of every trial, reports included, comes back equal with the same
    types (ints, floats with nan/inf, bools, text, None, tuples, nested dicts), in
    the driver's view and in a readonly view opened while the driver runs."""
    root = Path(tempfile.mkdtemp(dir=scratch))
    with Storage(root) as s:
        for t in written:
            s.start_trial(t.trial_id, t.params, 0.0)
            s.finish_trial(t)
        want = sorted(written, key=lambda t: t.trial_id)
        with Storage(root, readonly=True) as r:
            for view in (s.trials(), r.trials()):
                assert [t.trial_id for t in view] == [t.trial_id for t in want]
                for got, w in zip(view, want):
                    assert_same_trial(got, w)
        assert [t.reports for t in s.trials(with_reports=False)] == [[]] * len(want)
        assert s.n_trials() == len(want)


def test_types_and_non_finite_values(tmp_path: Path) -> None:
    """A readable instance of the round trip: 1.0 stays a float, 3 an int, a tuple
    a tuple; nan and inf survive in values, metrics and reports (SQLite alone
    would turn a NaN REAL into NULL)."""
    params = {"lr": 1.0, "n": 3, "flag": True, "act": "relu", "none": None, "shape": (64, 32)}
    t = FrozenTrial(
        trial_id=7,
        params=params,
        state=TrialState.FAILED,
        values=(math.nan,),
        metrics={"a": math.inf, "b": -math.inf, "c": math.nan},
        error="ValueError: boom",
        start=1.0,
        end=3.5,
        reports=[{"step": 0, "time": 1.5, "value": math.nan, "acc": math.inf}],
        devices=(0, 3),
        host="gpu-1",
        attempts=2,
        output="last line\n",
    )
    with Storage(tmp_path) as s:
        s.finish_trial(t)
        (got,) = s.trials()
    assert_same_trial(got, t)
    assert type(got.params["lr"]) is float and type(got.params["n"]) is int
    assert got.params["shape"] == (64, 32) and got.devices == (0, 3)
    assert got.duration == 2.5
    assert raw(tmp_path).execute("SELECT value, typeof(value) FROM trials").fetchone() == (
        "nan",
        "text",
    )


def test_schema_and_pragmas(tmp_path: Path) -> None:
    with Storage(tmp_path):
        pass
    c = raw(tmp_path)
    assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"study", "trials", "reports", "meta"}
    assert c.execute("PRAGMA index_list(reports)").fetchall()[0][1] == "reports_trial"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    with Storage(tmp_path):
        pass
    c = raw(tmp_path)
    c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    c.close()
    with pytest.raises(HpcoreError, match="newer hpcore"):
        Storage(tmp_path)


# ---------------------------------------------------------------------------
# the study
# ---------------------------------------------------------------------------


def test_create_load_check_delete_study(tmp_path: Path) -> None:
    with Storage(tmp_path) as s:
        assert s.load_study() is None
        info = study_info()
        s.create_study(info)
        assert info.created > 0
        assert s.load_study() == info  # the tuple in base_config stays a tuple
        with pytest.raises(FileExistsError, match="already stored"):
            s.create_study(study_info())
        assert s.check_study(study_info()) == []
        s.finish_trial(trial(0, 1.0))
        s.set_meta("best_trial_id", 0)
        s.delete_study()
        assert s.load_study() is None
        assert s.trials() == [] and s.get_meta("best_trial_id") is None
        with pytest.raises(LookupError, match="create_study"):
            s.check_study(info)


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"space_fingerprint": "def456", "space": {}}, ["search space", "abc123 -> def456"]),
        ({"metric": "val_acc"}, ["metric", "'val_loss' -> 'val_acc'"]),
        ({"mode": "max"}, ["mode", "'min' -> 'max'"]),
    ],
)
def test_check_study_mismatch(tmp_path: Path, changes: dict[str, Any], words: list[str]) -> None:
    with Storage(tmp_path) as s:
        s.create_study(study_info())
        s.finish_trial(trial(0, 1.0))
        with pytest.raises(StudyMismatchError, match="resume=False") as err:
            s.check_study(study_info(**changes))
    assert isinstance(err.value, ConfigError)
    for w in [*words, "1 trial", "new experiment_root"]:
        assert w in str(err.value)


def test_check_study_mismatch_names_space_keys(tmp_path: Path) -> None:
    new_space = {"training.lr": {"type": "real", "low": 1e-4, "high": 1e-2, "log": True}}
    with Storage(tmp_path) as s:
        s.create_study(study_info())
        with pytest.raises(StudyMismatchError, match=r"training\.lr\.low: 1e-05 -> 0\.0001"):
            s.check_study(study_info(space=new_space, space_fingerprint="zzz"))


def test_check_study_allowed_differences(tmp_path: Path) -> None:
    with Storage(tmp_path) as s:
        s.create_study(study_info())
        changed = study_info(
            strategy="RandomSearch",
            settings={"n_initial_points": 5, "acquisition": "ei", "xi": 0.01},
            seed=7,
            base_config={"training": {"lr": 0.001, "epochs": 20}, "shape": (3, 4)},
        )
        diffs = s.check_study(changed)
    assert len(diffs) == 4
    assert "BayesianSearch -> RandomSearch" in diffs[0] and "told to the new strategy" in diffs[0]
    assert "n_initial_points: 10 -> 5" in diffs[1]
    assert "seed changed (42 -> 7)" in diffs[2]
    assert "training.epochs: 10 -> 20" in diffs[3]


def test_meta_and_counts(tmp_path: Path) -> None:
    with Storage(tmp_path) as s:
        assert s.get_meta("missing", "dflt") == "dflt"
        s.set_meta("best_trial_id", 3)
        s.set_meta("best_trial_id", 4)
        s.set_meta("curve", {"xs": (1.0, math.inf)})
        assert s.get_meta("best_trial_id") == 4
        assert same(s.get_meta("curve"), {"xs": (1.0, math.inf)})
        for i in range(3):
            s.start_trial(i, {"x": i}, 0.0)
        assert s.n_trials() == 3


def test_live_reports_are_replaced_by_finish(tmp_path: Path) -> None:
    with Storage(tmp_path) as s:
        s.start_trial(0, {"x": 1}, 10.0)
        s.add_reports(0, [{"step": 0, "value": 1.0, "time": 11.0}])
        s.add_reports(0, [{"step": 1, "value": 0.5, "time": 12.0}])
        assert [r["step"] for r in s.trials()[0].reports] == [0, 1]
        final = [{"step": i, "value": 1.0 / (i + 1), "time": 11.0 + i} for i in range(3)]
        s.finish_trial(dataclasses.replace(trial(0, 0.3), reports=final))
        assert s.trials()[0].reports == final


# ---------------------------------------------------------------------------
# best trial
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode, best", [("min", 2), ("max", 4)])
def test_best_trial(tmp_path: Path, mode: str, best: int) -> None:
    """Best finite value by the mode, ties to the earliest id; failed, running and
    non-finite trials are never best, however good their value looks."""
    F, C, R = TrialState.FAILED, TrialState.COMPLETED, TrialState.RUNNING
    rows = [
        (0, -100.0, F),
        (1, 100.0, F),
        (2, 1.0, C),
        (3, 1.0, C),  # a tie with 2 for min
        (4, 5.0, C),
        (5, 5.0, C),  # a tie with 4 for max
        (6, math.nan, C),
        (7, -math.inf, C),
        (8, math.inf, C),
        (9, math.nan, F),
        (10, -50.0, R),
    ]
    with Storage(tmp_path) as s:
        s.create_study(study_info(mode=mode))
        assert s.best_trial() is None
        s.finish_trial(trial(3, 1.0))  # written before 2: ties go by id, not by order
        for i, v, state in rows:
            if i != 3:
                s.finish_trial(dataclasses.replace(trial(i, v, state), reports=[{"step": i}]))
        got = s.best_trial()
    assert got is not None and got.trial_id == best
    assert got.reports == [{"step": best}]


def test_best_trial_needs_a_study(tmp_path: Path) -> None:
    with Storage(tmp_path) as s, pytest.raises(LookupError, match="mode"):
        s.best_trial()


# ---------------------------------------------------------------------------
# readonly
# ---------------------------------------------------------------------------


def test_readonly_missing_db(tmp_path: Path) -> None:
    root = tmp_path / "nothing"
    with pytest.raises(FileNotFoundError, match="no hpcore study"):
        Storage(root, readonly=True)
    assert not root.exists()


def test_readonly_cannot_write(tmp_path: Path) -> None:
    s = Storage(tmp_path)
    s.create_study(study_info())
    with Storage(tmp_path, readonly=True) as r:
        assert r.load_study() == s.load_study()
        with pytest.raises(PermissionError, match="readonly"):
            r.start_trial(0, {}, 0.0)
        with pytest.raises(PermissionError, match="readonly"):
            r.set_meta("k", 1)
        s.close()
        Storage(tmp_path).close()  # a readonly reader takes no lock


def test_driver_alive_says_whether_a_driver_holds_the_study(tmp_path: Path) -> None:
    driver = Storage(tmp_path)
    driver.create_study(study_info())
    assert driver.driver_alive()
    with Storage(tmp_path, readonly=True) as reader:
        assert reader.driver_alive()  # the driver's lock, seen from another handle
        with Storage(tmp_path, readonly=True) as other:
            assert other.driver_alive()  # a second reader's probe does not count
        driver.close()
        assert not reader.driver_alive()


# ---------------------------------------------------------------------------
# the lock, across processes
# ---------------------------------------------------------------------------


def test_lock_refuses_a_second_driver(tmp_path: Path) -> None:
    """While this process holds the study, another process gets StudyLockedError
    naming this pid and host; once it is closed, the other opens it."""
    s = Storage(tmp_path)
    out = run_child(OPENER, tmp_path)
    assert out.startswith("LOCKED another search (pid ")
    assert f"pid {os.getpid()} on host {socket.gethostname()}" in out
    assert str(tmp_path) in out and "another experiment_root" in out
    s.close()
    assert run_child(OPENER, tmp_path).strip() == "OPENED"


def test_lock_in_the_same_process(tmp_path: Path) -> None:
    with Storage(tmp_path):
        with pytest.raises(StudyLockedError, match=f"pid {os.getpid()}") as err:
            Storage(tmp_path)
    assert err.value.pid == os.getpid() and err.value.root == str(tmp_path)
    Storage(tmp_path).close()


def test_lock_of_a_killed_driver_is_released(tmp_path: Path) -> None:
    """A driver killed with SIGKILL (no cleanup at all) does not block the next one;
    while it lived, a readonly view showed its trial as running, afterwards as
    interrupted."""
    p = child(HOLDER, tmp_path)
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    with pytest.raises(StudyLockedError, match=f"pid {p.pid} on host"):
        Storage(tmp_path)
    with Storage(tmp_path, readonly=True) as r:
        assert r.trials()[0].state is TrialState.RUNNING
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        assert p.returncode == -signal.SIGKILL
        assert r.trials()[0].state is TrialState.INTERRUPTED
    with Storage(tmp_path) as s:
        assert s.trials()[0].state is TrialState.RUNNING  # the driver sees the raw state
        assert s.recover_running() == [0]
    assert (tmp_path / LOCK_NAME).exists()


# ---------------------------------------------------------------------------
# recovery
# ---------------------------------------------------------------------------

DEAD_DRIVER = """
    import os, sys
    from hpcore.storage import Storage
    from hpcore.trial import FrozenTrial, TrialState
    s = Storage(sys.argv[1])
    s.start_trial(0, {"x": 0.5}, 1.0)
    s.add_reports(0, [{"step": 0, "value": 0.9, "time": 2.0}])
    s.start_trial(1, {"x": 0.25}, 1.0)
    s.finish_trial(FrozenTrial(1, {"x": 0.25}, TrialState.COMPLETED, 0.1, start=1.0, end=2.0))
    s.start_trial(2, {"x": 0.75}, 3.0)
    os._exit(0)  # no close, no cleanup: the driver dies
"""


def test_recover_running_after_a_dead_driver(tmp_path: Path) -> None:
    run_child(DEAD_DRIVER, tmp_path)
    stored = dict(raw(tmp_path).execute("SELECT trial_id, state FROM trials").fetchall())
    assert stored == {0: "running", 1: "completed", 2: "running"}
    with Storage(tmp_path, readonly=True) as r:
        assert [str(t.state) for t in r.trials()] == ["interrupted", "completed", "interrupted"]
    with Storage(tmp_path) as s:
        assert s.recover_running() == [0, 2]
        assert s.recover_running() == []
        stored = dict(raw(tmp_path).execute("SELECT trial_id, state FROM trials").fetchall())
        assert stored == {0: "interrupted", 1: "completed", 2: "interrupted"}
        # The re-run resets the trial: new start and attempt, no stale reports.
        s.start_trial(0, {"x": 0.5}, 50.0, attempt=1)
        t0 = s.trials()[0]
        assert (t0.state, t0.start, t0.attempts, t0.reports) == (TrialState.RUNNING, 50.0, 2, [])
        s.finish_trial(dataclasses.replace(t0, state=TrialState.COMPLETED, values=(0.2,), end=51.0))
        with pytest.raises(ValueError, match="never run again"):
            s.start_trial(1, {"x": 0.25}, 60.0)
        assert [t.value for t in s.trials()[:2]] == [0.2, 0.1]


# ---------------------------------------------------------------------------
# a writer killed at a random moment
# ---------------------------------------------------------------------------

WRITER = """
    import itertools, sys
    from hpcore.storage import Storage
    from hpcore.trial import FrozenTrial, TrialState
    s = Storage(sys.argv[1])
    for i in itertools.count():
        s.start_trial(i, {"i": i}, float(i))
        reports = [{"step": k, "value": k / 10, "time": float(k)} for k in range(20 + i % 13)]
        s.finish_trial(FrozenTrial(i, {"i": i}, TrialState.COMPLETED, float(i),
                                   start=float(i), end=i + 1.0, reports=reports))
        print(i, flush=True)
"""


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_writer_killed_mid_write_leaves_whole_trials(tmp_path: Path, seed: int) -> None:
    """SIGKILL a process writing trials in a loop, at a random moment: the file
    passes integrity_check and every trial is whole (completed with all its
    reports, or only started with none) or absent."""
    rng = random.Random(seed)
    p = child(WRITER, tmp_path)
    assert p.stdout is not None
    target = rng.randint(3, 30)
    while int(p.stdout.readline()) < target:
        pass
    time.sleep(rng.uniform(0.0, 0.005))  # about the time of one or two trials
    os.kill(p.pid, signal.SIGKILL)
    p.wait()

    c = raw(tmp_path)
    assert c.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    orphans = "SELECT COUNT(*) FROM reports WHERE trial_id NOT IN (SELECT trial_id FROM trials)"
    assert c.execute(orphans).fetchone()[0] == 0
    c.close()
    with Storage(tmp_path) as s:
        trials = s.trials()
        assert [t.trial_id for t in trials] == list(range(len(trials)))
        assert len(trials) >= target + 1
        for t in trials[:-1]:
            assert t.state is TrialState.COMPLETED
        for t in trials:
            if t.state is TrialState.COMPLETED:
                n = 20 + t.trial_id % 13
                assert [r["step"] for r in t.reports] == list(range(n)), t.trial_id
                assert t.value == float(t.trial_id)
            else:
                assert t.state is TrialState.RUNNING and t.reports == []
        assert s.recover_running() == [t.trial_id for t in trials if t.state is TrialState.RUNNING]
