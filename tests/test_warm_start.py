"""Warm start from earlier studies: ``BayesianSearch(..., warm_start=...)``.

Earlier studies are real SQLite stores made by real searches on ``tmp_path``;
the strategy-level tests drive ``BayesianStrategy`` directly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hpcore
from hpcore import BayesianSearch, RandomSearch
from hpcore.cli.spec import SpecError, build_search, parse_spec
from hpcore.errors import ArgumentError
from hpcore.search._warm import WarmStart
from hpcore.search.space import Integer, Real
from hpcore.strategies import BayesianStrategy
from hpcore.strategies._prior import OWN_SCALE_FROM, PriorStudies

BASE = {"x": {"a": 0.0, "b": 3.0}, "opt": "adam"}
SPACE = {"x.a": Real(0.0, 10.0), "x.b": Real(0.0, 10.0)}


def _bowl(config):
    """Minimum 0 at a = 7, b = 2; ``acc`` grows as the loss falls."""
    loss = (config["x"]["a"] - 7.0) ** 2 + (config["x"]["b"] - 2.0) ** 2
    return {"loss": loss, "acc": 1.0 / (1.0 + loss)}


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """An earlier random search of the bowl: 16 completed trials."""
    root = tmp_path_factory.mktemp("warm") / "earlier"
    RandomSearch(BASE, SPACE, metric="loss", n_trials=16, random_state=0).run(
        _bowl, experiment_root=root, verbose=0)
    return root


def _search(**kw):
    kw.setdefault("random_state", 1)
    return BayesianSearch(BASE, kw.pop("space", SPACE), metric=kw.pop("metric", "loss"),
                          n_trials=kw.pop("n_trials", 6), **kw)


# -- the strategy ---------------------------------------------------------------------

def _quadratic(p, centre=(0.7, 0.2)):
    return (p["a"] - centre[0]) ** 2 + (p["b"] - centre[1]) ** 2


def _prior(n=30, seed=0, scale=1.0, offset=0.0):
    rng = np.random.default_rng(seed)
    points = [{"a": float(a), "b": float(b)} for a, b in rng.random((n, 2))]
    return [(p, scale * _quadratic(p) + offset) for p in points]


UNIT = {"a": Real(0.0, 1.0), "b": Real(0.0, 1.0)}


def test_the_first_model_suggestion_already_goes_where_the_earlier_study_was_good():
    warm = BayesianStrategy(UNIT, seed=3, n_initial_points=1, warm_start=[_prior()])
    cold = BayesianStrategy(UNIT, seed=3, n_initial_points=1)
    for s in (warm, cold):
        p = s.ask()
        s.tell(p, _quadratic(p))
    w, c = warm.ask(), cold.ask()
    assert math.dist((w["a"], w["b"]), (0.7, 0.2)) < 0.1
    assert w != c
    assert len(warm.history) == 1  # the earlier study is not part of this one


def test_earlier_values_on_another_scale_give_the_same_suggestions():
    """Each earlier study is standardised on its own: once the new study has its own
    scale, multiplying and shifting an earlier study's values changes nothing."""
    told = [{"a": a, "b": b} for a, b in [(0.1, 0.9), (0.5, 0.5), (0.9, 0.1), (0.3, 0.6),
                                            (0.6, 0.3), (0.8, 0.8)]]
    asks = []
    for scale, offset in ((1.0, 0.0), (250.0, -40.0)):
        s = BayesianStrategy(UNIT, seed=5, n_initial_points=1, y_transform="standardize",
                             warm_start=[_prior(scale=scale, offset=offset)])
        for p in told:
            s.tell(p, _quadratic(p))
        asks.append(s.ask())
    assert asks[0]["a"] == pytest.approx(asks[1]["a"], abs=1e-6)
    assert asks[0]["b"] == pytest.approx(asks[1]["b"], abs=1e-6)


def test_points_outside_the_space_are_left_out_and_an_empty_warm_start_is_refused():
    outside = [({"a": 2.0, "b": 0.5}, 1.0), ({"a": 0.5, "b": 0.5}, math.nan)]
    with pytest.raises(ValueError, match="no observation"):
        BayesianStrategy(UNIT, warm_start=[outside])
    s = BayesianStrategy(UNIT, warm_start=[outside + _prior(n=3)])
    assert len(s._prior) == 3


def test_pending_points_of_a_warm_started_strategy_are_not_suggested_again():
    s = BayesianStrategy(UNIT, seed=2, n_initial_points=1, warm_start=[_prior()])
    batch = s.ask(4)
    pts = np.array([[p["a"], p["b"]] for p in batch])
    gaps = [np.linalg.norm(pts[i] - pts[j]) for i in range(4) for j in range(i)]
    assert min(gaps) >= s.batch_radius


