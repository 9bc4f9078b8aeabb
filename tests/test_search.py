"""End-to-end runs of GridSearch and RandomSearch, serial and parallel."""

from __future__ import annotations

import dataclasses
import math

import pytest
from helpers import train_fns

from hpcore import (
    ArgumentError,
    ConfigError,
    GridSearch,
    RandomSearch,
    ResultError,
    SearchError,
    SearchSpaceError,
    TrialState,
)
from hpcore.search.space import Categorical, Integer, Real

SPACE = {"x": Real(0.0, 1.0), "n": Integer(1, 8)}


def test_seed_grid_example_runs_every_point_once():
    seen = []

    def train_fn(config):
        seen.append((config["training"]["lr"], config["training"]["batch_size"]))
        return {"val_loss": config["training"]["lr"] * config["training"]["batch_size"]}

    search = GridSearch(
        base_config={"training": {"lr": 0.1, "epochs": 2}},
        search_space={"training.lr": [0.001, 0.0001], "training.batch_size": [64, 128, 256]},
        metric="val_loss",
        mode="min",
        allow_new_keys=True,  # batch_size is not in base_config: added on purpose
    )
    best_config, best_score = search.run(train_fn, n_jobs=1)
    assert len(seen) == 6 and len(set(seen)) == 6
    assert best_config == {"training": {"lr": 0.0001, "epochs": 2, "batch_size": 64}}
    assert best_score == pytest.approx(0.0064)
    assert search.best_params == {"training.lr": 0.0001, "training.batch_size": 64}


def test_seed_grid_size_is_the_cartesian_product():
    search = GridSearch(
        {},
        {"lr": [0.001, 0.0001, 0.00001], "batch_size": [64, 128, 256], "hidden_dim": [128, 256, 512]},
    )
    assert search.size == 27
    assert len(search._make_strategy().ask(100)) == 27


def test_seed_random_example_finds_a_good_point():
    search = RandomSearch(
        base_config={"training": {}},
        search_space={
            "training.lr": Real(1e-5, 1e-2, log=True),
            "training.batch_size": Integer(32, 256, log=True),
        },
        n_trials=50,
        random_state=42,
    )
    best_config, best_score = search.run(
        lambda c: (math.log10(c["training"]["lr"]) + 3) ** 2
    )
    assert len(search.trials) == 50
    assert all(t.state is TrialState.COMPLETED for t in search.trials)
    assert best_score == min(t.value for t in search.trials)
    assert best_score < 0.05
    assert 32 <= best_config["training"]["batch_size"] <= 256


def test_mode_max_picks_the_largest():
    search = RandomSearch({}, {"x": Real(0, 1)}, mode="max", n_trials=20, random_state=0)
    _, best = search.run(lambda c: c["x"])
    assert best == max(t.value for t in search.trials)


def test_same_seed_same_trials_different_seed_different():
    def run(seed):
        s = RandomSearch({}, SPACE, metric="loss", n_trials=8, random_state=seed)
        s.run(train_fns.quadratic)
        return [t.params for t in s.trials]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_train_fn_with_trial_gets_reports_recorded():
    search = RandomSearch({}, {"x": Real(0, 1)}, n_trials=3, random_state=0)
    search.run(train_fns.quadratic_with_trial)
    for t in search.trials:
        assert [r["step"] for r in t.reports] == [0, 1, 2]
        assert [r["value"] for r in t.reports] == [0.0, 1.0, 2.0]
        assert t.reports[2]["extra"] == 4.0


def test_failures_are_recorded_and_the_search_goes_on():
    search = GridSearch(
        {}, {"mode": ["raise", "nan", "inf", "ok"], "x": [0.5, 0.25]}, metric="loss"
    )
    best_config, best = search.run(train_fns.faulty)
    assert best == 0.25 and best_config == {"mode": "ok", "x": 0.25}
    states = {(t.params["mode"], t.params["x"]): t for t in search.trials}
    assert len(states) == 8
    boom = states[("raise", 0.5)]
    assert boom.state is TrialState.FAILED and boom.error == "RuntimeError: boom"
    assert "Traceback" in boom.traceback and "boom" in boom.traceback
    assert states[("nan", 0.5)].state is TrialState.FAILED
    assert "non-finite" in states[("nan", 0.5)].error
    assert "non-finite loss: inf" in states[("inf", 0.25)].error
    assert states[("ok", 0.5)].state is TrialState.COMPLETED
    assert all(t.duration is not None and t.duration >= 0 for t in search.trials)


