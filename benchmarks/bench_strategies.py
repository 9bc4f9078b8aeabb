"""Ask/tell strategies: cost of one suggestion and of building a finite-space order.

The ask/tell benchmarks are stateful: they set ``number = 1``, so that asv
runs ``setup`` before every timed call and each call starts from exactly
the primed state (``N_PRIOR`` told observations, or ``n`` for Bayesian).
"""

import copy

import numpy as np

from hpcore.space import Categorical, Integer, Real, SearchSpace
from hpcore.strategies import ASHAStrategy, GridStrategy, HyperbandStrategy, RandomStrategy

#: Observations told to a strategy before timing one more ask()+tell().
N_PRIOR = 1000


def continuous_space(d):
    """``d`` continuous dimensions (half of them log-scaled): an unbounded space."""
    return SearchSpace(
        {f"x{i}": Real(1e-4, 1.0, log=True) if i % 2 else Real(-5.0, 5.0) for i in range(d)}
    )


def grid_space(d):
    """A grid of about 10^6 points in ``d`` dimensions, far more than any run asks for."""
    if d == 2:
        return SearchSpace({"x0": Integer(0, 999), "x1": Real(0.0, 1.0, grid_points=1000)})
    return SearchSpace(
        {
            f"x{i}": Categorical(["a", "b", "c", "d"]) if i % 2 else Integer(0, 3)
            for i in range(d)
        }
    )


def _value(params):
    """A cheap deterministic objective so that tell() gets a real number."""
    return float(len(params))


def _prime(strategy, n):
    for _ in range(n):
        p = strategy.ask()
        strategy.tell(p, _value(p))


def make_strategy(name, d):
    """The strategy ``name`` on a ``d``-dimensional space, seeded.

    Hyperband and ASHA search the continuous space plus a budget
    ``epochs``: Hyperband with ``max_resource=729, eta=3`` (1806 trials in
    7 brackets, so ``N_PRIOR`` trials end inside the first bracket's second
    rung, where ``ask`` promotes), ASHA with ``max_resource=81, eta=3``
    (unbounded; by ``N_PRIOR`` each ``ask`` scans rungs holding hundreds of
    results for a promotion).
    """
    if name == "grid":
        return GridStrategy(grid_space(d))
    if name in ("random", "quasi"):
        return RandomStrategy(continuous_space(d), seed=0, quasi=(name == "quasi"))
    if name == "hyperband":
        return HyperbandStrategy(continuous_space(d), "epochs", max_resource=729, eta=3, seed=0)
    if name == "asha":
        return ASHAStrategy(continuous_space(d), "epochs", max_resource=81, eta=3, seed=0)
    raise ValueError(name)  # pragma: no cover


class AskTell:
    """One ``ask()`` plus one ``tell()`` after ``N_PRIOR`` observations."""

    params = (["grid", "random", "quasi", "hyperband", "asha"], [2, 10])
    param_names = ["strategy", "d"]
    number = 1  # stateful: every timed call starts from the primed state

    def setup(self, strategy, d):
        self.strategy = make_strategy(strategy, d)
        _prime(self.strategy, N_PRIOR)

    def time_ask_tell(self, strategy, d):
        s = self.strategy
        p = s.ask()
        s.tell(p, 0.5)


def finite_space(cardinality):
    """A finite space of the given size with unequal point weights (a log-scaled integer)."""
    if cardinality == 10**4:
        spec = {"a": Integer(1, 100, log=True), "b": Categorical(list(range(10))), "c": Integer(0, 9)}
    elif cardinality == 10**6:
        spec = {
            "a": Integer(1, 1000, log=True),
            "b": Categorical(list(range(10))),
            "c": Integer(0, 99),
        }
    else:  # pragma: no cover
        raise ValueError(cardinality)
    space = SearchSpace(spec)
    assert space.cardinality == cardinality
    return space


class FiniteRandomConstruct:
    """``RandomStrategy`` on a finite space: builds the exact weighted permutation."""

    params = [10**4, 10**6]
    param_names = ["cardinality"]
    # the 10^6 case takes ~0.1-0.3 s per call; a few samples are enough
    repeat = (2, 5, 10.0)

    def setup(self, cardinality):
        self.space = finite_space(cardinality)

    def time_construct(self, cardinality):
        RandomStrategy(self.space, seed=0)

    def peakmem_construct(self, cardinality):
        RandomStrategy(self.space, seed=0)


