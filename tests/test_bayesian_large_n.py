"""The Bayesian strategy at many observations: subset fits, background refits, thinning.

Thresholds are lowered (``max_fit_points``, ``background_refit_from``) so
that the large-n paths run at a few dozen observations.
"""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest

from hpcore import BayesianSearch
from hpcore.kernels import GPModel
from hpcore.search.space import Real
from hpcore.strategies import bayesian
from hpcore.strategies._refit import BackgroundRefit
from hpcore.strategies.bayesian import BayesianStrategy

SPACE = {"x": Real(0.0, 1.0), "y": Real(0.0, 1.0), "z": Real(0.0, 1.0)}


def f(p):
    return (p["x"] - 0.3) ** 2 + (p["y"] - 0.7) ** 2 + 0.5 * math.sin(6 * p["z"])


def run(strategy, steps):
    """Ask and tell ``steps`` times; the suggestions and the model after each."""
    out = []
    for _ in range(steps):
        p = strategy.ask()
        strategy.tell(p, f(p))
        out.append((p, strategy._model))
    return out


def small(seed=3, **options):
    options = {"n_initial_points": 5, "max_fit_points": 20, "background_refit_from": 30,
               "refit_growth": 0.1, "compile_in_background": False, **options}
    return BayesianStrategy(SPACE, seed=seed, **options)


def test_background_refits_are_swapped_in_where_scheduled_and_reproducible():
    a, b = small(), small()
    swaps = []
    for _ in range(90):
        for s in (a, b):
            p = s.ask()
            s.tell(p, f(p))
        assert a._X.tolist() == b._X.tolist()  # same seed: same suggestions, threads or not
        refit = a._refit
        if refit is not None:
            assert refit.swap_at == refit.n + math.ceil(0.1 * refit.n / 2)
            swaps.append((refit.n, refit.swap_at))
    assert swaps, "no refit ran in the background"
    # Each scheduled swap happened: the model then carries that refit's hyperparameters.
    assert len(set(swaps)) >= 2
    assert np.array_equal(a._model.theta, b._model.theta)


def test_below_the_threshold_nothing_changes():
    """Up to background_refit_from observations the suggestions are those of in-place refits."""
    threaded = [p for p, _ in run(small(), 28)]
    in_place = [p for p, _ in run(small(background_refit_from=None), 28)]
    assert threaded == in_place


def test_a_refit_in_the_background_keeps_the_old_hyperparameters_until_its_swap():
    s = small()
    run(s, 33)  # past 30 observations: the next due refit goes to the background
    while s._refit is None:
        run(s, 1)
    refit = s._refit
    before = s._model.theta.copy()
    while len(s._y) < refit.swap_at:  # asks made with fewer observations keep the old fit
        run(s, 1)
        assert np.array_equal(s._model.theta, before)
    run(s, 1)  # the ask made with swap_at observations takes the refit's model
    assert s._refit is not refit
    assert np.array_equal(s._model.theta, refit.result().theta)


def test_the_first_fit_at_large_n_is_quick_and_refitted_in_the_background_at_once():
    s = small()
    rng = np.random.default_rng(0)
    for row in rng.random((60, 3)):
        p = dict(zip(SPACE, row.tolist()))
        s.tell(p, f(p))
    run(s, 1)
    assert s._fit_n == 0 and s._refit is None  # provisional: one local search, no restarts
    run(s, 1)
    assert s._refit is not None and s._refit.n == 61
    provisional = s._model.theta.copy()
    while s._refit is not None:
        run(s, 1)
    assert not np.array_equal(s._model.theta, provisional)


def test_the_hyperparameters_are_fitted_on_a_subset_and_the_posterior_on_everything():
    s = small(background_refit_from=None)
    run(s, 45)
    model = s._model
    assert model.X.shape[0] == 44  # the last ask saw 44: conditioned on all of them
    assert s._fit_options(44)["max_points"] == 20
    kept = GPModel.fit(model.X, s._transformed_y()[:44], model.cat, max_points=20,
                       n_restarts=0)
    full = GPModel.fit(model.X, s._transformed_y()[:44], model.cat, n_restarts=0)
    assert kept.X.shape[0] == full.X.shape[0] == 44
    assert not np.allclose(kept.theta, full.theta)  # the fit saw 20 of the 44


def test_a_strategy_with_a_refit_running_can_be_copied_and_pickled():
    s = small()
    while s._refit is None:  # a thread object, running or not, cannot be copied itself
        run(s, 1)
    twin = copy.deepcopy(s)  # waits for the running fit; the copy holds its result
    again = pickle.loads(pickle.dumps(s))
    assert twin._refit.done and again._refit.done
    for other in (twin, again):
        assert [p for p, _ in run(other, 30)] == [p for p, _ in run(copy.deepcopy(s), 30)]


def test_an_error_in_a_background_fit_is_raised_where_it_is_used():
    X = np.random.default_rng(0).random((12, 2))
    refit = BackgroundRefit(X, np.zeros(12), np.zeros(3), swap_at=20)  # cat of the wrong size
    with pytest.raises(ValueError, match="cat"):
        refit.result()
    assert refit.done


def test_bad_large_n_options_are_refused():
    with pytest.raises(ValueError, match="max_fit_points"):
        BayesianStrategy(SPACE, max_fit_points=2)


def test_beyond_a_thousand_observations_candidates_and_restarts_thin_out():
    s = BayesianStrategy(SPACE, seed=0, compile_in_background=False)
    rng = np.random.default_rng(1)
    for row in rng.random((5000, 3)):
        p = dict(zip(SPACE, row.tolist()))
        s.tell(p, f(p))
    candidates, _ = s._candidates()
    local = 5 * 64
    n_sobol = len(candidates) - local
    assert n_sobol == 256  # 2048 * 1000 / 5000 = 409, down to a power of 2
    assert n_sobol & (n_sobol - 1) == 0  # a power of 2, as Sobol' balance wants
    assert bayesian._SPARSE_FROM < 5000


def test_a_search_with_background_refits_runs_and_resumes(tmp_path):
    def train(cfg):
        return {"loss": f(cfg)}

    options = {"n_initial_points": 5, "max_fit_points": 20, "background_refit_from": 15}

    def search(n_trials):
        return BayesianSearch({}, SPACE, metric="loss", n_trials=n_trials, random_state=0,
                              allow_new_keys=True, **options)

    first = search(40)
    _, best = first.run(train, experiment_root=tmp_path)
    assert len(first.trials) == 40
    again = search(50)
    _, best_again = again.run(train, experiment_root=tmp_path, resume=True)
    assert len(again.trials) == 50
    assert [t.params for t in again.trials[:40]] == [t.params for t in first.trials]
    assert best_again <= best
