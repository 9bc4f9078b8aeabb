"""The GP model object and the acquisitions over it: the kernel layer's Python face.

:class:`GPModel` is one fitted Gaussian process (Matérn-5/2 ARD): inputs
``X (n, d)`` in the unit cube (categorical dimensions as level indices, with
``cat (d,)`` marking them), values ``y (n,)``, hyperparameters
``theta (d + 2,)`` and the Cholesky factor ``L`` of ``K + noise I``. It is
fitted once (:meth:`GPModel.fit`), grown by new points in O(n² m)
(:meth:`GPModel.update`, the Cholesky extension), given believed values at
pending points (:meth:`GPModel.fantasize`) and asked for its posterior. A
model never changes: each of these returns a new one. Hyperparameter fits
and posteriors run under :func:`~hpcore.kernels.blas_threads` (one BLAS
thread: GP matrices are small), and :func:`standardize` scales values
without overflow, in this one place for the Bayesian strategy, parameter
importance and the contour plot.

What to compute is apart from how to maximise it (as BoTorch keeps
``acquisition/`` apart from ``optim/``): an *acquisition* is any object with
``values(Z)`` and ``values_and_grad(Z)`` on (m, d) float64 arrays (and,
optionally, ``length_scales`` for the optimiser's scaling);
:class:`PosteriorAcquisition` is EI, log-EI, UCB or PI over a model, and
:func:`hpcore.kernels.maximize` maximises any of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._threads import blas_threads
from .acqf import EI, LOG_EI, UCB, acquisition, acquisition_grad
from .gp import _factor_buffered, factorize, fit_gp
from .linalg import _as_factor, _as_matrix, _as_vector, _extend_factor, _solve_rows_inplace
from .matern import _kernel_args, _matern52_cross, matern52
from .polish import polish_posterior
from .predict import _nearest_variance, _posterior, _posterior_grad
from .subset import fit_subset

__all__ = ["GPModel", "PosteriorAcquisition", "standardize"]

#: Rows of a posterior evaluated at once by :meth:`GPModel.mean` (a (chunk, n) matrix).
_CHUNK = 8192

#: Values (n per row) in one block of :meth:`GPModel.mean_and_var_bound` (512 KB).
_BLOCK = 1 << 16

#: Above this many observations a local search of the acquisition runs on the
#: LOCAL_SIZE observations nearest its start (:meth:`PosteriorAcquisition.localized`).
LOCAL_FROM = 1024
LOCAL_SIZE = 256

#: From this many observations on, candidates are bounded before they are scored
#: (:meth:`PosteriorAcquisition.bounded`); below it, scoring them all is cheaper.
BOUND_FROM = 128


def standardize(y: np.ndarray) -> tuple[np.ndarray, float, float] | None:
    """``(z, center, scale)`` with ``z = (y - center) / scale`` of mean 0 and variance 1,
    or None when ``y`` is constant.

    Scaled by its largest deviation from the median first, so that values
    near the float limits (1e300) do not overflow the variance.
    """
    y = _as_vector("y", y)
    median = float(np.median(y)) if len(y) else 0.0
    z = y - median
    spread = float(np.max(np.abs(z))) if len(z) else 0.0
    if not spread > 0 or not math.isfinite(spread):
        return None
    z = z / spread
    sd = float(z.std())
    if not sd > 1e-12:
        return None
    mean = float(z.mean())
    return (z - mean) / sd, median + spread * mean, spread * sd


@dataclass(frozen=True, eq=False)
class GPModel:
    """A fitted GP (see the module docstring); build it with :meth:`fit`.

    Attributes
    ----------
    X : (n, d) array
    y : (n,) array
    cat : (d,) array
    theta : (d + 2,) array
        ``[log l_1..d, log s, log noise]``.
    L : (n, n) array
        Lower Cholesky factor of ``K + noise I`` (with jitter where needed).
    offset : float
        The constant prior mean taken out of the values (:meth:`centred`):
        ``y`` and every posterior mean are relative to it; 0 by default.
    """

    X: np.ndarray
    y: np.ndarray
    cat: np.ndarray
    theta: np.ndarray
    L: np.ndarray
    _alpha: list = field(default_factory=list, repr=False, compare=False)  # lazy cache
    # Rows written in L's buffer, shared by the models on it (linalg._extend_factor);
    # [-1]: L is not a growable buffer's leading block.
    _used: list = field(default_factory=lambda: [-1], repr=False, compare=False)
    offset: float = 0.0

    def __post_init__(self) -> None:
        # Checked (and converted) once here, so that the posterior, called hundreds
        # of times a suggestion, hands the arrays to the kernels as they are.
        X, cat, theta = _kernel_args(self.X, self.cat, self.theta)
        n = X.shape[0]
        for name, value in (("X", X), ("y", _as_vector("y", self.y, n)), ("cat", cat),
                            ("theta", theta), ("L", _as_factor(self.L, n))):
            object.__setattr__(self, name, value)

    @classmethod
    def fit(
        cls,
        X: np.ndarray,
        y: np.ndarray,
        cat: np.ndarray,
        *,
        theta0: np.ndarray | None = None,
        n_restarts: int = 2,
        seed: int = 0,
        settled: float | None = None,
        max_points: int | None = None,
    ) -> GPModel:
        """MAP hyperparameters (:func:`~hpcore.kernels.fit_gp`, warm-started at ``theta0``
        plus ``n_restarts`` prior draws, skipped when the warm start moved less than
        ``settled``) and the factor of ``X``.

        With ``max_points``, the hyperparameters are fitted on at most that many
        observations (:func:`~hpcore.kernels.fit_subset`: the best, the most
        recent and a space-filling rest) and the posterior is conditioned on all.
        """
        X, cat, _ = _kernel_args(X, cat, np.zeros(np.shape(X)[-1] + 2))
        y = _as_vector("y", y, X.shape[0])
        rows = slice(None)
        if max_points is not None and X.shape[0] > max_points:
            rows = fit_subset(X, y, cat, max_points)
        with blas_threads(1):
            theta = fit_gp(X[rows], y[rows], cat, theta0=theta0, n_restarts=n_restarts,
                           seed=seed, settled=settled)
            return cls.from_theta(X, y, cat, theta)

    @classmethod
    def from_theta(cls, X: np.ndarray, y: np.ndarray, cat: np.ndarray,
                   theta: np.ndarray, *, room: bool = True, offset: float = 0.0) -> GPModel:
        """The model with given hyperparameters (factorised here).

        With ``room``, the factor is the leading block of a buffer with spare
        rows, so that :meth:`update` grows it in place; without, it is a plain
        array (for a model that will not grow). ``offset``: the constant the
        values ``y`` are relative to (see :meth:`centred`).
        """
        X, cat, theta = _kernel_args(X, cat, theta)
        y = _as_vector("y", y, X.shape[0])
        with blas_threads(1):
            if room:
                L, used = _factor_buffered(X, cat, theta)
                return cls(X, y, cat, theta, L, _used=used, offset=offset)
            L, _ = factorize(X, y, cat, theta)
        return cls(X, y, cat, theta, L, offset=offset)

    @property
    def alpha(self) -> np.ndarray:
        """``(K + noise I)^{-1} y`` (n,), the weights of the posterior mean."""
        if not self._alpha:
            alpha = np.array(self.y, dtype=np.float64)[None, :]
            with blas_threads(1):
                _solve_rows_inplace(self.L, alpha, transpose=False)
                _solve_rows_inplace(self.L, alpha, transpose=True)
            self._alpha.append(alpha[0])
        return self._alpha[0]

    @property
    def length_scales(self) -> np.ndarray:
        """``exp(theta[:d])``, the ARD length scales."""
        return np.exp(self.theta[: self.X.shape[1]])

    def update(self, X: np.ndarray, y: np.ndarray) -> GPModel:
        """The model of ``X`` and ``y`` with the same hyperparameters.

        ``X`` starts with this model's rows; the rows after them are added by
        the Cholesky extension, O(n² m) instead of O((n + m)³). ``y`` may be
        new values for every row (a re-standardisation): the factor does not
        depend on them. They are taken as they are (``offset`` 0): call
        :meth:`centred` on the result for a constant prior mean again.
        """
        X = _as_matrix("X", X, cols=self.X.shape[1])
        y = _as_vector("y", y, X.shape[0])
        n = self.X.shape[0]
        if X.shape[0] == n:
            return GPModel(X, y, self.cat, self.theta, self.L, _used=self._used)
        grown = self._extended(X[n:], math.exp(self.theta[-1]))
        if grown is None:  # numerically singular extension: factorise from scratch
            return GPModel.from_theta(X, y, self.cat, self.theta)
        return GPModel(X, y, self.cat, self.theta, grown[0], _used=grown[1])

    def _extended(self, new: np.ndarray, diagonal: float) -> tuple[np.ndarray, list] | None:
        """The factor with rows ``new`` added (``diagonal`` on their own variance) and its
        buffer's row count, or None when the extension is numerically singular.

        In place in this factor's buffer when nothing was written after it
        (:func:`~hpcore.kernels.linalg._extend_factor`): O(n m) new memory, not
        a copy of the O(n^2) factor.
        """
        k12 = matern52(self.X, new, self.cat, self.theta)
        k22 = matern52(new, new, self.cat, self.theta)
        k22[np.diag_indices_from(k22)] += diagonal
        with blas_threads(1):
            L, used = _extend_factor(self.L, self._used, k12, k22)
        n = self.X.shape[0]
        return (L, used) if np.all(np.isfinite(L[n:, :])) else None

    def fantasize(self, P: np.ndarray, values: np.ndarray | None = None) -> GPModel:
        """The model with pending points ``P`` believed at ``values`` (default: the posterior mean).

        A believed value is taken as exact (a 1e-6 diagonal, not the noise):
        the variance collapses there, so an acquisition sees nothing to gain
        at a pending point and a batch spreads out (the kriging believer).
        Returns this model unchanged when the extension is singular.
        """
        P = _as_matrix("P", P, cols=self.X.shape[1])
        if values is None:
            values, _ = self.posterior(P)
        values = _as_vector("values", values, P.shape[0])
        grown = self._extended(P, 1e-6)
        if grown is None:
            return self
        return GPModel(np.vstack([self.X, P]), np.concatenate([self.y, values]), self.cat,
                       self.theta, grown[0], _used=grown[1], offset=self.offset)

    def centred(self) -> GPModel:
        """The model with a constant prior mean: ``y - m``, ``offset + m``.

        ``m = 1' K^-1 y / 1' K^-1 1`` is the generalised-least-squares estimate
        of the constant (ordinary kriging), plugged in with these
        hyperparameters. Far from the data the posterior mean returns to ``m``,
        the level the data support, instead of 0 (the values' average): with
        skewed values, a few good among many bad, that is the typical value of
        the bad ones, so unexplored corners no longer look promising. Measured
        in :class:`~hpcore.strategies.BayesianStrategy` (docs/benchmarks.md,
        "What changed the numbers"). Costs three triangular solves, two of
        which the posterior's weights need anyway.
        """
        n = self.X.shape[0]
        if n == 0:
            return self
        rhs = np.empty((2, n))
        rhs[0] = 1.0
        rhs[1] = self.y
        with blas_threads(1):
            _solve_rows_inplace(self.L, rhs, transpose=False)  # L^-1 1, L^-1 y
            denom = float(rhs[0] @ rhs[0])
            m = float(rhs[0] @ rhs[1]) / denom if denom > 0.0 else 0.0
            if not math.isfinite(m):  # a degenerate factor: keep the zero mean
                m = 0.0
            alpha = (rhs[1] - m * rhs[0])[None, :]
            _solve_rows_inplace(self.L, alpha, transpose=True)  # K^-1 (y - m)
        model = GPModel(self.X, self.y - m, self.cat, self.theta, self.L, _used=self._used,
                        offset=self.offset + m)
        model._alpha.append(alpha[0])
        return model

    def posterior(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean (m,) and variance (m,) of the latent function at the rows of ``Z``."""
        # The fields were checked when the model was made: only Z is, here (the
        # acquisition's local searches call this hundreds of times a suggestion).
        Z = _as_matrix("Z", Z, cols=self.X.shape[1])
        return _posterior(self.X, self.L, self.alpha, self.cat, self.theta, Z)

    def posterior_grad(self, Z: np.ndarray) -> tuple[np.ndarray, ...]:
        """Mean, variance and their gradients (m, d) at the rows of ``Z``."""
        Z = _as_matrix("Z", Z, cols=self.X.shape[1])
        return _posterior_grad(self.X, self.L, self.alpha, self.cat, self.theta, Z)

    def mean_and_var_bound(self, Z: np.ndarray, q: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """The posterior mean (m,) and an upper bound on the variance (m,).

        The bound is the variance given only the ``q`` observations most
        correlated with each point (conditioning on more can only lower it),
        each with the factorised diagonal ``K_00`` (with any jitter; at least
        every diagonal entry) as its variance: O(m (n d + q^3)) against
        :meth:`posterior`'s O(m n^2). Computed in blocks of rows that reuse
        one buffer of :data:`_BLOCK` values: a fresh (m, n) array of a few MB
        is faulted in page by page on every call (2.5 ms of a 17 ms
        suggestion at m = 2,368, n = 200, measured), a block once.
        """
        Z = _as_matrix("Z", Z, cols=self.X.shape[1])
        m, n = Z.shape[0], self.X.shape[0]
        mean, var = np.empty(m), np.empty(m)
        # The diagonal must be at least every one of the factorised matrix: the
        # observations' s + noise (+ jitter: L[0, 0]^2) and believed points' s + 1e-6.
        s = math.exp(self.theta[-2])
        diagonal = max(float(self.L[0, 0]) ** 2, s + 1e-6)
        rows = max(16, _BLOCK // max(n, 1))
        buffer = np.empty((min(rows, m), n))
        with blas_threads(1):
            for start in range(0, m, rows):
                part = slice(start, min(start + rows, m))
                Ks = buffer[: part.stop - start]
                _matern52_cross(Z[part], self.X, self.cat, self.theta, Ks)
                mean[part] = Ks @ self.alpha
                var[part] = _nearest_variance(self.X, self.cat, self.theta, Ks, q, diagonal)
        # A hair of slack: the exact variance is computed with other rounding.
        return mean, var + 1e-9 * s

    def nearest(self, z: np.ndarray, size: int) -> GPModel:
        """The model conditioned on the ``size`` observations most correlated with ``z``.

        Same hyperparameters; the posterior near ``z`` is close to the full
        one's (the observations far away are screened by the near ones), at
        O(size^2) per point instead of O(n^2). Believed (fantasised) values
        count as ordinary observations here.
        """
        k = matern52(_as_matrix("z", np.reshape(z, (1, -1)), cols=self.X.shape[1]),
                     self.X, self.cat, self.theta)[0]
        if size >= len(k):
            return self
        rows = np.sort(np.argpartition(-k, size - 1)[:size])
        return GPModel.from_theta(self.X[rows], self.y[rows], self.cat, self.theta, room=False,
                                  offset=self.offset)

    def mean(self, Z: np.ndarray) -> np.ndarray:
        """The posterior mean alone (m,), ``k(Z, X) alpha``, in chunks (for many points)."""
        Z = _as_matrix("Z", Z, cols=self.X.shape[1])
        out = np.empty(Z.shape[0])
        with blas_threads(1):
            for start in range(0, Z.shape[0], _CHUNK):
                block = Z[start : start + _CHUNK]
                out[start : start + len(block)] = (
                    matern52(block, self.X, self.cat, self.theta) @ self.alpha
                )
        return out


class PosteriorAcquisition:
    """EI, log-EI, UCB or PI of a model's posterior (maximised; values are minimised).

    Parameters
    ----------
    model : GPModel
    code : int
        :data:`~hpcore.kernels.EI`, ``LOG_EI``, ``UCB``, ``PI`` or ``LOG_PI``.
    best : float
        The incumbent (the lowest value) for the improvement-based codes.
    beta : float
        UCB's exploration weight.
    """

    def __init__(self, model: GPModel, code: int, best: float, beta: float = 2.0) -> None:
        self.model, self.code, self.best, self.beta = model, int(code), float(best), float(beta)

    @property
    def length_scales(self) -> np.ndarray:
        return self.model.length_scales

    def values(self, Z: np.ndarray) -> np.ndarray:
        """The acquisition at the rows of ``Z`` (m,)."""
        mean, var = self.model.posterior(Z)
        return acquisition(self.code, mean, var, self.best, self.beta)

    def bounded(self, Z: np.ndarray) -> tuple[np.ndarray, Callable] | None:
        """Upper bounds (m,) on :meth:`values` without triangular solves, and exact values.

        Returns ``(bounds, exact)`` where ``exact(rows)`` gives the exact
        values of the rows ``rows`` of ``Z`` (:meth:`values` of those rows),
        or None: with fewer than :data:`BOUND_FROM` observations (scoring
        every point costs less), and for PI, which does not grow with the
        variance. EI, log-EI and UCB do, at a fixed mean, so the exact mean
        with :meth:`GPModel.mean_and_var_bound`'s variance bounds them.
        """
        if self.code not in (EI, LOG_EI, UCB) or self.model.X.shape[0] < BOUND_FROM:
            return None
        # A tighter bound costs O(q^3) more per point and saves exact solves,
        # O(n^2) each. Measured (d = 10, 2,368 candidates, the fastest q of
        # 1-16 at each n, times of the whole scoring): n = 200, q = 1 6.6 ms
        # (all exact: 8.5 ms); n = 520, q = 4 25 ms (q = 16: 41); n = 1,000,
        # q = 4 33 ms (q = 16: 37); n = 5,000, q = 32 left 181 candidates to
        # solve (q = 16: 357), the fastest of 8-128.
        n = self.model.X.shape[0]
        q = 1 if n < 256 else 4 if n < 2048 else 16 if n < 4000 else 32
        mean, var = self.model.mean_and_var_bound(Z, q)
        bounds = acquisition(self.code, mean, np.maximum(var, 0.0), self.best, self.beta)

        def exact(rows: np.ndarray) -> np.ndarray:
            return self.values(Z[rows])

        return bounds, exact

    def localized(self, starts: np.ndarray) -> list[PosteriorAcquisition] | None:
        """One acquisition per row of ``starts`` over :meth:`GPModel.nearest` models, or None.

        For a local search from each start at large n (more than
        :data:`LOCAL_FROM` observations): each step then costs O(LOCAL_SIZE^2)
        instead of O(n^2). Where it ends must be scored with the exact
        acquisition. None below that size, where the exact one is cheap.
        """
        if self.model.X.shape[0] <= LOCAL_FROM:
            return None
        return [PosteriorAcquisition(self.model.nearest(z, LOCAL_SIZE), self.code, self.best,
                                     self.beta) for z in starts]

    def polish(self, Z0: np.ndarray, continuous: np.ndarray, scale: np.ndarray,
               maxiter: int) -> tuple[np.ndarray, np.ndarray]:
        """Each row of ``Z0`` after a compiled L-BFGS ascent over its ``continuous``
        coordinates, searched in units of ``scale``; and the values (r,).

        :func:`hpcore.kernels.polish.polish_posterior`: the local search of
        :func:`hpcore.kernels.optimize.maximize` without a Python call per step.
        """
        m = self.model
        with blas_threads(1):
            return polish_posterior(m.X, m.L, m.alpha, m.cat, m.theta, self.code, self.best,
                                    self.beta, Z0, continuous, scale, maxiter)

    def values_and_grad(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values (m,) and gradients w.r.t. the rows of ``Z`` (m, d).

        Chain rule: ``dA/dz = dA/dmean * dmean/dz + dA/dvar * dvar/dz``.
        """
        mean, var, dmean, dvar = self.model.posterior_grad(Z)
        values, d_mean, d_var = acquisition_grad(self.code, mean, var, self.best, self.beta)
        return values, d_mean[:, None] * dmean + d_var[:, None] * dvar
