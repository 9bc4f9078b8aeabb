"""scikit-learn: :class:`HpcoreSearchCV`, hpcore's searches as a cross-validated estimator.

>>> from hpcore.integrations import HpcoreSearchCV          # doctest: +SKIP
>>> from hpcore import Real
>>> search = HpcoreSearchCV(SVC(), {"C": Real(1e-2, 1e2, log=True)}, n_trials=20, cv=5)
>>> search.fit(X, y).best_params_
>>> search.predict(X_test)

In the spirit of Optuna's ``OptunaSearchCV`` and scikit-learn's
``RandomizedSearchCV``: the keys are the estimator's ``set_params`` names
(``'C'``, ``'svc__gamma'`` in a pipeline), the values hpcore dimensions
(``Real``, ``Integer``, ``Categorical`` or a plain list), and each trial
is one configuration scored by cross-validation.

Needs ``scikit-learn`` (``pip install 'hpcore[sklearn]'``), imported with
this module.
"""

from __future__ import annotations

import difflib
import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ArgumentError
from ..search import BayesianSearch, GridSearch, HyperbandSearch, RandomSearch
from ..search.base import BaseSearch
from ..trial import FrozenTrial, Trial, TrialState
from ._report import require

require("sklearn", "sklearn", "hpcore.integrations.sklearn")
from scipy.stats import rankdata  # noqa: E402
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier  # noqa: E402
from sklearn.metrics import check_scoring  # noqa: E402
from sklearn.model_selection import check_cv, cross_validate  # noqa: E402
from sklearn.utils import indexable  # noqa: E402
from sklearn.utils.metaestimators import available_if  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402

__all__ = ["HpcoreSearchCV"]

#: ``search=`` names and the searches they make.
SEARCHES: dict[str, type[BaseSearch]] = {
    "bayesian": BayesianSearch,
    "random": RandomSearch,
    "grid": GridSearch,
    "hyperband": HyperbandSearch,
}


def _delegates(name: str):
    """``available_if`` check: the fitted best estimator (or else the estimator) has ``name``."""

    def check(self: HpcoreSearchCV) -> bool:
        target = getattr(self, "best_estimator_", self.estimator)
        getattr(target, name)  # AttributeError hides the method, as in scikit-learn's searches
        return True

    return check


class _CrossValidate:
    """The search's ``train_fn``: cross-validate one configuration, fold by fold.

    Each fold's score is reported (the running mean of the folds so far),
    so a stopping rule can end a hopeless configuration after a few folds;
    the trial is then recorded ``stopped`` with the mean of the folds it ran.
    A module-level class, so that worker processes import it by name and
    receive the data once per worker.
    """

    def __init__(self, estimator: Any, X: Any, y: Any, groups: Any, splits: list,
                 scorer: Any, fit_params: dict[str, Any], return_train_score: bool) -> None:
        self.estimator = estimator
        self.X, self.y, self.groups = X, y, groups
        self.splits = splits
        self.scorer = scorer
        self.fit_params = fit_params
        self.return_train_score = return_train_score

    def __call__(self, config: dict[str, Any], trial: Trial) -> dict[str, float]:
        estimator = clone(self.estimator).set_params(**config)
        out: dict[str, float] = {}
        scores: list[float] = []
        for i, split in enumerate(self.splits):
            fold = cross_validate(estimator, self.X, self.y, groups=self.groups, cv=[split],
                                  scoring=self.scorer, params=self.fit_params or None,
                                  return_train_score=self.return_train_score,
                                  error_score="raise")
            score = float(fold["test_score"][0])
            scores.append(score)
            out[f"split{i}_test_score"] = score
            out[f"split{i}_fit_time"] = float(fold["fit_time"][0])
            out[f"split{i}_score_time"] = float(fold["score_time"][0])
            if self.return_train_score:
                out[f"split{i}_train_score"] = float(fold["train_score"][0])
            if not trial.should_stop:  # report would raise once a stop has arrived
                trial.report(i, float(np.mean(scores)))
            if trial.should_stop:
                break
        out["score"] = float(np.mean(scores))
        out["n_splits_run"] = float(len(scores))
        return out


