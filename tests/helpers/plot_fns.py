"""Train functions and small real studies for the plot and report tests.

Each study is a real search run serially (in the test's process) into an
experiment root, so the tests read it back with ``hpcore.load`` as
``hpcore report`` does.
"""

from __future__ import annotations

import math
from pathlib import Path

from hpcore import BayesianSearch, Integer, RandomSearch, Real
from hpcore.stopping import MedianStopping

#: A space with every kind of dimension: log real, log integer, categorical, linear real.
SPACE = {
    "lr": Real(1e-4, 1e-1, log=True),
    "width": Integer(8, 128, log=True),
    "act": ["relu", "tanh", "gelu"],
    "dropout": Real(0.0, 0.5),
}
EPOCHS = 8


def final_loss(config) -> float:
    """Lowest near lr = 10**-2.5; the activation and dropout matter a little."""
    return (
        3.0 * (math.log10(config["lr"]) + 2.5) ** 2
        + 0.1 * config["dropout"]
        + (0.3 if config["act"] == "tanh" else 0.0)
        + 0.001 * config["width"]
    )


def curve_fn(config, trial):
    """Reports a decreasing curve of EPOCHS points; fails when dropout > 0.45."""
    if config["dropout"] > 0.45:
        raise RuntimeError("dropout above 0.45 diverged")
    final = final_loss(config)
    for epoch in range(EPOCHS):
        trial.report(epoch, final + 1.0 / (epoch + 1))
    return {"val_loss": final + 1.0 / EPOCHS, "acc": 1.0 / (1.0 + final)}


def no_report_fn(config):
    """Returns the value without reporting a curve."""
    return {"val_loss": final_loss(config)}


def accuracy_fn(config, trial):
    """Maximised: accuracy rises over the epochs."""
    acc = 1.0 / (1.0 + final_loss(config))
    for epoch in range(4):
        trial.report(epoch, acc * (epoch + 1) / 4)
    return {"acc": acc}


def always_fails(config):
    raise RuntimeError("this trial always fails")


def bowl_fn(config, trial):
    """Three parameters, two that matter: x (strongly) and lr; c hardly."""
    value = 4.0 * (config["x"] - 0.3) ** 2 + (math.log10(config["lr"]) + 2.0) ** 2
    value += 0.01 * ["a", "b"].index(config["c"])
    for step in range(3):
        trial.report(step, value + 0.5 / (step + 1))
    return value


def run_random(root: Path, n_trials: int = 16, name: str | None = None, space=None) -> RandomSearch:
    """16 trials with reported curves: completed, stopped (median rule) and failed ones."""
    search = RandomSearch({}, space or SPACE, metric="val_loss", mode="min",
                          n_trials=n_trials, random_state=0)
    search.run(curve_fn, experiment_root=root, study_name=name,
               stopping=MedianStopping(grace_steps=2, min_trials=3))
    return search


def run_bayesian(root: Path) -> BayesianSearch:
    search = BayesianSearch(
        {}, {"x": Real(0.0, 1.0), "lr": Real(1e-4, 1e-1, log=True), "c": ["a", "b"]},
        n_trials=10, n_initial_points=5, random_state=0,
    )
    search.run(bowl_fn, experiment_root=root)
    return search


#: Dollar signs in a parameter name, in choices, in the metric and the study's name:
#: each alone (``$5``) or in pairs that are not valid mathtext (``$x^$``).
DOLLAR_SPACE = {
    "fee$_$": Real(1e-3, 1.0, log=True),
    "plan": ["$5", "$10", "$x^$"],
    "x": Real(0.0, 1.0),
}
DOLLAR_METRIC = "cost$_$"


def dollar_fn(config, trial):
    value = config["fee$_$"] + config["x"] + 0.1 * ["$5", "$10", "$x^$"].index(config["plan"])
    for step in range(3):
        trial.report(step, value + 1.0 / (step + 1))
    return {DOLLAR_METRIC: value}


def run_dollar(root: Path, n_trials: int = 8) -> RandomSearch:
    search = RandomSearch({}, DOLLAR_SPACE, metric=DOLLAR_METRIC, mode="min",
                          n_trials=n_trials, random_state=0)
    search.run(dollar_fn, experiment_root=root, study_name="my $study$^")
    return search
