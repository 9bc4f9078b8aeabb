"""Kernel layer: GP fit, Cholesky extension, posterior, acquisition maximisation,
the batched L-BFGS, and a whole Bayesian suggestion, across n observations and
d dimensions; and the peak memory of each kernel at n = 1000.

Every benchmark runs with BLAS/LAPACK limited to one thread, as
``BayesianStrategy`` runs the kernels (``hpcore/kernels/_threads.py``: on a
loaded machine OpenBLAS's threads make the small factorisations 10-100x
slower and the timings meaningless).

Every class that needs a fitted GP inherits ``setup_cache`` from
:class:`_FittedGP`: asv runs that one function once per run (its cache key is
its source location, shared by the subclasses), fitting the hyperparameters
of every (n, d) of the grid; each ``setup`` then only rebuilds the seeded
problem and factorises it.
"""

from __future__ import annotations

import copy

import numpy as np
from threadpoolctl import threadpool_limits

from hpcore import kernels

#: The (n, d) grid of every GP benchmark below.
N_GRID = [50, 200, 1000]
D_GRID = [2, 10]

#: Candidates scored per suggestion (``BayesianStrategy``'s ``n_candidates``).
N_CANDIDATES = 2048
#: Starts polished per suggestion (``BayesianStrategy``'s ``n_restarts``).
N_RESTARTS = 10


