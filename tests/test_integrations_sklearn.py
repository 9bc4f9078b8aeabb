"""hpcore.integrations.sklearn: HpcoreSearchCV on scikit-learn's bundled data sets."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn is not installed (pip install 'hpcore[sklearn]')")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits, load_iris  # noqa: E402
from sklearn.linear_model import SGDClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from hpcore import ArgumentError, Real, TrialState  # noqa: E402
from hpcore.integrations import HpcoreSearchCV  # noqa: E402
from hpcore.stopping import MedianStopping  # noqa: E402


def test_a_bayesian_search_fits_refits_and_reports_like_a_scikit_learn_search():
    X, y = load_iris(return_X_y=True)
    search = HpcoreSearchCV(SVC(), {"C": Real(1e-3, 1e3, log=True),
                                    "gamma": Real(1e-4, 1e1, log=True)},
                            n_trials=8, cv=3, random_state=0,
                            search_kwargs={"n_initial_points": 4})
    assert search.fit(X, y) is search
    res = search.cv_results_
    assert len(res["params"]) == len(search.trials_) == 8
    assert res["params"][search.best_index_] == search.best_params_
    assert res["rank_test_score"][search.best_index_] == 1
    assert search.best_score_ == pytest.approx(res["mean_test_score"].max())
    means = np.mean([res[f"split{i}_test_score"] for i in range(3)], axis=0)
    np.testing.assert_allclose(res["mean_test_score"], means)
    assert list(res["param_C"]) == [p["C"] for p in res["params"]]
    assert set(res["state"]) == {"completed"} and search.n_splits_ == 3
    assert search.best_score_ > 0.9  # iris is easy for a tuned SVC
    assert search.best_estimator_.C == search.best_params_["C"]
    np.testing.assert_array_equal(search.predict(X), search.best_estimator_.predict(X))
    assert search.score(X, y) == pytest.approx(search.best_estimator_.score(X, y))
    assert list(search.classes_) == [0, 1, 2] and search.n_features_in_ == 4
    assert not hasattr(search, "predict_proba")  # SVC(probability=False) has none
    assert clone(search).get_params()["n_trials"] == 8


def test_pipeline_keys_and_a_grid():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), SVC())
    search = HpcoreSearchCV(pipe, {"svc__C": [0.1, 1.0, 10.0]}, search="grid", n_trials=None,
                            cv=3, scoring="accuracy").fit(X, y)
    assert [p["svc__C"] for p in search.cv_results_["params"]] == [0.1, 1.0, 10.0]
    assert search.best_estimator_.named_steps["svc"].C == search.best_params_["svc__C"]


@pytest.mark.parametrize("kwargs, match", [
    ({"param_distributions": {"svc_C": Real(0.1, 1)}},
     r"'svc_C' is not a parameter of Pipeline. Did you mean 'svc__C'\?"),
    ({"param_distributions": {"svc__C": None, "svc__gamma": "x"}, "search": "annealing"},
     r"search must be one of \['bayesian', 'grid', 'hyperband', 'random'\]"),
    ({"param_distributions": {}}, "non-empty dict"),
    ({"scoring": ["accuracy", "f1"]}, "scoring must be one scorer"),
    ({"search_kwargs": {"metric": "x"}}, "may not set 'metric'"),
    ({"search": "hyperband", "search_kwargs": {"resource_key": "max_iter", "max_resource": 9}},
     r"'max_iter' is not a parameter of Pipeline. Did you mean 'svc__max_iter'\?"),
])
def test_mistakes_are_named_before_any_trial(kwargs, match):
    scipy_stats = pytest.importorskip("scipy.stats")
    kwargs = {"param_distributions": {"svc__C": Real(0.1, 1)}, **kwargs}
    pipe = make_pipeline(StandardScaler(), SVC())
    X, y = load_iris(return_X_y=True)
    search = HpcoreSearchCV(pipe, **kwargs)
    with pytest.raises(ArgumentError, match=match):
        search.fit(X, y)
    assert not hasattr(search, "search_")
    with pytest.raises(ArgumentError, match="scipy distribution; hpcore searches take"):
        HpcoreSearchCV(pipe, {"svc__C": scipy_stats.loguniform(0.1, 1)}).fit(X, y)


def test_median_stopping_ends_a_hopeless_configuration_after_a_few_folds_in_workers():
    X, y = load_digits(return_X_y=True)
    # cache_size changes nothing computed: two copies of each C, good ones first.
    search = HpcoreSearchCV(SVC(gamma=0.001), {"C": [10.0, 1e-4], "cache_size": [200, 201]},
                            search="grid", n_trials=None, cv=10, n_jobs=2,
                            stopping=MedianStopping(grace_steps=2, min_trials=1))
    search.fit(X, y)
    res, trials = search.cv_results_, search.trials_
    assert [t.params["C"] for t in trials] == [10.0, 10.0, 1e-4, 1e-4]
    assert list(res["state"][:2]) == ["completed", "completed"]
    for i in (2, 3):
        bad = trials[i]
        assert bad.state is TrialState.STOPPED, (bad.state, bad.error)
        assert 3 <= res["n_splits_run"][i] < 10  # folds it never ran are NaN
        assert np.isnan(res["split9_test_score"][i])
        assert bad.value == pytest.approx(res["mean_test_score"][i])
        assert res["rank_test_score"][i] >= 3
    assert search.best_params_["C"] == 10.0 and search.best_score_ > 0.9


def test_asha_over_max_iter_in_workers():
    X, y = load_iris(return_X_y=True)
    search = HpcoreSearchCV(
        SGDClassifier(tol=None, random_state=0), {"alpha": Real(1e-6, 10.0, log=True)},
        search="hyperband", n_trials=9, cv=3, n_jobs=2, random_state=0,
        search_kwargs={"resource_key": "max_iter", "max_resource": 9, "eta": 3})
    search.fit(X, y)
    budgets = [t.params["max_iter"] for t in search.trials_]
    assert set(budgets) <= {1, 3, 9} and max(budgets) > 1
    first = [t for t in search.trials_ if t.params["max_iter"] == 1]
    worst = min(first, key=lambda t: t.value)
    promoted = {t.params["alpha"] for t in search.trials_ if t.params["max_iter"] > 1}
    assert worst.params["alpha"] not in promoted  # the worst of the first rung gets no more
    assert search.best_estimator_.max_iter == search.best_params_["max_iter"]
