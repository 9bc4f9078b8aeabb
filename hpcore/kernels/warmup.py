"""Compile (or load from the on-disk cache) every kernel once, on tiny inputs.

Benchmarks call it before timing, and worker processes may call it at start
so that their first suggestion does not pay for compilation.
:func:`warmup_in_background` does it in a daemon thread: a Bayesian
strategy starts it as it is created, so the compilation overlaps the
initial (quasi-random) trials, which need no GP, instead of delaying the
first GP suggestion. :func:`warm_polish` compiles the acquisition polish
alone (:mod:`hpcore.kernels.polish`, the slowest part to compile): a search
runs it in a second process on a cold cache
(:func:`hpcore.search.bayesian._compile_polish_in_background`),
and the thread then loads it from the shared on-disk cache.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from ._threads import blas_threads
from .acqf import EI, LOG_EI, acquisition_grad
from .gp import factorize, fit_gp
from .lbfgs import minimize_batch
from .linalg import solve_lower, solve_lower_t
from .matern import matern52
from .model import GPModel
from .optimize import maximize_acquisition
from .polish import _minimize_row, polish_posterior
from .predict import posterior, posterior_grad
from .warp import fit_yeo_johnson

__all__ = ["polish_cached", "warm_polish", "warmup", "warmup_in_background"]

_background: threading.Thread | None = None
_background_lock = threading.Lock()


def warmup() -> float:
    """Run each kernel once on a 4-point, 2-dimensional problem; return the seconds it took.

    With numba's cache warm this loads the compiled code (well under a
    second); on a cold cache it compiles everything (a few seconds), once
    per machine and numba version.
    """
    t0 = time.perf_counter()
    # As one blas_threads block: in a background thread, its LAPACK calls then never
    # run while another thread changes OpenBLAS's thread count (entering or leaving
    # the last open block), which OpenBLAS does not guard against.
    with blas_threads(1):
        _warm_every_kernel()
    return time.perf_counter() - t0


def _tiny_problem() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """4 points in 2 dimensions (one categorical), values, ``cat`` and a plain theta."""
    rng = np.random.default_rng(0)
    X = rng.random((4, 2))
    X[:, 1] = np.floor(X[:, 1] * 3)  # one categorical dimension
    return X, rng.standard_normal(4), np.array([0.0, 1.0]), np.array([-1.0, 0.0, 0.0, -4.0])


def _warm_every_kernel() -> None:
    X, y, cat, _ = _tiny_problem()
    rng = np.random.default_rng(1)
    fit_yeo_johnson(y)
    theta = fit_gp(X, y, cat, n_restarts=0, maxiter=5)
    L, alpha = factorize(X, y, cat, theta)
    solve_lower_t(L, solve_lower(L, y))
    matern52(X, X[:2], cat, theta)
    mean, var = posterior(X, L, alpha, cat, theta, X)
    levels = np.array([[np.nan, np.nan, np.nan], [0.0, 1.0, 2.0]])
    maximize_acquisition(X, L, alpha, cat, theta, LOG_EI, float(y.min()), 0.0,
                         rng.random((8, 2)) * [1.0, 3.0], levels, np.array([0, 3]),
                         n_restarts=1, maxiter=3)
    # Last, so that a search's first GP suggestion (which needs only the kernels
    # above) need not wait for them in the background: gradients of the posterior
    # and of the acquisition and the Python-driven L-BFGS (composite acquisitions of
    # several objectives and constraints; large n), and the variance bound (it
    # scores candidates from 128 observations on).
    acquisition_grad(EI, mean, var, float(y.min()), 0.0)
    posterior_grad(X, L, alpha, cat, theta, X)
    minimize_batch(lambda Z, rows: ((Z * Z).sum(axis=1), 2.0 * Z), X[:2], np.zeros(2),
                   np.ones(2), maxiter=3)
    GPModel.from_theta(X, y, cat, theta).mean_and_var_bound(X, 2)


def warmup_in_background() -> threading.Thread:
    """Start :func:`warmup` in a daemon thread, once per process; the thread.

    A kernel called meanwhile waits for the compilation it needs (numba
    compiles under one lock) instead of compiling it a second time.
    """
    global _background
    with _background_lock:
        if _background is None:
            _background = threading.Thread(target=_warmup_quietly, name="hpcore-warmup",
                                           daemon=True)
            _background.start()
        return _background


def polish_cached() -> bool:
    """Whether numba's on-disk cache holds the compiled polish (:mod:`hpcore.kernels.polish`).

    False also where numba's cache cannot be inspected. A Bayesian search
    compiles the polish in a second process when it is not cached
    (:func:`hpcore.search.bayesian._compile_polish_in_background`).
    """
    try:
        return Path(_minimize_row._cache._cache_file._index_path).exists()
    except Exception:  # noqa: BLE001 -- numba's cache internals, version-dependent
        return False


def warm_polish() -> None:
    """Compile (or load) the acquisition polish alone, on a tiny problem."""
    X, y, cat, theta = _tiny_problem()
    with blas_threads(1):
        model = GPModel.from_theta(X, y, cat, theta)
        polish_posterior(model.X, model.L, model.alpha, cat, theta, LOG_EI, float(y.min()), 0.0,
                         X[:2], cat == 0, np.ones(2), 3)


def _warmup_quietly() -> None:
    # A failure here is not the user's: the same kernel, called for real, reports it.
    try:
        warmup()
    except Exception:  # noqa: BLE001
        pass
