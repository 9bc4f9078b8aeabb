"""Train functions for the seed documents' examples (module level: n_jobs=4 pickles them)."""

from __future__ import annotations

import math


def _loss(lr: float, batch_size: float, hidden_dim: float) -> float:
    return (math.log10(lr) + 3.3) ** 2 + abs(math.log2(batch_size) - 7) / 10 + abs(
        hidden_dim - 256) / 1000


def train_function(config):
    """The seed's ``train_function``: returns the metric and the model to keep."""
    t, m = config["training"], config["model"]
    loss = _loss(t["lr"], t["batch_size"], m["hidden_dim"])
    return {"val_loss": loss, "model": {"weights": [t["lr"], m["hidden_dim"]]}}


def train_fn(config):
    """The seed's ``train_fn``: returns the validation loss as a number."""
    t = config["training"]
    return _loss(t["lr"], t["batch_size"], config["model"]["hidden_dim"])
