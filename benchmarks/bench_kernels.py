"""Kernel layer: GP fit, Cholesky extension, posterior, acquisition maximisation,
and a whole Bayesian suggestion, across n observations and d dimensions."""

from __future__ import annotations

import numpy as np

from hpcore import kernels


def _problem(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    y = np.sum((X - 0.3) ** 2, axis=1) + 0.1 * np.sin(10 * X).sum(axis=1)
    y = (y - y.mean()) / y.std()
    return X, y, np.zeros(d)


class GPFit:
    params = ([50, 200, 1000], [2, 10])
    param_names = ["n", "d"]
    timeout = 120

    def setup(self, n, d):
        kernels.warmup()
        self.X, self.y, self.cat = _problem(n, d)
        self.theta = kernels.fit_gp(self.X, self.y, self.cat, n_restarts=0)

    def time_fit_cold(self, n, d):
        """A fit from the prior mode plus 2 prior draws (what the first suggestion pays)."""
        kernels.fit_gp(self.X, self.y, self.cat, n_restarts=2)

    def time_fit_warm(self, n, d):
        """A refit warm-started from the previous theta (what the schedule pays)."""
        kernels.fit_gp(self.X, self.y, self.cat, theta0=self.theta, n_restarts=0)

    def time_neg_log_posterior_and_grad(self, n, d):
        kernels.neg_log_posterior_and_grad(self.theta, self.X, self.y, self.cat)

    def peakmem_fit_warm(self, n, d):
        kernels.fit_gp(self.X, self.y, self.cat, theta0=self.theta, n_restarts=0)


class Cholesky:
    params = [200, 1000]
    param_names = ["n"]

    def setup(self, n):
        kernels.warmup()
        X, y, cat = _problem(n + 1, 10)
        theta = kernels.default_theta(10)
        K = kernels.matern52(X, X, cat, theta) + np.exp(theta[-1]) * np.eye(n + 1)
        self.K = K
        self.L, _ = kernels.cholesky_jitter(K[:n, :n])
        self.a12, self.a22 = K[:n, n:], K[n:, n:]

    def time_extend_by_one(self, n):
        kernels.cholesky_extend(self.L, self.a12, self.a22)

    def time_full_factor(self, n):
        kernels.cholesky_jitter(self.K)


class Posterior:
    params = ([200, 1000], [1000])
    param_names = ["n", "m"]

    def setup(self, n, m):
        kernels.warmup()
        self.X, self.y, self.cat = _problem(n, 10)
        self.theta = kernels.fit_gp(self.X, self.y, self.cat, n_restarts=0)
        self.L, self.alpha = kernels.factorize(self.X, self.y, self.cat, self.theta)
        self.Z = np.random.default_rng(1).random((m, 10))

    def time_posterior(self, n, m):
        kernels.posterior(self.X, self.L, self.alpha, self.cat, self.theta, self.Z)

    def time_posterior_grad(self, n, m):
        kernels.posterior_grad(self.X, self.L, self.alpha, self.cat, self.theta, self.Z)


class Suggestion:
    """One BayesianStrategy suggestion after n observations (between refits)."""

    params = ([50, 200, 1000], [2, 10, 20])
    param_names = ["n", "d"]
    timeout = 300

    def setup(self, n, d):
        from hpcore import Real
        from hpcore.strategies.bayesian import BayesianStrategy

        kernels.warmup()
        rng = np.random.default_rng(0)
        space = {f"x{i}": Real(0.0, 1.0) for i in range(d)}
        self.s = BayesianStrategy(space, seed=0)
        X, y, _ = _problem(n, d)
        for row, v in zip(X, y):
            self.s.tell(dict(zip(space, row.tolist())), float(v))
        p = self.s.ask()  # the fit
        self.s.tell(p, float(rng.random()))

    def time_ask(self, n, d):
        self.s.ask()


def timeraw_first_suggestion():
    """Fresh process, warm numba cache: import, 10 initial points, first model suggestion."""
    return """
from hpcore import Real
from hpcore.strategies.bayesian import BayesianStrategy
s = BayesianStrategy({"x": Real(0, 1), "y": Real(0, 1)}, seed=0, n_initial_points=5)
for _ in range(6):
    p = s.ask()
    s.tell(p, (p["x"] - 0.3) ** 2 + p["y"])
"""