def _problem(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    y = np.sum((X - 0.3) ** 2, axis=1) + 0.1 * np.sin(10 * X).sum(axis=1)
    y = (y - y.mean()) / y.std()
    return X, y, np.zeros(d)


class _OneBlasThread:
    """Base: kernels compiled (or loaded), BLAS limited to one thread until teardown."""

    def setup(self, *args):
        kernels.warmup()
        self._blas = threadpool_limits(limits=1, user_api="blas")

    def teardown(self, *args):
        self._blas.restore_original_limits()


class _FittedGP(_OneBlasThread):
    """Base of the GP benchmarks: the (n, d) grid and the fitted theta of each point."""

    params = (N_GRID, D_GRID)
    param_names = ["n", "d"]
    timeout = 120

    def setup_cache(self):
        kernels.warmup()
        thetas = {}
        with threadpool_limits(limits=1, user_api="blas"):
            for n in N_GRID:
                for d in D_GRID:
                    X, y, cat = _problem(n, d)
                    thetas[n, d] = kernels.fit_gp(X, y, cat, n_restarts=0)
        return thetas

    setup_cache.timeout = 300

    def setup(self, thetas, n, d):
        super().setup()
        self.X, self.y, self.cat = _problem(n, d)
        self.theta = thetas[n, d]


class GPFit(_FittedGP):
    """Fitting the GP hyperparameters (MAP by L-BFGS-B), and what one step of it costs."""

    def time_fit_cold(self, thetas, n, d):
        """A fit from the prior mode plus 2 prior draws (``n_restarts=2``): the first fit
        of ``BayesianStrategy``; its refits start from the previous theta plus the same
        2 draws (``n_fit_restarts``), so they cost about as much."""
        kernels.fit_gp(self.X, self.y, self.cat, n_restarts=2)

    def time_fit_warm(self, thetas, n, d):
        """A refit warm-started from the previous theta, no restarts."""
        kernels.fit_gp(self.X, self.y, self.cat, theta0=self.theta, n_restarts=0)

    def time_neg_log_posterior_and_grad(self, thetas, n, d):
        """One evaluation of the fit's objective and gradient: O(n^3 + n^2 d)."""
        kernels.neg_log_posterior_and_grad(self.theta, self.X, self.y, self.cat)

    def time_factorize(self, thetas, n, d):
        """``factorize``: the kernel matrix, its Cholesky factor and ``K^{-1} y``."""
        kernels.factorize(self.X, self.y, self.cat, self.theta)


class Cholesky(_OneBlasThread):
    """Extending the factor of an n x n kernel matrix by m points, against refactoring.

    m = 1 is a new observation between refits; m = 10 a batch of pending
    points (the fantasies of a parallel search). ``d`` does not enter: the
    matrices are built once in ``setup`` (d = 10).
    """

    params = (N_GRID, [1, 10])
    param_names = ["n", "m"]

    def setup(self, n, m):
        super().setup()
        X, _, cat = _problem(n + m, 10)
        theta = kernels.default_theta(10)
        K = kernels.matern52(X, X, cat, theta) + np.exp(theta[-1]) * np.eye(n + m)
        self.K = K
        self.L, _ = kernels.cholesky_jitter(K[:n, :n])
        self.a12, self.a22 = K[:n, n:], K[n:, n:]

    def time_extend(self, n, m):
        """``cholesky_extend``: O(n^2 m)."""
        kernels.cholesky_extend(self.L, self.a12, self.a22)

    def time_full_factor(self, n, m):
        """``cholesky_jitter`` of the whole (n + m) x (n + m) matrix: O(n^3)."""
        kernels.cholesky_jitter(self.K)


class Posterior(_FittedGP):
    """Posterior mean and variance (with gradients) at ``N_CANDIDATES`` points."""

    def setup(self, thetas, n, d):
        super().setup(thetas, n, d)
        self.L, self.alpha = kernels.factorize(self.X, self.y, self.cat, self.theta)
        self.Z = np.random.default_rng(1).random((N_CANDIDATES, d))

    def time_posterior(self, thetas, n, d):
        kernels.posterior(self.X, self.L, self.alpha, self.cat, self.theta, self.Z)

    def time_posterior_grad(self, thetas, n, d):
        kernels.posterior_grad(self.X, self.L, self.alpha, self.cat, self.theta, self.Z)


class Acquisition(_FittedGP):
    """``maximize_acquisition`` of log-EI on a continuous box, as one suggestion runs it.

    ``N_CANDIDATES`` seeded uniform candidates are scored, the best
    ``N_RESTARTS`` and the incumbent (best observation) are polished by the
    compiled L-BFGS of :mod:`hpcore.kernels.polish`.
    """

    def setup(self, thetas, n, d):
        super().setup(thetas, n, d)
        self.L, self.alpha = kernels.factorize(self.X, self.y, self.cat, self.theta)
        self.candidates = np.random.default_rng(2).random((N_CANDIDATES, d))
        self.levels = np.full((d, 1), np.nan)
        self.n_levels = np.zeros(d, dtype=np.int64)  # every dimension continuous
        self.best = float(self.y.min())
        self.starts = self.X[np.argsort(self.y)[:1]]

    def time_maximize_acquisition(self, thetas, n, d):
        kernels.maximize_acquisition(
            self.X, self.L, self.alpha, self.cat, self.theta, kernels.LOG_EI, self.best, 0.0,
            self.candidates, self.levels, self.n_levels, n_restarts=N_RESTARTS,
            starts=self.starts,
        )


def _rosenbrock_batch(X: np.ndarray, rows: np.ndarray):
    """Rosenbrock values (b,) and gradients (b, p) of the rows of ``X`` (b, p)."""
    a, b = X[:, :-1], X[:, 1:]
    f = np.sum(100.0 * (b - a**2) ** 2 + (a - 1.0) ** 2, axis=1)
    g = np.zeros_like(X)
    g[:, :-1] = -400.0 * a * (b - a**2) + 2.0 * (a - 1.0)
    g[:, 1:] += 200.0 * (b - a**2)
    return f, g


class MinimizeBatch(_OneBlasThread):
    """``minimize_batch``: r L-BFGS searches in lockstep on Rosenbrock in p dimensions.

    The objective is cheap vectorised numpy, so this times the optimiser's
    own work per round (directions, line search, bookkeeping): the polish
    of composite acquisitions (several objectives, constraints). Seeded
    starts in [-2, 2]^p; ``maxiter`` 100 (the default, as in the polish).
    """

    params = ([10, 100], [2, 10])
    param_names = ["r", "p"]

    def setup(self, r, p):
        super().setup()
        self.x0 = np.random.default_rng(3).uniform(-2.0, 2.0, (r, p))
        self.lower, self.upper = np.full(p, -2.0), np.full(p, 2.0)

    def time_minimize_batch(self, r, p):
        kernels.minimize_batch(_rosenbrock_batch, self.x0, self.lower, self.upper)


class PeakMem(_FittedGP):
    """Peak resident memory of one call of each kernel at n = 1000, d = 10.

    asv's ``peakmem_`` is the largest resident set of the benchmark's
    process over its life: the interpreter, numpy, scipy and the loaded
    numba kernels (about 190 MB), plus what ``setup`` held or freed, plus
    the call. ``setup`` is the same for every row (the fitted GP, its
    factor, the candidates, the Cholesky blocks), so the ``setup only``
    row is the baseline and each other row minus it is what the call
    allocates beyond what setup already peaked at. Compare across commits,
    not across processes of different setups; a call that allocates less
    than setup's own transient peak (about two n x n matrices) shows as
    the baseline.
    """

    params = [["setup only", "fit_gp", "factorize", "cholesky_extend", "posterior",
               "maximize_acquisition", "minimize_batch"]]
    param_names = ["kernel"]
    n, d = 1000, 10

    def setup(self, thetas, kernel):
        n, d = self.n, self.d
        super().setup(thetas, n, d)
        self.L, self.alpha = kernels.factorize(self.X, self.y, self.cat, self.theta)
        self.Z = np.random.default_rng(2).random((N_CANDIDATES, d))
        x_new = np.random.default_rng(4).random((1, d))
        self.a12 = kernels.matern52(self.X, x_new, self.cat, self.theta)
        self.a22 = kernels.matern52(x_new, x_new, self.cat, self.theta) + np.exp(self.theta[-1])
        self.levels = np.full((d, 1), np.nan)
        self.n_levels = np.zeros(d, dtype=np.int64)
        self.x0 = np.random.default_rng(3).uniform(-2.0, 2.0, (N_RESTARTS, d))

    def peakmem_kernel(self, thetas, kernel):
        X, y, cat, theta, L, alpha = self.X, self.y, self.cat, self.theta, self.L, self.alpha
        if kernel == "fit_gp":  # a warm refit, no restarts
            kernels.fit_gp(X, y, cat, theta0=theta, n_restarts=0)
        elif kernel == "factorize":
            kernels.factorize(X, y, cat, theta)
        elif kernel == "cholesky_extend":  # one new observation
            kernels.cholesky_extend(L, self.a12, self.a22)
        elif kernel == "posterior":  # mean and variance at N_CANDIDATES points
            kernels.posterior(X, L, alpha, cat, theta, self.Z)
        elif kernel == "maximize_acquisition":
            kernels.maximize_acquisition(
                X, L, alpha, cat, theta, kernels.LOG_EI, float(y.min()), 0.0, self.Z,
                self.levels, self.n_levels, n_restarts=N_RESTARTS, starts=X[np.argsort(y)[:1]],
            )
        elif kernel == "minimize_batch":  # N_RESTARTS searches on Rosenbrock
            kernels.minimize_batch(_rosenbrock_batch, self.x0, np.full(self.d, -2.0),
                                   np.full(self.d, 2.0))
        else:
            assert kernel == "setup only", kernel


class Suggestion:
    """One BayesianStrategy suggestion after n observations (between refits).

    ``setup_cache`` builds each strategy once (n observations told, one
    suggestion that fits the GP, one more observation told); ``setup``
    copies it, so every timed ``ask`` starts from the same state and
    extends the Cholesky factor by one point instead of refitting.
    """

    params = (N_GRID, [2, 10, 20])
    param_names = ["n", "d"]
    timeout = 300

    def setup_cache(self):
        from hpcore import Real
        from hpcore.strategies.bayesian import BayesianStrategy

        kernels.warmup()
        strategies = {}
        for n in self.params[0]:
            for d in self.params[1]:
                rng = np.random.default_rng(0)
                space = {f"x{i}": Real(0.0, 1.0) for i in range(d)}
                s = BayesianStrategy(space, seed=0)
                X, y, _ = _problem(n, d)
                for row, v in zip(X, y):
                    s.tell(dict(zip(space, row.tolist())), float(v))
                p = s.ask()  # the fit
                s.tell(p, float(rng.random()))
                strategies[n, d] = s
        return strategies

    setup_cache.timeout = 600

    def setup(self, strategies, n, d):
        kernels.warmup()
        if not getattr(self, "_warm", False):
            # The first suggestion of a process pays one-off costs (scipy.stats import,
            # Sobol's direction numbers, threadpoolctl's library scan: ~0.5 s): keep
            # them out of the timing, also in a --quick run's single call.
            copy.deepcopy(strategies[n, d]).ask()
            self._warm = True
        self.s = copy.deepcopy(strategies[n, d])

    def time_ask(self, strategies, n, d):
        self.s.ask()


def timeraw_first_suggestion():
    """Fresh process, warm numba cache: import, 5 initial points, first model suggestion."""
    return """
from hpcore import Real
from hpcore.strategies.bayesian import BayesianStrategy
s = BayesianStrategy({"x": Real(0, 1), "y": Real(0, 1)}, seed=0, n_initial_points=5)
for _ in range(6):
    p = s.ask()
    s.tell(p, (p["x"] - 0.3) ** 2 + p["y"])
"""
