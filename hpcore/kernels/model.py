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
from dataclasses import dataclass, field

import numpy as np

from ._threads import blas_threads
from .acqf import acquisition, acquisition_grad
from .gp import factorize, fit_gp
from .linalg import _as_matrix, _as_vector, cholesky_extend, solve_lower, solve_lower_t
from .matern import _kernel_args, matern52
from .predict import posterior, posterior_grad

__all__ = ["GPModel", "PosteriorAcquisition", "standardize"]

#: Rows of a posterior evaluated at once by :meth:`GPModel.mean` (a (chunk, n) matrix).
_CHUNK = 8192


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
    """

    X: np.ndarray
    y: np.ndarray
    cat: np.ndarray
    theta: np.ndarray
    L: np.ndarray
    _alpha: list = field(default_factory=list, repr=False, compare=False)  # lazy cache

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
    ) -> GPModel:
        """MAP hyperparameters (:func:`~hpcore.kernels.fit_gp`, warm-started at ``theta0``
        plus ``n_restarts`` prior draws, skipped when the warm start moved less than
        ``settled``) and the factor of ``X``."""
        X, cat, _ = _kernel_args(X, cat, np.zeros(np.shape(X)[-1] + 2))
        y = _as_vector("y", y, X.shape[0])
        with blas_threads(1):
            theta = fit_gp(X, y, cat, theta0=theta0, n_restarts=n_restarts, seed=seed,
                           settled=settled)
            return cls.from_theta(X, y, cat, theta)

    @classmethod
    def from_theta(cls, X: np.ndarray, y: np.ndarray, cat: np.ndarray,
                   theta: np.ndarray) -> GPModel:
        """The model with given hyperparameters (factorised here)."""
        X, cat, theta = _kernel_args(X, cat, theta)
        y = _as_vector("y", y, X.shape[0])
        with blas_threads(1):
            L, _ = factorize(X, y, cat, theta)
        return cls(X, y, cat, theta, L)

    @property
    def alpha(self) -> np.ndarray:
        """``(K + noise I)^{-1} y`` (n,), the weights of the posterior mean."""
        if not self._alpha:
            self._alpha.append(solve_lower_t(self.L, solve_lower(self.L, self.y)))
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
        depend on them.
        """
        X = _as_matrix("X", X, cols=self.X.shape[1])
        y = _as_vector("y", y, X.shape[0])
        n = self.X.shape[0]
        if X.shape[0] == n:
            return GPModel(X, y, self.cat, self.theta, self.L)
        L = self._extended(X[n:], math.exp(self.theta[-1]))
        if L is None:  # numerically singular extension: factorise from scratch
            return GPModel.from_theta(X, y, self.cat, self.theta)
        return GPModel(X, y, self.cat, self.theta, L)

    def _extended(self, new: np.ndarray, diagonal: float) -> np.ndarray | None:
        """The factor with rows ``new`` added (``diagonal`` on their own variance), or None."""
        k12 = matern52(self.X, new, self.cat, self.theta)
        k22 = matern52(new, new, self.cat, self.theta)
        k22[np.diag_indices_from(k22)] += diagonal
        L = cholesky_extend(self.L, k12, k22)
        return L if np.all(np.isfinite(L)) else None

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
        L = self._extended(P, 1e-6)
        if L is None:
            return self
        return GPModel(np.vstack([self.X, P]), np.concatenate([self.y, values]), self.cat,
                       self.theta, L)

    def posterior(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean (m,) and variance (m,) of the latent function at the rows of ``Z``."""
        return posterior(self.X, self.L, self.alpha, self.cat, self.theta, Z)

    def posterior_grad(self, Z: np.ndarray) -> tuple[np.ndarray, ...]:
        """Mean, variance and their gradients (m, d) at the rows of ``Z``."""
        return posterior_grad(self.X, self.L, self.alpha, self.cat, self.theta, Z)

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

    def values_and_grad(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values (m,) and gradients w.r.t. the rows of ``Z`` (m, d).

        Chain rule: ``dA/dz = dA/dmean * dmean/dz + dA/dvar * dvar/dz``.
        """
        mean, var, dmean, dvar = self.model.posterior_grad(Z)
        values, d_mean, d_var = acquisition_grad(self.code, mean, var, self.best, self.beta)
        return values, d_mean[:, None] * dmean + d_var[:, None] * dvar
