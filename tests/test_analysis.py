"""hpcore.analysis: tables, top trials, parameter summaries and importance.

The importance tests use functions whose functional-ANOVA shares are known:
``10 x1 + 0.1 x2`` (shares 0.9999, 0.0001, 0), a pure interaction
``(x1 - 1/2)(x2 - 1/2)`` (every main effect 0), and log, integer and
categorical parameters whose effect is a known function of the encoding.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import hpcore
from hpcore import Categorical, Integer, RandomSearch, Real, SearchSpace
from hpcore.analysis import importance, param_summary, top_k, trials_table
from hpcore.errors import ArgumentError
from hpcore.trial import FrozenTrial, TrialState


@dataclass
class Trials:
    """A stand-in for a finished search: what the analysis functions read."""

    trials: list[FrozenTrial]
    space: Any
    mode: str = "min"
    metric: str | None = None
    extra: dict = field(default_factory=dict)


def make(space: dict, rows: list[dict], values, mode: str = "min", states=None) -> Trials:
    states = states or [TrialState.COMPLETED] * len(rows)
    trials = [
        FrozenTrial(
            trial_id=i,
            params=p,
            state=s,
            values=None if v is None else (float(v),),
            start=100.0 + i,
            end=101.5 + i,
        )
        for i, (p, v, s) in enumerate(zip(rows, values, states))
    ]
    return Trials(trials, SearchSpace(space), mode)


def uniform_trials(fn, n: int = 200, d: int = 3, noise: float = 0.0, seed: int = 0) -> Trials:
    rng = np.random.default_rng(seed)
    U = rng.random((n, d))
    y = fn(U) + noise * rng.normal(size=n)
    keys = [f"x{j + 1}" for j in range(d)]
    return make({k: Real(0.0, 1.0) for k in keys}, [dict(zip(keys, map(float, u))) for u in U], y)


def same(a, b, tol: float = 1e-7) -> bool:
    """Equal shares, up to float rounding.

    The GP kernels reassociate sums (fast-math), and where a vectorised loop
    starts depends on the memory alignment of their scratch arrays, so two
    identical calls can differ in the last bits: measured at most 3e-11 in
    the shares over 400 random data sets. Unseeded randomness would show as
    differences of 1e-3 and more.
    """
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y, tol) for x, y in zip(a, b))
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= tol for k in a)


# ---------------------------------------------------------------------------
# Importance: known answers
# ---------------------------------------------------------------------------


def test_linear_function_x1_dominates_and_unused_x3_gets_nothing():
    """10 x1 + 0.1 x2 + noise: x1 explains > 90 %, the unused x3 < 2 %."""
    data = uniform_trials(lambda U: 10 * U[:, 0] + 0.1 * U[:, 1], noise=0.3)
    imp = importance(data)
    assert list(imp)[0] == "x1"
    assert imp["x1"] > 0.9
    assert imp["x3"] < 0.02
    assert math.isclose(sum(imp.values()), 1.0)
    assert list(imp.values()) == sorted(imp.values(), reverse=True)


def test_interaction_only_pair_dominates_with_interactions():
    """(x1 - 1/2)(x2 - 1/2) has no main effects: the pair (x1, x2) carries the variance."""
    data = uniform_trials(lambda U: (U[:, 0] - 0.5) * (U[:, 1] - 0.5), noise=0.005)
    main, pairs = importance(data, interactions=True)
    assert set(pairs) == {("x1", "x2"), ("x1", "x3"), ("x2", "x3")}
    assert next(iter(pairs)) == ("x1", "x2")
    assert pairs[("x1", "x2")] > 0.8
    assert pairs[("x1", "x2")] > 10 * max(main.values())
    assert math.isclose(sum(main.values()) + sum(pairs.values()), 1.0)


def test_shares_with_interactions_rescale_the_main_shares():
    data = uniform_trials(lambda U: U[:, 0] + U[:, 0] * U[:, 1], n=60)
    alone = importance(data)
    main, pairs = importance(data, interactions=True)
    scale = 1.0 - sum(pairs.values())
    for key in alone:
        assert math.isclose(main[key], alone[key] * scale, rel_tol=1e-9, abs_tol=1e-12)


def test_log_integer_and_categorical_parameters():
    """A log-scaled lr, an integer and a categorical: shares follow the encoding.

    f = log10(lr) + 2 [opt == 'sgd'] + 0 * layers. In the encoding lr is uniform in
    log10 over 4 decades (variance 16/12 = 1.33) and 'sgd' is one of 3 levels
    (variance 4 * 2/9 = 0.89): shares 0.6 and 0.4, layers 0.
    """
    rng = np.random.default_rng(1)
    space = SearchSpace(
        {
            "lr": Real(1e-5, 1e-1, log=True),
            "layers": Integer(1, 8),
            "opt": Categorical(["adam", "sgd", "rmsprop"]),
        }
    )
    rows = space.sample(rng, 150)
    y = [math.log10(p["lr"]) + 2.0 * (p["opt"] == "sgd") for p in rows]
    imp = importance(make(dict(space), rows, y))
    assert abs(imp["lr"] - 0.6) < 0.05
    assert abs(imp["opt"] - 0.4) < 0.05
    assert imp["layers"] < 0.02


def test_integer_effect_is_found():
    rng = np.random.default_rng(2)
    space = {"n": Integer(1, 5), "u": Real(0, 1)}
    rows = SearchSpace(space).sample(rng, 80)
    y = [p["n"] ** 2 + 0.01 * p["u"] for p in rows]
    imp = importance(make(space, rows, y))
    assert imp["n"] > 0.99


def test_categorical_that_matters_gets_a_big_share():
    rng = np.random.default_rng(3)
    space = {"act": ["relu", "gelu", "tanh", "silu"], "x": Real(0, 1), "y": Real(0, 1)}
    rows = SearchSpace(space).sample(rng, 100)
    cost = {"relu": 0.0, "gelu": 0.1, "tanh": 3.0, "silu": 0.2}
    y = [cost[p["act"]] + 0.2 * p["x"] for p in rows]
    imp = importance(make(space, rows, y))
    assert list(imp)[0] == "act"
    assert imp["act"] > 0.9
    assert imp["y"] < 0.02


def test_failed_nan_and_valueless_trials_are_left_out():
    """Only completed/stopped trials with finite values count; the rest change nothing."""
    base = uniform_trials(lambda U: 3 * U[:, 0] + U[:, 1], n=60)
    noisy = Trials(list(base.trials), base.space)
    n = len(noisy.trials)
    extra = [
        FrozenTrial(n, {"x1": 0.5, "x2": 0.5, "x3": 0.5}, TrialState.FAILED, None),
        FrozenTrial(n + 1, {"x1": 0.1, "x2": 0.5, "x3": 0.5}, TrialState.FAILED, float("nan")),
        FrozenTrial(n + 2, {"x1": 0.2, "x2": 0.5, "x3": 0.5}, TrialState.COMPLETED, float("nan")),
        FrozenTrial(n + 3, {"x1": 0.3, "x2": 0.5, "x3": 0.5}, TrialState.RUNNING, None),
        FrozenTrial(n + 4, {"x1": 0.4, "x2": 0.5, "x3": 0.5}, TrialState.INTERRUPTED, 1e9),
        FrozenTrial(n + 5, {"x1": 0.6, "x2": 0.5, "x3": 0.5}, TrialState.TIMED_OUT, None),
    ]
    noisy.trials.extend(extra)
    assert same(importance(noisy), importance(base))


def test_stopped_trials_with_values_count():
    data = uniform_trials(lambda U: U[:, 0], n=30)
    stopped = Trials(
        [FrozenTrial(t.trial_id, t.params, TrialState.STOPPED, t.value) for t in data.trials],
        data.space,
    )
    assert same(importance(stopped), importance(data))


def test_deterministic_given_the_seed():
    data = uniform_trials(lambda U: np.sin(5 * U[:, 0]) + U[:, 1] * U[:, 2], n=80)
    assert same(importance(data, seed=3), importance(data, seed=3))
    a = importance(data, seed=3, interactions=True)
    assert same(a, importance(data, seed=3, interactions=True))
    assert not same(a, importance(data, seed=4, interactions=True), tol=1e-12)


def test_subset_beyond_max_trials_is_seeded():
    data = uniform_trials(lambda U: 5 * U[:, 0] + U[:, 1], n=120)
    a = importance(data, max_trials=50, seed=1)
    assert same(a, importance(data, max_trials=50, seed=1))
    assert a["x1"] > 0.9


def test_trial_order_does_not_matter():
    data = uniform_trials(lambda U: U[:, 0] + 0.5 * U[:, 1], n=40)
    shuffled = Trials(list(reversed(data.trials)), data.space)
    assert same(importance(shuffled), importance(data))


def test_constant_values_give_equal_shares():
    data = uniform_trials(lambda U: np.zeros(len(U)), n=20)
    assert importance(data) == {"x1": 1 / 3, "x2": 1 / 3, "x3": 1 / 3}
    main, pairs = importance(data, interactions=True)
    assert set(main.values()) == {1 / 3} and set(pairs.values()) == {0.0}


def test_one_parameter_gets_everything():
    data = make({"a": Real(0, 1)}, [{"a": 0.1}, {"a": 0.7}, {"a": 0.4}], [1.0, 2.0, 0.5])
    assert importance(data) == {"a": 1.0}
    assert importance(data, interactions=True) == ({"a": 1.0}, {})


def test_mode_max_gives_the_same_importance():
    data = uniform_trials(lambda U: U[:, 0] + 2 * U[:, 2], n=40)
    flipped = Trials(data.trials, data.space, mode="max")
    assert same(importance(flipped), importance(data))


def test_bad_arguments_are_named():
    data = uniform_trials(lambda U: U[:, 0], n=10)
    with pytest.raises(ArgumentError, match="method must be 'auto' or 'gp', got 'rf'"):
        importance(data, method="rf")
    with pytest.raises(ArgumentError, match="max_trials must be an int >= 2, got 1"):
        importance(data, max_trials=1)
    with pytest.raises(ArgumentError, match="at least 2 completed trials.*1 of the 1 trials"):
        importance(Trials(data.trials[:1], data.space))
    with pytest.raises(ArgumentError, match="needs `trials`, `space` and `mode`"):
        importance(object())


def test_trials_outside_the_space_are_left_out_with_a_warning():
    data = uniform_trials(lambda U: U[:, 0], n=20)
    odd = FrozenTrial(99, {"x1": 0.5, "x2": 0.5}, TrialState.COMPLETED, 3.0)  # no x3
    with pytest.warns(UserWarning, match="1 trial\\(s\\) with parameters outside"):
        got = importance(Trials([*data.trials, odd], data.space))
    assert same(got, importance(data))


@st.composite
def datasets(draw):
    """Any small space (real, log real, integer, categorical) and any finite values."""
    kinds = draw(st.lists(st.sampled_from(["real", "log", "int", "cat"]), min_size=1, max_size=4))
    dims = {
        "real": Real(-1.0, 1.0),
        "log": Real(1e-3, 10.0, log=True),
        "int": Integer(1, 4),
        "cat": Categorical(["a", "b", "c"]),
    }
    space = SearchSpace({f"p{i}_{k}": dims[k] for i, k in enumerate(kinds)})
    n = draw(st.integers(2, 25))
    seed = draw(st.integers(0, 2**16))
    rows = space.sample(np.random.default_rng(seed), n)
    values = draw(
        st.lists(
            st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([0.0, 1.0]),
            min_size=n,
            max_size=n,
        )
    )
    return make(dict(space), rows, values)


@given(data=datasets(), interactions=st.booleans(), seed=st.integers(0, 3))
def test_shares_are_nonnegative_sum_to_one_and_repeat_for_any_data(data, interactions, seed):
    """Property: for any finite values every share is >= 0, the shares sum to 1,
    and the same seed gives the same shares."""
    out = importance(data, interactions=interactions, seed=seed)
    assert same(importance(data, interactions=interactions, seed=seed), out)
    shares = list(out[0].values()) + list(out[1].values()) if interactions else list(out.values())
    assert all(s >= 0.0 and math.isfinite(s) for s in shares)
    assert math.isclose(sum(shares), 1.0, rel_tol=1e-9)


# ---------------------------------------------------------------------------
# A real search, and the study it stored
# ---------------------------------------------------------------------------


def _train(config):
    x = config["model"]
    return 10 * math.log10(x["lr"]) + 0.1 * x["width"] + (3.0 if x["act"] == "tanh" else 0.0)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    search = RandomSearch(
        base_config={"model": {"lr": 0.1, "width": 1, "act": "relu", "kind": int}},
        search_space={
            "model.lr": Real(1e-4, 1e-1, log=True),
            "model.width": Integer(1, 4),
            "model.act": ["relu", "tanh", ("gelu", 1)],
            "model.unused": Real(0.0, 1.0),
            "model.kind": [int, float],  # stored by repr: "<class 'int'>"
        },
        n_trials=60,
        random_state=0,
        allow_new_keys=True,
    )
    search.run(_train, experiment_root=root)
    return search, hpcore.load(root)


def test_study_from_disk_gives_the_same_importances_as_the_search(stored):
    search, study = stored
    assert isinstance(study.space["model.lr"], dict)  # JSON, rebuilt by the adapter
    got = importance(study)
    assert same(got, importance(search))
    assert same(importance(study, interactions=True), importance(search, interactions=True))
    assert list(got)[0] == "model.lr"
    assert got["model.unused"] < 0.02
    assert study.trials[0].params["model.kind"] in ("<class 'int'>", "<class 'float'>")


def test_study_and_search_give_the_same_tables(stored):
    search, study = stored
    ids = [(t.trial_id, t.value) for t in top_k(search, 5)]
    assert [(t.trial_id, t.value) for t in top_k(study, 5)] == ids
    a, b = param_summary(study), param_summary(search)
    # the study knows the classes int and float by their repr only
    kind_a, kind_b = a.pop("model.kind"), b.pop("model.kind")
    assert a == b
    assert [c for _, c in kind_a["top_counts"]] == [c for _, c in kind_b["top_counts"]]
    assert kind_b["choices"] == [int, float]
    assert kind_a["choices"] == ["<class 'int'>", "<class 'float'>"]
    ta, tb = trials_table(study), trials_table(search)
    kind = "params.model.kind"
    assert ta.drop(columns=kind).equals(tb.drop(columns=kind))
    assert list(ta[kind]) == [repr(k) for k in tb[kind]]


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------


def small() -> Trials:
    space = {"lr": Real(1e-3, 1.0, log=True), "act": ["relu", "tanh"], "n": Integer(1, 3)}
    rows = [
        {"lr": 0.01, "act": "relu", "n": 1},
        {"lr": 0.1, "act": "tanh", "n": 2},
        {"lr": 0.5, "act": "relu", "n": 3},
        {"lr": 0.002, "act": "tanh", "n": 1},
        {"lr": 0.3, "act": "relu", "n": 2},
    ]
    values = [0.5, 0.2, None, 0.2, 0.9]
    states = [
        TrialState.COMPLETED,
        TrialState.STOPPED,
        TrialState.FAILED,
        TrialState.COMPLETED,
        TrialState.COMPLETED,
    ]
    data = make(space, rows, values, states=states)
    t = data.trials
    t[0] = dataclasses.replace(t[0], metrics={"loss": 0.5, "acc": 0.8})
    t[1] = dataclasses.replace(t[1], metrics={"loss": 0.2})
    t[2] = dataclasses.replace(t[2], attempts=3)
    return data


def test_trials_table_dataframe():
    df = trials_table(small())
    assert list(df.columns) == [
        "trial_id",
        "state",
        "value",
        "duration",
        "attempts",
        "params.lr",
        "params.act",
        "params.n",
        "metrics.loss",
        "metrics.acc",
    ]
    assert list(df["trial_id"]) == [0, 1, 2, 3, 4]
    assert list(df["state"]) == ["completed", "stopped", "failed", "completed", "completed"]
    assert df["duration"].tolist() == [1.5] * 5
    assert df.loc[2, "attempts"] == 3
    assert math.isnan(df.loc[2, "value"])
    assert df.loc[0, "metrics.acc"] == 0.8 and math.isnan(df.loc[1, "metrics.acc"])


def test_trials_table_filters_states():
    df = trials_table(small(), states=["completed", TrialState.STOPPED])
    assert list(df["trial_id"]) == [0, 1, 3, 4]
    assert list(trials_table(small(), states="failed")["trial_id"]) == [2]
    with pytest.raises(ArgumentError, match="unknown trial state 'done'"):
        trials_table(small(), states=["done"])


def test_trials_table_without_pandas_is_a_list_of_dicts(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` raises ImportError
    rows = trials_table(small())
    assert isinstance(rows, list) and len(rows) == 5
    assert rows[2] == {
        "trial_id": 2,
        "state": "failed",
        "value": None,
        "duration": 1.5,
        "attempts": 3,
        "params.lr": 0.5,
        "params.act": "relu",
        "params.n": 3,
        "metrics.loss": None,
        "metrics.acc": None,
    }


def test_top_k_orders_by_mode_and_breaks_ties_by_id():
    data = small()
    assert [t.trial_id for t in top_k(data, 10)] == [1, 3, 0, 4]
    assert [t.trial_id for t in top_k(data, 2)] == [1, 3]
    data.mode = "max"
    assert [t.trial_id for t in top_k(data, 2)] == [4, 0]
    with pytest.raises(ArgumentError, match="k must be a positive int, got 0"):
        top_k(data, 0)


def test_param_summary():
    summary = param_summary(small(), top=0.5)  # 4 trials with values -> the best 2
    assert list(summary) == ["lr", "act", "n"]
    assert summary["lr"] == {
        "type": "real",
        "low": 1e-3,
        "high": 1.0,
        "log": True,
        "best": 0.1,
        "n_top": 2,
        "top_low": 0.002,
        "top_high": 0.1,
    }
    assert summary["act"] == {
        "type": "categorical",
        "choices": ["relu", "tanh"],
        "best": "tanh",
        "n_top": 2,
        "top_counts": [("relu", 0), ("tanh", 2)],
    }
    assert summary["n"]["type"] == "integer"
    assert (summary["n"]["top_low"], summary["n"]["top_high"]) == (1, 2)
    assert param_summary(small())["lr"]["n_top"] == 1  # 10 % of 4, at least one


def test_param_summary_without_values():
    data = small()
    data.trials = [t for t in data.trials if t.value is None]
    summary = param_summary(data)
    assert summary["lr"]["best"] is None and summary["lr"]["top_low"] is None
    assert summary["act"]["top_counts"] == [("relu", 0), ("tanh", 0)]
    with pytest.raises(ArgumentError, match="top must be a fraction in \\(0, 1\\], got 0"):
        param_summary(data, top=0)
