"""Checked entry points of the jitted kernels that take arrays straight from a caller.

A compiled kernel is typed by C-contiguous float64 arrays (and int64 codes):
called with a list, an int array or a transposed view it would compile a new
specialisation or fail with a numba typing error. These wrappers convert their
inputs the way every other public function of :mod:`hpcore.kernels` does and
check their shapes, so that a mistake is a ``ValueError`` naming the argument;
the package exports them under the kernels' names. hpcore's own hot paths
(:mod:`.model`, :mod:`.optimize`) call the compiled kernels directly, with
arrays they made themselves.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import acqf, optimize, warp
from .linalg import _as_matrix, _as_vector

__all__ = ["acquisition", "acquisition_grad", "erfcx", "log_h", "snap", "yeo_johnson",
           "yeo_johnson_llf"]


def acquisition(code: int, mean: Any, var: Any, best: float, beta: float) -> np.ndarray:
    """Values (m,) to maximise of the acquisition ``code`` at posterior ``mean``, ``var`` (m,)."""
    mean = _as_vector("mean", mean)
    var = _as_vector("var", var, mean.shape[0])
    return acqf.acquisition(int(code), mean, var, float(best), float(beta))


def acquisition_grad(code: int, mean: Any, var: Any, best: float,
                     beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(values, d/dmean, d/dvar)``, each (m,), of the acquisition ``code``."""
    mean = _as_vector("mean", mean)
    var = _as_vector("var", var, mean.shape[0])
    return acqf.acquisition_grad(int(code), mean, var, float(best), float(beta))


def erfcx(x: Any) -> Any:
    """``exp(x^2) erfc(x)``, accurate deep into the tail; a float, or an array like ``x``."""
    if np.ndim(x) == 0:
        return acqf.erfcx(float(x))
    a = np.asarray(x, dtype=np.float64)
    return acqf.erfcx_array(np.ascontiguousarray(a.ravel())).reshape(a.shape)


def log_h(z: float) -> float:
    """``log(phi(z) + z Phi(z))`` of a float ``z``, accurate deep into the tail."""
    return acqf.log_h(float(z))


def snap(Z: Any, levels: Any, n_levels: Any) -> np.ndarray:
    """``Z`` (m, d) with each discrete coordinate moved to its nearest allowed level.

    In place when ``Z`` is already a C-contiguous float64 array; returned either way.
    """
    Z = _as_matrix("Z", Z)
    levels = _as_matrix("levels", levels, rows=Z.shape[1])
    n_levels = np.ascontiguousarray(n_levels, dtype=np.int64)
    if n_levels.shape != (Z.shape[1],) or np.any(n_levels > levels.shape[1]):
        raise ValueError(f"`n_levels` must be ({Z.shape[1]},) counts of at most "
                         f"{levels.shape[1]} levels, got {n_levels}")
    return optimize.snap(Z, levels, n_levels)


def yeo_johnson(x: Any, lmb: float) -> np.ndarray:
    """The Yeo-Johnson transform of ``x`` (n,) with parameter ``lmb`` (as scipy.stats)."""
    return warp.yeo_johnson(_as_vector("x", x), float(lmb))


def yeo_johnson_llf(x: Any, lmb: float) -> float:
    """The Yeo-Johnson log-likelihood of ``x`` (n,) at ``lmb`` (as scipy.stats)."""
    return warp.yeo_johnson_llf(_as_vector("x", x), float(lmb))
