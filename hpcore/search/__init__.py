"""Searches: ``GridSearch``, ``RandomSearch`` (the run loop lives in ``base``)."""

from .base import BaseSearch
from .grid import GridSearch
from .random import RandomSearch

__all__ = ["BaseSearch", "GridSearch", "RandomSearch"]
