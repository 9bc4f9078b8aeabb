"""The dimensions of a search space and their unit-cube encoding (see :mod:`hpcore.space`)."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import SearchSpaceError, did_you_mean

__all__ = [
    "Dimension",
    "Real",
    "Integer",
    "Categorical",
    "Uniform",
    "LogUniform",
    "Choice",
    "dimension_from_json",
    "dimension_problems",
    "DIMENSION_KEYS",
]


def _is_real_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


class Dimension:
    """One axis of a search space (abstract).

    Subclasses implement the unit-cube encoding; :meth:`check` raises a
    :class:`SearchSpaceError` naming ``key`` when the declaration is invalid.
    ``when`` makes the dimension conditional (:mod:`hpcore.space.conditions`).
    """

    when: Any = None

    def check(self, key: str) -> None:
        raise NotImplementedError

    def from_unit(self, u: np.ndarray) -> list[Any]:
        """Decode unit-cube coordinates ``u`` (shape ``(n,)``) into ``n`` values."""
        raise NotImplementedError

    def to_unit(self, value: Any) -> float:
        """Encode one value as the centre of its bin in ``[0, 1]``."""
        raise NotImplementedError

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a value this dimension can take."""
        raise NotImplementedError

    @property
    def cardinality(self) -> int | None:
        """Number of distinct values, or ``None`` for a continuous range."""
        return None

    def grid_values(self, key: str) -> Sequence[Any]:
        """The values this dimension takes in a grid search."""
        raise NotImplementedError

    def probabilities(self) -> np.ndarray:
        """Chance of each grid value under uniform sampling of the unit cube."""
        raise NotImplementedError(f"{type(self).__name__} has no finite set of values")

    def to_json(self) -> dict[str, Any]:
        """A JSON-able description (used for fingerprints and records)."""
        raise NotImplementedError


def _check_log(kind: str, log: Any, key: str | None = None) -> None:
    # Only a bool: log="no" is truthy, so a string would silently mean log=True.
    if not isinstance(log, (bool, np.bool_)):
        where = f"{kind} '{key}'" if key is not None else kind
        raise SearchSpaceError(
            f"{where}: `log` must be True or False, got {log!r} ({type(log).__name__})."
        )


def _check_bounds(key: str, kind: str, low: Any, high: Any, log: bool) -> None:
    _check_log(kind, log, key)
    for name, value in (("low", low), ("high", high)):
        if not _is_real_number(value):
            raise SearchSpaceError(
                f"{kind} '{key}': `{name}` must be a number, got {value!r} "
                f"({type(value).__name__})."
            )
        if not math.isfinite(value):
            raise SearchSpaceError(
                f"{kind} '{key}': `{name}` must be finite, got {name}={value!r}."
            )
    if not low < high:
        raise SearchSpaceError(
            f"{kind} '{key}': `low` must be < `high`, got low={low!r}, high={high!r}. "
            + (
                "Swap the bounds."
                if low > high
                else "For a fixed value, set it in base_config instead."
            )
        )
    if log and low <= 0:
        raise SearchSpaceError(
            f"{kind} '{key}': log=True needs `low` > 0, got low={low!r}. "
            "Use a positive lower bound or log=False."
        )
    if not log and not math.isfinite(float(high) - float(low)):
        raise SearchSpaceError(
            f"{kind} '{key}': the range [{low!r}, {high!r}] is too wide for floating point "
            "(high - low overflows). Narrow it or use log=True."
        )


