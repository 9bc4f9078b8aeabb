"""Searches with several objectives and with constraints, end to end: real runs,
a real SQLite study, resume, loading, and the Bayesian strategy's front."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import hpcore
from hpcore.errors import ArgumentError, SearchError
from hpcore.kernels import hypervolume
from hpcore.search import BayesianSearch, GridSearch, HyperbandSearch, RandomSearch
from hpcore.search.space import Real
from hpcore.stopping import SearchBudget
from hpcore.storage import Storage, StudyMismatchError
from hpcore.strategies import MultiOutputBayesianStrategy
from hpcore.trial import TrialState

SPACE = {"x": Real(-1.0, 3.0)}


def two(config):
    x = config["x"]
    return {"a": x**2, "b": (x - 2) ** 2, "mem": x}


def zdt1(config):
    x = np.array([config[f"x{i}"] for i in range(4)])
    f1 = x[0]
    g = 1 + 9 * x[1:].mean()
    return {"f1": f1, "f2": g * (1 - math.sqrt(f1 / g))}


ZDT_SPACE = {f"x{i}": Real(0.0, 1.0) for i in range(4)}


def dominated_by_front(values, front) -> bool:
    return any(np.all(f <= values) and np.any(f < values) for f in front)


def test_run_returns_the_front_configs_and_values(tmp_path: Path) -> None:
    s = RandomSearch({"x": 0.0}, SPACE, metric=["a", "b"], n_trials=30, random_state=0)
    configs, front = s.run(two, verbose=0)
    assert front.shape == (len(configs), 2) and len(configs) == len(s.best_trials)
    assert [c["x"] for c in configs] == [t.params["x"] for t in s.best_trials]
    assert np.all(np.diff(front[:, 0]) >= 0)  # ordered by the first objective
    every = np.array([t.values for t in s.trials])
    for row in front:  # nothing dominates a front point, every other point is dominated
        assert not dominated_by_front(row, every)
    for t in s.trials:
        if t not in s.best_trials:
            assert dominated_by_front(np.array(t.values), front)
    with pytest.raises(ArgumentError, match="best_trials"):
        _ = s.best_trial


def test_maximised_objectives_keep_their_sign() -> None:
    s = GridSearch(None, {"x": [0.0, 1.0, 2.0]}, metric=["a", "neg"], mode=["min", "max"])
    configs, front = s.run(lambda c: {"a": c["x"], "neg": c["x"] * 10}, verbose=0)
    # a grows and neg grows: every point trades one for the other
    assert front.tolist() == [[0.0, 0.0], [1.0, 10.0], [2.0, 20.0]]


def test_study_stores_values_and_constraints_and_loads_the_same(tmp_path: Path) -> None:
    root = tmp_path / "mo"
    s = RandomSearch({"x": 0.0}, SPACE, metric=["a", "b"], n_trials=12, random_state=1,
                     constraints=["mem <= 2.5"])
    _, front = s.run(two, experiment_root=root, verbose=0)
    study = hpcore.load(root)
    assert study.objectives == s.objectives
    assert [t.values for t in study.trials] == [t.values for t in s.trials]
    assert [t.constraints for t in study.trials] == [t.constraints for t in s.trials]
    assert np.array_equal(study.pareto_front(), front)
    assert all(t.feasible for t in study.best_trials)
    with Storage(root, lock=False, readonly=True) as store, pytest.raises(ValueError, match="front"):
        store.best_trial()
    # resuming continues the study; another objective list is refused before any trial
    s2 = RandomSearch({"x": 0.0}, SPACE, metric=["a", "b"], n_trials=15, random_state=1,
                      constraints=["mem <= 2.5"])
    s2.run(two, experiment_root=root, verbose=0)
    assert len(s2.trials) == 15
    for other in ({"metric": ["a"]}, {"metric": ["a", "b"]}, {"metric": ["a", "b"], "mode": "max",
                                                                "constraints": ["mem <= 2.5"]}):
        bad = RandomSearch({"x": 0.0}, SPACE, n_trials=20, random_state=1, **other)
        with pytest.raises(StudyMismatchError):
            bad.run(two, experiment_root=root, verbose=0)


def test_a_version_1_study_is_migrated_by_a_writer_and_read_by_a_reader(tmp_path: Path) -> None:
    """A study written before several objectives existed (schema 1): a reader
    reads it as is; a resumed search migrates it and keeps every trial."""
    root = tmp_path / "old"
    RandomSearch({"x": 0.0}, SPACE, metric="a", n_trials=4, random_state=0).run(
        two, experiment_root=root, verbose=0)
    c = sqlite3.connect(root / "hpcore.db")
    c.execute("ALTER TABLE trials DROP COLUMN \"values\"")
    c.execute("ALTER TABLE trials DROP COLUMN constraints")
    c.execute("ALTER TABLE study DROP COLUMN objectives")
    c.execute("PRAGMA user_version = 1")
    c.commit()
    c.close()
    old = hpcore.load(root)
    assert len(old.trials) == 4 and old.best_trial is not None
    assert sqlite3.connect(root / "hpcore.db").execute("PRAGMA user_version").fetchone()[0] == 1
    s = RandomSearch({"x": 0.0}, SPACE, metric="a", n_trials=6, random_state=0)
    s.run(two, experiment_root=root, verbose=0)
    assert sqlite3.connect(root / "hpcore.db").execute("PRAGMA user_version").fetchone()[0] == 2
    assert [t.values for t in hpcore.load(root).trials][:4] == [t.values for t in old.trials]


def test_no_feasible_trial_is_a_clear_error() -> None:
    s = RandomSearch({"x": 0.0}, SPACE, metric="a", n_trials=5, random_state=0,
                     constraints=["mem <= -5"])
    with pytest.raises(SearchError, match="met the constraints"):
        s.run(two, verbose=0)
    assert len(s.trials) == 5 and not any(t.feasible for t in s.trials)


def test_one_objective_with_constraints_returns_the_best_feasible() -> None:
    s = RandomSearch({"x": 0.0}, SPACE, metric="b", n_trials=40, random_state=0,
                     constraints=["mem <= 1"])
    config, score = s.run(two, verbose=0)
    assert config["x"] <= 1
    feasible = [t.value for t in s.trials if t.params["x"] <= 1]
    assert min(t.value for t in s.trials if t.params["x"] > 1) < score == min(feasible)


def test_what_is_refused_before_any_trial() -> None:
    with pytest.raises(ArgumentError, match="HyperbandSearch promotes"):
        HyperbandSearch({"x": 0.0, "epochs": 1}, SPACE, metric=["a", "b"],
                        resource_key="epochs", max_resource=9)
    with pytest.raises(ArgumentError, match="target"):
        RandomSearch({"x": 0.0}, SPACE, metric=["a", "b"], n_trials=3).run(
            two, search_budget=SearchBudget(target=0.1), verbose=0)
    with pytest.raises(ArgumentError, match="log-EHVI"):
        BayesianSearch({"x": 0.0}, SPACE, metric=["a", "b"], acquisition="ucb")
    s = RandomSearch({"x": 0.0}, SPACE, metric=["a", "b"], n_trials=3)
    with pytest.raises(hpcore.errors.ResultError, match="'b'"):
        s.run(lambda c: {"a": 1.0}, verbose=0)


def test_stopped_trials_take_each_objective_from_their_last_report() -> None:
    from hpcore.stopping import BudgetStopping

    def fn(config, trial):
        for step in range(5):
            trial.report(step, a=10.0 - step, b=float(step))
        return {"a": 0.0, "b": 0.0}

    rule = BudgetStopping(max_steps=2)  # stops at the report after step 2
    s = RandomSearch({"x": 0.0}, SPACE, metric=["a", "b"], n_trials=2, random_state=0)
    s.run(fn, stopping=rule, verbose=0)
    for t in s.trials:
        assert t.state is TrialState.STOPPED
        assert t.values == (8.0, 2.0)


def test_bayesian_front_beats_random_on_zdt1() -> None:
    """Same seeds, same budget: log-EHVI's front dominates more than random search's."""
    ref = np.array([1.1, 11.0])
    hv = {}
    for cls in (RandomSearch, BayesianSearch):
        s = cls(None, ZDT_SPACE, metric=["f1", "f2"], n_trials=30, random_state=3)
        _, front = s.run(zdt1, verbose=0)
        hv[cls.__name__] = hypervolume(front, ref)
    assert hv["BayesianSearch"] > hv["RandomSearch"] + 0.5


def test_constrained_bayesian_search_stays_feasible() -> None:
    """Branin with a disc constraint: after the initial points most suggestions
    are feasible and the best feasible value is near the constrained optimum."""

    def branin(config):
        x1, x2 = config["x1"], config["x2"]
        f = (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2 \
            + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10
        return {"f": f, "g": (x1 - 2.5) ** 2 + (x2 - 7.5) ** 2}

    s = BayesianSearch(None, {"x1": Real(-5.0, 10.0), "x2": Real(0.0, 15.0)}, metric="f",
                       n_trials=30, random_state=0, constraints=["g <= 50"])
    _, best = s.run(branin, verbose=0)
    assert best < 0.45  # the optimum 0.3979 at (pi, 2.275) is feasible (g = 27.7)
    later = s.trials[10:]
    assert sum(t.feasible for t in later) >= 0.7 * len(later)


def test_strategy_ask_tell_with_pending_points_spreads_the_batch() -> None:
    s = MultiOutputBayesianStrategy(ZDT_SPACE, n_objectives=2, n_constraints=1, seed=0,
                                    n_initial_points=6)
    for _ in range(10):
        p = s.ask()
        r = zdt1(p)
        s.tell(p, (r["f1"], r["f2"]), constraints=(p["x0"] - 0.8,))
    batch = s.ask(4)
    X = np.array([[p[k] for k in ZDT_SPACE] for p in batch])
    gaps = [np.linalg.norm(X[i] - X[j]) for i in range(4) for j in range(i)]
    assert min(gaps) > 1e-2


def test_four_objectives_use_a_scalarisation() -> None:
    def four(config):
        x = np.array([config[f"x{i}"] for i in range(4)])
        return {f"o{j}": float(np.sum((x - j / 3) ** 2)) for j in range(4)}

    s = BayesianSearch(None, ZDT_SPACE, metric=[f"o{j}" for j in range(4)], n_trials=16,
                       random_state=0, n_initial_points=8)
    configs, front = s.run(four, verbose=0)
    assert front.shape[1] == 4 and len(configs) >= 2
    # The hypervolume history takes a reference point for four objectives too (a plot
    # may; the search does not).
    from hpcore.analysis.pareto import hypervolume_history

    ref = np.full(4, 3.0)
    _, hv, used = hypervolume_history(s, list(ref))
    assert used == {f"o{j}": 3.0 for j in range(4)}
    assert hv[-1] == pytest.approx(hypervolume(front, ref)) and hv[-1] > 0
    with pytest.raises(ArgumentError, match="one finite number per objective"):
        hypervolume_history(s, [3.0] * 3)


def test_a_spec_file_takes_several_objectives_and_constraints(tmp_path: Path) -> None:
    from hpcore.cli.spec import SpecError, build_search, load_spec

    path = tmp_path / "mo.toml"
    path.write_text(
        'search = "random"\ntrain = "unused:fn"\nmetric = ["a", "b"]\nmode = ["min", "min"]\n'
        'constraints = ["mem <= 2.5"]\nn_trials = 8\nseed = 0\n'
        '[space]\n"x" = {type = "real", low = -1.0, high = 3.0}\n'
    )
    search = build_search(load_spec(path))
    assert search.objectives.metrics == ("a", "b") and len(search.objectives.constraints) == 1
    configs, front = search.run(two, verbose=0)
    assert front.shape[1] == 2 and all(c["x"] <= 2.5 for c in configs)
    path.write_text(path.read_text().replace('mode = ["min", "min"]', 'mode = ["min"] '
                                             ).replace("mem <= 2.5", "mem < 2.5"))
    with pytest.raises(SpecError, match="'metric <= bound'"):
        load_spec(path)


def test_a_resumed_bayesian_study_suggests_what_an_uninterrupted_one_would(tmp_path: Path) -> None:
    """Several objectives and a constraint, interrupted after 8 and again after 12
    trials (after several model fits) and resumed to 18: the same trials as one run.
    (With fits warm-started from the last one below 20 results, this seed diverged.)"""

    def make(n):
        return BayesianSearch({"x0": 0.5, "x1": 0.5, "x2": 0.5, "x3": 0.5}, ZDT_SPACE,
                              metric=["f1", "f2"], constraints=["s <= 1.2"], n_trials=n,
                              n_initial_points=5, random_state=2)

    def fn(config):
        return {**zdt1(config), "s": config["x0"] + config["x1"]}

    for n in (8, 12, 18):
        resumed = make(n)
        resumed.run(fn, experiment_root=tmp_path / "r", verbose=0)
    straight = make(18)
    straight.run(fn, verbose=0)
    assert [t.params for t in resumed.trials] == [t.params for t in straight.trials]
    assert [t.constraints for t in resumed.trials] == [t.constraints for t in straight.trials]


# -- analysis, plots, report and the command line on a real stored study --------------


@pytest.fixture(scope="module")
def mo_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mo") / "study"

    def fn(config):
        return {"a": config["x"] ** 2 + 0.1 * config["y"], "b": (config["x"] - 2) ** 2,
                "c": config["y"], "mem": config["x"]}

    RandomSearch({"x": 0.0, "y": 0.0}, {"x": Real(-1.0, 3.0), "y": Real(0.0, 1.0)},
                 metric=["a", "b", "c"], mode=["min", "min", "max"], n_trials=24,
                 random_state=0, constraints=["mem <= 2.5"]).run(
        fn, experiment_root=root, verbose=0)
    return root


def _hpcore_cli(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "hpcore", *map(str, args)],
                          capture_output=True, text=True)


def test_cli_best_and_status_show_the_front(mo_root: Path) -> None:
    import json

    study = hpcore.load(mo_root)
    out = _hpcore_cli("best", mo_root, "--params-only")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [d["trial_id"] for d in doc] == [t.trial_id for t in study.best_trials]
    assert doc[0]["values"] == dict(zip(["a", "b", "c"], study.best_trials[0].values))
    assert f"Pareto front: {len(doc)} trial(s) of 24" in out.stderr
    status = _hpcore_cli("status", mo_root)
    assert status.returncode == 0, status.stderr
    assert "a (min), b (min), c (max); subject to mem <= 2.5" in status.stdout
    assert f"Pareto front: {len(doc)} trial(s)" in status.stdout
    compare = _hpcore_cli("compare", mo_root, mo_root)
    assert compare.returncode != 0 and "several objectives" in compare.stderr


def test_report_shows_the_front_table_and_plot(mo_root: Path, tmp_path: Path) -> None:
    from hpcore.analysis.report import write_report

    page = write_report(hpcore.load(mo_root), tmp_path / "report").read_text()
    front = hpcore.load(mo_root).best_trials
    assert 'id="pareto-front"' in page and "Pareto front" in page
    assert page.count("<tr><td class=\"num\">") >= len(front)
    assert "subject to mem &lt;= 2.5" in page
    png = tmp_path / "report" / "pareto_front.png"
    assert png.stat().st_size > 10_000
    assert 'id="plot-hypervolume"' in page and (tmp_path / "report" / "hypervolume.png").exists()
    best = _hpcore_cli("best", mo_root)  # no reference point of its own: no hypervolume line
    assert best.returncode == 0 and "Hypervolume" not in best.stderr


def test_pareto_plots_for_two_and_three_objectives(mo_root: Path, tmp_path: Path) -> None:
    from hpcore.analysis.plots import plot_pareto_front

    study = hpcore.load(mo_root)
    for name, fig in (("three", plot_pareto_front(study)),
                      ("two", plot_pareto_front(study, objectives=["a", "b"]))):
        fig.savefig(tmp_path / f"{name}.png", dpi=60)
        assert (tmp_path / f"{name}.png").stat().st_size > 5_000
    two = plot_pareto_front(study, objectives=["a", "b"])
    title = two.axes[0].get_title()
    # the front of (a, b) alone, among feasible trials
    feasible = [t for t in study.trials if t.feasible and t.values]
    Y = np.array([t.values[:2] for t in feasible])
    n_front = sum(not any(np.all(o <= y) and np.any(o < y) for o in Y) for y in Y)
    assert title.endswith(f"({n_front} of {len(study.trials)} trials)")
    with pytest.raises(ArgumentError, match="two or more"):
        plot_pareto_front(study, objectives=["a"])
    with pytest.raises(ArgumentError, match="several objectives"):
        plot_pareto_front(RandomSearch({"x": 0.0}, SPACE, metric="a", n_trials=2))


def _brute_hypervolumes(study, ref_min: np.ndarray) -> np.ndarray:
    """The hypervolume of the feasible trials among the first i + 1, for each i."""
    signs = np.array([1.0, 1.0, -1.0])  # a, b minimised; c maximised
    done = sorted((t for t in study.trials if t.values), key=lambda t: t.trial_id)
    out = []
    for i in range(len(done)):
        Y = np.array([np.array(t.values) * signs for t in done[: i + 1] if t.feasible])
        out.append(hypervolume(Y, ref_min) if len(Y) else 0.0)
    return np.array(out)


def test_hypervolume_history_is_the_hypervolume_of_each_prefix(mo_root: Path) -> None:
    from hpcore.analysis.pareto import hypervolume_history

    study = hpcore.load(mo_root)
    ids, hv, ref = hypervolume_history(study)
    assert list(ids) == sorted(t.trial_id for t in study.trials if t.values)
    feasible = np.array([t.values for t in study.trials if t.values and t.feasible])
    # No reference point stored: the worst feasible value of each, in its direction.
    assert ref == {"a": feasible[:, 0].max(), "b": feasible[:, 1].max(),
                   "c": feasible[:, 2].min()}
    np.testing.assert_allclose(hv, _brute_hypervolumes(study, np.array(
        [ref["a"], ref["b"], -ref["c"]])), rtol=1e-12, atol=1e-15)
    given = {"a": 4.0, "b": 5.0, "c": 0.2}  # c is maximised: the lowest value of interest
    _, hv2, ref2 = hypervolume_history(study, given)
    assert ref2 == given and 0 < hv2[-1] < hv[-1]  # a nearer reference: less below it
    np.testing.assert_allclose(hv2, _brute_hypervolumes(study, np.array([4.0, 5.0, -0.2])),
                               rtol=1e-12)
    with pytest.raises(ArgumentError, match="not objectives"):
        hypervolume_history(study, {"a": 1.0, "b": 1.0, "cc": 1.0})
    with pytest.raises(ArgumentError, match="several objectives"):
        hypervolume_history(RandomSearch({"x": 0.0}, SPACE, metric="a", n_trials=2))


def test_the_search_reference_point_reaches_the_plot_the_report_and_the_cli(
        tmp_path: Path) -> None:
    from hpcore.analysis.pareto import hypervolume_history, plot_hypervolume_history
    from hpcore.analysis.report import write_report

    root = tmp_path / "study"
    BayesianSearch(None, {"x": Real(0.0, 1.0)}, metric=["a", "b"], n_trials=10,
                   n_initial_points=5, random_state=0,
                   reference_point={"a": 0.5, "b": 0.9}).run(line, experiment_root=root,
                                                              verbose=0)
    study = hpcore.load(root)
    _, hv, ref = hypervolume_history(study)
    assert ref == {"a": 0.5, "b": 0.9}
    front = np.array([t.values for t in study.best_trials])
    assert hv[-1] == pytest.approx(hypervolume(front, np.array([0.5, 0.9])))
    fig = plot_hypervolume_history(study)
    assert "reference: a 0.5, b 0.9" in fig.axes[0].get_title()
    write_report(study, tmp_path / "report")
    assert (tmp_path / "report" / "hypervolume.png").stat().st_size > 5_000
    out = _hpcore_cli("best", root)
    assert out.returncode == 0, out.stderr
    assert f"Hypervolume below the reference point (a 0.5, b 0.9): {hv[-1]:.6g}" in out.stderr


def test_importance_per_objective(mo_root: Path) -> None:
    from hpcore.analysis import importance

    study = hpcore.load(mo_root)
    # b depends on x only; c on y only
    assert importance(study, objective="b")["x"] > 0.9
    assert importance(study, objective="c")["y"] > 0.9
    assert importance(study, objective=2) == importance(study, objective="c")
    with pytest.raises(ArgumentError, match="not an objective"):
        importance(study, objective="latency")


def test_each_model_has_a_constant_prior_mean_and_the_thresholds_follow_it() -> None:
    """The models are centred (GPModel.centred); the incumbent, the boxes and the
    constraint bounds handed to the acquisition are in each model's own units."""
    space = {"x": Real(0.0, 1.0), "y": Real(0.0, 1.0)}

    def evaluate(p):
        f = (p["x"] - 0.3) ** 2 + (p["y"] - 0.6) ** 2
        return [f, 1.0 - p["x"] + 3.0 * f ** 0.5], [p["x"] + p["y"] - 1.2]

    for n_objectives in (1, 2):
        s = MultiOutputBayesianStrategy(space, n_objectives, 1, seed=2, n_initial_points=6,
                                        n_candidates=128, n_restarts=1)
        for _ in range(12):
            p = s.ask()
            values, c = evaluate(p)
            s.tell(p, values[:n_objectives], constraints=c)
        acq = s._acquisition(np.empty((0, 2)))
        Z, _ = s._objective_columns()
        _, bounds = s._constraint_columns()
        offsets = [m.offset for m in acq.objectives]
        assert all(o != 0.0 for o in offsets) and acq.constraints[0].offset != 0.0
        np.testing.assert_allclose(acq.bounds + acq.constraints[0].offset, bounds)
        feasible = Z[s._feasible()]
        if n_objectives == 1:
            assert acq.best + offsets[0] == pytest.approx(feasible.min())
        else:  # every front point is a corner of the boxes, in the models' units
            front = feasible[hpcore.kernels.nondominated(feasible)] - np.array(offsets)
            corners = np.vstack([acq.lower, acq.upper])
            for q in front:
                for j in range(2):
                    assert np.any(np.isclose(corners[:, j], q[j]))


