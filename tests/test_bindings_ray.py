"""hpcore.bindings.ray.HpcoreSearcher: driven directly, then inside a real local Tuner."""

from __future__ import annotations

import subprocess
import sys

import pytest

ray = pytest.importorskip("ray", reason="Ray Tune is not installed (pip install 'hpcore[ray]')")
tune = pytest.importorskip("ray.tune", reason="ray is installed without Tune (pip install 'ray[tune]')")

from hpcore.bindings.ray import HpcoreSearcher, convert_ray_space  # noqa: E402
from ray.tune.search import Searcher  # noqa: E402

from hpcore.search.space import Categorical, Integer, Real  # noqa: E402


def quadratic(config):
    return (config["x"] - 0.7) ** 2 + (config["nested"]["y"] + 1.0) ** 2 + (config["n"] - 3) ** 2


PARAM_SPACE = {
    "x": tune.uniform(-2.0, 2.0),
    "nested": {"y": tune.uniform(-3.0, 3.0)},
    "n": tune.randint(0, 6),
    "const": 5,
}


def _drive(searcher, n, fn=quadratic, metric="loss", sign=1.0):
    configs = []
    for i in range(n):
        config = searcher.suggest(f"t{i}")
        configs.append(config)
        searcher.on_trial_complete(f"t{i}", {metric: sign * fn(config), "done": True})
    return configs


# -- the space ---------------------------------------------------------------------------
def test_each_ray_domain_converts():
    space, paths, decoders = convert_ray_space({
        "u": tune.uniform(0.0, 2.0),
        "lu": tune.loguniform(1e-4, 1e-1),
        "qu": tune.quniform(0.0, 1.0, 0.25),
        "ri": tune.randint(1, 5),
        "lri": tune.lograndint(1, 100),
        "qri": tune.qrandint(2, 10, 2),
        "c": tune.choice(["a", "b", 3]),
        "deep": {"er": tune.uniform(0, 1)},
        "const": 7,
    })
    assert dict(space) == {
        "u": Real(0.0, 2.0),
        "lu": Real(1e-4, 1e-1, log=True),
        "qu": Integer(0, 4),
        "ri": Integer(1, 4),  # Ray's randint excludes its upper bound
        "lri": Integer(1, 99, log=True),
        "qri": Integer(1, 5),
        "c": Categorical(["a", "b", 3]),
        "deep/er": Real(0, 1),
    }
    assert paths["deep/er"] == ("deep", "er")
    assert decoders["qu"](3) == 0.75 and decoders["qri"](5) == 10


@pytest.mark.parametrize(
    "domain, match",
    [
        (tune.randn(0, 1), "'p'.*Normal.*no hpcore counterpart"),
        (tune.sample_from(lambda spec: 1), "'p'.*Function domains"),
        (tune.grid_search([1, 2]), "'p'.*grid_search"),
    ],
)
def test_domains_without_an_hpcore_counterpart_are_refused(domain, match):
    with pytest.raises(ValueError, match=match):
        HpcoreSearcher({"p": domain}, metric="loss", mode="min")


def test_bad_arguments_fail_when_the_searcher_is_made():
    with pytest.raises(ValueError, match="acquisition must be one of"):
        HpcoreSearcher(acquisition="nope")
    with pytest.raises(ValueError, match="`mode` must be 'min' or 'max', got 'up'"):
        HpcoreSearcher(mode="up")
    with pytest.raises(ValueError, match="`n_initial_points` must be an int >= 0, got -1"):
        HpcoreSearcher(n_initial_points=-1)


def test_suggest_without_a_space_or_a_metric_says_what_to_pass():
    with pytest.raises(RuntimeError, match="no search space"):
        HpcoreSearcher(metric="loss", mode="min").suggest("t0")
    with pytest.raises(RuntimeError, match="needs a metric and a mode"):
        HpcoreSearcher({"x": Real(0, 1)}).suggest("t0")


# -- driving the searcher by hand ------------------------------------------------------------
def test_set_search_properties_takes_the_param_space_metric_and_mode():
    s = HpcoreSearcher(seed=0, n_initial_points=4)
    assert s.set_search_properties("loss", "min", PARAM_SPACE) is True
    assert s.metric == "loss" and s.mode == "min"
    configs = _drive(s, 12)
    for c in configs:
        assert set(c) == {"x", "nested", "n"}  # constants are Tune's to merge
        assert -2 <= c["x"] <= 2 and -3 <= c["nested"]["y"] <= 3
        assert isinstance(c["n"], int) and 0 <= c["n"] <= 5
    # a space given already: Tune's own is not taken (Tune refuses one with domains)
    assert s.set_search_properties("loss", "min", {"z": tune.uniform(0, 1)}) is False
    assert "z" not in s.space


