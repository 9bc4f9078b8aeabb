"""Train functions and checks shared by the framework integration tests.

Each ``fit_<framework>(config, trial)`` trains a tiny model on a data set
made here (a noisy linear regression, no download) for ``config['epochs']``
epochs or boosting rounds at learning rate ``config['lr']``, through the
framework's own training loop with hpcore's callback, and returns the last
reported validation loss and how many epochs the framework really ran.
At ``HOPELESS`` the model barely moves, so stopping rules and ASHA can tell
it from the good rates. They live in a module (not in the test files) so
that worker processes can import them.

Each epoch of these toy models takes microseconds, far less than a real
one; a stop decision travels from the driver to the worker between two
reports, so a second framework callback pauses ``PAUSE`` seconds after each
epoch (as the stopping tests' ``curve`` does after each step): the stop then
arrives long before the last epoch, as it does for real training.
"""

from __future__ import annotations

import os
import time

import numpy as np

from hpcore import HyperbandSearch, TrialState
from hpcore.search import GridSearch
from hpcore.search.space import Real
from hpcore.stopping import MedianStopping

#: Learning rates: one that learns, one that does not.
GOOD = 0.3
HOPELESS = 1e-5
EPOCHS = 20
#: Seconds each epoch (boosting round) lasts at least.
PAUSE = 0.03