# -- the search: what an earlier study gives ------------------------------------------

def test_a_loaded_study_and_its_root_give_the_same_observations(earlier):
    by_root = WarmStart(earlier, _search().space, _search().objectives)
    by_study = WarmStart([hpcore.load(earlier)], _search().space, _search().objectives)
    assert by_root.groups == by_study.groups
    assert len(by_root.groups[0]) == 16
    loaded = hpcore.load(earlier)
    assert sorted(v for _, v in by_root.groups[0]) == sorted(t.value for t in loaded.trials)


def test_a_maximised_metric_is_negated_and_an_extra_metric_can_be_used(earlier):
    s = _search(metric="acc", mode="max", warm_start=earlier)
    groups = s._warm.groups[0]
    loaded = {tuple(t.params.values()): t.metrics["acc"] for t in hpcore.load(earlier).trials}
    assert all(v == -loaded[tuple(p.values())] for p, v in groups)


def test_a_key_the_earlier_study_did_not_search_takes_its_base_config_value(earlier):
    space = {**SPACE, "opt": ["sgd", "adam"]}
    groups = _search(space=space, warm_start=earlier)._warm.groups[0]
    assert {p["opt"] for p, _ in groups} == {"adam"}


def test_a_narrower_range_leaves_the_trials_outside_it_out(earlier):
    space = {"x.a": Real(0.0, 5.0), "x.b": Real(0.0, 10.0)}
    groups = _search(space=space, warm_start=earlier)._warm.groups[0]
    inside = [t for t in hpcore.load(earlier).trials if t.params["x.a"] <= 5.0]
    assert 0 < len(groups) == len(inside) < 16


@pytest.mark.parametrize("kw, message", [
    ({"space": {"x.a": ["lo", "hi"], "x.b": Real(0.0, 10.0)}},
     r"'x.a' is Categorical here and was Real there"),
    ({"space": {"x.a": Real(20.0, 30.0), "x.b": Real(0.0, 10.0)}}, r"'x.a' has disjoint ranges"),
    ({"space": {**SPACE, "x.c": Real(0.0, 1.0)}, "allow_new_keys": True},
     r"did not search 'x.c' and its base config has no value there"),
    ({"space": {**SPACE, "opt": ["sgd", "rmsprop"]}},
     r"ran with 'opt' = 'adam' \(its base config\), outside"),
    ({"metric": "f1"}, r"none of the finished trials .* with a value of 'f1'"),
    ({"metric": ["loss", "acc"], "mode": ["min", "max"]}, r"one objective without constraints"),
    ({"constraints": ["acc >= 0.5"]}, r"one objective without constraints"),
])
def test_what_cannot_inform_the_search_is_refused_with_the_reason(earlier, kw, message):
    with pytest.raises(ArgumentError, match=message):
        _search(warm_start=earlier, **kw)


@pytest.mark.parametrize("bad, message", [
    (3, r"warm_start must be a study \(hpcore.load\(root\)\), an experiment root"),
    ([], r"non-empty list"),
    ("no/such/root", r"warm_start: no hpcore study under 'no/such/root'"),
])
def test_a_warm_start_that_is_not_a_study_is_refused(bad, message):
    with pytest.raises(ArgumentError, match=message):
        _search(warm_start=bad)


def test_the_search_cannot_warm_start_from_its_own_root(earlier):
    with pytest.raises(ArgumentError, match="names the study this search is stored in"):
        _search(warm_start=earlier).run(_bowl, experiment_root=earlier, verbose=0)


# -- the search: running, storing, resuming -------------------------------------------

def test_a_warm_started_search_records_only_its_own_trials_and_what_it_used(earlier, tmp_path):
    search = _search(warm_start=earlier, n_trials=6)
    assert search.n_initial_points == 3  # the warm default
    search.run(_bowl, experiment_root=tmp_path / "new", verbose=0)
    study = hpcore.load(tmp_path / "new")
    assert len(study.trials) == 6
    assert study.settings["warm_start"] == [{"root": str(earlier), "observations": 16}]
    assert study.settings["n_initial_points"] == 3
    cold = _search(n_trials=6).run(_bowl, verbose=0)[1]
    assert study.best_value < cold  # the model knew where the bowl was from the start
    import subprocess
    import sys

    status = subprocess.run([sys.executable, "-m", "hpcore", "status", str(tmp_path / "new")],
                            capture_output=True, text=True)
    assert f"warm from {earlier} (16 observations)" in status.stdout, status.stderr


def test_an_interrupted_warm_started_search_resumes_as_if_never_stopped(earlier, tmp_path):
    whole = _search(warm_start=earlier, n_trials=8)
    whole.run(_bowl, experiment_root=tmp_path / "whole", verbose=0)
    _search(warm_start=earlier, n_trials=5).run(_bowl, experiment_root=tmp_path / "cut",
                                                 verbose=0)
    again = _search(warm_start=earlier, n_trials=8)
    again.run(_bowl, experiment_root=tmp_path / "cut", verbose=0)
    assert [t.params for t in again.trials] == [t.params for t in whole.trials]


