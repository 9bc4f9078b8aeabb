"""hpcore.bindings.optuna.HpcoreSampler inside real Optuna studies.

Optuna's own sampler test-suite (``optuna.testing.pytest_samplers``) runs
first; the tests after it check what the suite does not: that suggestions
really come from hpcore's strategy (relative sampling is not silently
replaced by the independent sampler), what the strategy is told, parallel
workers, resume from an RDB file, determinism, and regret against random.
"""

from __future__ import annotations

import ast
import math
import pickle
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from hpcore.bindings.optuna import RELATIVE_PARAMS_KEY, HpcoreSampler  # noqa: E402
from optuna.distributions import (  # noqa: E402
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.testing.pytest_samplers import (  # noqa: E402
    BasicSamplerTestCase,
    MultiObjectiveSamplerTestCase,
    RelativeSamplerTestCase,
)
from optuna.trial import TrialState  # noqa: E402

from hpcore.strategies.base import Strategy  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks/ (see test_benchmark_functions.py)

from benchmarks.functions import BRANIN  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study(sampler, **kw):
    return optuna.create_study(sampler=sampler, **kw)


def _drawn(trial) -> dict:
    """The relative parameters the sampler drew for ``trial`` (internal representation)."""
    import json

    chunks, i = [], 0
    while (c := trial.system_attrs.get(f"{RELATIVE_PARAMS_KEY}:{i}")) is not None:
        chunks.append(c)
        i += 1
    return json.loads("".join(chunks)) if chunks else {}


class TestOptunaSamplerSuite(
    BasicSamplerTestCase, RelativeSamplerTestCase, MultiObjectiveSamplerTestCase
):
    """Optuna's contract for samplers, multi-objective tests included; two startup
    trials, so its short studies reach the GP."""

    @pytest.fixture
    def sampler(self):
        return lambda: HpcoreSampler(seed=0, n_startup_trials=2)


# -- each distribution type --------------------------------------------------------------

# True == 1 in Python: the choices are told apart by type as well
CHOICE_COSTS = [(None, 3.0), (True, 2.0), (1, 1.0), (2.5, 0.0), ("a", 4.0)]

CASES = {
    "float": (FloatDistribution(-3.0, 3.0), lambda v: (v - 1.3) ** 2),
    "float-log": (FloatDistribution(1e-4, 1.0, log=True), lambda v: (math.log10(v) + 2) ** 2),
    "float-step": (FloatDistribution(-3.0, 3.0, step=0.25), lambda v: (v - 1.25) ** 2),
    "int": (IntDistribution(-10, 10), lambda v: (v - 3) ** 2),
    "int-log": (IntDistribution(1, 1000, log=True), lambda v: (math.log10(v) - math.log10(30)) ** 2),
    "int-step": (IntDistribution(0, 30, step=3), lambda v: (v - 12) ** 2 / 10),
    "categorical": (
        CategoricalDistribution([None, True, 1, 2.5, "a"]),
        lambda v: next(cost for c, cost in CHOICE_COSTS if type(v) is type(c) and v == c),
    ),
}


def _in_distribution(dist, value) -> bool:
    if isinstance(dist, CategoricalDistribution):
        return any(value is c or (type(value) is type(c) and value == c) for c in dist.choices)
    if isinstance(dist, IntDistribution) and type(value) is not int:
        return False
    if isinstance(dist, FloatDistribution) and type(value) is not float:
        return False
    if not dist.low <= value <= dist.high:
        return False
    if dist.step is not None:
        k = (value - dist.low) / dist.step
        return abs(k - round(k)) < 1e-8
    return True


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_distribution_is_sampled_by_the_strategy_within_its_range(case):
    dist, cost = CASES[case]
    y_dist = FloatDistribution(-1.0, 1.0)

    def objective(trial):
        v = trial._suggest("v", dist)
        y = trial.suggest_float("y", -1.0, 1.0)
        return cost(v) + y**2

    study = _study(HpcoreSampler(seed=0, n_startup_trials=4))
    study.optimize(objective, n_trials=16)
    for t in study.trials:
        assert _in_distribution(dist, t.params["v"]), (t.number, t.params)
        assert _in_distribution(y_dist, t.params["y"])
    # From the second trial on both parameters are relative: what the strategy drew
    # is what the trial got (Optuna would silently fall back to independent
    # sampling for a value outside the distribution).
    for t in study.trials[1:]:
        drawn = _drawn(t)
        assert drawn.keys() == {"v", "y"}, t.number
        assert drawn["v"] == dist.to_internal_repr(t.params["v"])
        assert drawn["y"] == t.params["y"]
    best_v = study.best_params["v"]
    assert cost(best_v) <= 0.3, (case, best_v)


def test_single_value_distributions_are_answered_and_left_out_of_the_model():
    fixed = {
        "a": FloatDistribution(1.5, 1.5),
        "b": IntDistribution(2, 2),
        "c": CategoricalDistribution(["only"]),
        "d": FloatDistribution(1.0, 1.0, log=True),
    }

    def objective(trial):
        values = {name: trial._suggest(name, d) for name, d in fixed.items()}
        assert values == {"a": 1.5, "b": 2, "c": "only", "d": 1.0}
        return (trial.suggest_float("x", -1, 1) - 0.5) ** 2

    sampler = HpcoreSampler(seed=1, n_startup_trials=3)
    study = _study(sampler)
    study.optimize(objective, n_trials=8)
    assert set(sampler.infer_relative_search_space(study, study.trials[-1])) == {"x"}
    assert all(_drawn(t).keys() == {"x"} for t in study.trials[1:])


def test_conditional_parameters_fall_to_the_independent_sampler():
    def objective(trial):
        kind = trial.suggest_categorical("kind", ["a", "b"])
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        if kind == "a":
            return (math.log10(lr) + 2) ** 2 + trial.suggest_float("xa", 0, 1)
        return 1 + (math.log10(lr) + 2) ** 2 + trial.suggest_int("nb", 1, 5)

    study = _study(HpcoreSampler(seed=0, n_startup_trials=4))
    study.optimize(objective, n_trials=15)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    kinds = [t.params["kind"] for t in study.trials]
    assert set(kinds) == {"a", "b"}
    # Once a trial of each kind has finished, the intersection is {kind, lr}.
    both = max(kinds.index("a"), kinds.index("b")) + 1
    assert both < 10
    for t in study.trials[both:]:
        assert _drawn(t).keys() == {"kind", "lr"}
    for t in study.trials:
        if "xa" in t.params:
            assert 0 <= t.params["xa"] <= 1
        else:
            assert t.params["nb"] in range(1, 6)


def test_enqueued_trials_are_respected():
    def objective(trial):
        x = trial.suggest_float("x", -2, 2)
        n = trial.suggest_int("n", 1, 5)
        return (x - 0.5) ** 2 + (n - 3) ** 2

    study = _study(HpcoreSampler(seed=0, n_startup_trials=3))
    study.optimize(objective, n_trials=6)
    study.enqueue_trial({"x": 0.123, "n": 4})
    study.enqueue_trial({"x": -1.5})
    study.optimize(objective, n_trials=3)
    full, partial, after = study.trials[6:9]
    assert full.params == {"x": 0.123, "n": 4}
    assert _drawn(full) == {}  # nothing to draw: the strategy was not asked
    assert partial.params["x"] == -1.5 and partial.params["n"] in range(1, 6)
    assert _drawn(partial)["x"] == -1.5  # recorded as it will run, for the fantasies
    assert after.params not in (full.params, partial.params)


def test_parallel_threads_get_distinct_points_in_a_small_finite_space():
    # 5 x 3 = 15 points; 12 trials, two at a time. The two trials in flight see
    # each other as pending, so no point is suggested twice (independent random
    # draws would almost surely repeat one: P(12 distinct of 15) < 0.1%).
    def objective(trial):
        n = trial.suggest_int("n", 0, 4)
        c = trial.suggest_categorical("c", ["a", "b", "c"])
        time.sleep(0.02)  # so the two workers overlap
        return (n - 2) ** 2 + {"a": 1.0, "b": 0.0, "c": 2.0}[c]

    sampler = HpcoreSampler(seed=0, n_startup_trials=4)
    study = _study(sampler)
    study.optimize(objective, n_trials=2)  # the relative space is known from here on
    study.optimize(objective, n_trials=10, n_jobs=2)
    points = [(t.params["n"], t.params["c"]) for t in study.trials]
    assert len(points) == 12
    assert len(set(points)) == 12, points


def test_an_exhausted_finite_space_falls_back_to_the_independent_sampler():
    def objective(trial):
        return trial.suggest_int("n", 0, 1) + trial.suggest_categorical("c", [0.5, 1.5])

    study = _study(HpcoreSampler(seed=0, n_startup_trials=2))
    study.optimize(objective, n_trials=7)
    points = [(t.params["n"], t.params["c"]) for t in study.trials]
    assert len(set(points[:4])) == 4  # the strategy never repeats a point
    assert set(points[4:]) <= set(points[:4])  # then repeats, drawn at random
    assert all(_drawn(t).keys() == {"n", "c"} for t in study.trials[1:])


def test_parallel_threads_on_a_continuous_space_complete():
    def objective(trial):
        return sum((trial.suggest_float(f"x{i}", 0, 1) - 0.3) ** 2 for i in range(3))

    study = _study(HpcoreSampler(seed=0, n_startup_trials=3))
    study.optimize(objective, n_trials=14, n_jobs=2)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 14
    rows = [tuple(t.params.values()) for t in study.trials]
    assert len(set(rows)) == len(rows)


def test_ask_tell_with_two_trials_in_flight():
    study = _study(HpcoreSampler(seed=3, n_startup_trials=4))
    dists = {"x": FloatDistribution(-2, 2), "k": IntDistribution(0, 6)}

    def f(p):
        return (p["x"] - 1) ** 2 + (p["k"] - 2) ** 2

    for _ in range(8):
        a = study.ask(dists)
        b = study.ask(dists)
        assert a.params != b.params
        study.tell(b, f(b.params))
        study.tell(a, f(a.params))
    assert len(study.trials) == 16
    assert study.best_params["k"] == 2
    assert abs(study.best_params["x"] - 1) < 0.3


def test_maximize_is_minimize_of_the_negation():
    def f(trial):
        x = trial.suggest_float("x", -2, 2)
        k = trial.suggest_int("k", 0, 4)
        return -((x - 0.7) ** 2) - (k - 1) ** 2

    up = _study(HpcoreSampler(seed=5, n_startup_trials=4), direction="maximize")
    up.optimize(f, n_trials=12)
    down = _study(HpcoreSampler(seed=5, n_startup_trials=4), direction="minimize")
    down.optimize(lambda t: -f(t), n_trials=12)
    # Equal up to rounding: BLAS and the kernels' vectorised sums may round
    # differently with memory alignment, and the acquisition optimiser carries a
    # 1e-16 difference up to about its own tolerance (1e-7 seen here).
    for a, b in zip(up.trials, down.trials, strict=True):
        assert a.params["k"] == b.params["k"]
        assert a.params["x"] == pytest.approx(b.params["x"], rel=1e-5, abs=1e-8)
    assert up.best_params["k"] == 1


@pytest.fixture
def told(monkeypatch):
    """Every ``(params, value, state)`` told to an hpcore strategy, in order."""
    calls: list[tuple[dict, float | None, str]] = []
    tell = Strategy.tell

    def spy(self, params, value, state="completed", *, constraints=None):
        calls.append((dict(params), value, str(getattr(state, "value", state))))
        return tell(self, params, value, state, constraints=constraints)

    monkeypatch.setattr(Strategy, "tell", spy)
    return calls


def test_failed_and_pruned_trials_are_told_as_hpcore_records_them(told):
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        if trial.number in (2, 5):
            raise ValueError("boom")
        if trial.number in (3, 6):
            trial.report(7.0, step=0)
            trial.report(4.0 + trial.number, step=1)
            raise optuna.TrialPruned()
        return x

    study = _study(HpcoreSampler(seed=0, n_startup_trials=3), direction="maximize")
    study.optimize(objective, n_trials=9, catch=(ValueError,))
    states = [t.state for t in study.trials]
    assert states.count(TrialState.FAIL) == 2 and states.count(TrialState.PRUNED) == 2
    # the last suggestion (trial 8) was made knowing trials 0-7, each told once
    by_x = {c[0]["p0"]: c for c in told}
    assert len(told) == 8 == len(by_x)
    for t in study.trials[:8]:
        _, value, state = by_x[t.params["x"]]
        if t.state == TrialState.COMPLETE:
            assert (value, state) == (-t.value, "completed")  # maximize: negated
        elif t.state == TrialState.PRUNED:
            assert (value, state) == (-(4.0 + t.number), "stopped")  # last intermediate value
        else:
            assert (value, state) == (None, "failed")


def test_strategy_is_reused_and_refit_on_its_schedule(monkeypatch):
    import hpcore.kernels.model
    from hpcore.strategies.bayesian import BayesianStrategy

    fits, builds = [], []
    fit_gp, init = hpcore.kernels.model.fit_gp, BayesianStrategy.__init__

    def count_fit(X, *a, **k):
        fits.append(len(X))
        return fit_gp(X, *a, **k)

    def count_init(self, *a, **k):
        builds.append(1)
        init(self, *a, **k)

    monkeypatch.setattr(hpcore.kernels.model, "fit_gp", count_fit)  # what GPModel.fit calls
    monkeypatch.setattr(BayesianStrategy, "__init__", count_init)
    sampler = HpcoreSampler(seed=0, n_startup_trials=10)
    study = _study(sampler)
    study.optimize(lambda t: (t.suggest_float("x", 0, 1) - 0.3) ** 2
                   + (t.suggest_float("y", 0, 1) - 0.6) ** 2, n_trials=40)
    # one strategy for the constructor's option check, one for the study: never rebuilt
    assert len(builds) == 2
    # 30 model suggestions, from 10 to 39 results; a refit at each while fewer than 20,
    # then only when the results have grown by 10% (Cholesky extension in between)
    assert fits == [*range(10, 20), 21, 24, 27, 30, 33, 37]


def test_resume_from_sqlite_continues_the_sequence(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"

    def objective(trial):
        x = trial.suggest_float("x", -3, 3)
        n = trial.suggest_int("n", 1, 8, log=True)
        return (x - 1) ** 2 + (n - 4) ** 2

    straight = _study(HpcoreSampler(seed=11, n_startup_trials=8))
    straight.optimize(objective, n_trials=8)

    first = optuna.create_study(storage=url, study_name="s", sampler=HpcoreSampler(seed=11, n_startup_trials=8))
    first.optimize(objective, n_trials=4)
    del first
    resumed = optuna.load_study(storage=url, study_name="s", sampler=HpcoreSampler(seed=11, n_startup_trials=8))
    resumed.optimize(objective, n_trials=4)
    # The quasi-random phase continues where it stopped, as if never interrupted.
    assert [t.params for t in resumed.trials] == [t.params for t in straight.trials]

    # Into the model phase with yet another sampler: it learns every stored trial.
    again = optuna.load_study(storage=url, study_name="s", sampler=HpcoreSampler(seed=11, n_startup_trials=8))
    again.optimize(objective, n_trials=6)
    points = [(t.params["x"], t.params["n"]) for t in again.trials]
    assert len(points) == 14 == len(set(points))
    assert again.best_params["n"] == 4 and abs(again.best_params["x"] - 1) < 0.5


def test_same_seed_same_suggestions():
    def run(seed):
        study = _study(HpcoreSampler(seed=seed, n_startup_trials=4))
        study.optimize(lambda t: (t.suggest_float("x", -1, 1) - 0.2) ** 2
                       + t.suggest_int("k", 0, 3), n_trials=9)
        return [t.params for t in study.trials]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_the_sampler_pickles_and_continues():
    study = _study(HpcoreSampler(seed=0, n_startup_trials=3))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5)
    copy = pickle.loads(pickle.dumps(study.sampler))
    study.sampler = copy
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert len(study.trials) == 7


def _zdt1(trial):
    x = [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(4)]
    g = 1 + 9 * sum(x[1:]) / 3
    return x[0], g * (1 - math.sqrt(x[0] / g))


def _hypervolume(study, ref):
    from hpcore.kernels import hypervolume

    front = np.array([t.values for t in study.best_trials])
    return hypervolume(front, np.array(ref))


def test_multi_objective_front_beats_random_sampling():
    """Two objectives (ZDT1, d = 4), 30 trials, same seed: log-EHVI's front dominates
    more than RandomSampler's."""
    hv = {}
    for name, sampler in (("hpcore", HpcoreSampler(seed=1, n_startup_trials=10)),
                          ("random", optuna.samplers.RandomSampler(seed=1))):
        study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
        study.optimize(_zdt1, n_trials=30)
        hv[name] = _hypervolume(study, [1.1, 11.0])
    assert hv["hpcore"] > hv["random"] + 0.5


def test_three_objectives_with_mixed_directions_and_a_seed_reproduce():
    def three(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        y = trial.suggest_float("y", 0.0, 1.0)
        k = trial.suggest_categorical("k", ["a", "b"])
        return x + y, (1 - x) ** 2 + (0.3 if k == "a" else 0.0), y  # the last is maximised

    runs = []
    for _ in range(2):
        study = optuna.create_study(directions=["minimize", "minimize", "maximize"],
                                    sampler=HpcoreSampler(seed=3, n_startup_trials=4))
        study.optimize(three, n_trials=12)
        runs.append([t.params for t in study.trials])
        assert study.best_trials
    assert runs[0] == runs[1]


def test_a_reference_point_in_the_study_directions_aims_the_suggestions():
    """a = x and acc = x, the second maximised: only x <= 0.3 is of interest below
    a = 0.3 (and acc >= 0); the suggestions after the startup trials stay there."""

    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        return x, 1.0 - x  # the second maximised: every x is on the front

    sampler = HpcoreSampler(seed=0, n_startup_trials=6, reference_point=[0.3, 0.0])
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    study.optimize(objective, n_trials=20)
    np.testing.assert_array_equal(sampler._strategy.reference_point, [0.3, -0.0])
    later = [t.params["x"] for t in study.trials[6:]]
    assert sum(x < 0.3 for x in later) >= 0.8 * len(later)


def test_a_bad_reference_point_is_refused():
    with pytest.raises(ValueError, match="two or three finite numbers"):
        HpcoreSampler(reference_point=[1.0])
    with pytest.raises(ValueError, match="two or three finite numbers"):
        HpcoreSampler(reference_point=[1.0, float("inf")])
    for directions in (["minimize"], ["minimize"] * 3):
        study = optuna.create_study(directions=directions,
                                    sampler=HpcoreSampler(n_startup_trials=1,
                                                          reference_point=[1.0, 2.0]))
        with pytest.raises(ValueError, match="reference_point"):
            k = len(directions)
            study.optimize(lambda t, k=k: [t.suggest_float("x", 0, 1)] * k, n_trials=3)


def _constrained(trial):
    x = trial.suggest_float("x", -5.0, 10.0)
    y = trial.suggest_float("y", 0.0, 15.0)
    trial.set_user_attr("c", [(x - 2.5) ** 2 + (y - 7.5) ** 2 - 50.0])
    return ((y - 5.1 / (4 * math.pi**2) * x**2 + 5 / math.pi * x - 6) ** 2
            + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10)


def test_constraints_func_is_stored_and_steers_to_the_feasible_optimum():
    from optuna.study._constrained_optimization import _CONSTRAINTS_KEY

    calls = []

    def constraints(ft):
        calls.append(ft.number)
        return ft.user_attrs["c"]

    study = optuna.create_study(sampler=HpcoreSampler(seed=0, n_startup_trials=8,
                                                      constraints_func=constraints))
    study.optimize(_constrained, n_trials=30)
    assert calls == list(range(30))
    assert all(t.system_attrs[_CONSTRAINTS_KEY] == tuple(t.user_attrs["c"]) for t in study.trials)
    feasible = [t for t in study.trials if t.user_attrs["c"][0] <= 0]
    assert len(feasible) >= 20
    assert min(t.value for t in feasible) < 0.45  # the feasible optimum: 0.397887
    best = study.best_trials  # Optuna's own view: feasible trials only
    assert best and all(t.user_attrs["c"][0] <= 0 for t in best)


def test_constraints_with_several_objectives():
    def objective(trial):
        a, b = _zdt1(trial)
        trial.set_user_attr("c", [trial.params["x1"] - 0.5])
        return a, b

    study = optuna.create_study(
        directions=["minimize", "minimize"],
        sampler=HpcoreSampler(seed=0, n_startup_trials=6,
                              constraints_func=lambda ft: ft.user_attrs["c"]))
    study.optimize(objective, n_trials=20)
    later = study.trials[6:]
    assert sum(t.params["x1"] <= 0.5 for t in later) >= 0.7 * len(later)
    assert all(t.params["x1"] <= 0.5 for t in study.best_trials)


def test_options_are_checked_when_the_sampler_is_made():
    with pytest.raises(ValueError, match="acquisition must be one of"):
        HpcoreSampler(acquisition="bogus")
    with pytest.raises(TypeError, match="`n_startup_trials`, not `n_initial_points`"):
        HpcoreSampler(n_initial_points=5)
    with pytest.raises(ValueError, match="`n_startup_trials` must be an int >= 0, got -1"):
        HpcoreSampler(n_startup_trials=-1)
    HpcoreSampler(acquisition="ucb", y_transform="standardize", n_candidates=256)


def test_branin_regret_far_below_random():
    def regret(sampler):
        study = _study(sampler)
        study.optimize(lambda t: BRANIN({"x0": t.suggest_float("x0", -5, 10),
                                         "x1": t.suggest_float("x1", 0, 15)}), n_trials=30)
        return study.best_value - BRANIN.optimum

    ours = np.median([regret(HpcoreSampler(seed=s)) for s in range(3)])
    rand = np.median([regret(optuna.samplers.RandomSampler(seed=s)) for s in range(3)])
    assert ours < 0.2 * rand, (ours, rand)


# -- import names and layering ------------------------------------------------------------


def test_import_names_and_what_they_load(tmp_path):
    # A user's own `bindings/` folder on sys.path (the current directory) shadows the
    # top-level `bindings` package; the documented name is unaffected.
    (tmp_path / "bindings").mkdir()
    (tmp_path / "bindings" / "__init__.py").write_text("MINE = True\n")
    code = textwrap.dedent("""
        import sys
        import hpcore, hpcore.bindings
        assert "optuna" not in sys.modules, "import hpcore.bindings loaded optuna"
        from hpcore.bindings.optuna import HpcoreSampler
        assert hpcore.bindings.HpcoreSampler is HpcoreSampler
        heavy = [m for m in ("ray", "mlflow", "torch") if m in sys.modules]
        assert not heavy, heavy
        import bindings
        assert bindings.MINE
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    # The one home of the adapters is the top-level bindings/ folder, installed as
    # hpcore.bindings: no package named plain `bindings` is installed.
    code = ("import importlib.util, hpcore.bindings.optuna as h;"
            "print(h.__file__); print(importlib.util.find_spec('bindings'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path.parent, capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == [str(ROOT / "bindings" / "optuna.py"), "None"]


def test_the_binding_uses_only_public_hpcore_names():
    for path in sorted((ROOT / "bindings").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(f"{path.name}: relative import of {node.module}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hpcore"):
                parts = node.module.split(".")
                names = [a.name for a in node.names]
                assert not any(p.startswith("_") for p in parts + names), (path.name, node.module)


# -- Optuna's own constraint tests of GPSampler (tests/samplers_tests/test_gp.py),
#    run against HpcoreSampler -----------------------------------------------------------


@pytest.mark.parametrize("constraint_value", [-1.0, 0.0, 1.0, -float("inf"), float("inf")])
@pytest.mark.parametrize("n_objectives", [1, 2])
def test_optuna_gp_constraints_func(constraint_value: float, n_objectives: int) -> None:
    n_trials = 5
    constraints_func_call_count = 0

    def constraints_func(trial):
        nonlocal constraints_func_call_count
        constraints_func_call_count += 1
        return (constraint_value + trial.number,)

    sampler = HpcoreSampler(n_startup_trials=2, constraints_func=constraints_func)

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        return x if n_objectives == 1 else (x, (x - 2) ** 2)

    study = optuna.create_study(directions=["minimize"] * n_objectives, sampler=sampler)
    study.optimize(objective, n_trials=n_trials)
    assert len(study.trials) == n_trials
    assert constraints_func_call_count == n_trials
    for trial in study.trials:
        for x, y in zip(trial.constraints.values(), (constraint_value + trial.number,)):
            assert x == y


@pytest.mark.parametrize("n_objectives", [1, 2])
def test_optuna_gp_constraints_func_nan(n_objectives: int) -> None:
    def constraints_func(_):
        return (float("nan"),)

    sampler = HpcoreSampler(n_startup_trials=2, constraints_func=constraints_func)

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        return (x,) if n_objectives == 1 else (x, (x - 2) ** 2)

    study = optuna.create_study(directions=["minimize"] * n_objectives, sampler=sampler)
    with pytest.raises(ValueError):
        study.optimize(objective, n_trials=5)
    trials = study.get_trials()
    assert len(trials) == 1  # the error stops the study; the completed trial is recorded
    assert all(0 <= x <= 1 for x in trials[0].params.values())
    assert trials[0].values == list(objective(trials[0]))
    assert len(trials[0].constraints) == 0  # no constraints are set


# -- warm start from earlier Optuna studies -------------------------------------------

def _bowl(trial, centre=(0.7, 0.2)):
    x, y = trial.suggest_float("x", 0.0, 1.0), trial.suggest_float("y", 0.0, 1.0)
    return (x - centre[0]) ** 2 + (y - centre[1]) ** 2


def test_a_warm_started_sampler_goes_where_the_earlier_study_was_good_at_once():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    earlier = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    earlier.optimize(lambda t: _bowl(t, (0.72, 0.22)), n_trials=30)
    # Another range for y: the earlier trials outside [0, 0.8] are left out, not misread.
    earlier.optimize(lambda t: t.suggest_float("x", 0.0, 1.0) + t.suggest_float("y", 0.9, 2.0),
                     n_trials=3)
    firsts = {}
    for name, warm in (("warm", earlier), ("cold", None)):
        study = optuna.create_study(
            sampler=HpcoreSampler(seed=4, n_startup_trials=2, warm_start=warm))
        study.optimize(_bowl, n_trials=3)
        t = study.trials[2]  # the first GP suggestion
        firsts[name] = math.dist((t.params["x"], t.params["y"]), (0.7, 0.2))
        assert len(study.trials) == 3
    assert firsts["warm"] < 0.1 < firsts["cold"]
    sampler = pickle.loads(pickle.dumps(HpcoreSampler(seed=4, warm_start=earlier)))
    assert len(sampler._warm[0]) == 33  # every finished earlier trial, read once


def test_warm_start_refuses_what_it_cannot_use():
    with pytest.raises(TypeError, match="warm_start must be an optuna.Study"):
        HpcoreSampler(warm_start=["study"])
    two = optuna.create_study(directions=["minimize", "minimize"])
    with pytest.raises(ValueError, match="has 2 objectives; warm start takes one"):
        HpcoreSampler(warm_start=two)
    earlier = optuna.create_study()
    earlier.optimize(_bowl, n_trials=3)
    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=HpcoreSampler(warm_start=earlier, n_startup_trials=1))
    with pytest.raises(ValueError, match=r"warm_start=\.\.\.\) is for one objective"):
        study.optimize(lambda t: (_bowl(t), _bowl(t, (0.1, 0.1))), n_trials=3,
                       catch=())
