"""Tools to test search spaces and ask/tell samplers with hpcore's own checks.

This subpackage is public and meant for other projects too: if you write a
sampler (a Bayesian optimiser, an evolutionary strategy, a wrapper around
another library) that speaks hpcore's ask/tell protocol, you can run it
through the same property-based contract hpcore's grid and random
strategies pass.

* :mod:`hpcore.testing.strategies` -- `Hypothesis <https://hypothesis.readthedocs.io>`_
  strategies that generate dimensions, whole search spaces (mixed types,
  log scales, degenerate ranges, awkward categorical values, dotted keys),
  base configs that fit a space, and points of the unit cube.
* :mod:`hpcore.testing.contract` -- :class:`SamplerContract`, a pytest base
  class whose test methods check the properties every sampler must have.

It needs the ``testing`` extra (Hypothesis and pytest)::

    pip install 'hpcore[testing]'

Examples
--------
.. code-block:: python

    from hpcore.testing import SamplerContract

    class TestMySampler(SamplerContract):
        def make_sampler(self, space, seed):
            return MySampler(space, seed=seed)
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401
    import pytest  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        f"hpcore.testing needs Hypothesis and pytest, but {exc.name or 'one of them'} is not "
        "installed. Install the testing extra: pip install 'hpcore[testing]'"
    ) from exc

from .contract import SamplerContract, check_suggestion, default_objective
from .strategies import (
    categoricals,
    configs,
    dimensions,
    integers,
    parameters,
    reals,
    search_space_specs,
    search_spaces,
    seeds,
    unit_points,
)

__all__ = [
    "SamplerContract",
    "check_suggestion",
    "default_objective",
    "reals",
    "integers",
    "categoricals",
    "dimensions",
    "search_space_specs",
    "search_spaces",
    "configs",
    "parameters",
    "unit_points",
    "seeds",
]
