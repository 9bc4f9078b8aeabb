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
)
from .search import BaseSearch, BayesianSearch, GridSearch, RandomSearch
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

__all__ = [
    "GridSearch",
    "RandomSearch",
    "BayesianSearch",
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
    "__version__",
]