@dataclass(frozen=True)
class Real(Dimension):
    """A float in ``[low, high]``, uniform or (``log=True``) log-uniform.

    Parameters
    ----------
    low, high : float
        Inclusive bounds, ``low < high`` (``low > 0`` when ``log``).
    log : bool
        Sample uniformly in ``log(x)``; right for learning rates and
        regularisation strengths.
    grid_points : int, optional
        Number of values when the dimension is part of a grid search:
        evenly spaced (in log space when ``log``), both ends included.
    when : dict, optional
        Search this key only where other keys take given values, e.g.
        ``when={'optimizer.name': 'sgd'}`` (:mod:`hpcore.space.conditions`).
    """

    low: float
    high: float
    log: bool = False
    grid_points: int | None = None
    when: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _check_log("Real", self.log)

    def check(self, key: str) -> None:
        _check_bounds(key, "Real", self.low, self.high, self.log)
        if self.grid_points is not None and (
            not isinstance(self.grid_points, numbers.Integral)
            or isinstance(self.grid_points, bool)
            or self.grid_points < 2
        ):
            raise SearchSpaceError(
                f"Real '{key}': `grid_points` must be an int >= 2, got {self.grid_points!r}."
            )

    def _span(self) -> tuple[float, float]:
        if self.log:
            return math.log(self.low), math.log(self.high)
        return float(self.low), float(self.high)

    def from_unit(self, u: np.ndarray) -> list[Any]:
        a, b = self._span()
        u = np.asarray(u, dtype=np.float64)
        x = a + u * (b - a)
        if self.log:
            x = np.exp(x)
        x = np.clip(x, self.low, self.high)
        # the ends exactly: rounding (exp(log(low)), low + (high - low)) can miss them
        x = np.where(u <= 0.0, self.low, np.where(u >= 1.0, self.high, x))
        return [float(v) for v in x]

    def to_unit(self, value: Any) -> float:
        a, b = self._span()
        x = math.log(value) if self.log else float(value)
        return min(1.0, max(0.0, (x - a) / (b - a)))

    def contains(self, value: Any) -> bool:
        return _is_real_number(value) and self.low <= value <= self.high

    def grid_values(self, key: str) -> Sequence[Any]:
        if self.grid_points is None:
            raise SearchSpaceError(
                f"Real '{key}' has no grid values: a continuous range needs an explicit "
                f"number of points. Use Real({self.low!r}, {self.high!r}"
                f"{', log=True' if self.log else ''}, grid_points=5) or list the values."
            )
        return self.from_unit(np.linspace(0.0, 1.0, self.grid_points))

    def __repr__(self) -> str:
        extra = (", log=True" if self.log else "") + (
            f", grid_points={self.grid_points}" if self.grid_points is not None else ""
        )
        return f"Real({self.low!r}, {self.high!r}{extra}{_when_repr(self)})"

    def to_json(self) -> dict[str, Any]:
        out = {"type": "real", "low": float(self.low), "high": float(self.high), "log": self.log}
        if self.grid_points is not None:
            out["grid_points"] = int(self.grid_points)
        return _with_when(out, self)


@dataclass(frozen=True)
class Integer(Dimension):
    """An int in ``[low, high]``, both ends inclusive.

    Parameters
    ----------
    low, high : int
        Inclusive bounds, ``low < high`` (``low >= 1`` when ``log``).
    log : bool
        Give each integer a share proportional to its width in log space;
        right for batch sizes and layer widths.
    when : dict, optional
        Search this key only where other keys take given values.
    """

    low: int
    high: int
    log: bool = False
    when: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _check_log("Integer", self.log)

    def check(self, key: str) -> None:
        for name, value in (("low", self.low), ("high", self.high)):
            integral = isinstance(value, numbers.Integral) or (
                _is_real_number(value) and math.isfinite(value) and float(value).is_integer()
            )
            if isinstance(value, bool) or not integral:
                raise SearchSpaceError(
                    f"Integer '{key}': `{name}` must be a whole number, got {name}={value!r}. "
                    "Use Real(...) for a continuous range."
                )
        _check_bounds(key, "Integer", self.low, self.high, self.log)

    @property
    def _lo(self) -> int:
        return int(self.low)

    @property
    def _hi(self) -> int:
        return int(self.high)

    def _edges(self) -> tuple[float, float]:
        a, b = self._lo - 0.5, self._hi + 0.5
        return (math.log(a), math.log(b)) if self.log else (a, b)

    def from_unit(self, u: np.ndarray) -> list[Any]:
        a, b = self._edges()
        x = a + np.asarray(u, dtype=np.float64) * (b - a)
        if self.log:
            x = np.exp(x)
        x = np.clip(np.floor(x + 0.5), self._lo, self._hi)
        return [int(v) for v in x]

    def to_unit(self, value: Any) -> float:
        a, b = self._edges()
        v = int(value)
        centre = 0.5 * (math.log(v - 0.5) + math.log(v + 0.5)) if self.log else float(v)
        return min(1.0, max(0.0, (centre - a) / (b - a)))

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not _is_real_number(value):
            return False
        return float(value).is_integer() and self._lo <= value <= self._hi

    @property
    def cardinality(self) -> int:
        return self._hi - self._lo + 1

    def grid_values(self, key: str) -> Sequence[Any]:
        return range(self._lo, self._hi + 1)

    def probabilities(self) -> np.ndarray:
        edges = np.arange(self._lo, self._hi + 2, dtype=np.float64) - 0.5
        if self.log:
            edges = np.log(edges)
        return np.diff(edges) / (edges[-1] - edges[0])

    def __repr__(self) -> str:
        return (f"Integer({self.low!r}, {self.high!r}{', log=True' if self.log else ''}"
                f"{_when_repr(self)})")

    def to_json(self) -> dict[str, Any]:
        return _with_when({"type": "integer", "low": self._lo, "high": self._hi, "log": self.log},
                          self)


