"""A checked mapping of dotted keys to dimensions: sampling, encoding, grids (see :mod:`hpcore.space`)."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import numbers
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import SearchSpaceError, did_you_mean
from .conditions import Conditions
from .dimensions import (
    Categorical,
    Dimension,
    Integer,
    _as_dimension,
    _is_real_number,
    dimension_from_json,
    same_value,
)

__all__ = ["SearchSpace", "Grid"]

_MISSING = object()  # a key absent from a parameter dict


def _flatten(spec: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in spec.items():
        if not isinstance(key, str) or not key or any(not p for p in key.split(".")):
            raise SearchSpaceError(
                f"search space key {prefix + str(key)!r} is not a dotted name: use non-empty "
                "strings such as 'training.lr' (no leading, trailing or doubled dots)."
            )
        if isinstance(value, Mapping):
            if not value:
                raise SearchSpaceError(
                    f"search space key '{prefix + key}' maps to an empty dict: give it "
                    "dimensions or remove it."
                )
            yield from _flatten(value, prefix + key + ".")
        else:
            yield prefix + key, value


class Grid(Sequence[dict[str, Any]]):
    """The Cartesian product of a space's grid values, indexed lazily.

    Point ``i`` is decoded from ``i`` in mixed radix, the last key varying
    fastest, so the order is deterministic and a grid of any size costs
    memory only for its axes.
    """

    def __init__(self, keys: Sequence[str], axes: Sequence[Sequence[Any]]) -> None:
        self.keys = tuple(keys)
        self.axes = tuple(axes)
        self._size = math.prod(len(a) for a in self.axes)
        self._points: list[dict[str, Any]] | None = None

    @classmethod
    def of_points(cls, keys: Sequence[str], points: list[dict[str, Any]]) -> Grid:
        """A grid listed point by point (a conditional space's: its points do not all
        have the same keys, so they are not a product)."""
        grid = cls(keys, [])
        grid._points, grid._size = points, len(points)
        return grid

    @property
    def size(self) -> int:
        """Number of points; unlike ``len()``, also beyond ``sys.maxsize``."""
        return self._size

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index: int) -> dict[str, Any]:  # type: ignore[override]
        if not isinstance(index, numbers.Integral):
            raise TypeError("grid indices must be integers")
        i = int(index)
        if i < 0:
            i += self._size
        if not 0 <= i < self._size:
            raise IndexError(f"grid index {index} out of range for a grid of {self._size}")
        if self._points is not None:
            return dict(self._points[i])
        values: list[Any] = []
        for axis in reversed(self.axes):
            i, r = divmod(i, len(axis))
            values.append(axis[r])
        return dict(zip(self.keys, reversed(values)))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self._points is not None:
            yield from (dict(p) for p in self._points)
            return
        for combo in itertools.product(*self.axes):
            yield dict(zip(self.keys, combo))

    def index_of(self, params: Mapping[str, Any]) -> int | None:
        """Position of ``params`` in the grid, or ``None`` if it is not a grid point."""
        if self._points is not None:
            for i, p in enumerate(self._points):
                if p.keys() == params.keys() and all(same_value(p[k], params[k]) for k in p):
                    return i
            return None
        index = 0
        for key, axis in zip(self.keys, self.axes):
            if key not in params:
                return None
            value = params[key]
            i = _axis_index(axis, value)
            if i is None:
                return None
            index = index * len(axis) + i
        return index


def _axis_index(axis: Sequence[Any], value: Any) -> int | None:
    if isinstance(axis, range):
        if isinstance(value, bool) or not _is_real_number(value):
            return None
        if not float(value).is_integer() or int(value) not in axis:
            return None
        return int(value) - axis.start
    for i, candidate in enumerate(axis):
        if same_value(candidate, value):
            return i
    return None


class SearchSpace(Mapping[str, Dimension]):
    """A checked mapping of dotted keys to dimensions.

    Parameters
    ----------
    spec : mapping
        ``{'training.lr': Real(1e-5, 1e-2, log=True), 'model.dim': [128, 256]}``.
        Nested dicts are flattened into dotted keys. Every value is checked
        here, and any error names its key.

    Examples
    --------
    >>> space = SearchSpace({'lr': Real(1e-4, 1e-1, log=True), 'act': ['relu', 'gelu']})
    >>> params = space.sample(np.random.default_rng(0))
    >>> space.decode(space.encode(params))['act'] == params['act']
    True
    """

    def __init__(self, spec: Mapping[str, Any] | SearchSpace) -> None:
        if isinstance(spec, SearchSpace):
            self._dims: dict[str, Dimension] = dict(spec._dims)
            self._conds = spec._conds
            return
        if not isinstance(spec, Mapping):
            raise SearchSpaceError(
                f"search_space must be a dict of dotted keys to dimensions, got "
                f"{type(spec).__name__}."
            )
        dims: dict[str, Dimension] = {}
        for key, value in _flatten(spec):
            if key in dims:
                raise SearchSpaceError(
                    f"search space key '{key}' is given twice (once nested, once dotted). "
                    "Keep one of them."
                )
            dims[key] = _as_dimension(key, value)
        if not dims:
            raise SearchSpaceError("search_space is empty: give at least one key to search.")
        ordered = sorted(dims)
        for a, b in zip(ordered, ordered[1:]):
            if b.startswith(a + "."):
                raise SearchSpaceError(
                    f"search space keys '{a}' and '{b}' overlap: '{b}' lies inside '{a}'. "
                    "Search one or the other."
                )
        self._dims = dims
        self._conds = Conditions(dims)  # conditional keys checked as a graph

    # Mapping protocol -------------------------------------------------------
    def __getitem__(self, key: str) -> Dimension:
        return self._dims[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dims)

    def __len__(self) -> int:
        return len(self._dims)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k!r}: {v!r}" for k, v in self._dims.items())
        return f"SearchSpace({{{inner}}})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.fingerprint() == other.fingerprint()

    # JSON -------------------------------------------------------------------
    def to_json(self) -> dict[str, dict[str, Any]]:
        """``{key: dimension.to_json()}``: what a stored study keeps as its space."""
        return {k: d.to_json() for k, d in self._dims.items()}

    @classmethod
    def from_json(cls, spec: Mapping[str, Mapping[str, Any]]) -> SearchSpace:
        """The space that :meth:`to_json` described (e.g. ``hpcore.load(root).space``).

        Examples
        --------
        >>> space = SearchSpace({'lr': Real(1e-4, 1e-1, log=True), 'act': ['relu', 'gelu']})
        >>> SearchSpace.from_json(space.to_json()) == space
        True
        """
        if not isinstance(spec, Mapping) or not spec:
            raise SearchSpaceError(
                "SearchSpace.from_json needs a non-empty mapping of keys to dimension "
                f"descriptions such as {{'lr': {{'type': 'real', 'low': 0.001, 'high': 0.1}}}}, "
                f"got {spec!r}."
            )
        return cls({key: dimension_from_json(key, value) for key, value in spec.items()})

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    # Properties -------------------------------------------------------------
    @property
    def conditions(self) -> Conditions:
        """The conditions of the keys (:class:`hpcore.space.conditions.Conditions`)."""
        return self._conds

    @property
    def conditional(self) -> bool:
        """Whether some key is searched only under a condition (``when=``)."""
        return bool(self._conds)

    def active(self, params: Mapping[str, Any]) -> set[str]:
        """The keys searched at ``params`` (every key, for an unconditional space)."""
        return self._conds.active(params) if self._conds else set(self._dims)

    def prune(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` without the keys inactive there (:mod:`hpcore.space.conditions`)."""
        return self._conds.prune(params) if self._conds else dict(params)

    @property
    def cardinality(self) -> int | None:
        """Number of distinct points, or ``None`` if any dimension is continuous."""
        sizes = [d.cardinality for d in self._dims.values()]
        if any(s is None for s in sizes):
            return None
        if self._conds:  # branch by branch
            return sum(1 for _ in self._conds.grid(self._axes()))
        return math.prod(sizes)  # type: ignore[arg-type]

    def fingerprint(self) -> str:
        """A stable hash of the keys, types, bounds and choices."""
        blob = json.dumps(self.to_json(), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    # Encoding ---------------------------------------------------------------
    def decode(self, u: np.ndarray) -> dict[str, Any]:
        """Decode one point of the unit cube (shape ``(d,)``) into parameters."""
        return self.decode_many(np.asarray(u, dtype=np.float64).reshape(1, -1))[0]

    def decode_many(self, u: np.ndarray) -> list[dict[str, Any]]:
        """Decode ``n`` points (shape ``(n, d)``) into ``n`` parameter dicts."""
        u = np.asarray(u, dtype=np.float64)
        if u.ndim != 2 or u.shape[1] != len(self._dims):
            raise ValueError(f"expected an array of shape (n, {len(self._dims)}), got {u.shape}")
        columns = [dim.from_unit(u[:, j]) for j, dim in enumerate(self._dims.values())]
        keys = list(self._dims)
        points = [dict(zip(keys, row)) for row in zip(*columns)]
        return [self._conds.prune(p) for p in points] if self._conds else points

    def decode_all(self, u: np.ndarray) -> dict[str, Any]:
        """A value for every key, inactive ones included (to check keys against a config)."""
        u = np.asarray(u, dtype=np.float64).reshape(1, -1)
        return {k: dim.from_unit(u[:, j])[0] for j, (k, dim) in enumerate(self._dims.items())}

    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """Encode parameters as the centre of their cell in the unit cube, shape ``(d,)``;
        an inactive key (absent) is 0."""
        self.check_params(params)
        return np.array([dim.to_unit(params[k]) if k in params else 0.0
                         for k, dim in self._dims.items()])

    # The model's view -------------------------------------------------------
    # A GP sees reals and integers by their unit-cube coordinate (integers at the
    # centre of their bin: only values a config can take) and categoricals by the
    # index of their level (compared by equality: a Hamming distance). This is the
    # one place trials become model arrays (the strategy, importance, the plots).
    @property
    def model_cat(self) -> np.ndarray:
        """(d,) float64: 1.0 on categorical dimensions."""
        return np.array([isinstance(d, Categorical) for d in self._dims.values()],
                        dtype=np.float64)

    def model_features(self, params: Mapping[str, Any]) -> np.ndarray:
        """(d,) float64: the model's coordinates of ``params``; NaN for a missing key or a
        value outside its dimension (a stored choice matches by :meth:`Categorical.match`).
        A key inactive at ``params`` (conditional) is 0: every point where it is
        inactive has the same coordinate there, so it neither misleads the model
        nor varies (see :mod:`hpcore.strategies._inactive`)."""
        row = np.empty(len(self._dims))
        on = self._conds.active(params) if self._conds else None
        for j, (key, dim) in enumerate(self._dims.items()):
            if on is not None and key not in on:
                row[j] = 0.0
                continue
            value = params.get(key, _MISSING)
            if isinstance(dim, Categorical):
                level = dim.match(value)
                row[j] = np.nan if level is None else level
            else:
                row[j] = dim.to_unit(value) if dim.contains(value) else np.nan
        return row

    def model_arrays(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """(n, d) float64: :meth:`model_features` of each parameter dict."""
        out = np.empty((len(rows), len(self._dims)))
        for i, params in enumerate(rows):
            out[i] = self.model_features(params)
        return out

    def from_model_features(self, z: np.ndarray) -> dict[str, Any]:
        """The parameters at the model's coordinates ``z`` (d,) (levels rounded)."""
        out: dict[str, Any] = {}
        for j, (key, dim) in enumerate(self._dims.items()):
            if isinstance(dim, Categorical):
                out[key] = dim.choices[int(round(z[j]))]
            else:
                out[key] = dim.from_unit(np.array([z[j]]))[0]
        return self._conds.prune(out) if self._conds else out

    def model_levels(self, max_levels: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """The allowed model coordinates of each discrete dimension, NaN-padded (d, k), and
        how many (d,) int64; 0 for a continuous one (an integer with more than
        ``max_levels`` values is optimised as continuous and rounded when decoded)."""
        per_dim: list[np.ndarray] = []
        for dim in self._dims.values():
            if isinstance(dim, Categorical):
                per_dim.append(np.arange(len(dim.choices), dtype=np.float64))
            elif dim.cardinality is not None and dim.cardinality <= max_levels:
                per_dim.append(np.array([dim.to_unit(v) for v in dim.grid_values("")]))
            else:
                per_dim.append(np.empty(0))
        width = max(1, max(len(p) for p in per_dim))
        levels = np.full((len(per_dim), width), np.nan)
        for j, p in enumerate(per_dim):
            levels[j, : len(p)] = p
        return levels, np.array([len(p) for p in per_dim], dtype=np.int64)

    def sample(self, rng: np.random.Generator, n: int | None = None) -> Any:
        """Draw one parameter dict (``n=None``) or a list of ``n`` from ``rng``."""
        u = rng.random((1 if n is None else n, len(self._dims)))
        points = self.decode_many(u)
        return points[0] if n is None else points

    def contains(self, params: Mapping[str, Any]) -> bool:
        """Whether ``params`` has exactly the keys active there, each with a valid value."""
        try:
            self.check_params(params)
        except SearchSpaceError:
            return False
        return True

    def check_params(self, params: Mapping[str, Any]) -> None:
        """Raise ``SearchSpaceError`` naming the first key whose value is invalid, or a key
        missing (active there) or present (unknown, or inactive there)."""
        extra = [k for k in params if k not in self._dims]
        on = self.active(params) if not extra else set(self._dims)
        missing = [k for k in self._dims if k in on and k not in params]
        if missing or extra:
            raise SearchSpaceError(
                f"parameters do not match the search space: missing {missing}, unknown {extra}."
            )
        for key, dim in self._dims.items():
            if key in params and not dim.contains(params[key]):
                raise SearchSpaceError(f"'{key}' = {params[key]!r} is outside {dim!r}.")
        inactive = [k for k in params if k not in on]
        if inactive:
            raise SearchSpaceError(
                f"parameters hold {inactive}, which their conditions (when=) leave out at these "
                "values; leave inactive keys out."
            )

    # Partial points (enqueued configurations) --------------------------------
    def check_partial(
        self, params: Mapping[str, Any], reserved: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Check a partial point, such as an enqueued configuration, and return it flat.

        Every key must be a key of the space (a nested dict is read as dotted
        keys, as in the space itself), every value one its dimension takes, and
        every conditional key active under the parents the point gives (which it
        must give). Keys left out are free. ``reserved`` maps keys that the
        caller sets itself to why they cannot be given (Hyperband's resource).

        Returns
        -------
        dict
            The point by dotted key, in the space's order; integers as ``int``,
            reals as ``float`` (the types the strategies suggest).

        Raises
        ------
        SearchSpaceError
            Naming the first key at fault and the fix.
        """
        if not isinstance(params, Mapping):
            raise SearchSpaceError(
                f"a configuration is a dict of dotted keys to values, such as "
                f"{{'training.lr': 0.001}}, got {type(params).__name__}."
            )
        flat = _flat_point(params, set(self._dims))
        if not flat:
            raise SearchSpaceError("the configuration is empty: give at least one key of the space.")
        for key, value in flat.items():
            if reserved and key in reserved:
                raise SearchSpaceError(f"'{key}' {reserved[key]}")
            if key not in self._dims:
                raise SearchSpaceError(
                    f"'{key}' is not a key of the search space; {did_you_mean(key, self._dims)}"
                )
            dim = self._dims[key]
            if not dim.contains(value):
                raise SearchSpaceError(f"'{key}' = {value!r} {_refusal(dim, value)}.")
        if self._conds:
            self._conds.check_given(flat)
        return {k: _canonical(self._dims[k], flat[k]) for k in self._dims if k in flat}

    def complete(self, fixed: Mapping[str, Any], suggested: Mapping[str, Any]) -> dict[str, Any]:
        """The point with ``fixed``'s values and the rest from ``suggested``.

        In a conditional space the keys that ``fixed`` leaves inactive are
        dropped, and a key that ``fixed`` activates but ``suggested`` lacks
        takes the centre of its range (:meth:`decode_all` at 0.5).
        """
        point = {**suggested, **fixed}
        if self._conds:
            centre = self.decode_all(np.full(len(self._dims), 0.5))
            for key in self._conds.order:  # parents first: a filled parent activates its children
                if key not in point and key in self._conds.active(point):
                    point[key] = centre[key]
            return self._conds.prune(point)
        return {k: point[k] for k in self._dims if k in point}

    def _axes(self) -> dict[str, Sequence[Any]]:
        return {k: d.grid_values(k) for k, d in self._dims.items()}

    def grid(self) -> Grid:
        """All combinations of the dimensions' grid values (see :class:`Grid`); with
        conditional keys, only the valid ones, branch by branch."""
        if self._conds:
            return Grid.of_points(list(self._dims), list(self._conds.grid(self._axes())))
        return Grid(list(self._dims), [d.grid_values(k) for k, d in self._dims.items()])


def _flat_point(params: Mapping[str, Any], keys: set[str], prefix: str = "") -> dict[str, Any]:
    """A point's dotted keys: a dict under a name that is not a key of the space is a level."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if not isinstance(key, str) or not key:
            raise SearchSpaceError(
                f"configuration keys are dotted names such as 'training.lr', got {prefix}{key!r}."
            )
        name = prefix + key
        inner = (_flat_point(value, keys, name + ".")
                 if isinstance(value, Mapping) and name not in keys else {name: value})
        for k, v in inner.items():
            if k in out:
                raise SearchSpaceError(
                    f"'{k}' is given twice (once nested, once dotted); keep one of them."
                )
            out[k] = v
    return out


def _refusal(dim: Dimension, value: Any) -> str:
    """Why ``value`` is not one of ``dim``'s, and what to give instead (for a message)."""
    if isinstance(dim, Categorical):
        twin = next((c for c in dim.choices if type(c) is not type(value) and _equal(c, value)),
                    _MISSING)
        note = "" if twin is _MISSING else (
            f" ({value!r} has type {type(value).__name__}, the choice {twin!r} {type(twin).__name__})")
        return f"is not one of the choices {list(dim.choices)!r}{note}: give one of them"
    number = "a whole number" if isinstance(dim, Integer) else "a number"
    return f"is outside {dim!r}: give {number} from {dim.low!r} to {dim.high!r}"  # type: ignore[attr-defined]


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # e.g. numpy arrays compare elementwise
        return False


def _canonical(dim: Dimension, value: Any) -> Any:
    """``value`` as the strategies suggest it: an int for an Integer, a float for a Real."""
    if isinstance(dim, Integer):
        return int(value)
    if isinstance(dim, Categorical):
        return dim.choices[dim.index(value)]
    return float(value)
