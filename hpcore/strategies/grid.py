"""Grid search: every combination of the dimensions' grid values, once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import StrategyExhausted
from ..space import SearchSpace
from ..trial import FrozenTrial
from .base import Strategy

__all__ = ["GridStrategy"]


class GridStrategy(Strategy):
    """Suggest each grid point once, in a fixed order.

    The order is the Cartesian product with the last key varying fastest,
    or a seeded permutation of it with ``shuffle=True`` (useful when only
    the first ``n_trials`` points will run). Points told without having
    been asked (a resumed study) are skipped.

    Parameters
    ----------
    space : SearchSpace or mapping
        Lists, categoricals and integers enumerate their values; a ``Real``
        needs ``grid_points``.
    shuffle : bool
        Visit the points in a random order.
    seed : int, optional
        Seed of that order.
    """

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        shuffle: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__(space)
        self.grid = self.space.grid()
        self._order: np.ndarray | None = None
        if shuffle:
            self._order = np.random.default_rng(seed).permutation(self.grid.size)
        self._cursor = 0
        self._done: set[int] = set()

    @property
    def size(self) -> int:
        return self.grid.size

    def _suggest(self) -> dict[str, Any]:
        while self._cursor < self.grid.size:
            pos = self._cursor
            index = int(self._order[pos]) if self._order is not None else pos
            self._cursor += 1
            if index not in self._done:
                self._done.add(index)
                return self.grid[index]
        raise StrategyExhausted(f"all {self.grid.size} grid points have been suggested")

    def _observe(self, observation: FrozenTrial, was_pending: bool) -> None:
        if not was_pending:
            index = self.grid.index_of(observation.params)
            if index is not None:
                self._done.add(index)
