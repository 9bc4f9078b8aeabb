"""Ask/tell strategies: pure objects that suggest parameters and learn from results."""

from .base import Observation, Strategy
from .grid import GridStrategy
from .random import RandomStrategy

__all__ = ["Strategy", "Observation", "GridStrategy", "RandomStrategy"]