class BayesianAskTell:
    """One ``BayesianStrategy`` ``ask()`` plus ``tell()`` after ``n`` observations.

    ``setup_cache`` primes one strategy per (n, d) once (``n`` seeded
    observations of a smooth function, one suggestion that fits the GP, its
    result told); ``setup`` copies it. The timed ``ask`` is between refits:
    it extends the Cholesky factor by the point told last, scores 2048
    candidates and polishes the best 10 and the incumbent; ``tell`` appends
    the result. At n = 2000 the large-n path runs instead (docs/bayesian.md,
    "Many trials"): bounded scoring of 1024 + 320 candidates, local searches
    on the 256 nearest observations, the factor grown in place, and the
    hyperparameters from a background refit (primed: the copy waits for it).
    ``bench_kernels.Suggestion`` times ``ask`` alone up to n = 1000 and
    d = 20; refits are ``bench_kernels.GPFit``; ``benchmarks/ask_scaling.py``
    compares with Optuna up to n = 10,000.
    """

    params = ([50, 200, 2000], [2, 10])
    param_names = ["n", "d"]
    number = 1
    timeout = 120

    def setup_cache(self):
        from hpcore.strategies.bayesian import BayesianStrategy

        primed = {}
        for n in self.params[0]:
            for d in self.params[1]:
                space = SearchSpace({f"x{i}": Real(0.0, 1.0) for i in range(d)})
                s = BayesianStrategy(space, seed=0)
                X = np.random.default_rng(0).random((n, d))
                for row in X:
                    s.tell(dict(zip(space, row.tolist())), _smooth(row))
                p = s.ask()  # the fit
                s.tell(p, _smooth(np.array(list(p.values()))))
                primed[n, d] = s
        return primed

    setup_cache.timeout = 300

    def setup(self, primed, n, d):
        from hpcore import kernels

        kernels.warmup()
        if not getattr(self, "_warm", False):
            # The first suggestion of a process pays one-off costs (scipy.stats import,
            # Sobol's direction numbers, threadpoolctl's library scan: ~0.5 s): keep
            # them out of the timing, also in a --quick run's single call.
            copy.deepcopy(primed[n, d]).ask()
            self._warm = True
        self.strategy = copy.deepcopy(primed[n, d])

    def time_ask_tell(self, primed, n, d):
        s = self.strategy
        p = s.ask()
        s.tell(p, 0.5)


class MultiOutputAskTell:
    """One ``MultiOutputBayesianStrategy`` ``ask()`` plus ``tell()`` after ``n``
    observations, d = 6: two objectives, three objectives, and one objective
    under one constraint.

    Primed like :class:`BayesianAskTell` (one copy per case, the models fitted
    by one suggestion). The timed ``ask`` extends each model's factor, builds
    the box decomposition of the front (2-3 objectives), scores the
    candidates with log-EHVI (or log-EI) plus log P(feasible) and polishes
    the best. ``benchmarks/peers/multi_objective.py`` compares the whole runs
    with Optuna's samplers.
    """

    params = ([50, 200], ["2-objectives", "3-objectives", "1-objective+1-constraint"])
    param_names = ["n", "case"]
    number = 1
    timeout = 120
    _SHAPES = {"2-objectives": (2, 0), "3-objectives": (3, 0), "1-objective+1-constraint": (1, 1)}

    def setup_cache(self):
        from hpcore.strategies.multi import MultiOutputBayesianStrategy

        primed = {}
        space = SearchSpace({f"x{i}": Real(0.0, 1.0) for i in range(6)})
        for n in self.params[0]:
            for case, (k, c) in self._SHAPES.items():
                s = MultiOutputBayesianStrategy(space, k, c, seed=0)
                for row in np.random.default_rng(0).random((n, 6)):
                    values, violations = _outputs(row, k, c)
                    s.tell(dict(zip(space, row.tolist())), values, constraints=violations)
                p = s.ask()  # the fits
                values, violations = _told(p, k, c)
                s.tell(p, values, constraints=violations)
                primed[n, case] = s
        return primed

    setup_cache.timeout = 300

    def setup(self, primed, n, case):
        if not getattr(self, "_warm", False):
            copy.deepcopy(primed[n, case]).ask()  # one-off costs out of the timing
            self._warm = True
        self.strategy = copy.deepcopy(primed[n, case])
        self.shape = self._SHAPES[case]

    def time_ask_tell(self, primed, n, case):
        s = self.strategy
        p = s.ask()
        values, violations = _told(p, *self.shape)
        s.tell(p, values, constraints=violations)


def _outputs(x, k, c):
    """k objectives and c violations of a unit-cube point, smooth and conflicting."""
    values = [_smooth(x - 0.2 * j) for j in range(k)]
    return (values if k > 1 else values[0]), ([float(x.sum() - 3.0)] * c or None)


def _told(p, k, c):
    return _outputs(np.array(list(p.values())), k, c)


def _smooth(x):
    """A smooth test value of a unit-cube point (n,) for the Bayesian priming."""
    return float(np.sum((x - 0.3) ** 2) + 0.1 * np.sum(np.sin(10 * x)))
