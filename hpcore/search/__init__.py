"""Searches: ``GridSearch``, ``RandomSearch``, ``BayesianSearch`` (the run loop lives in ``base``)."""

from .base import BaseSearch
from .bayesian import BayesianSearch
from .grid import GridSearch
from .random import RandomSearch

__all__ = ["BaseSearch", "GridSearch", "RandomSearch", "BayesianSearch"]
