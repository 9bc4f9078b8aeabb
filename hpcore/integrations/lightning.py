"""PyTorch Lightning: :class:`LightningCallback` reports each validation to the trial.

>>> from hpcore.integrations import LightningCallback   # doctest: +SKIP
>>> callback = LightningCallback(trial)                # monitors the search's metric
>>> trainer = lightning.pytorch.Trainer(max_epochs=20, callbacks=[callback])
>>> trainer.fit(model, train_loader, val_loader)
>>> return callback.value

Needs ``lightning`` (``pip install 'hpcore[lightning]'``), imported with
this module.
"""

from __future__ import annotations

from typing import Any

from ..errors import ArgumentError
from ..trial import Trial
from ._report import Reporter, Reporting, require

_pl = require("lightning.pytorch", "lightning", "hpcore.integrations.lightning")

__all__ = ["LightningCallback"]


class LightningCallback(Reporting, _pl.Callback):
    """Report the monitored metric at each validation end; stop the fit when told.

    After every validation (the sanity check excepted) the logged value of
    ``monitor`` is reported with ``trial.report(step, value)``, along with
    the other scalar metrics logged so far. When a stopping rule has asked
    the trial to stop, ``trainer.should_stop`` is set: Lightning ends the
    fit cleanly after the current step, ``trainer.fit`` returns, and the
    trial is recorded ``stopped`` with the value ``train_fn`` returns, as
    for a hand-written loop. Return :attr:`value` (the last value reported)
    so that the record and its curve agree.

    Parameters
    ----------
    trial : hpcore.Trial
        The second argument of ``train_fn(config, trial)``.
    monitor : str, optional
        The logged metric (``self.log(monitor, ...)`` in the module) that
        is the search's value. Default: the search's ``metric``.
    step : {'epoch', 'global_step'}
        What a report's step counts: ``trainer.current_epoch`` (default)
        or ``trainer.global_step``, for validation more than once an
        epoch (``val_check_interval < 1``).

    Attributes
    ----------
    value : float or None
        The last value reported (None before the first validation).
    stopped : bool
        Whether this callback stopped the fit.

    Raises
    ------
    hpcore.ResultError
        At a validation that did not log ``monitor`` (the message lists
        what was logged); the search ends, since every trial would fail.
    """

    def __init__(self, trial: Trial, monitor: str | None = None, step: str = "epoch") -> None:
        super().__init__()
        if step not in ("epoch", "global_step"):
            raise ArgumentError(f"LightningCallback: step must be 'epoch' or 'global_step', "
                                f"got {step!r}.")
        self._reporter = Reporter(trial, monitor, "LightningCallback")
        self._step = step

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        logged = trainer.callback_metrics
        _, value = self._reporter.pick(logged)
        step = trainer.current_epoch if self._step == "epoch" else trainer.global_step
        if self._reporter(step, value, logged):
            trainer.should_stop = True
