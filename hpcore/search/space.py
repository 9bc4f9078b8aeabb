"""Search spaces, under the seed's import path ``hpcore.search.space``.

The implementation lives in :mod:`hpcore.space`; see there for details.
"""

from ..space import (
    Categorical,
    Choice,
    Dimension,
    Grid,
    Integer,
    LogUniform,
    Real,
    SearchSpace,
    Uniform,
)

__all__ = [
    "Dimension",
    "Real",
    "Integer",
    "Categorical",
    "Uniform",
    "LogUniform",
    "Choice",
    "SearchSpace",
    "Grid",
]
