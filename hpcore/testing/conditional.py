"""Conditional test functions: the right branch matters, and one branch is a trap.

Each function takes a parameter dict of its space (:data:`TRAP_SPACE`, with
``when=`` conditions), or the config a search builds from one, and returns a
value to minimise; the optimum is 0.

``conditional_trap``
    Three branches chosen by ``kind``. ``'a'`` is a broad bowl whose
    floor is 0.3 (it looks best on average); ``'b'`` holds the optimum, 0,
    in a narrow well, and is poor almost everywhere else (worst on average:
    a model that only learns branch means never goes there); ``'c'`` is
    flat at about 0.5.
``conditional_sphere``
    The same space; every branch a bowl, the optimum in ``'b'``: the plain
    case, where the branch and its own parameters both matter.
"""

from __future__ import annotations

import math
from typing import Any

from ..config import flatten_config
from ..space import Real

__all__ = ["TRAP_SPACE", "conditional_trap", "conditional_sphere"]

#: The space of both functions: a branch, two parameters for 'a' and 'b', one for 'c'.
TRAP_SPACE: dict[str, Any] = {
    "kind": ["a", "b", "c"],
    "a.x1": Real(0.0, 1.0, when={"kind": "a"}),
    "a.x2": Real(0.0, 1.0, when={"kind": "a"}),
    "b.x1": Real(0.0, 1.0, when={"kind": "b"}),
    "b.x2": Real(0.0, 1.0, when={"kind": "b"}),
    "c.x1": Real(0.0, 1.0, when={"kind": "c"}),
}


def _flat(p: Any) -> dict[str, Any]:
    """Params by dotted key, from params or from a config built from them."""
    return dict(flatten_config(p))


def conditional_trap(p: dict[str, Any]) -> float:
    """Optimum 0 at ``kind='b'``, ``b.x1 = 0.8``, ``b.x2 = 0.2``."""
    p = _flat(p)
    if p["kind"] == "a":
        return 0.3 + 0.5 * ((p["a.x1"] - 0.5) ** 2 + (p["a.x2"] - 0.5) ** 2)
    if p["kind"] == "b":
        r2 = (p["b.x1"] - 0.8) ** 2 + (p["b.x2"] - 0.2) ** 2
        return 1.0 - math.exp(-r2 / (2 * 0.15**2))
    return 0.5 + 0.2 * p["c.x1"]


def conditional_sphere(p: dict[str, Any]) -> float:
    """Optimum 0 at ``kind='b'``, ``b.x1 = 0.3``, ``b.x2 = 0.7``."""
    p = _flat(p)
    if p["kind"] == "a":
        return 0.2 + (p["a.x1"] - 0.6) ** 2 + (p["a.x2"] - 0.4) ** 2
    if p["kind"] == "b":
        return (p["b.x1"] - 0.3) ** 2 + (p["b.x2"] - 0.7) ** 2
    return 0.4 + (p["c.x1"] - 0.5) ** 2
