"""``GridSearch``: every combination of the listed values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..space import SearchSpace
from ..strategies import GridStrategy
from .base import BaseSearch

__all__ = ["GridSearch"]


class GridSearch(BaseSearch):
    """Exhaustive search over the Cartesian product of the space's values.

    Lists, categoricals and integers contribute their values; a ``Real``
    contributes ``grid_points`` evenly spaced values. A ``Real`` without
    ``grid_points`` is an error here, before anything runs.

    Parameters
    ----------
    base_config, search_space, metric, mode, random_state
        As in :class:`~hpcore.search.base.BaseSearch`.
    n_trials : int, optional
        Run only the first ``n_trials`` points (default: the whole grid).
    shuffle : bool
        Visit the grid in a random order seeded by ``random_state``; with
        ``n_trials`` this runs a random subset of the grid.

    Examples
    --------
    >>> search = GridSearch(
    ...     base_config={'training': {'lr': 0.1}},
    ...     search_space={'training.lr': [0.1, 0.01], 'model.dim': [64, 128]},
    ...     metric='val_loss', mode='min')
    >>> search.size
    4
    """

    def __init__(
        self,
        base_config: Any = None,
        search_space: Mapping[str, Any] | SearchSpace | None = None,
        metric: str | Sequence[str] | None = None,
        mode: str | Sequence[str] = "min",
        n_trials: int | None = None,
        random_state: int | None = None,
        shuffle: bool = False,
        allow_new_keys: bool = False,
        *,
        constraints: Sequence[str] | None = None,
    ) -> None:
        super().__init__(base_config, search_space, metric, mode, n_trials, random_state,
                         allow_new_keys=allow_new_keys, constraints=constraints)
        self.shuffle = shuffle
        self.size = self.space.grid().size  # raises for a Real without grid_points

    def _make_strategy(self) -> GridStrategy:
        return GridStrategy(self.space, shuffle=self.shuffle, seed=self.random_state)
