"""What Hyperband and ASHA share: the budget ladder, their arguments, budgets in params.

See :mod:`hpcore.strategies.hyperband` for the arithmetic of both.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ArgumentError
from ..space import SearchSpace
from ..trial import TrialState
from .base import Strategy
from .random import RandomStrategy

__all__ = ["budget_ladder", "check_resource_args", "SAMPLERS"]

#: Samplers of new configurations, by name.
SAMPLERS = ("random", "quasi")


# -- arguments and the budget ladder -------------------------------------------------


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ArgumentError(f"{name} must be a finite number, got {value!r}.")
    return value  # type: ignore[return-value]


def _n_halvings(max_resource: float, min_resource: float, eta: float) -> int:
    """``floor(log_eta(max_resource / min_resource))``, exact for ints."""
    s = 0
    if all(isinstance(v, int) for v in (max_resource, min_resource, eta)):
        while min_resource * eta ** (s + 1) <= max_resource:
            s += 1
        return s
    while min_resource * eta ** (s + 1) <= max_resource * (1 + 1e-12):
        s += 1
    return s


def budget_ladder(max_resource: float, min_resource: float = 1, eta: float = 3) -> list[Any]:
    """The budgets ``R * eta**(k - s_max)``, ``k = 0..s_max``, ascending.

    Integers (rounded half up) when ``max_resource`` and ``min_resource``
    are ints, floats otherwise; the last budget is ``max_resource`` itself.

    >>> budget_ladder(81, 1, 3)
    [1, 3, 9, 27, 81]
    >>> budget_ladder(100, 1, 3)
    [1, 4, 11, 33, 100]
    """
    s_max = _n_halvings(max_resource, min_resource, eta)
    integral = isinstance(max_resource, int) and isinstance(min_resource, int)
    ladder: list[Any] = []
    for k in range(s_max + 1):
        down = s_max - k  # halvings below R
        if integral and isinstance(eta, int):
            d = eta**down
            ladder.append((2 * max_resource + d) // (2 * d))  # round half up, exactly
        elif integral:
            ladder.append(math.floor(max_resource / eta**down + 0.5))
        else:
            ladder.append(float(max_resource) / eta**down)
    ladder[-1] = max_resource
    return ladder


class _ResourceStrategy(Strategy):
    """What Hyperband and ASHA share: arguments, the ladder, budgets in params."""

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        resource_key: str,
        max_resource: float,
        min_resource: float = 1,
        eta: float = 3,
        seed: int | None = None,
        sampler: str = "random",
    ) -> None:
        super().__init__(space)
        check_resource_args(self.space, resource_key, max_resource, min_resource, eta)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ArgumentError(f"seed must be an int or None, got {seed!r}.")
        if sampler not in SAMPLERS:
            raise ArgumentError(
                f"sampler must be one of {list(SAMPLERS)}, got {sampler!r}. 'random' draws "
                "independent points, 'quasi' a scrambled Sobol sequence."
            )
        self.resource_key = resource_key
        self.max_resource = int(max_resource) if _is_int(max_resource) else float(max_resource)
        self.min_resource = int(min_resource) if _is_int(min_resource) else float(min_resource)
        self.eta = int(eta) if _is_int(eta) else float(eta)
        self.seed = seed
        self.sampler = sampler
        self._entropy = np.random.SeedSequence(seed).entropy
        self.ladder = budget_ladder(self.max_resource, self.min_resource, self.eta)
        self.s_max = len(self.ladder) - 1

    @property
    def ready(self) -> bool:
        """Whether ``ask()`` would return a trial now (without waiting for a result)."""
        raise NotImplementedError

    def _draw(self, sampler: RandomStrategy) -> dict[str, Any]:
        params = sampler.ask()
        sampler.pending.clear()  # our own bookkeeping; the sampler is never told
        return params

    def _split(self, params: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
        """The sampled values and the budget of ``params``."""
        sampled = {k: v for k, v in params.items() if k != self.resource_key}
        return sampled, params.get(self.resource_key)

    def _with_budget(self, sampled: Mapping[str, Any], budget: Any) -> dict[str, Any]:
        return {**sampled, self.resource_key: budget}

    def _child_seed(self, index: int) -> int:
        """A seed of its own for sub-sampler ``index`` (independent streams)."""
        words = np.random.SeedSequence(self._entropy, spawn_key=(index,)).generate_state(4)
        return int.from_bytes(words.astype("<u4").tobytes(), "little")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _same_budget(a: Any, b: Any) -> bool:
    if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
        return False
    try:
        return a == b or math.isclose(float(a), float(b), rel_tol=1e-9)
    except (TypeError, ValueError):
        return False


def _key(params: Mapping[str, Any]) -> str:
    """A hashable stand-in for a parameter dict (type-aware: ``1`` is not ``1.0``)."""
    return repr(sorted(params.items(), key=lambda kv: kv[0]))


def _promotable(state: TrialState, value: float | None) -> bool:
    return state is TrialState.COMPLETED and value is not None and math.isfinite(value)


def check_resource_args(
    space: SearchSpace,
    resource_key: Any,
    max_resource: Any,
    min_resource: Any,
    eta: Any,
) -> None:
    """Raise ``ArgumentError`` naming the argument and the fix for any bad one."""
    if not isinstance(resource_key, str) or not resource_key or "" in resource_key.split("."):
        raise ArgumentError(
            f"resource_key must be a dotted config key such as 'training.epochs', got "
            f"{resource_key!r}."
        )
    for key in space:
        if key == resource_key or key.startswith(resource_key + ".") or resource_key.startswith(
            key + "."
        ):
            raise ArgumentError(
                f"resource_key '{resource_key}' overlaps the search space key '{key}': the "
                "budget is set by Hyperband, not searched. Remove it from the search space "
                "(or choose another resource_key)."
            )
    _real("max_resource", max_resource)
    _real("min_resource", min_resource)
    _real("eta", eta)
    if not min_resource > 0:
        raise ArgumentError(f"min_resource must be > 0, got {min_resource!r}.")
    if not max_resource > min_resource:
        raise ArgumentError(
            f"max_resource must be > min_resource, got max_resource={max_resource!r}, "
            f"min_resource={min_resource!r}."
        )
    if not eta >= 2:
        raise ArgumentError(f"eta must be >= 2 (3 is usual), got {eta!r}.")
    if _n_halvings(max_resource, min_resource, eta) < 1:
        raise ArgumentError(
            f"max_resource / min_resource = {max_resource / min_resource:.3g} is below "
            f"eta = {eta!r}: there is no halving to do. Raise max_resource, or lower "
            "min_resource or eta."
        )


# -- Hyperband ----------------------------------------------------------------------