def test_missing_metric_stops_at_once_and_lists_the_keys():
    search = RandomSearch({}, {"x": Real(0, 1)}, metric="val_loss", n_trials=10)
    with pytest.raises(ResultError, match=r"without the metric 'val_loss'.*\['accuracy'\]"):
        search.run(train_fns.missing_metric)
    assert len(search.trials) == 1


def test_returning_none_is_a_contract_error():
    search = RandomSearch({}, {"x": Real(0, 1)}, n_trials=5)
    with pytest.raises(ResultError, match="returned None"):
        search.run(train_fns.returns_none)


def test_mapping_without_metric_argument():
    search = RandomSearch({}, {"x": Real(0, 1)}, n_trials=5)
    with pytest.raises(ResultError, match=r"keys \['loss', 'aux'\].*no `metric`"):
        search.run(lambda c: {"loss": 1.0, "aux": 2.0})


def test_all_trials_failing_is_an_error_with_the_first_cause():
    search = RandomSearch({}, {"x": Real(0, 1)}, n_trials=3)
    with pytest.raises(SearchError, match=r"no trial completed out of 3.*ZeroDivisionError"):
        search.run(lambda c: 1 / 0)
    assert [t.state for t in search.trials] == [TrialState.FAILED] * 3


def test_scalar_like_results_are_accepted():
    import numpy as np

    search = RandomSearch({}, {"x": Real(0, 1)}, n_trials=2, random_state=0)
    _, best = search.run(lambda c: np.float32(c["x"]))
    assert isinstance(best, float)
    torch = pytest.importorskip("torch")
    _, best = search.run(lambda c: torch.tensor(c["x"]))
    assert isinstance(best, float)


def test_dataclass_base_config_is_never_mutated():
    @dataclasses.dataclass
    class Cfg:
        lr: float = 0.1
        layers: list = dataclasses.field(default_factory=lambda: [1])

    base = Cfg()
    seen = []

    def fn(cfg):
        cfg.layers.append(cfg.lr)
        seen.append(cfg)
        return cfg.lr

    search = GridSearch(base, {"lr": [0.5, 0.25]})
    best_config, _ = search.run(fn)
    assert base == Cfg()
    assert isinstance(best_config, Cfg) and best_config.lr == 0.25
    assert seen[0].layers == [1, 0.5]


def test_bad_inputs_fail_before_any_trial():
    calls = []

    def fn(c):
        calls.append(c)
        return 0.0

    with pytest.raises(ConfigError, match=r"'training\.lr' is a float"):
        RandomSearch({"training": {"lr": 0.1}}, {"training.lr.x": Real(0, 1)})
    with pytest.raises(SearchSpaceError, match=r"Real 'lr'.*low.*< `high`"):
        RandomSearch({}, {"lr": Real(1e-2, 1e-5, log=True)})
    with pytest.raises(SearchSpaceError, match=r"Real 'lr' has no grid values.*grid_points"):
        GridSearch({}, {"lr": Real(1e-5, 1e-2, log=True)})
    with pytest.raises(ArgumentError, match="mode must be 'min' or 'max'"):
        RandomSearch({}, SPACE, mode="minimize")
    with pytest.raises(ArgumentError, match="n_trials must be a positive int"):
        RandomSearch({}, SPACE, n_trials=0)
    with pytest.raises(ArgumentError, match="random_state must be an int"):
        RandomSearch({}, SPACE, random_state="42")
    with pytest.raises(ArgumentError, match="search_space is required"):
        RandomSearch({})
    search = RandomSearch({}, SPACE, n_trials=2)
    with pytest.raises(ArgumentError, match="n_jobs must be >= 1"):
        search.run(fn, n_jobs=0)
    with pytest.raises(ArgumentError, match="train_fn must be callable"):
        search.run("train")
    with pytest.raises(ArgumentError, match=r"cannot be called as train_fn\(config\)"):
        search.run(lambda: 0.0)
    assert calls == []


