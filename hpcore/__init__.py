"""hpcore: hyperparameter search for people who train models.

>>> from hpcore import RandomSearch, Real, Integer
"""

from .errors import (
    ArgumentError,
    ConfigError,
    ExecutorError,
    HpcoreError,
    ResultError,
    SearchError,
    SearchSpaceError,
    StrategyExhausted,
    TrialStopped,
)
from .search import BaseSearch, BayesianSearch, GridSearch, HyperbandSearch, RandomSearch
from .space import (
    Categorical,
    Choice,
    Dimension,
    Integer,
    LogUniform,
    Real,
    SearchSpace,
    Uniform,
)
from .trial import FrozenTrial, Trial, TrialState

__version__ = "0.1.0"


def load(experiment_root):  # noqa: ANN001, ANN201 - documented in hpcore.study.load
    """Read the study stored under ``experiment_root`` (see :func:`hpcore.study.load`)."""
    from .study import load as _load

    return _load(experiment_root)


def warmup() -> float:
    """Compile or load every numba kernel now (see :func:`hpcore.kernels.warmup`).

    Returns the seconds it took. ``import hpcore`` itself loads no numba.
    """
    from .kernels import warmup as _warmup

    return _warmup()

__all__ = [
    "GridSearch",
    "RandomSearch",
    "BayesianSearch",
    "HyperbandSearch",
    "BaseSearch",
    "Real",
    "Integer",
    "Categorical",
    "Uniform",
    "LogUniform",
    "Choice",
    "Dimension",
    "SearchSpace",
    "Trial",
    "FrozenTrial",
    "TrialState",
    "HpcoreError",
    "SearchSpaceError",
    "ConfigError",
    "ResultError",
    "SearchError",
    "ArgumentError",
    "ExecutorError",
    "StrategyExhausted",
    "TrialStopped",
    "__version__",
    "warmup",
    "load",
]