def line(config):
    """Every x is Pareto-optimal: a = x, b = 1 - x; the reference point picks a part."""
    x = config["x"]
    return {"a": x, "b": 1.0 - x, "acc": -x}


def test_a_reference_point_aims_the_suggestions_inside_it() -> None:
    """Only a <= 0.3 is of interest: the model's suggestions stay there (without the
    reference point they spread over the whole front)."""
    space = {"x": Real(0.0, 1.0)}
    inside = {}
    for ref in (None, {"a": 0.3, "b": 1.2}):
        s = BayesianSearch(None, space, metric=["a", "b"], n_trials=22, random_state=0,
                           n_initial_points=6, reference_point=ref)
        s.run(line, verbose=0)
        later = [t.params["x"] for t in s.trials[6:]]
        inside[ref is None] = sum(x < 0.3 for x in later) / len(later)
    assert inside[False] >= 0.8  # with the reference point
    assert inside[True] <= 0.6  # without: the front's other parts too


def test_a_reference_point_is_in_the_users_units_and_directions(tmp_path: Path) -> None:
    s = BayesianSearch(None, {"x": Real(0.0, 1.0)}, metric=["a", "acc"], mode=["min", "max"],
                       reference_point={"acc": -0.7, "a": 0.9}, n_trials=8,
                       n_initial_points=4, random_state=0)
    assert s.reference_point == {"a": 0.9, "acc": -0.7}
    strategy = s._make_strategy()
    np.testing.assert_array_equal(strategy.reference_point, [0.9, 0.7])  # minimised
    s.run(line, experiment_root=tmp_path / "study", verbose=0)
    assert hpcore.load(tmp_path / "study").settings["reference_point"] == {
        "a": 0.9, "acc": -0.7}
    same = BayesianSearch(None, {"x": Real(0.0, 1.0)}, metric=["a", "acc"], mode=["min", "max"],
                          reference_point=[0.9, -0.7], random_state=0)
    assert same.reference_point == s.reference_point


