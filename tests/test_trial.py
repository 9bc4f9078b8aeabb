"""The one trial record: immutable, one JSON form, one best-trial rule."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpcore.executor import Objective
from hpcore.trial import FrozenTrial, TrialState, best_of, ranked, to_records

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
plain = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | finite | st.text(max_size=8)
records = st.builds(
    FrozenTrial,
    trial_id=st.integers(0, 10**6),
    params=st.dictionaries(st.text(min_size=1, max_size=10), plain, max_size=5),
    state=st.sampled_from(TrialState),
    values=st.none() | st.lists(finite, min_size=1, max_size=3).map(tuple),
    metrics=st.dictionaries(st.text(min_size=1, max_size=8), finite, max_size=4),
    error=st.none() | st.text(max_size=20),
    traceback=st.none() | st.text(max_size=20),
    start=st.none() | finite,
    end=st.none() | finite,
    reports=st.lists(st.fixed_dictionaries({"step": st.integers(0, 100), "value": finite}),
                     max_size=4),
    devices=st.lists(st.integers(0, 7), max_size=3).map(tuple),
    host=st.none() | st.text(max_size=10),
    attempts=st.integers(1, 5),
    output=st.none() | st.text(max_size=20),
    budget=st.none() | finite,
)


@given(records)
def test_to_dict_is_json_and_from_dict_reads_it_back(trial):
    data = json.loads(json.dumps(trial.to_dict()))
    assert FrozenTrial.from_dict(data) == trial
    assert data["value"] == trial.value and data["duration"] == trial.duration
    summary = trial.to_dict(reports=False)
    assert "reports" not in summary and "output" not in summary


def test_from_dict_reads_an_older_result_json_with_value_only():
    old = {"trial_id": 3, "state": "completed", "value": 0.25, "params": {"x": 1},
           "metrics": {"loss": 0.25}, "attempts": 2, "devices": [0]}
    t = FrozenTrial.from_dict(old)
    assert (t.values, t.value, t.attempts, t.devices) == ((0.25,), 0.25, 2, (0,))


def test_a_record_never_changes_in_place():
    t = FrozenTrial(0, {"x": 1.0}, TrialState.RUNNING, start=1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.state = TrialState.COMPLETED  # type: ignore[misc]
    done = dataclasses.replace(t, state=TrialState.COMPLETED, values=(0.5,), end=3.0)
    assert t.state is TrialState.RUNNING and t.value is None
    assert (done.value, done.duration) == (0.5, 2.0)


def test_restarted_and_interrupted_make_the_records_of_a_trials_next_run():
    failed = FrozenTrial(4, {"x": 1.0}, TrialState.FAILED, error="boom", start=1.0, end=2.0,
                         reports=[{"step": 0}], host="h", devices=(1,), attempts=1, budget=3.0)
    again = failed.restarted(start=10.0)
    assert (again.state, again.attempts, again.attempt, again.start) == (
        TrialState.RUNNING, 2, 1, 10.0)
    assert again.error is None and again.reports == [] and again.end is None
    assert (again.params, again.budget, again.trial_id) == (failed.params, 3.0, 4)
    cut = again.interrupted(end=12.0)
    assert (cut.state, cut.end, cut.attempts) == (TrialState.INTERRUPTED, 12.0, 2)
    assert not cut.state.is_finished


def test_a_single_number_is_one_objective():
    assert FrozenTrial(0, {}, TrialState.COMPLETED, 0.3).values == (0.3,)
    assert FrozenTrial(0, {}, "completed", [1, 2]).values == (1.0, 2.0)
    assert FrozenTrial(0, {}, "completed", [1, 2]).state is TrialState.COMPLETED
    assert FrozenTrial(0, {}).value is None


def _t(i, state, value):
    return FrozenTrial(i, {"i": i}, state, value)


@pytest.mark.parametrize("mode, best", [("min", 1), ("max", 3)])
def test_one_best_trial_rule(mode, best):
    trials = [
        _t(0, TrialState.COMPLETED, 0.5),
        _t(1, TrialState.STOPPED, 0.1),  # stopped trials compete with their last value
        _t(2, TrialState.FAILED, None),
        _t(3, TrialState.COMPLETED, 0.9),
        _t(4, TrialState.COMPLETED, math.nan),  # never best
        _t(5, TrialState.INTERRUPTED, -1.0),  # not finished: never best
        _t(6, TrialState.COMPLETED, 0.1),  # ties go to the earlier trial (1)
    ]
    assert best_of(trials, mode).trial_id == best
    order = [t.trial_id for t in ranked(trials, mode)]
    assert order == ([1, 6, 0, 3] if mode == "min" else [3, 0, 1, 6])
    assert best_of([_t(0, TrialState.FAILED, None)], mode) is None


def test_to_records_summarises_each_record():
    t = FrozenTrial(2, {"x": (1, 2)}, TrialState.COMPLETED, 0.5, metrics={"loss": 0.5},
                    start=1.0, end=4.0, reports=[{"step": 0}, {"step": 1}])
    (rec,) = to_records([t])
    assert rec == {"trial_id": 2, "state": "completed", "value": 0.5, "params": {"x": [1, 2]},
                   "metrics": {"loss": 0.5}, "duration": 3.0, "start": 1.0, "end": 4.0,
                   "error": None, "n_reports": 2}


def test_the_objective_knows_whether_train_fn_takes_the_trial():
    assert not Objective(lambda config: 0.0).pass_trial
    assert Objective(lambda config, trial: 0.0).pass_trial
    assert Objective(lambda *args: 0.0).pass_trial
    assert Objective(lambda config, trial=None: 0.0, "loss").pass_trial


def test_evolve_is_replace_with_the_same_checks():
    import dataclasses

    t = FrozenTrial(3, {"x": 1}, TrialState.RUNNING, start=1.0)
    for changes in ({"state": "completed", "values": 0.5, "end": 2.0}, {"output": "log"},
                    {"values": [1, 2]}, {}):
        assert t.evolve(**changes) == dataclasses.replace(t, **changes)
    ended = t.evolve(state="completed", values=0.5)
    assert ended.state is TrialState.COMPLETED and ended.values == (0.5,) and t.values is None
    with pytest.raises(TypeError, match="no field 'valuez'"):
        t.evolve(valuez=1.0)
