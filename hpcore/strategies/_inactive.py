"""Inactive coordinates of a conditional space, as the Bayesian strategies see them.

In a conditional space (:mod:`hpcore.space.conditions`) a key is absent
where its condition fails, and its model coordinate is then 0
(:meth:`hpcore.space.SearchSpace.model_features`): every point where it is
inactive looks the same there, so the kernel compares such points by their
active keys alone and by the branch (the categorical parent, under its
Hamming distance).

The acquisition's optimiser works on full rows, though. Left alone, it
would score candidates whose inactive coordinates vary -- points that are
not configs -- and spend its local searches moving coordinates that change
nothing. :class:`Projection` sets each row's inactive coordinates to 0
(parents first, so that a key under an inactive parent is inactive too),
and :class:`ProjectedAcquisition` scores the projected rows and gives the
inactive coordinates a zero gradient, so that the polish never moves them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..space import Categorical, SearchSpace

__all__ = ["Projection", "ProjectedAcquisition"]


class Projection:
    """Which coordinates of model-feature rows are active, and the rows with the
    inactive ones at 0.

    Parameters
    ----------
    space : SearchSpace
        A conditional space.
    """

    def __init__(self, space: SearchSpace) -> None:
        keys = list(space)
        conds = space.conditions
        self.d = len(keys)
        # (column, [(parent column, allowed model coordinates)]) in parents-first order
        self.rules: list[tuple[int, list[tuple[int, np.ndarray]]]] = []
        for key in conds.order:
            when = conds.when.get(key)
            if when is None:
                continue
            parts = []
            for parent, values in when:
                dim = space[parent]
                if isinstance(dim, Categorical):
                    allowed = [float(dim.index(v)) for v in values]
                else:
                    allowed = [dim.to_unit(v) for v in values]
                parts.append((keys.index(parent), np.array(allowed)))
            self.rules.append((keys.index(key), parts))

    def active(self, Z: np.ndarray) -> np.ndarray:
        """(m, d) bool: the coordinates active in each row of ``Z``."""
        on = np.ones(Z.shape, dtype=bool)
        for col, parts in self.rules:
            ok = np.ones(len(Z), dtype=bool)
            for pcol, allowed in parts:
                hit = np.any(np.abs(Z[:, pcol, None] - allowed[None, :]) <= 1e-9, axis=1)
                ok &= on[:, pcol] & hit
            on[:, col] = ok
        return on

    def project(self, Z: np.ndarray) -> np.ndarray:
        """``Z`` with every inactive coordinate at 0 (a copy)."""
        out = np.array(Z, dtype=np.float64, copy=True)
        out[~self.active(out)] = 0.0
        return out


class ProjectedAcquisition:
    """An acquisition scored at projected rows, flat along inactive coordinates.

    Parameters
    ----------
    acqf : object
        ``values(Z)`` and ``values_and_grad(Z)`` (and optionally
        ``length_scales``), as :func:`hpcore.kernels.maximize` takes.
    projection : Projection
    """

    def __init__(self, acqf: Any, projection: Projection) -> None:
        self.acqf = acqf
        self.projection = projection

    @property
    def length_scales(self) -> np.ndarray | None:
        return getattr(self.acqf, "length_scales", None)

    def project(self, Z: np.ndarray) -> np.ndarray:
        """Rows with their inactive coordinates at 0 (:func:`hpcore.kernels.maximize`
        compares its result with the points already tried in this form)."""
        return self.projection.project(Z)

    def values(self, Z: np.ndarray) -> np.ndarray:
        return self.acqf.values(self.projection.project(Z))

    def values_and_grad(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        on = self.projection.active(np.asarray(Z, dtype=np.float64))
        values, grad = self.acqf.values_and_grad(self.projection.project(Z))
        grad = np.where(on, grad, 0.0)
        return values, grad