@pytest.mark.parametrize("metric, ref, message", [
    (["a", "b"], {"a": 1.0, "bb": 2.0}, r"names \['bb'\], which are not objectives"),
    (["a", "b"], {"a": 1.0}, r"no value for \['b'\]"),
    (["a", "b"], [1.0, 2.0, 3.0], "lists 3 values for 2 objectives"),
    (["a", "b"], {"a": 1.0, "b": float("nan")}, r"reference_point\['b'\] must be a finite"),
    (["a", "b"], 1.0, "must map each objective"),
    ("a", {"a": 1.0}, "two or three objectives"),
    (["a", "b", "c", "d"], [1.0] * 4, "two or three objectives"),
])
def test_a_bad_reference_point_is_refused_before_any_trial(metric, ref, message) -> None:
    with pytest.raises(ArgumentError, match=message):
        BayesianSearch(None, {"x": Real(0.0, 1.0)}, metric=metric, reference_point=ref)


def test_the_strategy_checks_its_reference_point() -> None:
    space = {"x": Real(0.0, 1.0)}
    with pytest.raises(ValueError, match="2 finite numbers"):
        MultiOutputBayesianStrategy(space, 2, reference_point=[1.0])
    with pytest.raises(ValueError, match="two or three objectives"):
        MultiOutputBayesianStrategy(space, 4, reference_point=[1.0] * 4)
    with pytest.raises(ValueError, match="two or three objectives"):
        MultiOutputBayesianStrategy(space, 1, 1, reference_point=[1.0])


