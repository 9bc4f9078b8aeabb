"""Train functions for Hyperband tests, importable by spawned worker processes."""

from __future__ import annotations

import os


def learning_curve(config, trial):
    """A synthetic learning curve whose final value is quality + 1 / epochs.

    The quality of a configuration is ``config['model']['x']`` (lower is
    better), so the best configurations are known. Reports every epoch when
    ``config['report']`` is set, and returns what it saw of its budget.
    """
    x = config["model"]["x"]
    epochs = config["training"]["epochs"]
    value = x + 1.0 / epochs
    if config.get("report"):
        for epoch in range(1, epochs + 1):
            trial.report(epoch, x + 1.0 / epoch)
    return {
        "loss": value,
        "budget_seen": float(trial.budget),
        "epochs_seen": float(epochs),
        "pid": float(os.getpid()),
    }
