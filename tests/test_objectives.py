"""Several objectives and constraints in the trial layer: parsing the arguments,
reading results, feasibility and the Pareto front of trials."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hpcore.errors import ArgumentError, ResultError
from hpcore.kernels import nondominated
from hpcore.objectives import Constraint, Objectives, pareto_mask, pareto_trials
from hpcore.trial import FrozenTrial, TrialState, best_of


def test_one_metric_is_one_objective() -> None:
    o = Objectives.of("loss", "max")
    assert o.metrics == ("loss",) and o.modes == ("max",) and not o.multi
    assert o.to_json() is None
    assert Objectives.from_json(None, "loss", "max") == o


def test_several_metrics_and_one_mode_for_all() -> None:
    o = Objectives.of(["loss", "latency"], "min")
    assert o.modes == ("min", "min") and o.multi and o.n == 2
    o = Objectives.of(["acc", "latency"], ["max", "min"], ["mem <= 16", ("flops", ">=", 2)])
    assert o.minimised((0.9, 3.0)) == (-0.9, 3.0)
    assert Objectives.from_json(o.to_json(), "acc", "max") == o
    assert o.describe() == "acc (max), latency (min); subject to mem <= 16, flops >= 2"
    # the mapping form reads the same
    same = Objectives.of(["acc", "latency"], ["max", "min"], {"mem": ("<=", 16), "flops": (">=", 2)})
    assert same == o


@pytest.mark.parametrize(
    ("metric", "mode", "constraints", "match"),
    [
        (["a", "b"], ["min"] * 3, None, "3 modes for 2 metrics"),
        (["a", "a"], "min", None, "twice"),
        (["a", None], "min", None, "each needs a metric name"),
        ([], "min", None, "names no objective"),
        ("a", "minimize", None, "'min' or 'max'"),
        ("a", "min", ["mem < 3"], "'metric <= bound'"),
        ("a", "min", ["mem <= lots"], "not a number"),
        ("a", "min", ["a <= 3"], "bounds an objective"),
        (None, "min", ["mem <= 3"], "pass metric="),
        ("a", "min", [("mem", "<", 3)], "'<=' or '>='"),
        ("a", "min", [("mem", "<=", math.inf)], "finite number"),
        ("a", "min", [42], "a string such as"),
        ("a", "min", {"mem": 16}, "an \\(operator, bound\\) pair"),
        ("a", "min", {"mem": ("=", 16)}, "'<=' or '>='"),
        (3, "min", None, "string key"),
    ],
)
def test_bad_arguments_name_the_fix(metric, mode, constraints, match) -> None:
    with pytest.raises(ArgumentError, match=match):
        Objectives.of(metric, mode, constraints)


def test_constraint_violations() -> None:
    le, ge = Constraint.parse("mem <= 16"), Constraint.parse(" acc>=0.5 ")
    assert le.violation(10) == -6 and le.violation(20) == 4
    assert ge.violation(0.75) == -0.25 and ge.violation(0.25) == 0.25
    assert str(le) == "mem <= 16"


def test_interpret_reads_every_objective_and_constraint() -> None:
    o = Objectives.of(["loss", "ms"], "min", ["mem <= 2"])
    values, metrics, violations = o.interpret({"loss": 0.5, "ms": 3, "mem": 2.5, "note": "x"})
    assert values == (0.5, 3.0) and violations == (0.5,)
    assert metrics == {"loss": 0.5, "ms": 3.0, "mem": 2.5}
    with pytest.raises(ResultError, match="without the metric 'ms'"):
        o.interpret({"loss": 0.5, "mem": 1})
    with pytest.raises(ResultError, match="constrained metric 'mem'"):
        o.interpret({"loss": 0.5, "ms": 1})
    with pytest.raises(ResultError, match="needs a mapping"):
        o.interpret(0.5)
    one = Objectives.of(None)
    assert one.interpret(np.float32(2.0)) == ((2.0,), {}, None)


def test_infeasible_trials_are_never_best() -> None:
    trials = [
        FrozenTrial(0, {}, TrialState.COMPLETED, 1.0, constraints=(0.5,)),
        FrozenTrial(1, {}, TrialState.COMPLETED, 2.0, constraints=(0.0,)),
        FrozenTrial(2, {}, TrialState.COMPLETED, 0.5, constraints=(math.nan,)),
    ]
    assert best_of(trials, "min").trial_id == 1
    assert best_of(trials[:1], "min") is None


def test_pareto_trials_keep_the_feasible_front_by_first_objective() -> None:
    o = Objectives.of(["a", "b"], ["min", "max"], ["m <= 0"])
    rows = [((1, 1), (-1,)), ((2, 3), (-1,)), ((0, 5), (1,)), ((3, 3), (-1,)),
            ((2, 3), (-1,)), ((0.5, 0.5), (-2,))]
    trials = [FrozenTrial(i, {}, TrialState.COMPLETED, v, constraints=c)
              for i, (v, c) in enumerate(rows)]
    trials.append(FrozenTrial(9, {}, TrialState.FAILED))
    # trial 2 is infeasible, 3 is dominated by 1, 4 equals 1 (the earlier one stays)
    assert [t.trial_id for t in pareto_trials(trials, o)] == [5, 0, 1]


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(0, 30), st.integers(1, 4)),
              elements=st.sampled_from([0.0, 1.0, 2.0, 3.0, 0.5, -1.0])))
def test_pareto_mask_equals_the_kernel(Y: np.ndarray) -> None:
    """The trial layer's front is the kernel's (which is checked by brute force)."""
    assert np.array_equal(pareto_mask(Y), nondominated(Y))
