"""Conditional parameters (``when=``): the graph checks, sampling only active keys,
grids branch by branch, encoding, storage and resume, spec files, the Bayesian
strategy, analysis and Optuna's define-by-run spaces."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hpcore
from hpcore.errors import SearchSpaceError
from hpcore.search import BayesianSearch, GridSearch, RandomSearch
from hpcore.space import Categorical, Choice, Integer, Real, SearchSpace, Uniform
from hpcore.strategies import BayesianStrategy
from hpcore.strategies._inactive import Projection
from hpcore.testing.conditional import TRAP_SPACE, conditional_sphere, conditional_trap

OPTIMIZER = {
    "optimizer.name": ["sgd", "adam"],
    "optimizer.momentum": Real(0.0, 0.9, grid_points=3, when={"optimizer.name": "sgd"}),
    "optimizer.beta2": Real(0.9, 0.999, grid_points=4, when={"optimizer.name": "adam"}),
    "training.lr": Real(1e-4, 1e-1, log=True, grid_points=2),
}

NESTED = {
    "model.kind": ["mlp", "transformer", "cnn"],
    "model.layers": Integer(1, 3, when={"model.kind": ["mlp", "cnn"]}),
    "model.heads": Categorical([2, 4, 8], when={"model.kind": "transformer"}),
    "model.head_dim": Choice([32, 64], when={"model.heads": [4, 8]}),
    "model.kernel": Integer(3, 5, when={"model.kind": "cnn", "model.layers": [2, 3]}),
}


def test_grids_enumerate_branch_by_branch_as_counted_by_hand() -> None:
    # sgd: 3 momenta, adam: 4 beta2s; times 2 learning rates
    grid = SearchSpace(OPTIMIZER).grid()
    assert len(grid) == (3 + 4) * 2
    assert all(("optimizer.momentum" in p) == (p["optimizer.name"] == "sgd") for p in grid)
    # mlp: 3 layer counts; transformer: heads 2 (no head_dim) + heads 4, 8 with 2 head_dims;
    # cnn: layers 1 (no kernel) + layers 2, 3 with 3 kernels
    space = SearchSpace(NESTED)
    assert len(space.grid()) == 3 + (1 + 2 * 2) + (1 + 2 * 3) == space.cardinality == 15
    points = list(space.grid())
    assert len({json.dumps(p, sort_keys=True) for p in points}) == len(points)
    assert all(space.contains(p) for p in points)
    assert [space.grid().index_of(p) for p in points] == list(range(len(points)))


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"a": ["x", "y"], "b": Real(0, 1, when={"aa": "x"})}, "'aa', which is not a key.*'a'"),
        ({"a": ["x", "y"], "b": Real(0, 1, when={"a": "z"})}, "can never hold"),
        ({"a": Real(0, 1), "b": Real(0, 1, when={"a": 0.5})}, "discrete parent"),
        ({"a": ["x"], "b": Real(0, 1, when={"b": 1.0})}, "its own value"),
        ({"a": Categorical(["x"], when={"b": 1}), "b": Integer(0, 2, when={"a": "x"})},
         "cycle: a -> b -> a"),
        ({"a": ["x"], "b": Real(0, 1, when="a")}, "non-empty dict"),
        ({"a": ["x"], "b": Real(0, 1, when={"a": []})}, "at least one value"),
        ({"a": Integer(1, 3), "b": Real(0, 1, when={"a": 7})}, "can never hold"),
        # c needs b = 'p' together with a = 'y', but b exists only where a = 'x'
        ({"a": ["x", "y"], "b": Categorical(["p", "q"], when={"a": "x"}),
          "c": Real(0, 1, when={"b": "p", "a": "y"})}, "'c' can never be searched"),
    ],
)
def test_impossible_conditions_are_refused_naming_the_key(spec, match) -> None:
    with pytest.raises(SearchSpaceError, match=match):
        SearchSpace(spec)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_samples_hold_exactly_their_active_keys_and_round_trip(seed: int) -> None:
    space = SearchSpace(NESTED)
    for p in space.sample(np.random.default_rng(seed), 20):
        assert set(p) == space.active(p)
        assert space.contains(p)
        assert space.decode(space.encode(p)) == p
        assert space.from_model_features(space.model_features(p)) == p


def test_params_with_an_inactive_key_or_without_an_active_one_are_refused() -> None:
    space = SearchSpace(OPTIMIZER)
    ok = {"optimizer.name": "sgd", "optimizer.momentum": 0.5, "training.lr": 0.01}
    space.check_params(ok)
    with pytest.raises(SearchSpaceError, match="leave inactive keys out"):
        space.check_params({**ok, "optimizer.beta2": 0.95})
    with pytest.raises(SearchSpaceError, match="missing \\['optimizer.momentum'\\]"):
        space.check_params({"optimizer.name": "sgd", "training.lr": 0.01})


def test_unconditional_fingerprints_are_unchanged_and_conditions_are_stored() -> None:
    # computed with c43faa8, before conditional keys existed: old studies still resume
    plain = SearchSpace({"lr": Real(1e-4, 1e-1, log=True), "act": ["relu", "gelu"],
                         "n": Integer(1, 8)})
    assert plain.fingerprint() == "11a0eaa091fd6044"
    cond = SearchSpace(OPTIMIZER)
    assert SearchSpace.from_json(json.loads(json.dumps(cond.to_json()))) == cond
    assert cond.fingerprint() != SearchSpace({**OPTIMIZER, "optimizer.beta2": Real(
        0.9, 0.999, grid_points=4)}).fingerprint()


def test_seed_spellings_take_when() -> None:
    space = SearchSpace({"k": ["a", "b"], "x": Uniform(0, 1, when={"k": "a"}),
                         "y": Choice([1, 2], when={"k": "b"})})
    assert space["x"].when == {"k": "a"} and space.conditional


def test_train_fn_sees_only_active_keys_and_the_base_config_keeps_the_rest(tmp_path) -> None:
    seen = []

    def fn(config):
        seen.append(json.loads(json.dumps(config)))
        return 1.0

    base = {"optimizer": {"name": "sgd", "momentum": 0.0, "beta2": 0.5}, "training": {"lr": 0.1}}
    search = GridSearch(base, OPTIMIZER)
    search.run(fn, experiment_root=tmp_path / "g", verbose=0)
    assert len(seen) == 14
    for config, trial in zip(seen, search.trials):
        if config["optimizer"]["name"] == "adam":
            assert config["optimizer"]["momentum"] == 0.0  # the base config's value
            assert "optimizer.momentum" not in trial.params
        else:
            assert config["optimizer"]["beta2"] == 0.5
    stored = hpcore.load(tmp_path / "g")
    assert [t.params for t in stored.trials] == [t.params for t in search.trials]


def test_a_typo_under_a_condition_fails_before_any_trial() -> None:
    base = {"optimizer": {"name": "sgd", "momentum": 0.0}}
    with pytest.raises(hpcore.errors.ConfigError, match="momentun"):
        RandomSearch(base, {"optimizer.name": ["sgd", "adam"],
                            "optimizer.momentun": Real(0, 1, when={"optimizer.name": "sgd"})},
                     n_trials=2)


def test_projection_holds_inactive_coordinates_at_zero() -> None:
    space = SearchSpace(NESTED)
    proj = Projection(space)
    rng = np.random.default_rng(0)
    points = space.sample(rng, 50)
    Z = space.model_arrays(points)
    assert np.array_equal(proj.project(Z), Z)  # features of real points are already projected
    noisy = Z + rng.random(Z.shape) * (1 - space.model_cat) * 0.3
    P = proj.project(noisy)
    for p, row in zip(points, P):
        on = space.active(p)
        for j, key in enumerate(space):
            if key not in on:
                assert row[j] == 0.0


@pytest.mark.parametrize("fn", [conditional_sphere, conditional_trap])
def test_bayesian_search_on_a_conditional_space_beats_random(fn) -> None:
    """Same seeds and budget (40): the GP's median best is below random search's."""
    bests = {"random": [], "bayes": []}
    for seed in range(3):
        for name, cls in (("random", RandomSearch), ("bayes", BayesianSearch)):
            s = cls(None, TRAP_SPACE, n_trials=40, random_state=seed)
            bests[name].append(s.run(fn, verbose=0)[1])
    assert np.median(bests["bayes"]) < np.median(bests["random"])


def test_a_conditional_bayesian_study_resumes_like_one_run(tmp_path: Path) -> None:
    def make(n):
        return BayesianSearch(None, TRAP_SPACE, n_trials=n, n_initial_points=5, random_state=4)

    for n in (9, 14):
        resumed = make(n)
        resumed.run(conditional_sphere, experiment_root=tmp_path / "r", verbose=0)
    straight = make(14)
    straight.run(conditional_sphere, verbose=0)
    assert [t.params for t in resumed.trials] == [t.params for t in straight.trials]


def test_suggestions_never_repeat_in_a_small_conditional_space() -> None:
    s = BayesianStrategy(NESTED, seed=0, n_initial_points=3)
    seen = []
    for _ in range(15):
        p = s.ask()
        s.tell(p, float(len(json.dumps(p))))
        seen.append(json.dumps(p, sort_keys=True))
    assert len(set(seen)) == 15  # the whole space: every point once


def test_a_spec_file_takes_when(tmp_path: Path) -> None:
    from hpcore.cli.spec import build_search, load_spec

    path = tmp_path / "c.toml"
    path.write_text(
        'search = "grid"\ntrain = "unused:fn"\n'
        '[space]\n"optimizer.name" = {type = "categorical", choices = ["sgd", "adam"]}\n'
        '"optimizer.momentum" = {type = "real", low = 0.0, high = 0.9, grid_points = 3, '
        'when = {"optimizer.name" = "sgd"}}\n'
    )
    search = build_search(load_spec(path))
    assert len(search.space.grid()) == 4
    path.write_text(path.read_text().replace('"optimizer.name" = "sgd"', '"optimizer.nam" = "sgd"'))
    with pytest.raises(Exception, match="Did you mean 'optimizer.name'"):
        build_search(load_spec(path))


def test_analysis_handles_keys_absent_from_some_trials(tmp_path: Path) -> None:
    from hpcore.analysis import importance, trials_table
    from hpcore.analysis.plots import plot_parallel_coordinates, plot_slice
    from hpcore.analysis.report import write_report

    def by_branch(config):  # only the branch matters, plus a little of b.x1 where active
        p = dict(hpcore.config.flatten_config(config))
        return {"a": 0.0, "b": 1.0, "c": 2.0}[p["kind"]] + 0.01 * p.get("b.x1", 0.0)

    s = RandomSearch(None, TRAP_SPACE, n_trials=40, random_state=0)
    s.run(by_branch, experiment_root=tmp_path / "s", verbose=0)
    study = hpcore.load(tmp_path / "s")
    shares = importance(study)
    assert set(shares) == set(TRAP_SPACE) and math.isclose(sum(shares.values()), 1.0)
    assert shares["kind"] > 0.9  # the branch explains nearly all
    for name, fig in (("pc", plot_parallel_coordinates(study)), ("slice", plot_slice(study))):
        fig.savefig(tmp_path / f"{name}.png", dpi=50)
        assert (tmp_path / f"{name}.png").stat().st_size > 3000
    assert write_report(study, tmp_path / "report").stat().st_size > 10_000
    trials_table(study)


def test_optuna_define_by_run_conditional_spaces_still_work() -> None:
    optuna = pytest.importorskip("optuna")
    from hpcore.bindings.optuna import HpcoreSampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        name = trial.suggest_categorical("opt", ["sgd", "adam"])
        if name == "sgd":
            return (trial.suggest_float("momentum", 0, 1) - 0.3) ** 2
        return 0.5 + (trial.suggest_float("beta2", 0.9, 0.999) - 0.95) ** 2

    study = optuna.create_study(sampler=HpcoreSampler(seed=0, n_startup_trials=5))
    study.optimize(objective, n_trials=30)
    assert len(study.trials) == 30 and study.best_value < 0.05
