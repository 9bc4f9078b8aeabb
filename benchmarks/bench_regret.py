"""Sample efficiency, tracked like speed: regret after a fixed budget of evaluations.

``track_regret`` runs a strategy's ask/tell loop (no run loop, no
processes) for ``BUDGET`` evaluations on a test function of
``benchmarks/functions.py`` and returns the median over ``SEEDS`` of the
simple regret (best value found minus the known optimum). Each run is
deterministic given its seed, so the number only moves when the
suggestions change: a rise is a loss of search quality, to be read like a
slowdown. Three seeds is a tripwire, not an evaluation; the comparison with
other samplers over 20 seeds is ``python -m benchmarks.peers.compare regret``
(``docs/benchmarks.md``).
"""

import math

import numpy as np

from benchmarks.functions import BRANIN, HARTMANN6
from hpcore.strategies import BayesianStrategy, RandomStrategy

#: Evaluations per run (BayesianStrategy: its 10 quasi-random initial points, then 20 from the GP).
BUDGET = 30
SEEDS = (0, 1, 2)

FUNCTIONS = {"branin": BRANIN, "hartmann6": HARTMANN6}
STRATEGIES = {"bayesian": BayesianStrategy, "random": RandomStrategy}


def regret(function, strategy, seed, budget=BUDGET):
    """Simple regret of one seeded run of ``budget`` evaluations."""
    fn = FUNCTIONS[function]
    s = STRATEGIES[strategy](fn.space, seed=seed)
    best = math.inf
    for _ in range(budget):
        params = s.ask()
        value = fn(params)
        s.tell(params, value)
        best = min(best, value)
    return best - fn.optimum


class Regret:
    """Median simple regret after ``BUDGET`` evaluations over ``SEEDS``."""

    params = (list(FUNCTIONS), list(STRATEGIES))
    param_names = ["function", "strategy"]
    timeout = 300

    def setup(self, function, strategy):
        if strategy == "bayesian":
            from hpcore import kernels

            kernels.warmup()

    def track_regret(self, function, strategy):
        value = float(np.median([regret(function, strategy, seed) for seed in SEEDS]))
        if not (math.isfinite(value) and value >= 0):
            # asv shows a NaN as n/a and exits 0: make a broken run fail instead
            raise ValueError(f"regret must be finite and >= 0, got {value!r}")
        return value

    track_regret.unit = "regret"
