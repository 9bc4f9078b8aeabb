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

#: Largest grid shuffled with a permutation array.
_ARRAY_LIMIT = 10_000_000
_MASK64 = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64's finaliser: a well-mixed 64-bit function of ``x``."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


class _LazyPermutation:
    """A seeded permutation of ``range(n)``, item by item in O(1) memory.

    A 4-round Feistel network on the smallest even number of bits covering
    ``n`` is a bijection of ``[0, 2^bits)``; walking its cycle until the
    value falls below ``n`` (at most 4 steps on average) restricts it to a
    bijection of ``[0, n)``.
    """

    def __init__(self, n: int, seed: int | None) -> None:
        self.n = n
        bits = max(2, (n - 1).bit_length())
        self.half = (bits + 1) // 2
        self.mask = (1 << self.half) - 1
        self.keys = [int(k) for k in np.random.SeedSequence(seed).generate_state(4, np.uint64)]

    def _feistel(self, x: int) -> int:
        left, right = x >> self.half, x & self.mask
        for key in self.keys:
            left, right = right, left ^ (_mix(right ^ key) & self.mask)
        return (left << self.half) | right

    def __getitem__(self, i: int) -> int:
        x = self._feistel(int(i))
        while x >= self.n:
            x = self._feistel(x)
        return x


class GridStrategy(Strategy):
    """Suggest each grid point once, in a fixed order.

    The order is the Cartesian product with the last key varying fastest,
    or a seeded permutation of it with ``shuffle=True`` (useful when only
    the first ``n_trials`` points will run). Points told without having
    been asked (a resumed study) are skipped.

    An enqueued configuration runs first. One that leaves keys out takes
    them from the next grid point in that order (or the first, once the
    grid is spent), which still runs in its turn. A configuration that is
    a grid point not run yet takes that point's place: the grid does not
    run it again. Any other (off the grid, or a point run before) is one
    trial more: :attr:`size` counts it.

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
        self._order: Any = None
        if shuffle:
            n = self.grid.size
            # A permutation array up to 10 million points (80 MB); beyond, a keyed
            # bijection computed point by point (a grid of 10^12 points would not fit).
            self._order = (np.random.default_rng(seed).permutation(n) if n <= _ARRAY_LIMIT
                           else _LazyPermutation(n, seed))
        self._cursor = 0
        self._done: set[int] = set()
        self._extra = 0  # points run or enqueued that took no grid point's place

    @property
    def size(self) -> int:
        """The grid's points, and the enqueued or told points that are not among them."""
        return self.grid.size + self._extra

    def _index_at(self, pos: int) -> int:
        return int(self._order[pos]) if self._order is not None else pos

    def _next_index(self) -> int | None:
        """The grid index of the next point not run, without moving past it; None at the end."""
        while self._cursor < self.grid.size:
            index = self._index_at(self._cursor)
            if index not in self._done:
                return index
            self._cursor += 1
        return None

    def _suggest(self) -> dict[str, Any]:
        index = self._next_index()
        if index is None:
            raise StrategyExhausted(f"all {self.grid.size} grid points have been suggested")
        self._done.add(index)
        self._cursor += 1
        return self.grid[index]

    def _claim(self, params: dict[str, Any]) -> None:
        """``params`` runs (or ran): its grid point is not suggested again; a point off
        the grid, or run before, is one trial more."""
        index = self.grid.index_of(params)
        if index is None or index in self._done:
            self._extra += 1
        else:
            self._done.add(index)

    def _queued(self, fixed: dict[str, Any]) -> dict[str, Any]:
        # The point is settled now, so that `size` counts it before the run starts.
        if not self._is_complete(fixed):
            index = self._next_index()
            fixed = self.space.complete(fixed, self.grid[0 if index is None else index])
        self._claim(fixed)
        return fixed

    def _observe(self, observation: FrozenTrial, was_pending: bool) -> None:
        if not was_pending:
            self._claim(observation.params)
