"""Test functions with known minima, for sample-efficiency (regret) studies.

Each function is a :class:`TestFunction`: it has a ``name``, a ``dim``, a
``space`` (an hpcore search-space dict), the known global minimum value
``optimum``, a ``minimiser`` (parameters where ``optimum`` is attained),
and is called with a parameter dict, returning the value to MINIMISE::

    from benchmarks.functions import ALL_FUNCTIONS
    for fn in ALL_FUNCTIONS:
        params = SearchSpace(fn.space).sample(np.random.default_rng(0))
        regret = fn(params) - fn.optimum

Continuous functions name their coordinates ``x0, x1, ...``; definitions
follow Surjanovic & Bingham's Virtual Library of Simulation Experiments
(https://www.sfu.ca/~ssurjano/optimization.html):

=================  ====  =========================  ====================
name               dim   domain                     optimum
=================  ====  =========================  ====================
``branin``         2     [-5, 10] x [0, 15]         5 / (4 pi) = 0.397887
``hartmann6``      6     [0, 1]^6                   -3.322368
``levy10``         10    [-10, 10]^10               0 at (1, ..., 1)
``ackley10``       10    [-32.768, 32.768]^10       0 at 0
``rosenbrock5``    5     [-5, 10]^5                 0 at (1, ..., 1)
``mixed6``         6     2 log-reals, 2 integers    0.05
                         (one log), 2 categoricals
=================  ====  =========================  ====================

``mixed6`` imitates a training run (see :class:`Mixed6`): a tilted valley in
``(log10 lr, log10 weight_decay)`` whose centre depends on the optimiser,
quadratic costs in the number of layers and ``log2`` width, and an additive
cost per optimiser and per activation. Every term is >= 0 and reaches its
minimum independently of the others inside the space, so the optimum is the
sum of the smallest categorical costs plus the base offset, exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from hpcore.space import Categorical, Integer, Real

__all__ = [
    "TestFunction",
    "Mixed6",
    "branin",
    "hartmann6",
    "levy",
    "ackley",
    "rosenbrock",
    "BRANIN",
    "HARTMANN6",
    "LEVY10",
    "ACKLEY10",
    "ROSENBROCK5",
    "MIXED6",
    "ALL_FUNCTIONS",
    "by_name",
]


# -- the formulas, on a coordinate vector x (d,) -------------------------------------


def branin(x: np.ndarray) -> float:
    """Branin-Hoo; three global minima, e.g. at (pi, 2.275)."""
    x1, x2 = x
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return float((x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10)


_H6_A = np.array(
    [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(x: np.ndarray) -> float:
    """Hartmann 6-D: ``-sum_i alpha_i exp(-sum_j A_ij (x_j - P_ij)^2)``."""
    return float(-_H6_ALPHA @ np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1)))


def levy(x: np.ndarray) -> float:
    """Levy, with ``w = 1 + (x - 1)/4``."""
    w = 1 + (np.asarray(x, dtype=np.float64) - 1) / 4
    head = math.sin(math.pi * w[0]) ** 2
    mid = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return float(head + mid + tail)


def ackley(x: np.ndarray) -> float:
    """Ackley with a = 20, b = 0.2, c = 2 pi."""
    x = np.asarray(x, dtype=np.float64)
    d = x.size
    value = (
        -20 * math.exp(-0.2 * math.sqrt(np.sum(x**2) / d))
        - math.exp(np.sum(np.cos(2 * math.pi * x)) / d)
        + 20
        + math.e
    )
    return float(max(value, 0.0))  # 20 + e - 20 - e rounds to +-4e-16 at the minimum


def rosenbrock(x: np.ndarray) -> float:
    """Rosenbrock: ``sum_i 100 (x_{i+1} - x_i^2)^2 + (x_i - 1)^2``."""
    x = np.asarray(x, dtype=np.float64)
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (x[:-1] - 1) ** 2))


# -- the objects -------------------------------------------------------------------------


class TestFunction:
    """A test function on a box, called with a parameter dict ``{'x0': ..., ...}``.

    Parameters
    ----------
    name : str
    formula : callable
        Maps the coordinate vector (d,) to a float.
    bounds : sequence of (low, high)
        One pair per coordinate; the space is ``Real(low, high)`` for each.
    optimum : float
        The global minimum value.
    minimiser : sequence of float
        A point where ``optimum`` is attained.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        name: str,
        formula: Callable[[np.ndarray], float],
        bounds: list[tuple[float, float]],
        optimum: float,
        minimiser: list[float],
    ) -> None:
        self.name = name
        self.formula = formula
        self.dim = len(bounds)
        self.keys = tuple(f"x{i}" for i in range(self.dim))
        self.space: dict[str, Any] = {k: Real(lo, hi) for k, (lo, hi) in zip(self.keys, bounds)}
        self.optimum = float(optimum)
        self.minimiser: dict[str, Any] = dict(zip(self.keys, map(float, minimiser)))

    def __call__(self, params: Mapping[str, Any]) -> float:
        return self.formula(np.array([float(params[k]) for k in self.keys]))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} dim={self.dim} optimum={self.optimum}>"