def data(n: int = 128, d: int = 4, seed: int = 0) -> tuple[np.ndarray, ...]:
    """``(x_train, y_train, x_valid, y_valid)``, float32, y = x @ w + noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x @ np.linspace(1.0, 2.0, d) + 3.0 + 0.1 * rng.normal(size=n)).astype(np.float32)
    cut = 3 * n // 4
    return x[:cut], y[:cut], x[cut:], y[cut:]


def fit_lightning(config, trial):
    import lightning.pytorch as pl
    import torch

    from hpcore.integrations import LightningCallback

    class Regressor(pl.LightningModule):
        def __init__(self, lr):
            super().__init__()
            self.lr = lr
            self.net = torch.nn.Linear(4, 1)

        def training_step(self, batch, _):
            x, y = batch
            return torch.nn.functional.mse_loss(self.net(x).squeeze(-1), y)

        def validation_step(self, batch, _):
            time.sleep(PAUSE)
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.net(x).squeeze(-1), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.lr)

    torch.manual_seed(0)
    xt, yt, xv, yv = (torch.from_numpy(a) for a in data())
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xt, yt), batch_size=32)
    valid = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xv, yv), batch_size=64)
    callback = LightningCallback(trial)
    trainer = pl.Trainer(max_epochs=config["epochs"], callbacks=[callback], logger=False,
                         accelerator="cpu", devices=1, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0)
    trainer.fit(Regressor(config["lr"]), train, valid)
    return {"val_loss": callback.value, "epochs_trained": trainer.current_epoch}


def fit_keras(config, trial):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    from hpcore.integrations import KerasCallback

    keras.utils.set_random_seed(0)
    xt, yt, xv, yv = data()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(config["lr"]), loss="mse")
    callback = KerasCallback(trial)
    pause = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: time.sleep(PAUSE))
    history = model.fit(xt, yt, validation_data=(xv, yv), epochs=config["epochs"],
                        batch_size=32, callbacks=[pause, callback], verbose=0)
    return {"val_loss": callback.value, "epochs_trained": len(history.epoch)}


def fit_xgboost(config, trial):
    import xgboost as xgb

    from hpcore.integrations import XGBoostCallback

    class Pause(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            time.sleep(PAUSE)
            return False

    xt, yt, xv, yv = data()
    callback = XGBoostCallback(trial, monitor="valid-rmse")
    booster = xgb.train({"eta": config["lr"], "max_depth": 2, "nthread": 1},
                        xgb.DMatrix(xt, yt), num_boost_round=config["epochs"],
                        evals=[(xgb.DMatrix(xv, yv), "valid")], callbacks=[Pause(), callback],
                        verbose_eval=False)
    return {"val_loss": callback.value, "epochs_trained": booster.num_boosted_rounds()}


def fit_lightgbm(config, trial):
    import lightgbm as lgb

    from hpcore.integrations import LightGBMCallback

    xt, yt, xv, yv = data()
    callback = LightGBMCallback(trial)
    booster = lgb.train({"learning_rate": config["lr"], "num_leaves": 4, "min_data_in_leaf": 5,
                         "num_threads": 1, "verbose": -1, "metric": "l2"},
                        lgb.Dataset(xt, yt), num_boost_round=config["epochs"],
                        valid_sets=[lgb.Dataset(xv, yv)], valid_names=["valid"],
                        callbacks=[lambda env: time.sleep(PAUSE), callback])
    return {"val_loss": callback.value, "epochs_trained": booster.current_iteration()}


def median_run(train_fn) -> GridSearch:
    """Two copies of the good rate, then two of the hopeless one, two at a time.

    ``MedianStopping(grace_steps=2, min_trials=1)``: the copies of one rate
    learn the same curve, so they never stop each other; a hopeless trial
    starts only when a good one has ended, and is stopped once past its
    grace steps, whatever order the two workers start in.
    """
    search = GridSearch({"lr": 0.1, "epochs": EPOCHS, "copy": 0},
                        {"lr": [GOOD, HOPELESS], "copy": [0, 1]},
                        metric="val_loss", mode="min")
    search.run(train_fn, n_jobs=2, stopping=MedianStopping(grace_steps=2, min_trials=1),
               verbose=0)
    return search


def check_median_run(search: GridSearch) -> None:
    """The hopeless trials are ``stopped`` with their last reported value, the framework cut short."""
    assert [t.params["lr"] for t in search.trials] == [GOOD, GOOD, HOPELESS, HOPELESS]
    for good in search.trials[:2]:
        assert good.state is TrialState.COMPLETED, (good.state, good.error)
        assert len(good.reports) == EPOCHS and good.metrics["epochs_trained"] == EPOCHS
    for bad in search.trials[2:]:
        assert bad.state is TrialState.STOPPED, (bad.state, bad.error)
        assert bad.error.startswith("stopped early: MedianStopping: its best value")
        assert 3 <= len(bad.reports) < EPOCHS
        assert bad.value == bad.reports[-1]["value"]  # its last value, as a hand-written loop
        assert bad.metrics["epochs_trained"] < EPOCHS  # the framework's own loop ended early
        assert [r["step"] for r in bad.reports] == list(range(len(bad.reports)))
    assert search.best_trial.params["lr"] == GOOD


def asha_run(train_fn) -> HyperbandSearch:
    """ASHA over the rate, epochs the resource (1, 3, 9), the hopeless rate enqueued first."""
    search = HyperbandSearch({"lr": 0.1, "epochs": 1}, {"lr": Real(HOPELESS, 0.5, log=True)},
                             metric="val_loss", mode="min", resource_key="epochs",
                             max_resource=9, eta=3, n_trials=9, random_state=0)
    search.enqueue([{"lr": HOPELESS}, {"lr": GOOD}, {"lr": 0.2}])
    search.run(train_fn, n_jobs=2, verbose=0)
    return search


def check_asha_run(search: HyperbandSearch) -> None:
    """The hopeless rate gets one epoch and is never promoted; a good one is."""
    hopeless = [t for t in search.trials if t.params["lr"] == HOPELESS]
    assert [t.params["epochs"] for t in hopeless] == [1]
    (bad,) = hopeless
    assert bad.state is TrialState.COMPLETED and len(bad.reports) == 1
    assert bad.metrics["epochs_trained"] == 1 and bad.value == bad.reports[-1]["value"]
    promoted = [t for t in search.trials if t.params["epochs"] > 1]
    assert promoted and all(t.params["lr"] != HOPELESS for t in promoted)
    assert all(len(t.reports) == t.params["epochs"] for t in search.trials
               if t.state is TrialState.COMPLETED)
