"""XGBoost: :class:`XGBoostCallback` reports each boosting round to the trial.

>>> from hpcore.integrations import XGBoostCallback          # doctest: +SKIP
>>> callback = XGBoostCallback(trial, monitor="valid-rmse")
>>> xgboost.train(params, dtrain, num_boost_round=200, evals=[(dvalid, "valid")],
...               callbacks=[callback])
>>> return callback.value

Needs ``xgboost`` (``pip install 'hpcore[xgboost]'``), imported with this
module.
"""

from __future__ import annotations

from typing import Any

from ..errors import ResultError
from ..trial import Trial
from ._report import Reporter, Reporting, check_dashed, require

_xgb_callback = require("xgboost.callback", "xgboost", "hpcore.integrations.xgboost")

__all__ = ["XGBoostCallback"]


class XGBoostCallback(Reporting, _xgb_callback.TrainingCallback):
    """Report an evaluation metric after each boosting round; stop training when told.

    Works with ``xgboost.train(..., evals=[...], callbacks=[cb])`` and with
    the scikit-learn wrappers (``XGBRegressor(callbacks=[cb])`` and
    ``fit(X, y, eval_set=[...])``, whose sets are named ``validation_0``,
    ``validation_1``...). When a stopping rule has asked the trial to stop,
    ``after_iteration`` returns True and XGBoost ends training cleanly; the
    trial is recorded ``stopped`` with the value ``train_fn`` returns, as
    for a hand-written loop. Return :attr:`value`, the last value reported.

    Parameters
    ----------
    trial : hpcore.Trial
        The second argument of ``train_fn(config, trial)``.
    monitor : str, optional
        ``'<data set>-<metric>'`` as XGBoost prints it, e.g.
        ``'valid-rmse'`` or ``'validation_0-logloss'``. Default: the last
        metric of the last evaluation set (what XGBoost's own early
        stopping watches).

    Attributes
    ----------
    value : float or None
        The last value reported (None before the first round).
    stopped : bool
        Whether this callback stopped training.

    Raises
    ------
    hpcore.ResultError
        When no evaluation set was given, or ``monitor`` is not among the
        evaluated metrics (the message lists them).
    """

    def __init__(self, trial: Trial, monitor: str | None = None) -> None:
        super().__init__()
        check_dashed(monitor, "XGBoostCallback", "'valid-rmse' (as XGBoost prints it)")
        self._reporter = Reporter(trial, monitor, "XGBoostCallback")
        self._monitor = monitor

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        # xgboost.cv logs (mean, std) pairs: the mean is the value.
        logged = {f"{data}-{metric}": v[0] if isinstance(v := values[-1], tuple) else v
                  for data, metrics in evals_log.items() for metric, values in metrics.items()}
        if not logged:
            raise ResultError(
                "XGBoostCallback: XGBoost evaluated no metric this round, so there is nothing "
                "to report. Give an evaluation set: xgboost.train(..., evals=[(dvalid, "
                "'valid')]) or model.fit(X, y, eval_set=[(X_valid, y_valid)])."
            )
        # The search's metric name (trial.metric) is rarely XGBoost's: monitor= names the
        # logged key, else the last one (XGBoost's own early stopping watches that).
        self._reporter.monitor = self._monitor or next(reversed(logged))
        _, value = self._reporter.pick(logged)
        return self._reporter(epoch, value, logged)