class Mixed6(TestFunction):
    """A 6-D mixed function shaped like a training run's validation loss.

    Dimensions: ``lr`` in [1e-5, 1e-1] and ``weight_decay`` in [1e-6, 1e-1]
    (log-scaled reals), ``layers`` in 1..8 and ``width`` in 16..512
    (log-scaled) integers, ``optimizer`` and ``activation`` categoricals.

    With ``u = log10 lr - u*(optimizer)`` and ``v = log10 weight_decay + 4``::

        f = 0.05 + u^2 / 4 + 4 (v - u/2)^2             tilted valley, 16:1 curvature
              + 0.1 (layers - 3)^2 + 0.3 (log2 width - 7)^2
              + OPT_COST[optimizer] + ACT_COST[activation]

    The valley's centre ``u*`` is -2.5 for the adaptive optimisers and -1.5
    for SGD (which wants a larger step), always inside the box, so the
    continuous part reaches 0 for every optimiser; the integer terms reach 0
    at 3 layers and width 128. The global minimum is therefore
    ``0.05 + min(OPT_COST) + min(ACT_COST) = 0.05`` (adam, gelu),
    attained at lr = 10^-2.5, weight_decay = 1e-4, layers = 3, width = 128.
    """

    OPT_COST = {"sgd": 0.6, "adam": 0.0, "rmsprop": 0.25, "adagrad": 0.45}
    ACT_COST = {"relu": 0.1, "gelu": 0.0, "tanh": 0.35}
    LR_CENTRE = {"sgd": -1.5, "adam": -2.5, "rmsprop": -2.5, "adagrad": -2.5}
    OFFSET = 0.05

    def __init__(self) -> None:
        self.name = "mixed6"
        self.dim = 6
        self.keys = ("lr", "weight_decay", "layers", "width", "optimizer", "activation")
        self.space = {
            "lr": Real(1e-5, 1e-1, log=True),
            "weight_decay": Real(1e-6, 1e-1, log=True),
            "layers": Integer(1, 8),
            "width": Integer(16, 512, log=True),
            "optimizer": Categorical(list(self.OPT_COST)),
            "activation": Categorical(list(self.ACT_COST)),
        }
        # each term at its own minimum (see the class docstring)
        self.optimum = self.OFFSET + min(self.OPT_COST.values()) + min(self.ACT_COST.values())
        self.minimiser = {
            "lr": 10**-2.5,
            "weight_decay": 1e-4,
            "layers": 3,
            "width": 128,
            "optimizer": "adam",
            "activation": "gelu",
        }

    def __call__(self, params: Mapping[str, Any]) -> float:
        opt = params["optimizer"]
        u = math.log10(params["lr"]) - self.LR_CENTRE[opt]
        v = math.log10(params["weight_decay"]) + 4.0
        valley = u * u / 4 + 4 * (v - u / 2) ** 2
        ints = 0.1 * (params["layers"] - 3) ** 2 + 0.3 * (math.log2(params["width"]) - 7) ** 2
        cats = self.OPT_COST[opt] + self.ACT_COST[params["activation"]]
        return float(self.OFFSET + valley + ints + cats)


BRANIN = TestFunction(
    "branin", branin, [(-5.0, 10.0), (0.0, 15.0)], 5 / (4 * math.pi), [math.pi, 2.275]
)
HARTMANN6 = TestFunction(
    "hartmann6",
    hartmann6,
    [(0.0, 1.0)] * 6,
    -3.32236801141551,
    # refined from the published 6-digit point with BFGS (gradient norm < 1e-12)
    [
        0.201689509094,
        0.150010693541,
        0.476873972925,
        0.275332427522,
        0.311651617240,
        0.657300534554,
    ],
)
LEVY10 = TestFunction("levy10", levy, [(-10.0, 10.0)] * 10, 0.0, [1.0] * 10)
ACKLEY10 = TestFunction("ackley10", ackley, [(-32.768, 32.768)] * 10, 0.0, [0.0] * 10)
ROSENBROCK5 = TestFunction("rosenbrock5", rosenbrock, [(-5.0, 10.0)] * 5, 0.0, [1.0] * 5)
MIXED6 = Mixed6()

ALL_FUNCTIONS: list[TestFunction] = [BRANIN, HARTMANN6, LEVY10, ACKLEY10, ROSENBROCK5, MIXED6]


def by_name(name: str) -> TestFunction:
    """The function of :data:`ALL_FUNCTIONS` called ``name``."""
    for fn in ALL_FUNCTIONS:
        if fn.name == name:
            return fn
    raise KeyError(f"no test function {name!r}; choose from {[f.name for f in ALL_FUNCTIONS]}")