def same_value(a: Any, b: Any) -> bool:
    """Equality that tells ``1``, ``1.0`` and ``True`` apart and never raises."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except Exception:  # e.g. numpy arrays compare elementwise
        return False


@dataclass(frozen=True)
class Categorical(Dimension):
    """One of a list of choices, kept as the original Python objects.

    Parameters
    ----------
    choices : sequence
        At least one choice, no two equal (``1`` and ``1.0`` count as
        different because their types differ).
    when : dict, optional
        Search this key only where other keys take given values.
    """

    choices: tuple[Any, ...] = field()

    def __init__(self, choices: Sequence[Any], when: Any = None) -> None:
        object.__setattr__(self, "when", when)
        if isinstance(choices, (str, bytes)) or not isinstance(
            choices, (Sequence, np.ndarray, range)
        ):
            bad = choices
            object.__setattr__(self, "choices", ())
            object.__setattr__(self, "_bad", bad)
            return
        items = choices.tolist() if isinstance(choices, np.ndarray) else list(choices)
        object.__setattr__(self, "choices", tuple(items))
        object.__setattr__(self, "_bad", None)

    def check(self, key: str) -> None:
        bad = getattr(self, "_bad", None)
        if bad is not None:
            hint = f"[{bad!r}]" if isinstance(bad, (str, bytes)) else "a list"
            raise SearchSpaceError(
                f"Categorical '{key}': `choices` must be a list of values, got {bad!r} "
                f"({type(bad).__name__}). Write {hint}."
            )
        if not self.choices:
            raise SearchSpaceError(
                f"Categorical '{key}': `choices` is empty. Give at least one value."
            )
        for i, a in enumerate(self.choices):
            for b in self.choices[i + 1 :]:
                if same_value(a, b):
                    raise SearchSpaceError(
                        f"Categorical '{key}': duplicate choice {a!r} in {list(self.choices)!r}. "
                        "Remove the repeated value."
                    )

    def index(self, value: Any) -> int:
        """Position of ``value`` among the choices; ``ValueError`` if absent."""
        for i, c in enumerate(self.choices):
            if same_value(c, value):
                return i
        raise ValueError(f"{value!r} is not one of {list(self.choices)!r}")

    def match(self, value: Any) -> int | None:
        """Position of ``value`` among the choices, also as a study stored it; None if absent.

        The one rule for a stored choice: a choice that is not plain data (a
        class, a function) is stored as its ``repr``, so a string equal to a
        choice's ``repr`` is that choice; and in a space rebuilt from JSON,
        where such a choice *is* its ``repr``, the original object matches it.
        """
        for i, c in enumerate(self.choices):
            if same_value(c, value):
                return i
        for i, c in enumerate(self.choices):
            if (isinstance(value, str) and repr(c) == value) or (
                isinstance(c, str) and not isinstance(value, str) and c == repr(value)
            ):
                return i
        return None

    def from_unit(self, u: np.ndarray) -> list[Any]:
        k = len(self.choices)
        idx = np.minimum(np.floor(np.asarray(u, dtype=np.float64) * k), k - 1).astype(np.int64)
        idx = np.maximum(idx, 0)
        return [self.choices[i] for i in idx]

    def to_unit(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self.choices)

    def contains(self, value: Any) -> bool:
        try:
            self.index(value)
        except ValueError:
            return False
        return True

    @property
    def cardinality(self) -> int:
        return len(self.choices)

    def grid_values(self, key: str) -> Sequence[Any]:
        return self.choices

    def probabilities(self) -> np.ndarray:
        return np.full(len(self.choices), 1.0 / len(self.choices))

    def to_json(self) -> dict[str, Any]:
        return _with_when({"type": "categorical", "choices": [_jsonable(c) for c in self.choices]},
                          self)

    def __repr__(self) -> str:
        return f"Categorical({list(self.choices)!r}{_when_repr(self)})"


def _with_when(out: dict[str, Any], dim: Dimension) -> dict[str, Any]:
    """A description with the dimension's condition, when it has one (so that an
    unconditional space describes itself, and fingerprints, as before)."""
    if dim.when is not None:
        out["when"] = {str(k): [_jsonable(x) for x in (v if isinstance(v, (list, tuple)) else [v])]
                       for k, v in dict(dim.when).items()}
    return out


def _when_repr(dim: Dimension) -> str:
    return "" if dim.when is None else f", when={dict(dim.when)!r}"


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def Uniform(low: float, high: float, when: Any = None) -> Real:  # noqa: N802 (the seed's)
    """``Real(low, high)``: a float, uniform on ``[low, high]``."""
    return Real(low, high, when=when)


def LogUniform(low: float, high: float, when: Any = None) -> Real:  # noqa: N802
    """``Real(low, high, log=True)``: a float, uniform in ``log(x)``."""
    return Real(low, high, log=True, when=when)


def Choice(choices: Sequence[Any], when: Any = None) -> Categorical:  # noqa: N802
    """``Categorical(choices)``: one of the given values."""
    return Categorical(choices, when=when)


def _as_dimension(key: str, spec: Any) -> Dimension:
    if isinstance(spec, Dimension):
        dim = spec
    elif isinstance(spec, (list, range, np.ndarray)):
        dim = Categorical(spec)
    elif isinstance(spec, tuple):
        raise SearchSpaceError(
            f"search space key '{key}': a tuple {spec!r} is ambiguous. Use Real(low, high) "
            "or Integer(low, high) for a range, or a list for a set of choices."
        )
    elif isinstance(spec, (set, frozenset)):
        raise SearchSpaceError(
            f"search space key '{key}': a set has no order, so grids and seeds would not "
            f"be reproducible. Use a list: {sorted(spec, key=repr)!r}."
        )
    else:
        raise SearchSpaceError(
            f"search space key '{key}': unsupported value {spec!r} ({type(spec).__name__}). "
            "Use Real(...), Integer(...), Categorical([...]) or a list of choices; "
            "a fixed value belongs in base_config."
        )
    dim.check(key)
    return dim


#: Dimension descriptions (``{'type': 'real', 'low': ..., ...}``): type -> allowed keys.
DIMENSION_KEYS: dict[str, tuple[str, ...]] = {
    "real": ("low", "high", "log", "grid_points", "when"),
    "integer": ("low", "high", "log", "when"),
    "categorical": ("choices", "when"),
}
_REQUIRED = {"real": ("low", "high"), "integer": ("low", "high"), "categorical": ("choices",)}


def dimension_problems(
    spec: Mapping[str, Any], where: str, number_hint: Callable[[Any], str] = lambda v: ""
) -> list[str]:
    """What is wrong with a dimension description, one ``'<where>[.key]: ...'`` line each.

    The one parser of the dimension table that :meth:`Dimension.to_json`
    writes, a stored study keeps and a spec file's ``[space]`` holds;
    ``number_hint(value)`` may add why a value is not a number (a spec's YAML).
    """
    kind = spec.get("type")
    if kind is None:
        return [f"{where}: an empty table; give {{ type = \"real\" | \"integer\" | "
                "\"categorical\", ... }."]
    if kind not in DIMENSION_KEYS:
        return [f"{where}.type: must be one of {list(DIMENSION_KEYS)}, got {kind!r}."]
    problems = [f"{where}.{k}: unknown key for type {kind!r}; {did_you_mean(str(k), DIMENSION_KEYS[kind])}"
                for k in spec if k != "type" and k not in DIMENSION_KEYS[kind]]
    problems += [f"{where}: a {kind} needs {' and '.join(_REQUIRED[kind])}; {k} is missing."
                 for k in _REQUIRED[kind] if k not in spec]
    problems += [f"{where}.{k}: must be a number, got {spec[k]!r}{number_hint(spec[k])}."
                 for k in ("low", "high") if k in spec and not _is_real_number(spec[k])]
    if "log" in spec and not isinstance(spec["log"], bool):
        problems.append(f"{where}.log: must be true or false, got {spec['log']!r}.")
    if "choices" in spec and not isinstance(spec["choices"], list):
        problems.append(f"{where}.choices: must be a list, got {spec['choices']!r}.")
    if "when" in spec and (not isinstance(spec["when"], Mapping) or not spec["when"]):
        problems.append(f"{where}.when: must be a table of parent keys to a value or a list of "
                        f"values, e.g. {{ \"optimizer.name\" = \"sgd\" }}, got {spec['when']!r}.")
    return problems


def dimension_from_json(key: str, spec: Mapping[str, Any]) -> Dimension:
    """The dimension a description (as :meth:`Dimension.to_json` writes it) gives.

    Raises
    ------
    SearchSpaceError
        The description is not one (each problem named, with ``key``).
    """
    problems = (dimension_problems(spec, f"space key '{key}'") if isinstance(spec, Mapping)
                else ["not a mapping"])
    if problems:
        raise SearchSpaceError(
            f"space key '{key}': {spec!r} is not a dimension description ({' '.join(problems)}); "
            "expected a mapping with 'type' 'real', 'integer' or 'categorical', as "
            "Dimension.to_json() writes."
        )
    kind = spec["type"]
    when = spec.get("when")
    if kind == "real":
        return Real(spec["low"], spec["high"], log=spec.get("log", False),
                    grid_points=spec.get("grid_points"), when=when)
    if kind == "integer":
        return Integer(spec["low"], spec["high"], log=spec.get("log", False), when=when)
    return Categorical(list(spec["choices"]), when=when)
