"""Search spaces: dimensions, validation, the unit-cube encoding and grids.

A search space maps dotted config keys (``'training.lr'``) to dimensions:

``Real(low, high, log=False)``
    A float in ``[low, high]``. With ``log=True`` it is uniform in
    ``log(x)``; ``grid_points=N`` gives it ``N`` grid values.
``Integer(low, high, log=False)``
    An int in ``[low, high]``, both ends inclusive.
``Categorical(choices)``
    One of ``choices``, returned as the original Python object. A plain
    list in a space means the same.

The seed's spellings ``Uniform(a, b)``, ``LogUniform(a, b)`` and
``Choice([...])`` build the same objects.

Encoding
--------
Every dimension maps to one coordinate ``u`` in ``[0, 1]``; strategies
work in that unit cube and the space decodes their points into values:

* Real: ``x = low + u (high - low)``, or ``x = exp(log low + u (log high - log low))``.
* Integer: the range ``[low - 1/2, high + 1/2]`` (in log space for
  ``log=True``) is cut into one equal bin per integer, so a uniform ``u``
  gives every integer its fair share (equal, or proportional to its width
  in log space), and both ends are as reachable as the middle.
* Categorical with ``k`` choices: ``k`` equal bins.

``encode`` maps a value to the centre of its bin, so
``decode(encode(x)) == x`` for every value of the space: exactly for
integers and categoricals, up to float rounding for reals.

Dimensions are plain declarations; :class:`SearchSpace` checks them, so
that every message names the key at fault.
"""

from .dimensions import (
    Categorical,
    Choice,
    Dimension,
    Integer,
    LogUniform,
    Real,
    Uniform,
    dimension_from_json,
)
from .search_space import Grid, SearchSpace

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
    "dimension_from_json",
]
