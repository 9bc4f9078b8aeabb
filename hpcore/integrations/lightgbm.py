"""LightGBM: :class:`LightGBMCallback` reports each boosting round to the trial.

>>> from hpcore.integrations import LightGBMCallback          # doctest: +SKIP
>>> callback = LightGBMCallback(trial, monitor="valid-l2")
>>> lightgbm.train(params, dtrain, num_boost_round=200, valid_sets=[dvalid],
...                valid_names=["valid"], callbacks=[callback])
>>> return callback.value

Needs ``lightgbm`` (``pip install 'hpcore[lightgbm]'``), imported with this
module.
"""

from __future__ import annotations

from typing import Any

from ..errors import ResultError
from ..trial import Trial
from ._report import Reporter, Reporting, check_dashed, require

_lgb_callback = require("lightgbm.callback", "lightgbm", "hpcore.integrations.lightgbm")

__all__ = ["LightGBMCallback"]


class LightGBMCallback(Reporting):
    """Report an evaluation metric after each boosting round; stop training when told.

    A LightGBM callback (a callable of ``env``) for ``lightgbm.train``,
    ``lightgbm.cv`` (the mean over folds is reported) and the scikit-learn
    wrappers (``LGBMRegressor().fit(X, y, eval_set=[...], callbacks=[cb])``,
    whose sets are named ``valid_0``, ``valid_1``...). When a stopping rule
    has asked the trial to stop it raises LightGBM's own
    ``EarlyStopException``, which LightGBM catches to end training cleanly
    (the booster keeps every round trained; ``best_iteration`` is the last
    one). The trial is recorded ``stopped`` with the value ``train_fn``
    returns, as for a hand-written loop: return :attr:`value`, the last
    value reported.

    Parameters
    ----------
    trial : hpcore.Trial
        The second argument of ``train_fn(config, trial)``.
    monitor : str, optional
        ``'<data set>-<metric>'``, e.g. ``'valid_0-l2'`` or
        ``'valid-binary_logloss'``. Default: the first metric of the first
        validation set that is not the training set.

    Attributes
    ----------
    value : float or None
        The last value reported (None before the first round).
    stopped : bool
        Whether this callback stopped training.

    Raises
    ------
    hpcore.ResultError
        When no validation set was given, or ``monitor`` is not among the
        evaluated metrics (the message lists them).
    """

    #: After LightGBM's own evaluation logging and recording (order 10, 20) and
    #: before its early stopping (30).
    order = 25
    before_iteration = False

    def __init__(self, trial: Trial, monitor: str | None = None) -> None:
        check_dashed(monitor, "LightGBMCallback", "'valid_0-l2'")
        self._reporter = Reporter(trial, monitor, "LightGBMCallback")
        self._monitor = monitor

    def __call__(self, env: Any) -> None:
        results = list(env.evaluation_result_list or ())
        if not results:
            raise ResultError(
                "LightGBMCallback: LightGBM evaluated no metric this round, so there is "
                "nothing to report. Give a validation set: lightgbm.train(..., valid_sets="
                "[dvalid]) or model.fit(X, y, eval_set=[(X_valid, y_valid)])."
            )
        # (data set, metric, value, is_higher_better[, std]): a tuple, or an EvalResult
        # (a tuple too) from LightGBM 4.7.
        logged = {f"{r[0]}-{r[1]}": r[2] for r in results}
        if self._monitor is None:
            valid = [r for r in results if r[0] != "training"] or results
            self._reporter.monitor = f"{valid[0][0]}-{valid[0][1]}"
        _, value = self._reporter.pick(logged)
        if self._reporter(env.iteration, value, logged):
            raise _lgb_callback.EarlyStopException(env.iteration, results)