class HpcoreSearchCV(MetaEstimatorMixin, BaseEstimator):
    """Search an estimator's parameters with hpcore, scoring each by cross-validation.

    Parameters
    ----------
    estimator : scikit-learn estimator
        Cloned for every fit; it is never fitted itself.
    param_distributions : dict
        ``set_params`` names (``'C'``, ``'svc__C'``) to hpcore dimensions:
        ``Real(low, high, log=...)``, ``Integer(low, high)``,
        ``Categorical([...])`` or a plain list of choices.
    search : {'bayesian', 'random', 'grid', 'hyperband'}
        The hpcore search that proposes configurations. ``'bayesian'``
        (the default) is :class:`~hpcore.BayesianSearch`.
        ``'hyperband'`` (ASHA) needs ``search_kwargs`` with a
        ``resource_key`` that is a parameter of the estimator (e.g.
        ``'max_iter'`` or ``'n_estimators'``) and ``max_resource``.
    search_kwargs : dict, optional
        More arguments of that search, e.g. ``{'acquisition': 'ucb',
        'n_initial_points': 5}``.
    n_trials : int
        Configurations to try (a grid: at most this many; ``None`` for the
        whole grid).
    cv : int, cross-validation generator or iterable
        As in scikit-learn (default 5: stratified for classifiers).
    scoring : str or callable, optional
        One scorer (greater is better); ``None``: the estimator's ``score``.
    n_jobs : int
        Trials at once, each in its own worker process (``-1``: one per
        core); a trial's folds run one after the other in its process.
        Trials, not folds, are spread because each worker limits its BLAS
        threads (no oversubscription), a Bayesian search proposes several
        configurations at once for parallel workers, and folds in order let
        a stopping rule end a hopeless configuration after its first folds.
        ``1`` runs every trial in this process. Leave the estimator's own
        ``n_jobs`` at 1 when ``n_jobs > 1``.
    refit : bool
        Fit ``best_estimator_`` on the whole data at the end (needed for
        ``predict`` and friends).
    stopping : StoppingRule or list of them, optional
        Early stopping over folds (:mod:`hpcore.stopping`): each fold
        reports the running mean score; a stopped configuration keeps the
        mean of the folds it ran and state ``'stopped'``.
    random_state : int, optional
        Seed of the search (the folds come from ``cv``).
    return_train_score : bool
        Also score each fold's training part (``cv_results_``).
    verbose : int or None
        As ``search.run``'s: ``None`` a progress bar on a terminal, ``1`` a
        line per trial, ``0`` quiet.

    Attributes
    ----------
    best_estimator_ : estimator
        Refitted on all the data with ``best_params_`` (``refit=True``).
    best_params_ : dict
        The best configuration, by ``set_params`` name.
    best_score_ : float
        Its mean cross-validated score. Completed configurations are
        preferred to stopped ones, whose means cover fewer folds.
    best_index_ : int
        Its row in ``cv_results_``.
    cv_results_ : dict of arrays
        One row per trial, in the order they started, with scikit-learn's
        keys (``params``, ``param_<name>`` as masked arrays,
        ``split<i>_test_score``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score``, ``mean_fit_time``, ``std_fit_time``,
        ``mean_score_time``, ``std_score_time``, and the train scores with
        ``return_train_score``) plus ``state`` (``'completed'``,
        ``'stopped'``, ``'failed'``) and ``n_splits_run``. Folds a trial did
        not run, and failed trials, are NaN (ranked last).
    scorer_ : callable
        The scorer used.
    n_splits_ : int
        Folds per configuration.
    refit_time_ : float
        Seconds the refit took.
    search_ : hpcore search
        The search that ran (its ``trials``, plots, analysis).
    trials_ : list of FrozenTrial
        Its trial records.

    Raises
    ------
    hpcore.ArgumentError
        From ``fit``, before any trial: a key that is not a parameter of
        the estimator (with the closest name), a scipy distribution instead
        of a dimension, an unknown ``search``, several scorers.
    """

    def __init__(
        self,
        estimator: Any,
        param_distributions: Mapping[str, Any],
        *,
        search: str = "bayesian",
        search_kwargs: Mapping[str, Any] | None = None,
        n_trials: int | None = 20,
        cv: Any = 5,
        scoring: Any = None,
        n_jobs: int = 1,
        refit: bool = True,
        stopping: Any = None,
        random_state: int | None = None,
        return_train_score: bool = False,
        verbose: int | None = 0,
    ) -> None:
        self.estimator = estimator
        self.param_distributions = param_distributions
        self.search = search
        self.search_kwargs = search_kwargs
        self.n_trials = n_trials
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.refit = refit
        self.stopping = stopping
        self.random_state = random_state
        self.return_train_score = return_train_score
        self.verbose = verbose

    # -- checks, all before any trial -------------------------------------------------
    def _make_search(self) -> BaseSearch:
        estimator = self.estimator
        if not (hasattr(estimator, "fit") and hasattr(estimator, "get_params")):
            raise ArgumentError(
                f"HpcoreSearchCV: estimator must be a scikit-learn estimator (with fit, "
                f"get_params and set_params), got {type(estimator).__name__}."
            )
        space = self.param_distributions
        if not isinstance(space, Mapping) or not space:
            raise ArgumentError(
                "HpcoreSearchCV: param_distributions must be a non-empty dict of set_params "
                f"names to dimensions, e.g. {{'C': Real(1e-3, 1e3, log=True)}}, got {space!r}."
            )
        kwargs = dict(self.search_kwargs or {})
        params = estimator.get_params(deep=True)
        resource = kwargs.get("resource_key")
        for key in [*space, *([resource] if resource is not None else [])]:
            if key not in params:
                close = difflib.get_close_matches(str(key), list(params), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ArgumentError(
                    f"HpcoreSearchCV: {key!r} is not a parameter of "
                    f"{type(estimator).__name__}.{hint} Keys are its set_params names "
                    f"(estimator.get_params().keys()); in a pipeline 'step__param'."
                )
        for key, dim in space.items():
            if hasattr(dim, "rvs"):
                raise ArgumentError(
                    f"HpcoreSearchCV: {key!r} is a scipy distribution; hpcore searches take "
                    "dimensions: Real(low, high, log=True), Integer(low, high) or a list of "
                    "choices (from hpcore import Real, Integer)."
                )
        if not isinstance(self.search, str) or self.search not in SEARCHES:
            raise ArgumentError(
                f"HpcoreSearchCV: search must be one of {sorted(SEARCHES)}, got "
                f"{self.search!r}; pass its other arguments as search_kwargs."
            )
        for reserved in ("base_config", "search_space", "metric", "mode"):
            if reserved in kwargs:
                raise ArgumentError(
                    f"HpcoreSearchCV: search_kwargs may not set {reserved!r}: the estimator, "
                    "param_distributions and scoring (greater is better) define it."
                )
        base = {key: params[key] for key in space}
        if resource is not None:
            base[resource] = params[resource]
        cls = SEARCHES[self.search]
        return cls(base_config=base, search_space=dict(space), metric="score", mode="max",
                   n_trials=self.n_trials, random_state=self.random_state, **kwargs)

    def _scorer(self) -> Any:
        if isinstance(self.scoring, (list, tuple, set, dict)):
            raise ArgumentError(
                "HpcoreSearchCV: scoring must be one scorer (a name such as 'accuracy' or a "
                f"callable), got {self.scoring!r}; the search maximises one score."
            )
        return check_scoring(self.estimator, scoring=self.scoring)

    # -- fitting ----------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, *, groups: Any = None,
            **fit_params: Any) -> HpcoreSearchCV:
        """Run the search on ``(X, y)``; then refit the best configuration on all of it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), optional
        groups : array-like of shape (n_samples,), optional
            For group-aware splitters (``GroupKFold``).
        **fit_params
            Passed to the estimator's ``fit`` (split with the data).

        Returns
        -------
        self
        """
        search = self._make_search()
        scorer = self._scorer()
        X, y, groups = indexable(X, y, groups)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y, groups))
        train_fn = _CrossValidate(clone(self.estimator), X, y, groups, splits, scorer,
                                  fit_params, self.return_train_score)
        search.run(train_fn, n_jobs=self.n_jobs, stopping=self.stopping, verbose=self.verbose)
        self.search_ = search
        self.trials_ = list(search.trials)
        self.scorer_ = scorer
        self.n_splits_ = len(splits)
        self.multimetric_ = False
        self.cv_results_ = self._results(self.trials_, len(splits))
        self.best_index_ = self._best_index(self.trials_)
        best = self.trials_[self.best_index_]
        self.best_params_ = dict(best.params)
        self.best_score_ = float(best.value)
        if self.refit:
            estimator = clone(self.estimator).set_params(**self.best_params_)
            start = time.perf_counter()
            estimator.fit(X, y, **fit_params)
            self.refit_time_ = time.perf_counter() - start
            self.best_estimator_ = estimator
            if hasattr(estimator, "feature_names_in_"):
                self.feature_names_in_ = estimator.feature_names_in_
        return self

    @staticmethod
    def _best_index(trials: list[FrozenTrial]) -> int:
        """The best completed trial, else the best stopped one (a mean of fewer folds)."""
        for states in ((TrialState.COMPLETED,), (TrialState.COMPLETED, TrialState.STOPPED)):
            scored = [(t.value, -i) for i, t in enumerate(trials)
                      if t.state in states and t.value is not None and math.isfinite(t.value)]
            if scored:
                return -max(scored)[1]
        raise AssertionError("search.run raises SearchError when no trial has a value")

    @staticmethod
    def _results(trials: list[FrozenTrial], n_splits: int) -> dict[str, Any]:
        n = len(trials)

        def column(key: str) -> np.ndarray:
            return np.array([t.metrics.get(key, np.nan) for t in trials], dtype=float)

        results: dict[str, Any] = {"params": [dict(t.params) for t in trials]}
        names = sorted({k for t in trials for k in t.params})
        for name in names:
            values = np.ma.MaskedArray(np.empty(n, dtype=object), mask=True)
            for i, t in enumerate(trials):
                if name in t.params:
                    values[i] = t.params[name]
            results[f"param_{name}"] = values
        kinds = ["test"] + (["train"] if any("split0_train_score" in t.metrics
                                             for t in trials) else [])
        for kind in kinds:
            splits = np.column_stack([column(f"split{i}_{kind}_score") for i in range(n_splits)])
            for i in range(n_splits):
                results[f"split{i}_{kind}_score"] = splits[:, i]
            ran = ~np.isnan(splits)
            mean = np.array([row[ok].mean() if ok.any() else np.nan
                             for row, ok in zip(splits, ran)])
            std = np.array([row[ok].std() if ok.any() else np.nan for row, ok in zip(splits, ran)])
            results[f"mean_{kind}_score"] = mean
            results[f"std_{kind}_score"] = std
        for what in ("fit", "score"):
            times = np.column_stack([column(f"split{i}_{what}_time") for i in range(n_splits)])
            with np.errstate(all="ignore"):
                ran = ~np.isnan(times)
                results[f"mean_{what}_time"] = np.array(
                    [row[ok].mean() if ok.any() else np.nan for row, ok in zip(times, ran)])
                results[f"std_{what}_time"] = np.array(
                    [row[ok].std() if ok.any() else np.nan for row, ok in zip(times, ran)])
        mean = results["mean_test_score"]
        # scikit-learn's ranks: ties share the smallest rank; NaN (failed) comes last.
        results["rank_test_score"] = rankdata(np.where(np.isnan(mean), np.inf, -mean),
                                              method="min").astype(np.int32)
        results["state"] = np.array([str(t.state) for t in trials], dtype=object)
        results["n_splits_run"] = column("n_splits_run")
        return results

    # -- the fitted estimator's methods -----------------------------------------------
    def _fitted(self) -> Any:
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_

    def score(self, X: Any, y: Any = None) -> float:
        """The scorer's value for the refitted best estimator on ``(X, y)``."""
        return float(self.scorer_(self._fitted(), X, y))

    @available_if(_delegates("predict"))
    def predict(self, X: Any) -> Any:
        """``best_estimator_.predict(X)``."""
        return self._fitted().predict(X)

    @available_if(_delegates("predict_proba"))
    def predict_proba(self, X: Any) -> Any:
        """``best_estimator_.predict_proba(X)``."""
        return self._fitted().predict_proba(X)

    @available_if(_delegates("predict_log_proba"))
    def predict_log_proba(self, X: Any) -> Any:
        """``best_estimator_.predict_log_proba(X)``."""
        return self._fitted().predict_log_proba(X)

    @available_if(_delegates("decision_function"))
    def decision_function(self, X: Any) -> Any:
        """``best_estimator_.decision_function(X)``."""
        return self._fitted().decision_function(X)

    @available_if(_delegates("transform"))
    def transform(self, X: Any) -> Any:
        """``best_estimator_.transform(X)``."""
        return self._fitted().transform(X)

    @available_if(_delegates("inverse_transform"))
    def inverse_transform(self, X: Any) -> Any:
        """``best_estimator_.inverse_transform(X)``."""
        return self._fitted().inverse_transform(X)

    @property
    def classes_(self) -> Any:
        """The classes of the refitted best classifier."""
        return self._fitted().classes_

    @property
    def n_features_in_(self) -> int:
        """Features seen by the refitted best estimator."""
        return self._fitted().n_features_in_
