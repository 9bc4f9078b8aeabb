"""Whole searches: loop overhead, import time and search quality (tracked)."""

import math

import numpy as np

from hpcore import RandomSearch
from hpcore.space import Integer, Real

BRANIN_OPTIMUM = 0.397887


def branin(x1, x2):
    """The Branin-Hoo function on [-5, 10] x [0, 15]; its global minimum is 0.397887."""
    a, b, c = 1.0, 5.1 / (4 * math.pi**2), 5.0 / math.pi
    r, s, t = 6.0, 10.0, 1.0 / (8 * math.pi)
    return a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


def branin_fn(config):
    return branin(config["x1"], config["x2"])


BRANIN_SPACE = {"x1": Real(-5.0, 10.0), "x2": Real(0.0, 15.0)}


def _noop(config):
    return 0.0


class SerialRandomSearch:
    """``RandomSearch.run`` of 200 trials whose ``train_fn`` returns a float at once.

    Everything measured is hpcore's own per-trial cost in the serial
    executor: ask, apply_params (a deep copy of a small nested config),
    run_trial, record and tell.
    """

    n_trials = 200

    def setup(self):
        self.search = RandomSearch(
            base_config={"model": {"dim": 64, "act": "relu"}, "training": {"lr": 1e-3, "bs": 32}},
            search_space={
                "training.lr": Real(1e-5, 1e-1, log=True),
                "training.bs": Integer(16, 512, log=True),
                "model.dim": Integer(16, 256),
                "model.act": ["relu", "gelu", "tanh"],
            },
            n_trials=self.n_trials,
            random_state=0,
        )

    def time_run_200_noop(self):
        self.search.run(_noop)


def timeraw_import_hpcore():
    """``import hpcore`` in a fresh interpreter (numpy/scipy/numba imports included)."""
    return "import hpcore"


def _regret(quasi, n_trials=50, seeds=range(5)):
    regrets = []
    for seed in seeds:
        search = RandomSearch(
            base_config={},
            search_space=BRANIN_SPACE,
            n_trials=n_trials,
            random_state=seed,
            quasi=quasi,
        )
        _, best = search.run(branin_fn)
        regrets.append(best - BRANIN_OPTIMUM)
    return float(np.median(regrets))


def track_random_regret_branin():
    """Best Branin value after 50 random trials minus the optimum, median of 5 seeds."""
    return _regret(quasi=False)


track_random_regret_branin.unit = "regret"


def track_quasi_regret_branin():
    """As ``track_random_regret_branin`` with the scrambled Sobol sequence."""
    return _regret(quasi=True)


track_quasi_regret_branin.unit = "regret"
