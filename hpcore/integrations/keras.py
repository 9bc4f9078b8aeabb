"""Keras 3: :class:`KerasCallback` reports each epoch's logs to the trial.

>>> from hpcore.integrations import KerasCallback          # doctest: +SKIP
>>> callback = KerasCallback(trial)                      # monitors the search's metric
>>> model.fit(x, y, validation_data=(x_val, y_val), epochs=20, callbacks=[callback])
>>> return callback.value

Needs ``keras`` 3 (``pip install 'hpcore[keras]'``) and one of its
backends; choose it with ``KERAS_BACKEND`` (``torch``, ``jax``,
``tensorflow``) before Keras is first imported.
"""

from __future__ import annotations

from typing import Any

from ..trial import Trial
from ._report import Reporter, Reporting, require

_keras = require("keras", "keras", "hpcore.integrations.keras")

__all__ = ["KerasCallback"]


class KerasCallback(Reporting, _keras.callbacks.Callback):
    """Report the monitored metric at each epoch end; stop ``fit`` when told.

    At the end of every epoch the value of ``monitor`` in Keras' logs is
    reported with ``trial.report(epoch, value)``, with the other logged
    numbers. When a stopping rule has asked the trial to stop,
    ``model.stop_training`` is set: ``fit`` ends cleanly after this epoch
    and returns its history, and the trial is recorded ``stopped`` with the
    value ``train_fn`` returns, as for a hand-written loop. Return
    :attr:`value`, the last value reported.

    Parameters
    ----------
    trial : hpcore.Trial
        The second argument of ``train_fn(config, trial)``.
    monitor : str, optional
        A key of Keras' epoch logs, e.g. ``'val_loss'`` or
        ``'val_accuracy'`` (``fit`` with ``validation_data`` or
        ``validation_split`` logs the ``val_`` ones). Default: the
        search's ``metric``.

    Attributes
    ----------
    value : float or None
        The last value reported (None before the first epoch).
    stopped : bool
        Whether this callback stopped training.

    Raises
    ------
    hpcore.ResultError
        At an epoch whose logs lack ``monitor`` (the message lists them).
    """

    def __init__(self, trial: Trial, monitor: str | None = None) -> None:
        super().__init__()
        self._reporter = Reporter(trial, monitor, "KerasCallback")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = dict(logs or {})
        _, value = self._reporter.pick(logs)
        if self._reporter(epoch, value, logs):
            self.model.stop_training = True
