"""Bayesian optimisation of several objectives and under constraints.

:class:`MultiOutputBayesianStrategy` is :class:`~.bayesian.BayesianStrategy`
with one GP per output: one per objective (each minimised, warped and
standardised on its own) and one per constraint (its violation,
standardised; met where the violation is ``<= 0``). The acquisition is
:class:`hpcore.kernels.CompositeAcquisition`:

* two or three objectives: log expected hypervolume improvement, exact
  over the boxes of the region the feasible front does not dominate, below
  the user's ``reference_point`` (the worst value of each objective still
  of interest) or, without one, Optuna GPSampler's (the worst feasible
  value of each standardised objective, pushed out by 10 % of its size);
* four or more: a random augmented Chebyshev scalarisation per suggestion
  (ParEGO; weights drawn from the flat Dirichlet), modelled by one GP and
  maximised with log-EI -- the exact box decomposition grows too fast
  beyond three objectives;
* one objective with constraints: log-EI over the best feasible value
  (constraint violations are warped and standardised as the objectives are,
  and the bound with them);
* plus, with constraints, the log probability that every constraint is met.
  Until a feasible trial is seen only that probability is maximised.

Pending points are fantasised in every model with its posterior mean (the
kriging believer), and their believed values join the front where they are
believed feasible, so a batch spreads along the front instead of piling on
one point.

Each output keeps its own refit schedule (every point below 20
observations, each fit from scratch; then at 10 % growth, warm-started from
the last fit; in between the factor is extended). Unlike the single
objective, refits of these models run in the search's thread.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import kernels
from ..kernels import blas_threads
from ..kernels.composite import CompositeAcquisition
from ..objectives import reference_values
from ..space import SearchSpace
from ..trial import FrozenTrial, TrialState
from ._prior import fit_scale
from .bayesian import _FRESH_FITS_BELOW, BayesianStrategy

__all__ = ["MultiOutputBayesianStrategy"]

#: Weight of the sum in the augmented Chebyshev scalarisation (ParEGO's rho).
_RHO = 0.05


class _Output:
    """One modelled output: its GP and the size at its last hyperparameter fit."""

    def __init__(self) -> None:
        self.model: kernels.GPModel | None = None
        self.fit_n = 0

    def model_of(self, X: np.ndarray, y: np.ndarray, cat: np.ndarray, growth: float,
                 options: dict[str, Any]) -> kernels.GPModel:
        n = len(y)
        fresh = self.model is None or n < _FRESH_FITS_BELOW
        if fresh or n >= self.fit_n * (1.0 + growth):
            theta0 = None if fresh else self.model.theta
            self.model = kernels.GPModel.fit(X, y, cat, theta0=theta0, **options)
            self.fit_n = n
        else:
            self.model = self.model.update(X, y)
        return self.model


class MultiOutputBayesianStrategy(BayesianStrategy):
    """GP Bayesian optimisation of several objectives and/or under constraints.

    ``tell`` takes a sequence of ``n_objectives`` minimised values (a bare
    number when there is one) and ``constraints=`` a sequence of
    ``n_constraints`` violations (``<= 0``: met; NaN counts as not met).

    Parameters
    ----------
    space : SearchSpace or mapping
    n_objectives : int
        How many objectives (1 with constraints only).
    n_constraints : int
        How many constraints.
    seed : int, optional
    reference_point : sequence of float, optional
        Two or three objectives: the worst (minimised) value of each that is
        still of interest; the hypervolume improvement counts only what lies
        below it, so suggestions are not spent where an objective is too
        poor to matter. Default: the worst value seen, pushed out by 10 %.
    **options
        Those of :class:`~.bayesian.BayesianStrategy` (``acquisition``
        and ``beta`` do not apply: see the module docstring).
    """

    def __init__(self, space: SearchSpace | Mapping[str, Any], n_objectives: int = 2,
                 n_constraints: int = 0, seed: int | None = None, *,
                 reference_point: Sequence[float] | None = None, **options: Any) -> None:
        if isinstance(n_objectives, bool) or not isinstance(n_objectives, int) or n_objectives < 1:
            raise ValueError(f"n_objectives must be an int >= 1, got {n_objectives!r}")
        if isinstance(n_constraints, bool) or not isinstance(n_constraints, int) or n_constraints < 0:
            raise ValueError(f"n_constraints must be an int >= 0, got {n_constraints!r}")
        if n_objectives == 1 and n_constraints == 0:
            raise ValueError("one objective without constraints is BayesianStrategy's job")
        if options.get("warm_start") is not None:
            raise ValueError("warm_start is for one objective without constraints; "
                             "this strategy does not take earlier studies yet")
        super().__init__(space, seed=seed, **options)
        self.reference_point = None if reference_point is None else np.array(
            reference_values(reference_point, n_objectives))
        self.n_objectives = n_objectives
        self.n_constraints = n_constraints
        self._Y = np.empty((0, n_objectives))  # minimised objectives of the modelled trials
        self._C = np.empty((0, n_constraints))  # their violations
        # One output per objective (or one scalarisation) and per constraint.
        n_models = (1 if n_objectives > 3 else n_objectives) + n_constraints
        self._outputs = [_Output() for _ in range(n_models)]

    # -- learning -------------------------------------------------------------
    def _observe(self, observation: FrozenTrial, was_pending: bool) -> None:
        modelled = observation.state is TrialState.COMPLETED or (
            observation.state is TrialState.STOPPED and self.stopped_trials == "last-value"
        )
        x = self._features(observation.params)
        values = observation.values
        ok = (modelled and values is not None and len(values) == self.n_objectives
              and all(math.isfinite(v) for v in values) and bool(np.all(np.isfinite(x))))
        if ok:
            c = observation.constraints
            if c is None or len(c) != self.n_constraints:
                c = (math.nan,) * self.n_constraints  # unknown: not met
            self._X = np.vstack([self._X, x[None, :]])
            self._Y = np.vstack([self._Y, np.asarray(values, float)[None, :]])
            self._C = np.vstack([self._C, np.asarray(c, float)[None, :]])
            self._y.append(float(values[0]))  # the base class counts observations by it
        self._seen.add(self._key(x))

    def _feasible(self) -> np.ndarray:
        """Mask of the observations that met every constraint (NaN: not met)."""
        if self.n_constraints == 0:
            return np.ones(len(self._Y), dtype=bool)
        with np.errstate(invalid="ignore"):
            return np.all(self._C <= 0.0, axis=1)

    def _centres(self, count: int) -> np.ndarray:
        """Points of the feasible front (a seeded choice of ``count``), else the least
        violating points: where local candidates go."""
        feasible = np.flatnonzero(self._feasible())
        if len(feasible) == 0:
            worst = np.nanmax(np.where(np.isnan(self._C), np.inf, self._C), axis=1)
            return self._X[np.argsort(worst)[:count]]
        front = feasible[kernels.nondominated(self._Y[feasible])]
        if len(front) > count:
            front = self._rng(4).choice(front, size=count, replace=False)
        return self._X[front]

    # -- the models -----------------------------------------------------------
    def _constraint_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """Standardised violations (n, c) and the bound of each (where 0 was)."""
        if self.n_constraints == 0:
            return np.empty((len(self._C), 0)), np.empty(0)
        cols, bounds = [], []
        for j in range(self.n_constraints):
            c = self._C[:, j].copy()
            finite = np.isfinite(c)
            # An unknown (NaN) or infinite violation is taken as one past the worst
            # seen (never as met); -inf, met by any margin, as one past the best.
            worst = c[finite].max() + 1.0 if finite.any() else 1.0
            best = c[finite].min() - 1.0 if finite.any() else -1.0
            c[~finite & (c == -np.inf)] = min(best, -1.0)
            c[~np.isfinite(c)] = max(worst, 1.0)
            # Warped like the objectives (monotone, the bound with them): a constraint
            # whose values span decades (a volume) is resolved where it matters, near
            # its bound. Measured on the pressure vessel (4 seeds, 50 evaluations): 34
            # feasible trials instead of 10, best 5,886 instead of 5,896 (optimum 5,885).
            scale = fit_scale(c, self.y_transform == "yeo-johnson")
            cols.append(scale(c))
            bounds.append(float(scale(np.zeros(1))[0]))
        return np.column_stack(cols), np.array(bounds)

    def _objective_columns(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The objectives as their GPs see them (n, k'): k' = 1 (a scalarisation) beyond 3;
        and the user's reference point in the same units (None without one)."""
        scales = [fit_scale(self._Y[:, j], self.y_transform == "yeo-johnson")
                  for j in range(self.n_objectives)]
        Z = np.column_stack([scale(self._Y[:, j]) for j, scale in enumerate(scales)])
        if self.n_objectives > 3:
            w = self._rng(3).dirichlet(np.ones(self.n_objectives))
            return (np.max(w * Z, axis=1) + _RHO * (Z @ w))[:, None], None
        if self.reference_point is None:
            return Z, None
        # The warps are monotone, so "below the reference" means the same in both units.
        with np.errstate(over="ignore", invalid="ignore"):
            ref = np.array([float(scale(np.array([r]))[0])
                            for scale, r in zip(scales, self.reference_point)])
        return Z, ref

    def _models(self, pending: np.ndarray) -> tuple[list, list, np.ndarray, np.ndarray,
                                                    np.ndarray | None]:
        """Objective and constraint models (pending points fantasised), the modelled
        objectives (n, k'), the constraint bounds and the user's reference point (or None)."""
        Z, ref = self._objective_columns()
        G, bounds = self._constraint_columns()
        columns = [Z[:, j] for j in range(Z.shape[1])] + [G[:, j] for j in range(G.shape[1])]
        options = self._fit_options(len(self._y))
        options.pop("theta0")
        # Each with a constant prior mean (GPModel.centred): its values and posterior
        # are relative to its ``offset``; _acquisition states thresholds that way.
        models = [out.model_of(self._X, y, self._cat, self.refit_growth, options).centred()
                  for out, y in zip(self._outputs, columns)]
        self._model = models[0]  # the base class's candidates read its length scales
        if len(pending):
            models = [m.fantasize(pending) for m in models]
        k = Z.shape[1]
        return models[:k], models[k:], Z, bounds, ref

    def _acquisition(self, pending: np.ndarray) -> CompositeAcquisition:
        objectives, constraints, Z, bounds, user_ref = self._models(pending)
        # Everything below is in the columns' units; the acquisition compares the
        # models' posteriors, which are relative to each model's offset.
        offset = np.array([m.offset for m in objectives])
        c_offset = np.array([m.offset for m in constraints])
        c_bounds = bounds - c_offset
        feasible = self._feasible()
        believed = np.empty((0, Z.shape[1]))
        if len(pending):
            # Pending points count as observed at their believed values where they are
            # believed feasible: improving on them is worth nothing (the batch spreads).
            believed = np.column_stack([m.posterior(pending)[0] for m in objectives]) + offset
            if constraints:
                cmean = np.column_stack([m.posterior(pending)[0] for m in constraints])
                believed = believed[np.all(cmean <= c_bounds, axis=1)]
        points = np.vstack([Z[feasible], believed])
        if len(points) == 0:
            return CompositeAcquisition([], constraints, c_bounds)  # find the feasible region
        if len(objectives) == 1:
            return CompositeAcquisition(objectives, constraints, c_bounds,
                                        best=float(points.min()) - offset[0])
        worst = points.max(axis=0)
        ref = np.maximum(1.1 * worst, 0.9 * worst)  # Optuna GPSampler's reference point
        ref[ref == 0.0] = 1e-12
        if user_ref is not None:  # the user's, where its warp stayed finite
            ref = np.where(np.isfinite(user_ref), user_ref, ref)
        front = points[kernels.nondominated(points)]
        lower, upper = kernels.box_decomposition(front, ref)
        return CompositeAcquisition(objectives, constraints, c_bounds, lower=lower - offset,
                                    upper=upper - offset)

    # -- suggesting -----------------------------------------------------------
    def _model_point(self) -> dict[str, Any]:
        with blas_threads(1):
            pending = np.array([self._features(p) for p in self.pending]).reshape(
                -1, len(self._dims))
            return self._maximize(self._acquisition(pending), pending)
