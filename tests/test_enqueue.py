"""Known configurations first: ``search.enqueue`` on every search, in spec files and in
the Optuna binding.

Searches run for real (serial, or worker processes with ``n_jobs=2``), studies
are real SQLite stores on ``tmp_path``, spec files run through ``python -m
hpcore run``, and the Optuna test drives a real Optuna study.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from helpers import hb_fns, train_fns

import hpcore
from hpcore import BayesianSearch, GridSearch, HyperbandSearch, RandomSearch
from hpcore.cli.spec import SpecError, build_search, parse_spec
from hpcore.errors import ArgumentError
from hpcore.search.space import Integer, Real
from hpcore.strategies import GridStrategy, RandomStrategy

SPACE = {"x": Real(0.0, 1.0), "n": Integer(1, 5)}
A, B = {"x": 0.5, "n": 2}, {"x": 1.0, "n": 5}  # both on the grid below
COND = {"opt": ["sgd", "adam"], "momentum": Real(0.0, 0.9, when={"opt": "sgd"}),
        "lr": Real(1e-4, 1e-1, log=True), "layers": Integer(1, 4)}
HB_BASE = {"model": {"x": 0.5}, "training": {"epochs": 1}}


def _loss(config):
    return (config["x"] - 0.3) ** 2 + (config["n"] - 4) ** 2


def _grid(**kw):
    return GridSearch({}, {"x": Real(0.0, 1.0, grid_points=3), "n": Integer(1, 5)}, **kw)


def _random(n_trials=6, space=SPACE):
    return RandomSearch({}, space, n_trials=n_trials, random_state=0)


def _hyperband(asynchronous=False, **kw):
    return HyperbandSearch(HB_BASE, {"model.x": Real(0.0, 1.0)}, metric="loss",
                           resource_key="training.epochs", max_resource=9, eta=3,
                           asynchronous=asynchronous, random_state=0, **kw)


# -- order and partial configurations --------------------------------------------------


@pytest.mark.parametrize("make", [
    _grid,
    _random,
    lambda: BayesianSearch({}, SPACE, n_trials=6, n_initial_points=3, random_state=0),
], ids=["grid", "random", "bayesian"])
def test_enqueued_configurations_run_first_in_order(make):
    search = make()
    search.enqueue([B, A])
    search.run(_loss, verbose=0)
    assert [t.params for t in search.trials[:2]] == [B, A]
    assert len(search.trials) == (15 if isinstance(search, GridSearch) else 6)


def test_a_partial_configuration_takes_the_other_keys_from_the_strategys_suggestion():
    plain = _random(3)
    plain.run(_loss, verbose=0)
    search = _random(3)
    search.enqueue({"n": 5})
    search.run(_loss, verbose=0)
    first = search.trials[0].params
    assert first == {"x": plain.trials[0].params["x"], "n": 5}  # x: the seed's first draw
    again = _random(3)
    again.enqueue({"n": 5})
    again.run(_loss, verbose=0)
    assert [t.params for t in again.trials] == [t.params for t in search.trials]


def test_a_partial_configuration_in_a_conditional_space_gets_the_keys_it_activates():
    search = _random(4, COND)
    search.enqueue([{"opt": "sgd"}, {"opt": "adam", "lr": 0.01}])
    search.run(lambda c: c["lr"] + c.get("momentum", 0.0), verbose=0)
    sgd, adam = (t.params for t in search.trials[:2])
    assert sgd["opt"] == "sgd" and 0.0 <= sgd["momentum"] <= 0.9
    assert adam["opt"] == "adam" and adam["lr"] == 0.01 and "momentum" not in adam
    assert all(search.space.contains(t.params) for t in search.trials)


def test_a_nested_dict_reads_as_dotted_keys():
    search = RandomSearch({"training": {"lr": 0.1}}, {"training.lr": Real(1e-4, 1e-1, log=True)},
                          n_trials=2, random_state=0)
    search.enqueue({"training": {"lr": 0.003}})
    search.run(lambda c: c["training"]["lr"], verbose=0)
    assert search.trials[0].params == {"training.lr": 0.003}


def test_enqueued_trials_are_told_to_the_strategy_like_any_other():
    # Ten points, ten trials: the model never suggests the enqueued ones again.
    search = BayesianSearch({}, {"n": Integer(0, 9)}, n_trials=10, n_initial_points=3,
                            random_state=0)
    search.enqueue([{"n": 7}, {"n": 2}])
    search.run(lambda c: (c["n"] - 4.2) ** 2, verbose=0)
    assert sorted(t.params["n"] for t in search.trials) == list(range(10))
    assert search.best_params == {"n": 4}


def test_enqueued_trials_count_towards_n_trials():
    search = _random(2)
    search.enqueue([A, B, {"x": 0.0, "n": 1}])
    search.run(_loss, verbose=0)
    assert [t.params for t in search.trials] == [A, B]


def test_enqueued_configurations_run_first_in_worker_processes():
    search = RandomSearch({}, SPACE, metric="loss", n_trials=5, random_state=0)
    search.enqueue([A, B, {"x": 0.25}])
    search.run(train_fns.pid_and_threads, n_jobs=2, verbose=0)
    trials = sorted(search.trials, key=lambda t: t.trial_id)
    assert [t.params for t in trials[:2]] == [A, B] and trials[2].params["x"] == 0.25
    assert len(trials) == 5 and all(t.state.value == "completed" for t in trials)
    assert os.getpid() not in {t.metrics["pid"] for t in trials}


# -- the grid -----------------------------------------------------------------------------


def test_the_grid_runs_an_enqueued_grid_point_once_and_other_configurations_on_top():
    search = _grid()
    off = {"x": 0.1, "n": 3}
    search.enqueue([A, off, {"n": 4}])  # {"n": 4} takes x from the next grid point, x = 0.0
    search.run(_loss, verbose=0)
    points = [(t.params["x"], t.params["n"]) for t in search.trials]
    assert points[:3] == [(0.5, 2), (0.1, 3), (0.0, 4)]
    assert len(points) == 16 and len(set(points)) == 16  # the 15 grid points and `off`
    assert Counter(points)[(0.5, 2)] == 1


def test_grid_strategy_size_counts_enqueued_points_off_the_grid():
    strategy = GridStrategy({"a": [1, 2], "b": ["x", "y"]})
    strategy.enqueue({"a": 1, "b": "y"})
    assert strategy.size == 4
    strategy.enqueue({"a": 1, "b": "y"})  # the same point again runs twice
    assert strategy.size == 5
    asked = strategy.ask(10)
    assert asked[:2] == [{"a": 1, "b": "y"}] * 2 and len(asked) == 5


def test_random_strategy_enqueue_then_ask_continues_the_seeded_sequence():
    plain = RandomStrategy(SPACE, seed=3).ask(4)
    strategy = RandomStrategy(SPACE, seed=3)
    strategy.enqueue(A)
    strategy.enqueue({"x": 0.75})
    asked = strategy.ask(4)
    assert asked[0] == A  # complete: takes the first place of the sequence
    assert asked[1] == {"x": 0.75, "n": plain[1]["n"]}  # partial: the second draw fills it
    assert asked[2:] == plain[2:]


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("config, message", [
    ({"lrr": 0.01}, r"'lrr' is not a key of the search space; did you mean 'lr'\?"),
    ({"lr": 0.5}, r"'lr' = 0.5 is outside Real\(0.0001, 0.1, log=True\): give a number from "
                  r"0.0001 to 0.1"),
    ({"layers": 2.5}, r"'layers' = 2.5 is outside Integer\(1, 4\): give a whole number from 1"),
    ({"opt": "rmsprop"}, r"'opt' = 'rmsprop' is not one of the choices \['sgd', 'adam'\]"),
    ({"opt": "adam", "momentum": 0.5},
     r"'momentum' is inactive where 'opt' = 'adam': it is searched only "
     r"when=\{'opt': 'sgd'\}\. Leave 'momentum' out, or set 'opt' to 'sgd'"),
    ({"momentum": 0.5}, r"'momentum' is searched only when=\{'opt': 'sgd'\}: give 'opt' too"),
    ({}, "the configuration is empty"),
    ("lr=0.01", "search.enqueue takes a dict of dotted keys to values"),
    ([{"lr": 0.01}, {"lr": 2.0}], r"search.enqueue, configuration \[1\]: 'lr' = 2.0 is outside"),
])
def test_values_outside_the_space_are_refused_at_enqueue_time(config, message):
    search = _random(1, COND)
    with pytest.raises(ArgumentError, match=message):
        search.enqueue(config)
    search.run(lambda c: c["lr"], verbose=0)  # nothing of a refused call was queued
    assert search.trials[0].params.get("lr") != 0.01


def test_a_choice_of_another_type_is_refused_with_the_reason():
    search = RandomSearch({}, {"width": [1.0, 2.0]}, n_trials=1)
    with pytest.raises(ArgumentError, match=r"1 has type int, the choice 1.0 float"):
        search.enqueue({"width": 1})


@pytest.mark.parametrize("config", [{"training.epochs": 3}, {"training": {"epochs": 3}}])
def test_hyperband_refuses_its_resource_key(config):
    with pytest.raises(ArgumentError, match=r"'training.epochs' is the resource_key: .*first rung"):
        _hyperband().enqueue({"model.x": 0.1, **config})


def test_hyperband_refuses_more_configurations_than_its_first_rungs_start():
    search = _hyperband()  # first rungs: 9 + 5 + 3
    search.enqueue([{"model.x": i / 20} for i in range(17)])
    with pytest.raises(ArgumentError, match="start 17 configurations in all.*asynchronous=True"):
        search.enqueue({"model.x": 0.9})
    _hyperband(asynchronous=True, n_trials=5).enqueue([{"model.x": i / 20} for i in range(18)])


# -- Hyperband and ASHA: the first rung -------------------------------------------------------


def test_hyperband_starts_enqueued_configurations_in_the_first_rung():
    search = _hyperband()
    search.enqueue([{"model.x": 0.0}, {"model.x": 0.99}])
    search.run(hb_fns.learning_curve, verbose=0)
    assert len(search.trials) == search.size == 22  # they took two draws' places
    first = search.trials[:2]
    assert [t.params for t in first] == [{"model.x": 0.0, "training.epochs": 1},
                                         {"model.x": 0.99, "training.epochs": 1}]
    budgets = lambda x: [t.budget for t in search.trials if t.params["model.x"] == x]  # noqa: E731
    assert budgets(0.0) == [1, 3, 9]  # the best of its rungs, promoted like any other
    assert budgets(0.99) == [1]


def test_asha_starts_enqueued_configurations_in_the_first_rung():
    search = _hyperband(asynchronous=True, n_trials=12)
    search.enqueue([{"model.x": 0.0}, {"model.x": 0.99}])
    search.run(hb_fns.learning_curve, verbose=0)
    assert [t.budget for t in search.trials[:2]] == [1, 1]
    assert [t.params["model.x"] for t in search.trials[:2]] == [0.0, 0.99]
    assert [t.budget for t in search.trials if t.params["model.x"] == 0.0] == [1, 3, 9]


# -- resume ---------------------------------------------------------------------------------


def test_a_resumed_study_does_not_run_enqueued_configurations_again(tmp_path):
    root = tmp_path / "exp"
    queue = [A, B, A]  # A twice: it runs twice, and never a third time
    first = _random(4)
    first.enqueue(queue)
    first.run(_loss, experiment_root=root, verbose=0)
    resumed = _random(7)
    resumed.enqueue(queue)
    resumed.run(_loss, experiment_root=root, verbose=0)
    reference = _random(7)
    reference.enqueue(queue)
    reference.run(_loss, verbose=0)
    stored = hpcore.load(root).trials
    assert [t.params for t in stored] == [t.params for t in reference.trials]
    counts = Counter((t.params["x"], t.params["n"]) for t in stored)
    assert counts[(0.5, 2)] == 2 and counts[(1.0, 5)] == 1 and len(stored) == 7
    again = _random(7)
    again.enqueue(queue)
    again.run(_loss, experiment_root=root, verbose=0)
    assert len(hpcore.load(root).trials) == 7


def test_an_enqueued_trial_interrupted_mid_run_runs_again_on_resume(tmp_path):
    root = tmp_path / "exp"
    calls = []

    def train_fn(config):
        calls.append(dict(config))
        if config == B and len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while B runs
        return _loss(config)

    first = _random(4)
    first.enqueue([A, B])
    with pytest.raises(KeyboardInterrupt):
        first.run(train_fn, experiment_root=root, verbose=0)
    assert hpcore.load(root).counts() == {"completed": 1, "interrupted": 1}
    resumed = _random(4)
    resumed.enqueue([A, B])
    resumed.run(train_fn, experiment_root=root, verbose=0)
    study = hpcore.load(root)
    assert study.counts() == {"completed": 4}
    assert [t.params for t in study.trials[:2]] == [A, B]
    assert study.trials[1].attempts == 2
    assert [c for c in calls if c == A] == [A] and [c for c in calls if c == B] == [B, B]


def test_a_resumed_grid_runs_each_enqueued_configuration_once(tmp_path):
    root = tmp_path / "exp"
    queue = [{"x": 0.1, "n": 3}, A]
    first = _grid(n_trials=3)
    first.enqueue(queue)
    first.run(_loss, experiment_root=root, verbose=0)
    resumed = _grid()
    resumed.enqueue(queue)
    resumed.run(_loss, experiment_root=root, verbose=0)
    points = [(t.params["x"], t.params["n"]) for t in hpcore.load(root).trials]
    assert len(points) == 16 and len(set(points)) == 16


def test_a_resumed_hyperband_study_puts_enqueued_trials_back_in_their_rung(tmp_path):
    root = tmp_path / "hb"
    queue = [{"model.x": 0.0}, {"model.x": 0.99}]
    first = _hyperband(n_trials=6)
    first.enqueue(queue)
    first.run(hb_fns.learning_curve, experiment_root=root, verbose=0)
    resumed = _hyperband()
    resumed.enqueue(queue)
    resumed.run(hb_fns.learning_curve, experiment_root=root, verbose=0)
    reference = _hyperband()
    reference.enqueue(queue)
    reference.run(hb_fns.learning_curve, verbose=0)
    assert [t.params for t in resumed.trials] == [t.params for t in reference.trials]
    assert len(hpcore.load(root).trials) == 22


# -- spec files -----------------------------------------------------------------------------

SPEC_TRAIN = '''
def train_fn(config):
    return (config["training"]["lr"] - 0.01) ** 2 + config["model"]["width"] / 1000
'''

SPEC = '''
search = "random"
train = "enqueue_train:train_fn"
n_trials = {n_trials}
seed = 0

[base_config]
training = {{ lr = 0.1 }}
model = {{ width = 64 }}

[space]
"training.lr" = {{ type = "real", low = 1e-4, high = 1e-1, log = true }}
"model.width" = [32, 64, 128]

[run]
experiment_root = "exp"

[[enqueue]]
"training.lr" = 0.003
"model.width" = 128

[[enqueue]]
model.width = 32                # nested keys read as dotted ones; lr comes from the strategy
'''


def _hpcore_run(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hpcore", "run", "search.toml"], cwd=cwd,
                          capture_output=True, text=True)


def test_hpcore_run_runs_a_specs_enqueued_configurations_first_and_once(tmp_path):
    (tmp_path / "enqueue_train.py").write_text(SPEC_TRAIN)
    (tmp_path / "search.toml").write_text(SPEC.format(n_trials=3))
    out = _hpcore_run(tmp_path)
    assert out.returncode == 0, out.stderr
    (tmp_path / "search.toml").write_text(SPEC.format(n_trials=5))
    out = _hpcore_run(tmp_path)
    assert out.returncode == 0, out.stderr
    trials = hpcore.load(tmp_path / "exp").trials
    assert len(trials) == 5
    assert trials[0].params == {"training.lr": 0.003, "model.width": 128}
    assert trials[1].params["model.width"] == 32
    assert sum(t.params == trials[0].params for t in trials) == 1
    assert sum(t.params["model.width"] == 32 and t.params["training.lr"] ==
               trials[1].params["training.lr"] for t in trials) == 1


def _spec(**changes):
    data = {
        "search": "random", "train": "enqueue_train:train_fn", "n_trials": 4,
        "base_config": {"training": {"lr": 0.1, "epochs": 2}, "model": {"width": 8}},
        "space": {"training.lr": {"type": "real", "low": 1e-4, "high": 1e-1, "log": True},
                  "model.width": [8, 16]},
    }
    data.update(changes)
    return data


def test_a_specs_enqueue_problems_are_listed_with_the_others():
    bad = _spec(enqueue=[{"training.lrr": 0.01}, {"model": {"width": 12}}], n_trials=0)
    with pytest.raises(SpecError) as info:
        parse_spec(bad, "bad.toml")
    text = str(info.value)
    assert "3 problems" in text
    assert "enqueue[0]: 'training.lrr' is not a key of the search space; did you mean " \
           "'training.lr'?" in text
    assert "enqueue[1]: 'model.width' = 12 is not one of the choices [8, 16]" in text
    with pytest.raises(SpecError, match=r"enqueue: must be a list of tables"):
        parse_spec(_spec(enqueue=[3]))


def test_a_spec_builds_a_search_with_its_queue():
    spec = parse_spec(_spec(enqueue={"model": {"width": 16}}))
    assert spec.enqueue == [{"model.width": 16}]
    search = build_search(spec)
    search.run(lambda c: c["model"]["width"] * c["training"]["lr"], verbose=0)
    assert search.trials[0].params["model.width"] == 16
    hb = _spec(search="hyperband", enqueue=[{"model.width": 8, "training.epochs": 2}],
               options={"resource_key": "training.epochs", "max_resource": 9,
                        "asynchronous": False})
    with pytest.raises(SpecError, match=r"enqueue\[0\]: 'training.epochs' is the resource_key"):
        parse_spec(hb)


# -- the Optuna binding ------------------------------------------------------------------------


def test_the_optuna_sampler_does_not_hand_out_the_point_of_a_running_enqueued_trial():
    optuna = pytest.importorskip("optuna")
    from hpcore.bindings.optuna import HpcoreSampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        n = trial.suggest_int("n", 0, 1)
        return n + {"a": 0.5, "b": 0.0}[trial.suggest_categorical("c", ["a", "b"])]

    def study_with_two_points_left():
        study = optuna.create_study(sampler=HpcoreSampler(seed=0, n_startup_trials=2))
        study.optimize(objective, n_trials=2)
        tried = {(t.params["n"], t.params["c"]) for t in study.trials}
        return study, sorted({(n, c) for n in (0, 1) for c in "ab"} - tried)

    _, left = study_with_two_points_left()
    assert len(left) == 2
    for n, c in left:  # one of them is the point the strategy would suggest next
        study, _ = study_with_two_points_left()
        study.enqueue_trial({"n": n, "c": c})
        held = study.ask()  # the enqueued trial, running; its objective has asked for nothing yet
        nxt = study.ask()
        got = (nxt.suggest_int("n", 0, 1), nxt.suggest_categorical("c", ["a", "b"]))
        assert got == next(p for p in left if p != (n, c))
        study.tell(held, objective(held))
        assert held.params == {"n": n, "c": c}  # Optuna ran the enqueued values
