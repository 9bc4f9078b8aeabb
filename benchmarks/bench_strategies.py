"""Ask/tell strategies: cost of one suggestion and of building a finite-space order.

asv re-runs ``setup`` before every timing sample, so each sample starts
from exactly ``N_PRIOR`` told observations.
"""


from hpcore.space import Categorical, Integer, Real, SearchSpace
from hpcore.strategies import GridStrategy, RandomStrategy

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


class AskTell:
    """One ``ask()`` plus one ``tell()`` after ``N_PRIOR`` observations."""

    params = (["grid", "random", "quasi"], [2, 10])
    param_names = ["strategy", "d"]

    def setup(self, strategy, d):
        if strategy == "grid":
            self.strategy = GridStrategy(grid_space(d))
        else:
            self.strategy = RandomStrategy(
                continuous_space(d), seed=0, quasi=(strategy == "quasi")
            )
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
