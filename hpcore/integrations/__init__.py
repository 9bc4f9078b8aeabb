"""Framework callbacks: report a training run's curve to its trial, stop it when told.

Each integration lives in its own module and imports its framework only
when that module is imported, so ``import hpcore.integrations`` costs
nothing and needs none of them:

=================================  ================================  ======================
name                               framework (its hook)              extra
=================================  ================================  ======================
:class:`LightningCallback`         ``lightning.pytorch.Callback``    ``hpcore[lightning]``
:class:`KerasCallback`             ``keras.callbacks.Callback``      ``hpcore[keras]``
:class:`XGBoostCallback`           ``xgboost.callback                ``hpcore[xgboost]``
                                   .TrainingCallback``
:class:`LightGBMCallback`          a ``lightgbm.train`` callback     ``hpcore[lightgbm]``
:class:`HpcoreSearchCV`            a scikit-learn meta-estimator     ``hpcore[sklearn]``
=================================  ================================  ======================

The callbacks all do what a hand-written loop does: ``trial.report(step,
value)`` after each evaluation, and when a stopping rule has asked the
trial to stop, end training through the framework's own mechanism
(``trainer.should_stop``, ``model.stop_training``, returning True,
``EarlyStopException``). ``train_fn`` then returns as usual, and the trial
is recorded ``stopped`` with that value: return ``callback.value``, the
last value reported, to keep the record and the curve in agreement.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["HpcoreSearchCV", "KerasCallback", "LightGBMCallback", "LightningCallback",
           "XGBoostCallback"]

#: Public name -> its module (loaded on first use, PEP 562).
_LAZY = {
    "HpcoreSearchCV": "hpcore.integrations.sklearn",
    "KerasCallback": "hpcore.integrations.keras",
    "LightGBMCallback": "hpcore.integrations.lightgbm",
    "LightningCallback": "hpcore.integrations.lightning",
    "XGBoostCallback": "hpcore.integrations.xgboost",
}

if TYPE_CHECKING:
    from .keras import KerasCallback
    from .lightgbm import LightGBMCallback
    from .lightning import LightningCallback
    from .sklearn import HpcoreSearchCV
    from .xgboost import XGBoostCallback


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hpcore.integrations' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
