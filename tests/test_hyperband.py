"""Hyperband and ASHA: bracket arithmetic, promotion rules, determinism, resume,
and HyperbandSearch end to end (serial and in worker processes)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from helpers import hb_fns

import hpcore
from hpcore import ArgumentError, ConfigError, HyperbandSearch, StrategyExhausted, TrialState
from hpcore.search.space import Integer, Real
from hpcore.strategies import ASHAStrategy, HyperbandStrategy, WaitForResults
from hpcore.strategies.hyperband import budget_ladder

#: Li et al. (JMLR 2018), Table 1: R = 81, eta = 3. (s, n_i, r_i) per bracket.
PAPER_R81 = [
    (4, [81, 27, 9, 3, 1], [1, 3, 9, 27, 81]),
    (3, [34, 11, 3, 1], [3, 9, 27, 81]),
    (2, [15, 5, 1], [9, 27, 81]),
    (1, [8, 2], [27, 81]),
    (0, [5], [81]),
]

SPACE = {"x": Real(0.0, 1.0)}


def quality_objective(params):
    """A learning curve: quality x plus 1 / budget (lower is better)."""
    return params["x"] + 1.0 / params["epochs"], TrialState.COMPLETED


def drive(strategy, objective=quality_objective, workers=1, seed=None, limit=None):
    """Ask and tell like a run loop with ``workers`` slots; returns the asked params.

    With ``seed``, results are told in a random order (as parallel workers
    finish); otherwise first in, first out. Checks that ``ready`` predicts
    whether ``ask`` returns a trial.
    """
    rng = random.Random(seed)
    running, asked = [], []
    done = False
    while True:
        while not done and len(running) < workers and (limit is None or len(asked) < limit):
            ready = strategy.ready
            try:
                params = strategy.ask()
            except WaitForResults:
                assert not ready and running  # it waits only for a running trial
                break
            except StrategyExhausted:
                assert not ready
                done = True
                break
            assert ready
            running.append(params)
            asked.append(params)
        if not running:
            return asked
        params = running.pop(rng.randrange(len(running)) if seed is not None else 0)
        value, state = objective(params)
        strategy.tell(params, value, state)


def sampled(params):
    return {k: v for k, v in params.items() if k != "epochs"}


def hyperband(seed=0, **kw):
    kw = {"max_resource": 81, "eta": 3, **kw}
    return HyperbandStrategy(SPACE, "epochs", seed=seed, **kw)


# -- Hyperband: the brackets ------------------------------------------------------


def test_the_plan_for_r81_eta3_is_the_papers_table():
    strategy = hyperband()
    assert [(b["s"], b["n"], b["budget"]) for b in strategy.plan] == PAPER_R81
    assert strategy.size == sum(sum(n) for _, n, _ in PAPER_R81) == 206


def test_driving_r81_eta3_runs_the_papers_table_with_the_best_promoted():
    asked = drive(hyperband(seed=1))
    # Serially, the brackets run one after another, rung by rung.
    expected = [r for _, ns, rs in PAPER_R81 for n, r in zip(ns, rs) for _ in range(n)]
    assert [p["epochs"] for p in asked] == expected
    counts, at = Counter(), 0
    for s, ns, _ in PAPER_R81:
        rungs = []
        for n in ns:
            rung = asked[at : at + n]
            at += n
            counts.update((s, p["epochs"]) for p in rung)
            rungs.append([p["x"] for p in rung])
        assert len(set(rungs[0])) == ns[0]  # fresh configurations at the first rung
        for lower, upper in zip(rungs, rungs[1:]):
            # the best 1/eta of a rung, best first (same budget: ranked by quality)
            assert upper == sorted(lower)[: len(upper)]
    assert counts == Counter({(s, r): n for s, ns, rs in PAPER_R81 for n, r in zip(ns, rs)})


def test_budgets_are_rounded_ints_for_int_resources_and_floats_otherwise():
    assert budget_ladder(81, 1, 3) == [1, 3, 9, 27, 81]
    assert budget_ladder(100, 1, 3) == [1, 4, 11, 33, 100]
    assert budget_ladder(100, 5, 2) == [6, 13, 25, 50, 100]
    assert budget_ladder(2.0, 0.25, 2) == [0.25, 0.5, 1.0, 2.0]
    strategy = hyperband(max_resource=100)
    assert [b["budget"] for b in strategy.plan][0] == [1, 4, 11, 33, 100]
    assert all(isinstance(p["epochs"], int) for p in drive(strategy))
    assert all(isinstance(p["epochs"], float) for p in drive(hyperband(max_resource=9.0)))


def test_parallel_workers_run_the_same_trials_as_one_worker():
    serial = drive(hyperband(seed=2))
    for workers, seed in [(3, 0), (8, 1)]:
        parallel = drive(hyperband(seed=2), workers=workers, seed=seed)
        assert len(parallel) == 206
        assert Counter(map(_freeze, parallel)) == Counter(map(_freeze, serial))
        assert [p["epochs"] for p in parallel] != [p["epochs"] for p in serial]  # looked ahead


def test_a_waiting_rung_lets_the_next_bracket_start_then_the_strategy_waits():
    strategy = hyperband(max_resource=9)  # brackets: 9 at 1 -> 3 at 3 -> 1 at 9; 5 at 3...
    first = [strategy.ask() for _ in range(9)]
    assert [p["epochs"] for p in first] == [1] * 9
    nxt = strategy.ask()  # rung 0 of bracket s=2 is not complete: bracket s=1 starts
    assert nxt["epochs"] == 3
    for _ in range(4 + 3):  # the rest of bracket s=1's rung and bracket s=0's configurations
        strategy.ask()
    assert not strategy.ready
    with pytest.raises(WaitForResults, match="waits for 9 result"):
        strategy.ask()
    for p in first:
        strategy.tell(p, p["x"])
    assert strategy.ready
    promoted = strategy.ask()
    assert promoted["epochs"] == 3 and promoted["x"] == min(p["x"] for p in first)


def test_failed_and_stopped_trials_finish_their_rung_but_are_never_promoted():
    def objective(params):
        if params["x"] < 0.2:
            return None, TrialState.FAILED
        if params["x"] < 0.4:
            return params["x"] - 10, TrialState.STOPPED  # a tempting value: still not promoted
        return quality_objective(params)

    asked = drive(hyperband(seed=3, max_resource=27), objective)
    assert Counter(p["epochs"] for p in asked)[1] == 27  # the first rung runs in full
    first_budget = {}
    for p in asked:
        first_budget.setdefault(p["x"], p["epochs"])
    promoted = [p for p in asked if p["epochs"] > first_budget[p["x"]]]
    assert promoted and not [p for p in promoted if p["x"] < 0.4]
    # All trials of every rung failing ends the bracket early instead of waiting forever.
    everything_fails = drive(hyperband(seed=3, max_resource=27), lambda p: (None, "failed"))
    assert Counter(p["epochs"] for p in everything_fails) == {1: 27, 3: 12, 9: 6, 27: 4}


def test_a_finite_space_gives_each_bracket_distinct_configurations():
    strategy = HyperbandStrategy({"n": Integer(1, 4)}, "epochs", 27, seed=0)
    assert [b["n"][0] for b in strategy.plan] == [4, 4, 4, 4]  # capped at the 4 points
    asked = drive(strategy, lambda p: (p["n"] + 1 / p["epochs"], "completed"))
    assert len(asked) == strategy.size
    first = [p["n"] for p in asked if p["epochs"] == 1]
    assert sorted(first) == [1, 2, 3, 4]


def test_the_same_seed_gives_the_same_trials_and_another_seed_others():
    a, b, c = (drive(hyperband(seed=s, max_resource=27)) for s in (5, 5, 6))
    assert a == b
    assert [p["x"] for p in a] != [p["x"] for p in c]


# -- ASHA ---------------------------------------------------------------------------


def asha(seed=0, **kw):
    kw = {"max_resource": 9, "eta": 3, **kw}
    return ASHAStrategy(SPACE, "epochs", seed=seed, **kw)


def test_asha_promotes_the_top_third_of_a_rung_best_first_and_once():
    strategy = asha()  # rungs 1, 3, 9
    first = [strategy.ask() for _ in range(6)]  # nothing finished: six new configurations
    assert [p["epochs"] for p in first] == [1] * 6
    for p, v in zip(first, [0.6, 0.2, 0.9, 0.1, 0.5, 0.7]):
        strategy.tell(p, v)
    # 6 finished at rung 0: the best 6 // 3 = 2 are promoted, best first.
    p1, p2 = strategy.ask(), strategy.ask()
    assert (sampled(p1), p1["epochs"]) == (sampled(first[3]), 3)
    assert (sampled(p2), p2["epochs"]) == (sampled(first[1]), 3)
    fresh = strategy.ask()  # nothing left to promote: a new configuration at the bottom
    assert fresh["epochs"] == 1 and sampled(fresh) not in [sampled(p) for p in first]
    strategy.tell(fresh, 0.05)  # 7 finished: top 2 are fresh and first[3]; fresh is new
    p3 = strategy.ask()
    assert (sampled(p3), p3["epochs"]) == (sampled(fresh), 3)
    for p, v in [(p1, 0.4), (p2, 0.3), (p3, 0.35)]:
        strategy.tell(p, v)
    top = strategy.ask()  # rung 1 has 3 results: its best goes to the top rung
    assert (sampled(top), top["epochs"]) == (sampled(first[1]), 9)
    strategy.tell(top, 0.01)
    assert strategy.ask()["epochs"] == 1  # the top rung is never promoted from
    assert strategy.rungs == [
        {"budget": 1, "finished": 7, "promoted": 3},
        {"budget": 3, "finished": 3, "promoted": 1},
        {"budget": 9, "finished": 1, "promoted": 0},
    ]


def test_asha_never_promotes_twice_or_beyond_max_resource_or_a_failed_trial():
    def objective(params):
        if params["x"] < 0.1:
            return None, TrialState.FAILED
        return quality_objective(params)

    asked = drive(asha(seed=1, max_resource=27), objective, workers=4, seed=0, limit=300)
    trials = Counter(map(_freeze, asked))
    assert max(trials.values()) == 1  # no (configuration, budget) twice
    assert {p["epochs"] for p in asked} == {1, 3, 9, 27}
    assert not [p for p in asked if p["x"] < 0.1 and p["epochs"] > 1]
    by_config = Counter(_freeze(sampled(p)) for p in asked)
    assert max(by_config.values()) == 4  # some went all the way up, none further


def test_asha_brackets_start_higher_up_the_ladder_in_turn():
    strategy = asha(max_resource=27, brackets=3)
    assert [strategy.ask()["epochs"] for _ in range(6)] == [1, 3, 9, 1, 3, 9]
    with pytest.raises(ArgumentError, match="brackets must be an int from 1 to 4"):
        asha(max_resource=27, brackets=5)


def test_asha_in_a_small_finite_space_waits_then_runs_out():
    strategy = ASHAStrategy({"n": [1, 2, 3]}, "epochs", 9, seed=0)
    trials = [strategy.ask() for _ in range(3)]
    with pytest.raises(WaitForResults):
        strategy.ask()
    for p in trials:
        strategy.tell(p, p["n"])
    promoted = strategy.ask()
    assert (promoted["n"], promoted["epochs"]) == (1, 3)
    strategy.tell(promoted, 0.5)
    with pytest.raises(StrategyExhausted):
        strategy.ask()


def test_asha_is_deterministic_given_the_seed_and_the_order_of_tells():
    a = drive(asha(seed=4), workers=3, seed=9, limit=60)
    b = drive(asha(seed=4), workers=3, seed=9, limit=60)
    c = drive(asha(seed=5), workers=3, seed=9, limit=60)
    assert a == b and a != c


# -- resume -----------------------------------------------------------------------


@pytest.mark.parametrize("make", [hyperband, asha], ids=["hyperband", "asha"])
def test_a_restored_strategy_continues_like_an_uninterrupted_one(make):
    whole = drive(make(seed=7), limit=120)
    original = make(seed=7)
    history = []
    for _ in range(len(whole) // 2):
        params = original.ask()
        value, state = quality_objective(params)
        original.tell(params, value, state)
        history.append((params, value, state))
    restored = make(seed=7)
    restored.restore(history)
    assert [p for p, _, _ in history] + drive(restored, limit=60) == whole
    # With trials that were running: they are pending, then run again first.
    running = [original.ask(), original.ask()]
    restored = make(seed=7)
    restored.restore(history, running)
    assert restored.pending == running
    for strategy in (original, restored):
        for params in running:
            strategy.tell(params, *quality_objective(params))
    assert drive(restored, limit=50) == drive(original, limit=50)


def test_restoring_trials_told_out_of_order_finds_their_rungs():
    whole = drive(hyperband(seed=8, max_resource=27), workers=4, seed=3)
    # Stored in start order, told in that order on resume, whatever order they ended in.
    half = whole[: len(whole) // 2]
    restored = hyperband(seed=8, max_resource=27)
    restored.restore([(p, *quality_objective(p)) for p in half])
    rest = drive(restored, workers=4, seed=3)
    assert Counter(map(_freeze, half + rest)) == Counter(map(_freeze, whole))


def test_trials_that_are_not_the_strategys_own_are_kept_but_ignored():
    strategy = hyperband(max_resource=9)
    strategy.tell({"x": 0.5, "epochs": 2}, 1.0)  # no rung has budget 2
    assert len(strategy.history) == 1
    assert drive(strategy) == drive(hyperband(max_resource=9))


# -- arguments --------------------------------------------------------------------


def _search(**kw):
    args = dict(
        base_config={"training": {"epochs": 1, "lr": 0.1}, "model": {}},
        search_space={"model.x": Real(0.0, 1.0)},
        metric="loss",
        resource_key="training.epochs",
        max_resource=27,
        asynchronous=False,
        random_state=0,
    )
    args.update(kw)
    return HyperbandSearch(**args)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"resource_key": "model.x"}, "resource_key 'model.x' overlaps the search space key"),
        ({"resource_key": "model"}, "overlaps the search space key 'model.x'"),
        ({"resource_key": None}, "resource_key is required"),
        ({"resource_key": "a..b"}, "dotted config key"),
        ({"max_resource": None}, "max_resource is required"),
        ({"max_resource": 1}, "max_resource must be > min_resource"),
        ({"min_resource": 0}, "min_resource must be > 0"),
        ({"max_resource": float("inf")}, "max_resource must be a finite number"),
        ({"eta": 1.5}, "eta must be >= 2"),
        ({"eta": True}, "eta must be a finite number"),
        ({"max_resource": 2, "eta": 3}, "no halving to do"),
        ({"asynchronous": True}, r"n_trials is required with asynchronous=True.*\(69 trials"),
        ({"asynchronous": "yes"}, "asynchronous must be True or False"),
        ({"brackets": 2}, "brackets=2 is for ASHA"),
        ({"sampler": "tpe"}, "sampler must be one of"),
    ],
)
def test_bad_arguments_fail_before_any_trial_naming_the_argument(kw, match):
    with pytest.raises(ArgumentError, match=match):
        _search(**kw)


def test_a_resource_key_the_base_config_cannot_take_fails_early():
    with pytest.raises(ConfigError, match="training.epochs"):
        _search(base_config={"training": 5})


# -- HyperbandSearch end to end ---------------------------------------------------


def _check_budgets_reach_the_trials(search):
    for t in search.trials:
        budget = t.params["training.epochs"]
        assert t.metrics["budget_seen"] == t.metrics["epochs_seen"] == budget


def test_hyperband_search_serial_finds_the_best_configuration_cheaply():
    search = _search()
    best_config, best_score = search.run(hb_fns.learning_curve)
    assert len(search.trials) == search.size == 69
    assert all(t.state is TrialState.COMPLETED for t in search.trials)
    _check_budgets_reach_the_trials(search)
    configs = {t.params["model.x"] for t in search.trials}
    # Each bracket's best configuration reaches R, so the best of all is found.
    assert search.best_params["model.x"] == min(configs)
    assert best_config == {"training": {"epochs": 27, "lr": 0.1}, "model": {"x": min(configs)}}
    assert best_score == pytest.approx(min(configs) + 1 / 27)
    spent = sum(t.params["training.epochs"] for t in search.trials)
    assert spent == 423 and spent < 0.35 * len(configs) * 27


def test_asha_search_serial_promotes_and_respects_n_trials():
    search = _search(asynchronous=True, n_trials=40, max_resource=9, mode="max", metric="neg")

    def train_fn(config, trial):
        return {"neg": -(config["model"]["x"] + 1 / config["training"]["epochs"]),
                "budget": trial.budget}

    search.run(train_fn)
    assert len(search.trials) == 40
    assert all(t.metrics["budget"] == t.params["training.epochs"] for t in search.trials)
    budgets = Counter(t.params["training.epochs"] for t in search.trials)
    assert set(budgets) == {1, 3, 9} and budgets[1] > budgets[3] > budgets[9]
    # mode='max': promoted configurations are the best (largest) of their rung
    assert search.best_trial.params["training.epochs"] == 9


def test_stopped_trials_are_not_promoted_in_a_search():
    from hpcore.stopping import ThresholdStopping

    search = _search(base_config={"training": {"epochs": 1}, "model": {}, "report": True})
    search.run(hb_fns.learning_curve, stopping=ThresholdStopping(threshold=1.3, after_step=1))
    stopped = [t for t in search.trials if t.state is TrialState.STOPPED]
    assert stopped  # x > 0.3 is stopped at its second epoch
    for t in stopped:
        assert t.params["model.x"] > 0.3
        later = [u for u in search.trials if u.params["model.x"] == t.params["model.x"]
                 and u.params["training.epochs"] > t.params["training.epochs"]]
        assert not later


def test_resume_of_a_hyperband_search_continues_its_brackets(tmp_path):
    root = tmp_path / "hb"
    _search(n_trials=30).run(hb_fns.learning_curve, experiment_root=root)
    resumed = _search()
    resumed.run(hb_fns.learning_curve, experiment_root=root)
    reference = _search()
    reference.run(hb_fns.learning_curve)
    assert [t.params for t in resumed.trials] == [t.params for t in reference.trials]
    assert len(hpcore.load(root).trials) == 69


@pytest.mark.slow
def test_hyperband_search_in_two_processes_runs_the_serial_trials():
    serial = _search(max_resource=9)
    serial.run(hb_fns.learning_curve)
    parallel = _search(max_resource=9)
    parallel.run(hb_fns.learning_curve, n_jobs=2)
    assert len(parallel.trials) == parallel.size == 22  # nothing lost while rungs waited
    assert len({t.metrics["pid"] for t in parallel.trials}) == 2
    _check_budgets_reach_the_trials(parallel)
    key = lambda t: (t.params["model.x"], t.params["training.epochs"])  # noqa: E731
    assert Counter(map(key, parallel.trials)) == Counter(map(key, serial.trials))
    assert parallel.best_params == serial.best_params


@pytest.mark.slow
def test_asha_search_in_two_processes_promotes():
    search = _search(asynchronous=True, n_trials=24, max_resource=9)
    search.run(hb_fns.learning_curve, n_jobs=2)
    assert len(search.trials) == 24
    _check_budgets_reach_the_trials(search)
    budgets_of = {}
    for t in search.trials:
        budgets_of.setdefault(t.params["model.x"], []).append(t.params["training.epochs"])
    assert any(len(b) >= 2 for b in budgets_of.values())  # promoted: seen at two budgets
    assert all(b == sorted(set(b)) for b in budgets_of.values())  # each budget once, upwards


def _freeze(params):
    return tuple(sorted(params.items()))
