"""Searches: ``GridSearch``, ``RandomSearch``, ``BayesianSearch``, ``HyperbandSearch``.

The run loop they share lives in ``base``.
"""

from .base import BaseSearch
from .bayesian import BayesianSearch
from .grid import GridSearch
from .hyperband import HyperbandSearch
from .random import RandomSearch

__all__ = ["BaseSearch", "GridSearch", "RandomSearch", "BayesianSearch", "HyperbandSearch"]
