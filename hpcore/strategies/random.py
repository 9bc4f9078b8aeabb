"""Random and quasi-random (scrambled Sobol) search."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import StrategyExhausted
from ..space import SearchSpace
from ..space.dimensions import same_value
from ..trial import FrozenTrial
from .base import Strategy

__all__ = ["RandomStrategy"]

#: Finite spaces up to this many points are drawn without replacement from
#: an exact weighted permutation; larger ones reject repeats.
_EXACT_LIMIT = 1_000_000


class RandomStrategy(Strategy):
    """Independent draws from the space, or a scrambled Sobol sequence.

    Point ``i`` depends only on the seed and ``i``: the same seed gives the
    same sequence in any process, and a resumed search continues it.

    In a finite space (only integers and categoricals) no point is repeated:
    the strategy draws without replacement, with each point's chance of
    coming early proportional to its probability under plain sampling (so
    log-scaled integers keep their log-uniform weighting), and is exhausted
    after every point was suggested.

    An enqueued configuration takes the place of the next point of the
    sequence, whose values fill the keys it leaves out.

    Parameters
    ----------
    space : SearchSpace or mapping
        What to search.
    seed : int, optional
        Seed of the sequence; ``None`` draws fresh entropy once.
    quasi : bool
        Use scrambled Sobol points (``scipy.stats.qmc``), which cover the
        cube more evenly than independent draws for small budgets.
    """

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        seed: int | None = None,
        quasi: bool = False,
    ) -> None:
        super().__init__(space)
        self.seed = seed
        self.quasi = quasi
        self._entropy = np.random.SeedSequence(seed).entropy
        self._index = 0
        self._sobol: Any = None  # scipy.stats.qmc.Sobol, imported on first use (0.5 s)
        self._sobol_at = 0
        cardinality = self.space.cardinality
        self._finite = cardinality is not None
        self._order: np.ndarray | None = None
        if cardinality is not None and cardinality <= _EXACT_LIMIT:
            self._order = self._weighted_permutation()
        self._grid = self.space.grid() if self._finite else None
        self._seen: set[int] = set()  # grid indices of points already suggested or told

    @property
    def size(self) -> int | None:
        return self.space.cardinality

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(self._entropy, spawn_key=(index,)))

    def _weighted_permutation(self) -> np.ndarray:
        """Grid indices in a weighted random order (Gumbel top-k, Efraimidis-Spirakis)."""
        if self.space.conditional:
            log_p = self._conditional_log_p()
        else:
            log_p = np.zeros(1)
            for dim in self.space.values():
                log_p = (log_p[:, None] + np.log(dim.probabilities())[None, :]).ravel()
        gumbel = self._rng(-1 % (2**32)).gumbel(size=log_p.size)
        return np.argsort(-(log_p + gumbel), kind="stable")

    def _conditional_log_p(self) -> np.ndarray:
        """Log chance of each point of a conditional grid under sampling: the product over
        its active keys (an inactive key is not drawn, whatever its value)."""
        tables = {}
        for key, dim in self.space.items():
            values = list(dim.grid_values(key))
            tables[key] = (values, np.log(dim.probabilities()))
        out = []
        for point in self.space.grid():
            total = 0.0
            for key, value in point.items():
                values, logs = tables[key]
                total += logs[next(i for i, v in enumerate(values) if same_value(v, value))]
            out.append(total)
        return np.array(out)

    def _unit_point(self, index: int) -> np.ndarray:
        d = len(self.space)
        if not self.quasi:
            return self._rng(index).random(d)
        if self._sobol is None or index < self._sobol_at:
            from scipy.stats import qmc

            self._sobol = qmc.Sobol(d, scramble=True, seed=self._rng(-2 % (2**32)))
            self._sobol_at = 0
        if index > self._sobol_at:
            self._sobol.fast_forward(index - self._sobol_at)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # balance warnings for n not a power of 2
            u = self._sobol.random(1)[0]
        self._sobol_at = index + 1
        return u

    def _mark_seen(self, params: Mapping[str, Any]) -> bool:
        """Add a finite-space point to the seen set; False if it was there already."""
        index = self._grid.index_of(params)  # type: ignore[union-attr]
        if index is None or index in self._seen:
            return False
        self._seen.add(index)
        return True

    def _restored(self, n_suggested: int) -> None:
        # The weighted order needs no position: every point run is seen, and the
        # order's next unseen point is where the interrupted run stood.
        if self._order is None:
            self.skip_to(n_suggested)

    def skip_to(self, position: int) -> None:
        """Continue the sequence at ``position`` (suggestions made by an earlier run)."""
        self._index = max(self._index, int(position))

    def _next_unseen(self) -> int | None:
        """The grid index of the weighted order's next point not seen yet (not taken)."""
        assert self._order is not None
        while self._index < self._order.size:
            index = int(self._order[self._index])
            if index not in self._seen:
                return index
            self._index += 1
        return None

    def _suggest(self) -> dict[str, Any]:
        if self._order is not None:
            index = self._next_unseen()
            if index is None:
                raise StrategyExhausted(
                    f"all {self._order.size} points of the finite search space have been suggested"
                )
            self._index += 1
            self._seen.add(index)
            return self._grid[index]  # type: ignore[index]
        for _ in range(1000 if self._finite else 1):
            params = self.space.decode(self._unit_point(self._index))
            self._index += 1
            if not self._finite or self._mark_seen(params):
                return params
        raise StrategyExhausted("no unseen point found in 1000 draws of the finite space")

    def _enqueued(self, fixed: dict[str, Any]) -> dict[str, Any]:
        complete = self._is_complete(fixed)
        if complete or self._order is None:
            params = super()._enqueued(fixed)
        else:  # the next point of the order fills the gaps and still runs in its turn
            index = self._next_unseen()
            params = self.space.complete(fixed, self._grid[0 if index is None else index])  # type: ignore[index]
        if self._finite:
            self._mark_seen(params)  # never drawn again
        if complete and self._order is None:
            self._index += 1  # it takes one place in the sequence, as a resumed run counts it
        return params

    def _observe(self, observation: FrozenTrial, was_pending: bool) -> None:
        if self._finite and not was_pending:
            self._mark_seen(observation.params)