def test_the_reference_point_bounds_the_boxes_in_the_models_units() -> None:
    """The boxes reach the user's reference point mapped through each objective's warp
    (not the worst value seen); a point beyond it adds no box."""
    s = MultiOutputBayesianStrategy({"x": Real(0.0, 1.0)}, 2, seed=0, n_initial_points=5,
                                    reference_point=[0.5, 0.9], n_candidates=64)
    for _ in range(8):
        p = s.ask()
        r = line(p)
        s.tell(p, (r["a"], r["b"]))
    acq = s._acquisition(np.empty((0, 1)))
    Z, ref = s._objective_columns()
    assert np.all(ref < Z.max(axis=0))  # inside the data: the default would lie beyond
    offsets = np.array([m.offset for m in acq.objectives])
    np.testing.assert_allclose((acq.upper + offsets).max(axis=0), ref)


def test_a_spec_file_takes_a_reference_point(tmp_path: Path) -> None:
    from hpcore.cli.spec import SpecError, build_search, load_spec

    path = tmp_path / "mo.toml"
    path.write_text(
        'search = "bayesian"\ntrain = "unused:fn"\nmetric = ["a", "b"]\nn_trials = 8\nseed = 0\n'
        '[options]\nreference_point = {a = 0.3, b = 1.2}\n'
        '[space]\n"x" = {type = "real", low = 0.0, high = 1.0}\n'
    )
    search = build_search(load_spec(path))
    assert search.reference_point == {"a": 0.3, "b": 1.2}
    path.write_text(path.read_text().replace("{a = 0.3", "{aa = 0.3"))
    with pytest.raises(SpecError, match="'aa'"):
        build_search(load_spec(path))