def test_it_finds_a_good_point_and_tells_the_strategy_each_result():
    s = HpcoreSearcher(PARAM_SPACE, metric="loss", mode="min", seed=0, n_initial_points=6)
    configs = _drive(s, 20)
    best = min(quadratic(c) for c in configs)
    assert best < 0.3
    assert len(s.strategy.history) == 20 and not s.strategy.pending


def test_mode_max_negates_the_metric():
    a = HpcoreSearcher(PARAM_SPACE, metric="loss", mode="min", seed=3, n_initial_points=4)
    b = HpcoreSearcher(PARAM_SPACE, metric="score", mode="max", seed=3, n_initial_points=4)
    ca = _drive(a, 8)
    cb = _drive(b, 8, metric="score", sign=-1.0)
    assert ca == cb
    assert [o.value for o in a.strategy.history] == [o.value for o in b.strategy.history]


def test_running_trials_are_pending_and_errors_are_failed():
    s = HpcoreSearcher({"x": Real(0.0, 1.0)}, metric="loss", mode="min", seed=0, n_initial_points=2)
    _drive(s, 4, fn=lambda c: (c["x"] - 0.5) ** 2)
    c1, c2 = s.suggest("r1"), s.suggest("r2")  # both running at once
    assert c1 != c2 and len(s.strategy.pending) == 2
    s.on_trial_complete("r1", None, error=True)
    s.on_trial_complete("r2", {"other": 1.0})  # the metric is missing
    assert [o.state for o in s.strategy.history[-2:]] == ["failed", "failed"]
    assert not s.strategy.pending
    s.on_trial_complete("never-suggested", {"loss": 0.0})  # ignored
    assert len(s.strategy.history) == 6


def test_dotted_hpcore_keys_become_nested_config_and_a_finite_space_finishes():
    s = HpcoreSearcher(
        {"model.act": ["relu", "tanh"], "model.depth": Integer(1, 2)}, metric="loss", mode="min",
        seed=0, n_initial_points=2,
    )
    seen = []
    for i in range(5):
        c = s.suggest(f"t{i}")
        if c == Searcher.FINISHED:
            break
        seen.append((c["model"]["act"], c["model"]["depth"]))
        s.on_trial_complete(f"t{i}", {"loss": float(i)})
    assert sorted(seen) == [("relu", 1), ("relu", 2), ("tanh", 1), ("tanh", 2)]
    assert i == 4


def test_save_and_restore_continue_the_same_sequence(tmp_path):
    a = HpcoreSearcher(PARAM_SPACE, metric="loss", mode="min", seed=1, n_initial_points=4)
    _drive(a, 6)
    running = a.suggest("running")
    path = tmp_path / "searcher.pkl"
    a.save(str(path))
    b = HpcoreSearcher(metric="loss", mode="min")
    b.restore(str(path))
    assert b.space == a.space and b.strategy.pending == a.strategy.pending
    assert b.suggest("running") == running  # Tune re-runs it under its id
    for s in (a, b):
        s.on_trial_complete("running", {"loss": quadratic(running)})
    assert a.suggest("next") == b.suggest("next")


def test_importing_the_binding_imports_neither_mlflow_nor_optuna():
    code = (
        "import sys, hpcore.bindings.ray;"
        "print([m for m in ('mlflow', 'optuna') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- inside Ray Tune ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_runtime():
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 configure_logging=False, ignore_reinit_error=True)
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"Ray's local runtime does not start here: {type(exc).__name__}: {exc}")
    # Ray's workers cannot import this test module: ship its functions by value
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    ray.shutdown()


def _trainable(config):
    tune.report({"loss": quadratic(config), "x": config["x"], "const": config["const"]})


def test_a_real_tuner_finds_a_good_point(ray_runtime, tmp_path):
    searcher = HpcoreSearcher(seed=0, n_initial_points=6)
    tuner = tune.Tuner(
        _trainable,
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=12, metric="loss",
                                    mode="min", max_concurrent_trials=2),
        param_space=PARAM_SPACE,
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="hpcore", verbose=0),
    )
    results = tuner.fit()
    assert len(results) == 12 and not results.errors
    configs = [r.config for r in results]
    for c in configs:
        assert -2 <= c["x"] <= 2 and -3 <= c["nested"]["y"] <= 3 and 0 <= c["n"] <= 5
        assert c["const"] == 5
    assert len({(c["x"], c["nested"]["y"], c["n"]) for c in configs}) == 12
    best = results.get_best_result()
    assert best.metrics["loss"] < 2.0  # a random point's expected loss is about 9
    assert len(searcher.strategy.history) == 12 and not searcher.strategy.pending