def test_grid_with_n_trials_and_shuffle():
    space = {"a": [1, 2, 3, 4], "b": ["x", "y"]}
    first = GridSearch({}, space, n_trials=3)
    first.run(lambda c: c["a"])
    assert [t.params for t in first.trials] == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}
    ]
    shuffled = GridSearch({}, space, n_trials=8, shuffle=True, random_state=1)
    shuffled.run(lambda c: c["a"])
    got = [tuple(t.params.values()) for t in shuffled.trials]
    assert sorted(got) == sorted((a, b) for a in [1, 2, 3, 4] for b in "xy")
    assert got != sorted(got)


def test_random_search_in_a_finite_space_stops_when_exhausted():
    search = RandomSearch({}, {"a": [1, 2], "b": Categorical(["u", "v", "w"])}, n_trials=50)
    search.run(lambda c: c["a"])
    assert len(search.trials) == 6
    assert len({tuple(t.params.values()) for t in search.trials}) == 6


@pytest.mark.slow
def test_parallel_run_matches_serial_run():
    serial = RandomSearch({}, SPACE, metric="loss", n_trials=12, random_state=7)
    parallel = RandomSearch({}, SPACE, metric="loss", n_trials=12, random_state=7)
    s_best = serial.run(train_fns.quadratic)
    p_best = parallel.run(train_fns.quadratic, n_jobs=2)
    assert s_best == p_best
    key = lambda t: t.trial_id  # noqa: E731
    assert [t.params for t in sorted(parallel.trials, key=key)] == [
        t.params for t in serial.trials
    ]
    assert [t.metrics for t in sorted(parallel.trials, key=key)] == [
        t.metrics for t in serial.trials
    ]