def _spec(**kw):
    return {"search": "bayesian", "train": "train:fn", "metric": "loss", "n_trials": 4,
            "base_config": BASE,
            "space": {"x.a": {"type": "real", "low": 0.0, "high": 10.0},
                      "x.b": {"type": "real", "low": 0.0, "high": 10.0}},
            "options": kw}


def test_a_spec_file_warm_starts_from_roots_and_names_a_bad_one(earlier):
    search = build_search(parse_spec(_spec(warm_start=[str(earlier)])))
    assert search.warm_start == [{"root": str(earlier), "observations": 16}]
    with pytest.raises(SpecError, match=r"warm_start: no hpcore study under 'nowhere'"):
        build_search(parse_spec(_spec(warm_start="nowhere")))


def test_integer_keys_and_a_narrowed_integer_range_are_read(tmp_path):
    space = {"n": Integer(1, 9), "x.a": Real(0.0, 10.0)}
    base = {"n": 1, "x": {"a": 0.0}}
    RandomSearch(base, space, metric="loss", n_trials=10, random_state=0).run(
        lambda c: (c["n"] - 4) ** 2 + c["x"]["a"], experiment_root=tmp_path / "old", verbose=0)
    narrow = {"n": Integer(2, 6), "x.a": Real(0.0, 10.0)}
    s = BayesianSearch(base, narrow, metric="loss", n_trials=3, warm_start=tmp_path / "old")
    old = hpcore.load(tmp_path / "old").trials
    assert len(s._warm.groups[0]) == sum(2 <= t.params["n"] <= 6 for t in old)


WARM_SPEC = '''
search = "bayesian"
train = "warm_train:train_fn"
metric = "loss"
n_trials = {n_trials}
seed = {seed}

[options]
{options}

[base_config]
x = {{ a = 0.0, b = 3.0 }}

[space]
"x.a" = {{ type = "real", low = 0.0, high = 10.0 }}
"x.b" = {{ type = "real", low = 0.0, high = 10.0 }}

[run]
experiment_root = "{root}"
'''


def test_hpcore_run_warm_starts_from_a_root_named_in_the_spec(tmp_path):
    import subprocess
    import sys

    (tmp_path / "warm_train.py").write_text(
        "def train_fn(config):\n"
        "    return {'loss': (config['x']['a'] - 7) ** 2 + (config['x']['b'] - 2) ** 2}\n")
    for root, n, options in (("old", 12, ""), ("new", 5, 'warm_start = ["old"]')):
        (tmp_path / "search.toml").write_text(
            WARM_SPEC.format(n_trials=n, seed=len(root), options=options, root=root))
        out = subprocess.run([sys.executable, "-m", "hpcore", "run", "search.toml"],
                             cwd=tmp_path, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
    new = hpcore.load(tmp_path / "new")
    assert new.settings["warm_start"] == [{"root": "old", "observations": 12}]
    assert len(new.trials) == 5


def test_a_warm_started_strategy_can_be_copied_and_pickled_mid_search():
    import copy
    import pickle

    s = BayesianStrategy(UNIT, seed=1, n_initial_points=1, warm_start=[_prior()])
    p = s.ask()
    s.tell(p, _quadratic(p))
    twins = [copy.deepcopy(s), pickle.loads(pickle.dumps(s))]
    nxt = s.ask()
    assert all(t.ask() == nxt for t in twins)


_values = st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=12).filter(
    lambda v: np.ptp(v) > 1e-3 * max(1.0, np.abs(v).max()))


@settings(max_examples=40, deadline=None)
@given(a=_values, b=_values, scale=st.floats(1e-3, 1e3), shift=st.floats(-1e3, 1e3),
       warp=st.booleans())
def test_each_earlier_study_is_put_on_its_own_scale(a, b, scale, shift, warp):
    """Rescaling one earlier study changes nothing of the model's values but the pooled
    scale of the new study's first values; the study coordinate numbers the studies."""
    def groups(first):
        return [(np.zeros((len(first), 1)), np.array(first)), (np.ones((len(b), 1)), np.array(b))]

    plain = PriorStudies(groups(a), warp)
    moved = PriorStudies(groups([scale * v + shift for v in a]), warp)
    assert np.allclose(plain.y, moved.y, atol=1e-6)
    assert list(plain.X[:, -1]) == [1.0] * len(a) + [2.0] * len(b)
    own = np.linspace(0.0, 1.0, OWN_SCALE_FROM)
    assert np.allclose(plain.values(own), moved.values(own), atol=1e-6)
