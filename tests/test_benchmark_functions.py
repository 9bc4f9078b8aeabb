"""benchmarks.functions: each test function attains its stated optimum and never goes below it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

# benchmarks/ is a package at the repository root, which is not on sys.path when
# pytest is started as `pytest` (only `python -m pytest` adds the working directory).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.functions import ALL_FUNCTIONS, MIXED6, by_name  # noqa: E402
from hpcore.space import SearchSpace  # noqa: E402

IDS = [fn.name for fn in ALL_FUNCTIONS]


def test_the_six_functions_and_their_dimensions():
    assert {fn.name: fn.dim for fn in ALL_FUNCTIONS} == {
        "branin": 2,
        "hartmann6": 6,
        "levy10": 10,
        "ackley10": 10,
        "rosenbrock5": 5,
        "mixed6": 6,
    }
    assert by_name("branin") is ALL_FUNCTIONS[0]
    with pytest.raises(KeyError, match="no test function 'nope'"):
        by_name("nope")


@pytest.mark.parametrize("fn", ALL_FUNCTIONS, ids=IDS)
def test_value_at_the_minimiser_is_the_optimum(fn):
    space = SearchSpace(fn.space)
    assert len(space) == fn.dim
    assert space.contains(fn.minimiser)
    assert fn(fn.minimiser) == pytest.approx(fn.optimum, abs=1e-4)
    assert fn(fn.minimiser) >= fn.optimum - 1e-12


@pytest.mark.parametrize("fn", ALL_FUNCTIONS, ids=IDS)
def test_random_points_are_not_below_the_optimum(fn):
    space = SearchSpace(fn.space)
    points = space.sample(np.random.default_rng(sum(map(ord, fn.name))), n=2000)
    values = np.array([fn(p) for p in points])
    assert np.all(np.isfinite(values))
    assert np.all(values >= fn.optimum - 1e-12)
    assert values.min() > fn.optimum + 1e-6  # the optimum is not trivially hit


@pytest.mark.parametrize("fn", ALL_FUNCTIONS, ids=IDS)
def test_the_minimiser_is_a_local_minimum(fn):
    """Moving one continuous or integer coordinate of the minimiser a little never helps."""
    space = SearchSpace(fn.space)
    base = space.encode(fn.minimiser)
    for j in range(fn.dim):
        for step in (-0.01, 0.01):
            u = base.copy()
            u[j] = np.clip(u[j] + step, 0.0, 1.0)
            assert fn(space.decode(u)) >= fn.optimum - 1e-12


def test_mixed6_optimum_is_the_sum_of_the_smallest_terms():
    # exhaustive over the discrete dimensions, with the valley at its centre for each optimiser
    best = np.inf
    for opt, centre in MIXED6.LR_CENTRE.items():
        for act in MIXED6.ACT_COST:
            for layers in range(1, 9):
                for width in range(16, 513):
                    params = {
                        "lr": 10.0**centre,
                        "weight_decay": 1e-4,
                        "layers": layers,
                        "width": width,
                        "optimizer": opt,
                        "activation": act,
                    }
                    best = min(best, MIXED6(params))
    assert best == pytest.approx(MIXED6.optimum, abs=1e-12)
    assert MIXED6.optimum == pytest.approx(0.05)
