"""Early-stopping rules on hand-made curves, and stopping inside real searches."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import train_fns
from hypothesis import given
from hypothesis import strategies as st

from hpcore import GridSearch, RandomSearch, TrialState, TrialStopped
from hpcore.errors import ArgumentError
from hpcore.search.space import Real
from hpcore.stopping import (
    AnyOf,
    BudgetStopping,
    ImprovementStopping,
    MedianStopping,
    SearchBudget,
    ThresholdStopping,
    as_rule,
)


def _curve(values, start=0):
    return [(start + i, float(v)) for i, v in enumerate(values)]


# -- rules on hand-made curves ------------------------------------------------------


def test_median_stops_a_trial_worse_than_the_median_at_its_step():
    rule = MedianStopping(grace_steps=2, min_trials=3).bind("min")
    others = {1: _curve([5, 4, 3, 2]), 2: _curve([5, 4, 3, 2.5]), 3: _curve([6, 5, 4, 3])}
    assert rule.decide(0, _curve([9, 9]), others, 0.0) is None  # grace
    assert "median 3" in rule.decide(0, _curve([9, 9, 9]), others, 0.0)
    assert rule.decide(0, _curve([9, 9, 2.9]), others, 0.0) is None  # its best beats the median
    # Too few others have reached step 3: no decision.
    assert rule.decide(0, _curve([9, 9, 9, 9]), {1: others[1], 2: _curve([1, 1])}, 0.0) is None


def test_median_respects_mode_max():
    rule = MedianStopping(grace_steps=0, min_trials=1).bind("max")
    others = {1: _curve([0.9]), 2: _curve([0.8]), 3: _curve([0.7])}
    assert rule.decide(0, _curve([0.5]), others, 0.0) is not None
    assert rule.decide(0, _curve([0.85]), others, 0.0) is None


def test_improvement_stops_after_patience_reports_without_gain():
    rule = ImprovementStopping(patience=3, min_delta=0.1).bind("min")
    assert rule.decide(0, _curve([1.0, 0.95, 0.93, 0.92]), {}, 0.0) is not None
    assert rule.decide(0, _curve([1.0, 0.95, 0.93, 0.8]), {}, 0.0) is None
    assert rule.decide(0, _curve([1.0, 0.95, 0.93]), {}, 0.0) is None
    up = ImprovementStopping(patience=2).bind("max")
    assert up.decide(0, _curve([0.1, 0.2, 0.2, 0.2]), {}, 0.0) is not None
    assert up.decide(0, _curve([0.1, 0.2, 0.2, 0.3]), {}, 0.0) is None


def test_threshold_and_budget():
    thr = ThresholdStopping(threshold=0.5, after_step=2).bind("min")
    assert thr.decide(0, _curve([0.9, 0.8]), {}, 0.0) is None  # before after_step
    assert thr.decide(0, _curve([0.9, 0.8, 0.7]), {}, 0.0) is not None
    assert thr.decide(0, _curve([0.9, 0.4, 0.7]), {}, 0.0) is None  # it did get below
    bud = BudgetStopping(max_steps=5, max_seconds=10).bind("min")
    assert bud.decide(0, _curve([1] * 5), {}, 1.0) is None  # steps 0..4
    assert bud.decide(0, _curve([1] * 6), {}, 1.0) is not None
    assert bud.decide(0, _curve([1]), {}, 11.0) is not None


def test_any_of_combines_and_bad_rules_are_refused():
    rule = as_rule([ImprovementStopping(patience=1), ThresholdStopping(threshold=0.0)])
    assert isinstance(rule, AnyOf)
    rule.bind("min")
    assert rule.decide(0, _curve([1.0]), {}, 0.0) is not None  # threshold says so
    with pytest.raises(ArgumentError, match="patience"):
        ImprovementStopping(patience=0)
    with pytest.raises(ArgumentError, match="max_steps or max_seconds"):
        BudgetStopping()
    with pytest.raises(ArgumentError, match="StoppingRule"):
        as_rule(["median"])


@given(values=st.lists(st.floats(-100, 100), min_size=1, max_size=30),
       patience=st.integers(1, 5))
def test_improvement_never_stops_a_curve_that_keeps_improving(values, patience):
    strictly = sorted(set(values), reverse=True)  # strictly decreasing: always improving
    rule = ImprovementStopping(patience=patience).bind("min")
    assert rule.decide(0, _curve(strictly), {}, 0.0) is None


@given(mine=st.lists(st.floats(-10, 10), min_size=1, max_size=10),
       others=st.lists(st.lists(st.floats(-10, 10), min_size=1, max_size=10), max_size=8))
def test_median_never_stops_the_best_curve(mine, others):
    # A trial at least as good as every other at every step is never stopped.
    best = [min([m] + [o[i] for o in others if i < len(o)]) for i, m in enumerate(mine)]
    rule = MedianStopping(grace_steps=0, min_trials=1).bind("min")
    book = {k + 1: _curve(o) for k, o in enumerate(others)}
    assert rule.decide(0, _curve(best), book, 0.0) is None


# -- in real searches -------------------------------------------------------------


def test_hopeless_trials_are_stopped_and_recorded_with_their_last_value():
    space = {"level": [0.0, 0.1, 5.0, 6.0]}
    search = GridSearch({"steps": 30}, space, allow_new_keys=True)
    search.run(train_fns.curve, stopping=MedianStopping(grace_steps=3, min_trials=2))
    states = [t.state for t in search.trials]
    assert states == [TrialState.COMPLETED] * 2 + [TrialState.STOPPED] * 2
    for t in search.trials[2:]:
        assert len(t.reports) == 4  # stopped at its first report after the grace steps
        assert t.value == t.reports[-1]["value"]
        assert t.error.startswith("stopped early: MedianStopping: ") and "median" in t.error
    assert search.best_trial.trial_id == 0


def test_the_rule_that_stopped_a_trial_is_named_also_among_several():
    space = {"level": [0.0, 0.1, 5.0, 6.0]}
    search = GridSearch({"steps": 30}, space, allow_new_keys=True)
    search.run(train_fns.curve, stopping=[ThresholdStopping(threshold=100.0),
                                          MedianStopping(grace_steps=3, min_trials=2)])
    stopped = [t for t in search.trials if t.state is TrialState.STOPPED]
    assert stopped and all(t.error.startswith("stopped early: MedianStopping: ") for t in stopped)


def test_a_trial_may_catch_trial_stopped_and_return():
    search = GridSearch({"steps": 30}, {"level": [0.0, 5.0]}, allow_new_keys=True)
    search.run(train_fns.curve_catches_stop, stopping=ThresholdStopping(1.0, after_step=2))
    bad = search.trials[1]
    assert bad.state is TrialState.STOPPED and bad.value == -123.0
    assert search.best_trial.trial_id == 1  # stopped trials count, with the value they return


def test_should_stop_can_be_polled_instead():
    def fn(config, trial):
        for step in range(50):
            trial.report(step, config["level"])
            if trial.should_stop:  # decided on this report; the next one would raise
                return {"loss": config["level"], "stopped_at": step}
        return {"loss": config["level"], "stopped_at": 50}

    search = GridSearch({}, {"level": [0.0, 10.0]}, metric="loss")
    search.run(fn, stopping=ThresholdStopping(threshold=1.0))
    assert search.trials[0].state is TrialState.COMPLETED
    assert search.trials[1].state is TrialState.STOPPED
    assert search.trials[1].metrics["stopped_at"] == 0


@pytest.mark.slow
def test_stopping_works_across_processes_long_before_the_last_step():
    space = {"level": [0.0, 0.05, 0.1, 5.0, 6.0, 7.0]}
    search = GridSearch({"steps": 300, "pause": 0.01}, space, allow_new_keys=True)
    search.run(train_fns.curve, n_jobs=2,
               stopping=MedianStopping(grace_steps=3, min_trials=2))
    hopeless = [t for t in search.trials if t.params["level"] >= 5.0]
    assert all(t.state is TrialState.STOPPED for t in hopeless)
    assert all(len(t.reports) < 30 for t in hopeless)  # out of 300 steps
    # The first two run side by side with fewer than min_trials peers: never stopped.
    # (Level 0.1 is worse than both at every step, so the median rule stops it too.)
    assert [t.state for t in search.trials[:2]] == [TrialState.COMPLETED] * 2


def test_a_target_value_ends_the_search():
    search = RandomSearch({"steps": 3}, {"level": Real(0, 1)}, n_trials=200, random_state=0, allow_new_keys=True)
    search.run(train_fns.curve, search_budget=SearchBudget(target=0.5))
    assert search.stop_reason is not None and "target" in search.stop_reason
    assert len(search.trials) < 200
    assert search.best_score <= 0.5


@pytest.mark.slow
def test_a_wall_time_budget_stops_launching_and_stops_running_trials():
    search = RandomSearch({"steps": 1000, "pause": 0.01}, {"level": Real(0, 1)},
                          n_trials=100, random_state=0, allow_new_keys=True)
    search.run(train_fns.curve, n_jobs=2, search_budget=SearchBudget(max_seconds=3.0))
    assert "max_seconds" in search.stop_reason
    assert len(search.trials) == 2  # each trial would take 10 s
    assert all(t.state is TrialState.STOPPED for t in search.trials)
    assert search.best_trial.value == search.best_trial.reports[-1]["value"]


def test_trial_stopped_is_importable_from_the_top():
    assert issubclass(TrialStopped, Exception)


# -- trial.report's argument order (issue 15: a swapped report silently did nothing) ----


def test_a_report_with_value_and_step_swapped_stops_the_search_naming_the_order():
    from hpcore import ResultError

    def fn(config, trial):
        for epoch in range(5):
            trial.report(0.5 / (epoch + 1), epoch)  # Optuna's order
        return 0.1

    search = GridSearch({}, {"level": [0.0, 1.0, 2.0]})
    with pytest.raises(ResultError) as info:
        search.run(fn, stopping=MedianStopping(grace_steps=1, min_trials=1))
    msg = str(info.value)
    assert "step must be a whole number" in msg and "did you mean report(0, 0.5)?" in msg
    assert len(search.trials) == 1  # the first trial said it; nothing else ran


@pytest.mark.parametrize("step", [0.5, float("nan"), True, "3"])
def test_a_step_that_is_not_a_whole_number_is_refused(step):
    from hpcore import ResultError
    from hpcore.trial import Trial

    with pytest.raises(ResultError, match="step must be a whole number"):
        Trial(0, {}).report(step, 1.0)


def test_the_metric_can_be_reported_by_its_name_and_stopping_sees_it():
    def fn(config, trial):
        for step in range(30):
            trial.report(step, val_loss=config["level"], grad_norm=0.5)
        return {"val_loss": config["level"]}

    search = GridSearch({}, {"level": [0.0, 0.1, 5.0, 6.0]}, metric="val_loss")
    search.run(fn, stopping=MedianStopping(grace_steps=3, min_trials=2))
    assert [t.state for t in search.trials] == [TrialState.COMPLETED] * 2 + [
        TrialState.STOPPED] * 2
    first = search.trials[0].reports[0]
    assert first["value"] == 0.0 and first["grad_norm"] == 0.5 and "val_loss" not in first
    # Integral floats and numpy integers are steps too.
    from hpcore import ResultError
    from hpcore.trial import Trial

    handle = Trial(0, {}, metric="val_loss")
    handle.report(2.0, 1.0)
    handle.report(np.int64(3), val_loss=0.5)
    assert [r["step"] for r in handle.reports] == [2, 3]
    with pytest.raises(ResultError, match="given twice"):
        handle.report(4, 0.1, val_loss=0.2)
