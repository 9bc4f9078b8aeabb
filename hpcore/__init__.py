"""hpcore: hyperparameter search for people who train models.

>>> from hpcore import RandomSearch, Real, Integer

The names below are loaded on first use (PEP 562), so that ``import
hpcore.kernels`` or ``import hpcore.space`` loads only its own layer and the
ones it stands on, never the search loop, the executors or storage.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

#: Public name -> the module that defines it.
_LAZY = {
    **dict.fromkeys(
        [
            "ArgumentError",
            "ConfigError",
            "ExecutorError",
            "HpcoreError",
            "ResultError",
            "SearchError",
            "SearchSpaceError",
            "StrategyExhausted",
            "TrialStopped",
        ],
        "hpcore.errors",
    ),
    **dict.fromkeys(
        ["BaseSearch", "BayesianSearch", "GridSearch", "HyperbandSearch", "RandomSearch"],
        "hpcore.search",
    ),
    **dict.fromkeys(
        ["Categorical", "Choice", "Dimension", "Integer", "LogUniform", "Real", "SearchSpace",
         "Uniform"],
        "hpcore.space",
    ),
    **dict.fromkeys(["FrozenTrial", "Trial", "TrialState"], "hpcore.trial"),
    "load": "hpcore.storage.study",
    "load_model": "hpcore._io",
}

if TYPE_CHECKING:  # what the names are, for type checkers and IDEs
    from ._io import load_model
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
    from .storage.study import load
    from .trial import FrozenTrial, Trial, TrialState


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hpcore' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


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
    "load_model",
]
