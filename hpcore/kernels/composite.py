r"""Acquisitions over several GP models: several objectives and constraints.

Every model is of a MINIMISED output, on the same inputs (the unit cube);
their posteriors at a point are taken as independent.

:class:`CompositeAcquisition` maximises, in log space (sums, so that each
part stays accurate where the others underflow)::

    log EHVI(objectives; boxes) + log P(feasible)     several objectives
    log EI(objective; best)     + log P(feasible)     one objective
                                  log P(feasible)     no feasible point yet

``log EHVI`` is :func:`hpcore.kernels.log_ehvi` over the boxes of the
region no point of the current front dominates (below the reference point,
:func:`hpcore.kernels.box_decomposition`); ``log P(feasible)`` is
:func:`hpcore.kernels.log_prob_feasible` of the constraint models with
each constraint met when its output is at most its bound. Without a
feasible point the objective part is dropped: the first task is to find
the feasible region (Gardner et al., 2014).

The gradient with respect to a point ``z`` chains each part through its
model's posterior gradient: ``sum_j (dA/dmean_j dmean_j/dz + dA/dvar_j dvar_j/dz)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .acqf import LOG_EI, acquisition, acquisition_grad
from .ehvi import _log_ehvi_pairs, _log_prob_feasible, _pairs
from .linalg import _as_matrix, _as_vector
from .model import GPModel
from .pareto import _boxes

__all__ = ["CompositeAcquisition"]


class CompositeAcquisition:
    """Log-EHVI or log-EI of objective models, plus log probability of feasibility.

    Parameters
    ----------
    objectives : sequence of GPModel
        One model per minimised objective (may be empty: feasibility only).
    constraints : sequence of GPModel
        One model per constraint output.
    bounds : array_like (c,)
        Each constraint is met where its output is ``<= bounds[c]``.
    lower, upper : array_like (b, k), optional
        With two or more objectives: the boxes of the non-dominated region.
    best : float, optional
        With one objective: the incumbent (lowest feasible value) for log-EI.
    """

    def __init__(
        self,
        objectives: Sequence[GPModel],
        constraints: Sequence[GPModel] = (),
        bounds: np.ndarray | Sequence[float] = (),
        *,
        lower: np.ndarray | None = None,
        upper: np.ndarray | None = None,
        best: float | None = None,
    ) -> None:
        self.objectives = list(objectives)
        self.constraints = list(constraints)
        self.bounds = _as_vector("bounds", np.asarray(bounds, dtype=np.float64).reshape(-1),
                                 len(self.constraints))
        if not self.objectives and not self.constraints:
            raise ValueError("CompositeAcquisition needs an objective or a constraint model")
        self.best = None if best is None else float(best)
        self.lower = self.upper = None
        if len(self.objectives) >= 2:
            if lower is None or upper is None:
                raise ValueError("several objectives need the boxes `lower` and `upper`")
            self.lower, self.upper = _boxes(lower, upper)
            if self.lower.shape[1] != len(self.objectives):
                raise ValueError(
                    f"the boxes have {self.lower.shape[1]} objectives, the models "
                    f"{len(self.objectives)}"
                )
            self._pairs = _pairs(self.lower, self.upper)  # once: every call scores the same boxes
        elif len(self.objectives) == 1 and self.best is None:
            raise ValueError("one objective needs `best` (the incumbent) for log-EI")

    @property
    def models(self) -> list[GPModel]:
        return self.objectives + self.constraints

    @property
    def length_scales(self) -> np.ndarray:
        """The shortest length scale of any model in each dimension (the polish's scale)."""
        return np.min([m.length_scales for m in self.models], axis=0)

    def _posteriors(self, Z: np.ndarray, grad: bool) -> list[tuple[np.ndarray, ...]]:
        return [m.posterior_grad(Z) if grad else m.posterior(Z) for m in self.models]

    def values(self, Z: np.ndarray) -> np.ndarray:
        """The log acquisition at the rows of ``Z`` (m,)."""
        Z = _as_matrix("Z", Z, cols=self.models[0].X.shape[1])
        post = self._posteriors(Z, grad=False)
        k = len(self.objectives)
        out = np.zeros(Z.shape[0])
        if k == 1:
            out += acquisition(LOG_EI, post[0][0], post[0][1], self.best, 0.0)
        elif k >= 2:
            mean = np.column_stack([p[0] for p in post[:k]])
            var = np.column_stack([p[1] for p in post[:k]])
            out += _log_ehvi_pairs(mean, var, *self._pairs, False)[0]
        if self.constraints:
            cm = np.column_stack([p[0] for p in post[k:]])
            cv = np.column_stack([p[1] for p in post[k:]])
            out += _log_prob_feasible(cm, cv, self.bounds, False)[0]
        return out

    def values_and_grad(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values (m,) and gradients w.r.t. the rows of ``Z`` (m, d)."""
        Z = _as_matrix("Z", Z, cols=self.models[0].X.shape[1])
        post = self._posteriors(Z, grad=True)
        k = len(self.objectives)
        out = np.zeros(Z.shape[0])
        grad = np.zeros_like(Z)
        if k == 1:
            mean, var, dmean, dvar = post[0]
            v, d_mean, d_var = acquisition_grad(LOG_EI, mean, var, self.best, 0.0)
            out += v
            grad += d_mean[:, None] * dmean + d_var[:, None] * dvar
        elif k >= 2:
            mean = np.column_stack([p[0] for p in post[:k]])
            var = np.column_stack([p[1] for p in post[:k]])
            v, d_mean, d_var = _log_ehvi_pairs(mean, var, *self._pairs, True)
            out += v
            for j, p in enumerate(post[:k]):
                grad += d_mean[:, j, None] * p[2] + d_var[:, j, None] * p[3]
        if self.constraints:
            cm = np.column_stack([p[0] for p in post[k:]])
            cv = np.column_stack([p[1] for p in post[k:]])
            v, d_mean, d_var = _log_prob_feasible(cm, cv, self.bounds, True)
            out += v
            for j, p in enumerate(post[k:]):
                grad += d_mean[:, j, None] * p[2] + d_var[:, j, None] * p[3]
        # -inf values (no box of positive volume) carry no direction.
        grad[~np.isfinite(out)] = 0.0
        return out, grad
