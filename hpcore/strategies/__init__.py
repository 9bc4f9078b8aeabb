"""Ask/tell strategies: pure objects that suggest parameters and learn from results."""

from .base import Strategy
from .grid import GridStrategy
from .hyperband import ASHAStrategy, HyperbandStrategy, WaitForResults
from .random import RandomStrategy

__all__ = ["Strategy", "GridStrategy", "RandomStrategy", "BayesianStrategy",
           "MultiOutputBayesianStrategy", "HyperbandStrategy", "ASHAStrategy", "WaitForResults"]


def __getattr__(name: str) -> object:
    # BayesianStrategy loads the numba kernel layer; import it only when asked for.
    if name == "BayesianStrategy":
        from .bayesian import BayesianStrategy

        return BayesianStrategy
    if name == "MultiOutputBayesianStrategy":
        from .multi import MultiOutputBayesianStrategy

        return MultiOutputBayesianStrategy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
