"""``RandomSearch``: independent (or quasi-random) draws from the space."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..space import SearchSpace
from ..strategies import RandomStrategy
from .base import BaseSearch

__all__ = ["RandomSearch"]


class RandomSearch(BaseSearch):
    """Sample ``n_trials`` configurations at random.

    Parameters
    ----------
    base_config, search_space, metric, mode, random_state
        As in :class:`~hpcore.search.base.BaseSearch`.
    n_trials : int
        How many configurations to try (default 10). In a finite space the
        search never repeats a point and stops when all were tried.
    quasi : bool
        Use a scrambled Sobol sequence, which covers the space more evenly
        than independent draws for small budgets.

    Examples
    --------
    >>> from hpcore.search.space import Real, Integer
    >>> search = RandomSearch(
    ...     base_config={},
    ...     search_space={'training.lr': Real(1e-5, 1e-2, log=True),
    ...                   'training.batch_size': Integer(32, 256, log=True)},
    ...     n_trials=50, random_state=42)
    """

    def __init__(
        self,
        base_config: Any = None,
        search_space: Mapping[str, Any] | SearchSpace | None = None,
        metric: str | Sequence[str] | None = None,
        mode: str | Sequence[str] = "min",
        n_trials: int | None = 10,
        random_state: int | None = None,
        quasi: bool = False,
        allow_new_keys: bool = False,
        *,
        constraints: Sequence[str] | None = None,
    ) -> None:
        super().__init__(base_config, search_space, metric, mode, n_trials, random_state,
                         allow_new_keys=allow_new_keys, constraints=constraints)
        self.quasi = quasi

    def _make_strategy(self) -> RandomStrategy:
        return RandomStrategy(self.space, seed=self.random_state, quasi=self.quasi)