@pytest.mark.slow
def test_parallel_trials_run_in_two_processes_with_limited_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    search = RandomSearch({}, {"x": Real(0, 1)}, metric="loss", n_trials=6, random_state=0)
    search.run(train_fns.pid_and_threads, n_jobs=2)
    pids = {t.metrics["pid"] for t in search.trials}
    assert len(pids) == 2
    import os

    assert os.getpid() not in pids
    expected = max(1, (os.cpu_count() or 1) // 2)
    assert {t.metrics["omp"] for t in search.trials} == {float(expected)}


@pytest.mark.slow
def test_parallel_failures_and_dead_workers_are_recorded():
    search = GridSearch({}, {"mode": ["ok", "exit", "segv", "ok2"], "x": [0.5]})
    _, best = search.run(train_fns.dies, n_jobs=2)
    by_mode = {t.params["mode"]: t for t in search.trials}
    assert best == 0.5
    assert by_mode["exit"].state is TrialState.FAILED
    assert "exited with code 3" in by_mode["exit"].error
    assert by_mode["segv"].state is TrialState.FAILED
    assert "SIGSEGV" in by_mode["segv"].error
    assert by_mode["ok2"].state is TrialState.COMPLETED


@pytest.mark.slow
def test_parallel_missing_metric_stops_the_search():
    search = RandomSearch({}, {"x": Real(0, 1)}, metric="val_loss", n_trials=20)
    with pytest.raises(ResultError, match=r"\['accuracy'\]"):
        search.run(train_fns.missing_metric, n_jobs=2)
    assert len(search.trials) <= 3


@pytest.mark.slow
def test_parallel_rejects_an_unpicklable_train_fn_before_running(monkeypatch):
    import sys

    from hpcore import ExecutorError

    monkeypatch.setitem(sys.modules, "cloudpickle", None)  # as if it were not installed
    search = RandomSearch({}, {"x": Real(0, 1)}, n_trials=2)
    with pytest.raises(ExecutorError, match="cannot be sent to worker processes"):
        search.run(lambda c: 0.0, n_jobs=2)
    assert search.trials == []


@pytest.mark.slow
def test_parallel_lambda_works_with_cloudpickle():
    pytest.importorskip("cloudpickle")
    search = RandomSearch({}, {"x": Real(0, 1)}, n_trials=4, random_state=0)
    _, best = search.run(lambda c: c["x"] * 2, n_jobs=2)
    assert best == min(t.value for t in search.trials)


def test_results_table_and_files_record_failures(tmp_path):
    import json

    from hpcore.analysis import format_table, save_results, to_records

    search = GridSearch({}, {"mode": ["raise", "ok"], "x": [0.5, 0.25]}, metric="loss")
    search.run(train_fns.faulty)
    table = format_table(search.trials, "loss", best_id=search.best_trial.trial_id)
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["#", "state", "loss", "time"]
    assert [ln.split()[0] for ln in lines[2:]] == ["0", "1", "2", "3*"]
    assert "failed" in lines[2] and "ok" in lines[5]
    folder = save_results(search, tmp_path / "out")
    records = json.loads((folder / "trials.json").read_text())
    assert records == json.loads(json.dumps(to_records(search.trials)))
    assert records[0]["state"] == "failed" and records[0]["error"] == "RuntimeError: boom"
    best = json.loads((folder / "best.json").read_text())
    assert best["best_trial_id"] == 3 and best["best_config"] == {"mode": "ok", "x": 0.25}
    csv_lines = (folder / "trials.csv").read_text().splitlines()
    assert csv_lines[0] == "trial_id,state,value,duration,error,mode,x" and len(csv_lines) == 5


def test_progress_bar_only_on_a_terminal(capsys, caplog):
    import io

    from hpcore.search._progress import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    assert Progress.wanted(None, tty) and not Progress.wanted(0, tty)
    assert not Progress.wanted(None, io.StringIO())
    bar = Progress(4, True, tty)
    bar.update(2, 0.5, 1, force=True)
    bar.close()
    assert "[##########          ] 2/4  best 0.5  running 1" in tty.getvalue()
    # Under pytest stderr is not a terminal: the default draws no bar but logs a line
    # per trial (to the hpcore logger; tests/test_console.py sees them in a real log).
    search = RandomSearch({}, {"x": Real(0, 1)}, n_trials=3, random_state=0)
    with caplog.at_level("INFO", logger="hpcore"):
        search.run(lambda c: c["x"])
    assert capsys.readouterr().err == ""
    assert [r.getMessage()[:12] for r in caplog.records] == ["[1/3] trial ", "[2/3] trial ",
                                                             "[3/3] trial "]


def test_callbacks_are_told_start_each_trial_and_end_in_order():
    from hpcore.search.callbacks import SearchCallback

    events = []

    class Recorder(SearchCallback):
        def on_search_start(self, search, experiment_root):
            events.append(("start", experiment_root, len(search.trials)))

        def on_trial_end(self, search, record):
            events.append(("trial", record.trial_id, str(record.state)))

        def on_search_end(self, search, error=None):
            events.append(("end", type(error).__name__ if error else None))

    class OnlyEnd:  # any object with some of the methods will do
        def on_search_end(self, search, error=None):
            events.append(("only-end",))

    def fn(config):
        if config["x"] > 0.9:
            raise ValueError("bad")
        return config["x"]

    search = RandomSearch({}, {"x": Real(0, 1)}, n_trials=4, random_state=0)
    search.run(fn, callbacks=[Recorder(), OnlyEnd()])
    assert events[0] == ("start", None, 0)
    assert [e[1] for e in events[1:5]] == [0, 1, 2, 3]
    assert events[5:] == [("end", None), ("only-end",)]

    events.clear()

    def interrupted(config):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        search.run(interrupted, callbacks=[Recorder()])
    assert events[-1] == ("end", "KeyboardInterrupt")
