"""Hypothesis strategies for hpcore search spaces, configs and unit-cube points.

These generate the inputs a sampler or a space-handling function has to
cope with, with the awkward cases deliberately over-represented:

* reals on plain and log scales, with integer-valued bounds and with very
  narrow ranges (``Real(1.0, 1.0 + 1e-9)``);
* integers with two values only (``Integer(3, 4)``), wide ranges and log
  scales (``Integer(1, 64, log=True)``);
* categoricals with a single choice, and with values of mixed and
  unhashable types (``[1, 1.0, 'a', None, (1, 2), [64, 64]]``). hpcore
  tells ``1``, ``1.0`` and ``True`` apart, so they are distinct choices;
* spaces whose keys are dotted (``'model.dim'``) and whose specs nest dicts,
  with categoricals written either as ``Categorical`` or as plain lists.

Numbers stay within moderate magnitudes (by default ``|x| <= 1e6`` and
``1e-9 <= x`` on log scales), where the unit-cube encoding is exact to
within floating-point rounding; pass wider bounds to explore further.

Examples
--------
>>> from hypothesis import given
>>> from hpcore.testing.strategies import search_spaces, parameters
>>> @given(search_spaces(max_dims=3))
... def test_sample_is_valid(space):
...     import numpy as np
...     assert space.contains(space.sample(np.random.default_rng(0)))
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ..space import Categorical, Dimension, Integer, Real, SearchSpace

__all__ = [
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
    "AWKWARD_CHOICES",
]

#: Choice lists that have broken samplers and encoders before: mixed and
#: unhashable types, values that are equal under ``==`` but of different
#: types, and a single choice.
AWKWARD_CHOICES: tuple[list[Any], ...] = (
    [1, 1.0, "a", None, (1, 2), [64, 64]],
    [1, 1.0, True],
    [0, 0.0, False, None, ""],
    [[64, 64], [128], (64, 64)],
    ["only"],
    [None],
    [(1, 2)],
    [0.1, 0.2, 0.30000000000000004, 0.3],
)

_NAMES = ("a", "b", "c", "lr", "model", "dim", "opt", "layers", "x1", "_y", "Batch", "ß")


def _finite_floats(min_value: float, max_value: float) -> st.SearchStrategy[float]:
    # ``+ 0.0`` turns -0.0 into 0.0, so two values that compare equal never
    # show up as "different" bounds or choices.
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False).map(
        lambda x: x + 0.0
    )


@st.composite
def reals(
    draw: st.DrawFn,
    *,
    log: bool | None = None,
    min_value: float = -1e6,
    max_value: float = 1e6,
    min_log_value: float = 1e-9,
    grid_points: int | None = None,
) -> Real:
    """Generate :class:`~hpcore.space.Real` dimensions.

    Parameters
    ----------
    log : bool, optional
        Only log-scaled (``True``) or only linear (``False``) reals; both
        when ``None``.
    min_value, max_value : float
        Bounds of ``low`` and ``high`` for linear reals.
    min_log_value : float
        Smallest ``low`` of a log-scaled real (``max_value`` bounds ``high``).
    grid_points : int, optional
        Give every generated real this many grid points, so that the
        space can be searched by a grid.

    Returns
    -------
    hypothesis.strategies.SearchStrategy[Real]
        Reals with ``low < high``; about a quarter of them have a very
        narrow range (``high - low`` around ``1e-9`` relative), some have
        ``int`` bounds such as ``Real(0, 1)``.
    """
    use_log = draw(st.booleans()) if log is None else log
    lo_bound = max(min_value, min_log_value) if use_log else min_value
    if not lo_bound < max_value:
        raise InvalidArgument(f"no Real fits in [{lo_bound}, {max_value}]")
    kind = draw(st.sampled_from(["any", "any", "narrow", "integral"]))
    if kind == "narrow":
        if use_log:
            low = draw(st.sampled_from([1.0, lo_bound]) | _finite_floats(lo_bound, max_value / 2))
        else:
            low = draw(st.sampled_from([1.0, 0.0]) | _finite_floats(min_value, max_value / 2))
        rel = draw(st.sampled_from([1e-9, 1e-12]))
        high = low * (1.0 + rel) if use_log else low + rel * max(1.0, abs(low))
        assume(low < high <= max_value and lo_bound <= low)
    elif kind == "integral" and math.ceil(lo_bound) < math.floor(max_value):
        low = draw(st.integers(math.ceil(lo_bound), math.floor(max_value) - 1))
        high = draw(st.integers(low + 1, math.floor(max_value)))
    else:
        low = draw(_finite_floats(lo_bound, max_value))
        high = draw(_finite_floats(lo_bound, max_value))
        low, high = min(low, high), max(low, high)
        if low == high:  # Hypothesis likes to repeat values; widen instead of rejecting
            low, high = (low, low + 1.0) if low + 1.0 <= max_value else (low - 1.0, low)
        assume(lo_bound <= low < high)
    return Real(low, high, log=use_log, grid_points=grid_points)


@st.composite
def integers(
    draw: st.DrawFn,
    *,
    log: bool | None = None,
    min_value: int = -(10**6),
    max_value: int = 10**6,
    max_cardinality: int | None = None,
) -> Integer:
    """Generate :class:`~hpcore.space.Integer` dimensions.

    Parameters
    ----------
    log : bool, optional
        Only log-scaled or only linear integers; both when ``None``.
    min_value, max_value : int
        Range for the bounds (a log-scaled integer starts at 1 or above).
    max_cardinality : int, optional
        Largest number of values (``high - low + 1``); at least 2.

    Returns
    -------
    hypothesis.strategies.SearchStrategy[Integer]
        Integers with ``low < high``, often with two values only
        (``Integer(3, 4)``), sometimes ``Integer(1, 64, log=True)``.
    """
    use_log = draw(st.booleans()) if log is None else log
    lo_bound = max(min_value, 1) if use_log else min_value
    max_width = max_value - lo_bound
    if max_cardinality is not None:
        max_width = min(max_width, max_cardinality - 1)
    if max_width < 1:
        raise InvalidArgument(
            f"no Integer fits: range [{lo_bound}, {max_value}], max_cardinality={max_cardinality}"
        )
    if use_log and 1 >= lo_bound and 64 <= max_value and max_width >= 63 and draw(st.booleans()):
        return Integer(1, 64, log=True)
    width = draw(st.just(1) | st.integers(1, min(max_width, 10)) | st.integers(1, max_width))
    low = draw(st.integers(lo_bound, max_value - width))
    return Integer(low, low + width, log=use_log)


def _choice_key(value: Any) -> tuple[type, Any]:
    # Two choices are the same for hpcore when their types match and they
    # compare equal; this hashable key mirrors that (lists become tuples).
    return (type(value), tuple(value) if isinstance(value, list) else value)


_SCALARS = (
    st.integers(-3, 300)
    | _finite_floats(-3.0, 3.0)
    | st.booleans()
    | st.none()
    | st.text(max_size=3)
)
_CHOICE_VALUES = (
    _SCALARS | st.tuples(_SCALARS, _SCALARS) | st.lists(st.integers(0, 256), max_size=3)
)


@st.composite
def categoricals(
    draw: st.DrawFn,
    *,
    min_size: int = 1,
    max_size: int = 6,
    values: st.SearchStrategy[Any] | None = None,
    as_list: bool = False,
) -> Categorical | list[Any]:
    """Generate :class:`~hpcore.space.Categorical` dimensions.

    Parameters
    ----------
    min_size, max_size : int
        Number of choices (``min_size >= 1``).
    values : SearchStrategy, optional
        Where choices come from; by default ints, floats, bools, ``None``,
        short strings, tuples and (unhashable) lists of ints, mixed.
    as_list : bool
        Return the plain list of choices (the spelling a space accepts for
        a categorical) instead of a ``Categorical``.

    Returns
    -------
    hypothesis.strategies.SearchStrategy[Categorical or list]
        Categoricals whose choices are distinct in hpcore's sense (``1``,
        ``1.0`` and ``True`` are three choices); often one of
        :data:`AWKWARD_CHOICES`, e.g. ``[1, 1.0, 'a', None, (1, 2), [64, 64]]``,
        or a single choice.
    """
    if not 1 <= min_size <= max_size:
        raise InvalidArgument(f"need 1 <= min_size <= max_size, got {min_size}, {max_size}")
    awkward = [c for c in AWKWARD_CHOICES if min_size <= len(c) <= max_size]
    if values is None and awkward and draw(st.integers(0, 3)) == 0:
        # deep copy: a test that mutates a list choice must not leak into the next example
        choices = copy.deepcopy(draw(st.sampled_from(awkward)))
    else:
        choices = draw(
            st.lists(
                _CHOICE_VALUES if values is None else values,
                min_size=min_size,
                max_size=max_size,
                unique_by=_choice_key,
            )
        )
    return list(choices) if as_list else Categorical(choices)


def dimensions(
    *,
    finite: bool | None = None,
    max_cardinality: int | None = None,
    grid_points: int | None = None,
) -> st.SearchStrategy[Dimension]:
    """Generate any kind of dimension.

    Parameters
    ----------
    finite : bool, optional
        ``True``: only integers and categoricals; ``False``: only reals;
        ``None``: all three kinds.
    max_cardinality : int, optional
        Largest number of values of a finite dimension (implies that reals
        are left out unless ``finite=False`` is asked explicitly).
    grid_points : int, optional
        Passed to :func:`reals`.

    Returns
    -------
    hypothesis.strategies.SearchStrategy[Dimension]
    """
    options: list[st.SearchStrategy[Any]] = []
    if finite is not True and (max_cardinality is None or finite is False):
        options.append(reals(grid_points=grid_points))
    if finite is not False:
        if max_cardinality is None or max_cardinality >= 2:
            options.append(integers(max_cardinality=max_cardinality))
        size = 6 if max_cardinality is None else min(6, max_cardinality)
        if size < 1:
            raise InvalidArgument(f"max_cardinality must be >= 1, got {max_cardinality}")
        options.append(categoricals(max_size=size))
    return st.one_of(options)


def _prefix_free(paths: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Keep paths in order, dropping any that equals, contains or lies inside a kept one."""
    kept: list[tuple[str, ...]] = []
    for p in paths:
        if all(p[: len(q)] != q and q[: len(p)] != p for q in kept):
            kept.append(p)
    return kept


_SEGMENTS = st.sampled_from(_NAMES) | st.text(
    st.characters(blacklist_characters=".", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=4,
)


@st.composite
def search_space_specs(
    draw: st.DrawFn,
    min_dims: int = 1,
    max_dims: int = 5,
    finite: bool | None = None,
    *,
    max_cardinality: int | None = None,
    grid_points: int | None = None,
) -> dict[str, Any]:
    """Generate the spec of a search space: the dict a user writes.

    Keys are dotted names of one to three parts; about half the keys are
    written nested (``{'model': {'dim': ...}}``) and half flat
    (``{'model.dim': ...}``), mixed within one spec. Categoricals are
    written as ``Categorical(...)`` or as plain lists.

    Parameters
    ----------
    min_dims, max_dims : int
        Number of dimensions (keys after flattening).
    finite : bool, optional
        ``True``: only integers and categoricals, so the space has a
        cardinality; ``False``: only reals; ``None``: any mix.
    max_cardinality : int, optional
        Bound on the product of the dimensions' sizes (implies ``finite``).
    grid_points : int, optional
        Give every real this many grid points.

    Returns
    -------
    hypothesis.strategies.SearchStrategy[dict]
        Specs that :class:`~hpcore.space.SearchSpace` accepts.
    """
    if not 1 <= min_dims <= max_dims:
        raise InvalidArgument(f"need 1 <= min_dims <= max_dims, got {min_dims}, {max_dims}")
    if max_cardinality is not None:
        if finite is False:
            raise InvalidArgument("max_cardinality needs a finite space")
        finite = True
    candidates = draw(
        st.lists(
            st.lists(_SEGMENTS, min_size=1, max_size=3).map(tuple),
            min_size=min_dims,
            max_size=max_dims,
            unique=True,
        )
    )
    paths = _prefix_free(candidates)
    assume(len(paths) >= min_dims)

    spec: dict[str, Any] = {}
    size = 1
    for path in paths:
        if max_cardinality is None:
            dim: Any = draw(dimensions(finite=finite, grid_points=grid_points))
        else:
            dim = draw(dimensions(finite=True, max_cardinality=max_cardinality // size))
            size *= dim.cardinality
        if isinstance(dim, Categorical) and draw(st.booleans()):
            dim = list(dim.choices)
        split = draw(st.integers(1, len(path)))
        outer, inner = ".".join(path[:split]), ".".join(path[split:])
        if inner:
            spec.setdefault(outer, {})[inner] = dim
        else:
            spec[outer] = dim
    return spec


def search_spaces(
    min_dims: int = 1,
    max_dims: int = 5,
    finite: bool | None = None,
    *,
    max_cardinality: int | None = None,
    grid_points: int | None = None,
) -> st.SearchStrategy[SearchSpace]:
    """Generate :class:`~hpcore.space.SearchSpace` objects.

    Parameters
    ----------
    min_dims, max_dims : int
        Number of dimensions.
    finite : bool, optional
        ``True``: only integers and categoricals (``space.cardinality`` is
        an int); ``False``: only reals; ``None``: any mix.
    max_cardinality : int, optional
        Bound on ``space.cardinality`` (implies ``finite=True``); handy for
        tests that enumerate a whole space.
    grid_points : int, optional
        Give every real this many grid points, so ``space.grid()`` works.

    Returns
    -------
    hypothesis.strategies.SearchStrategy[SearchSpace]
        Spaces built from :func:`search_space_specs`: mixed types, log
        scales, degenerate ranges, awkward categorical values, dotted keys.

    Examples
    --------
    >>> from hypothesis import given
    >>> @given(search_spaces(finite=True, max_cardinality=50))
    ... def test_grid_is_complete(space):
    ...     assert len(space.grid()) == space.cardinality
    """
    return search_space_specs(
        min_dims,
        max_dims,
        finite,
        max_cardinality=max_cardinality,
        grid_points=grid_points,
    ).map(SearchSpace)


_LEAVES = (
    st.none()
    | st.integers(-10, 10)
    | _finite_floats(-1.0, 1.0)
    | st.text(max_size=4)
    | st.lists(st.integers(0, 9), max_size=3)
)
_EXTRA_NAMES = st.text(min_size=1, max_size=6)


def _config_node(tree: Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def node(draw: st.DrawFn) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, sub in tree.items():
            if not draw(st.booleans()):
                continue  # missing: apply_params creates it
            if sub:
                out[name] = draw(_config_node(sub))
            else:  # a searched key: any old value, which the trial's value replaces
                out[name] = draw(_LEAVES | st.dictionaries(_EXTRA_NAMES, _LEAVES, max_size=2))
        extras = draw(
            st.dictionaries(
                _EXTRA_NAMES.filter(lambda k: k not in tree),
                _LEAVES | st.dictionaries(_EXTRA_NAMES, _LEAVES, max_size=2),
                max_size=3,
            )
        )
        out.update(extras)
        return out

    return node()


def configs(space: SearchSpace | Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Generate nested-dict base configs into which a space's values can be set.

    Every dotted key of ``space`` either already exists in the config (its
    parents are dicts, its leaf holds some old value) or is missing at some
    level (``apply_params`` creates it); unrelated extra keys appear at
    every level.

    Parameters
    ----------
    space : SearchSpace or mapping
        A space, or anything whose iteration yields its dotted keys.

    Returns
    -------
    hypothesis.strategies.SearchStrategy[dict]
        Configs for which ``hpcore.config.apply_params(config, params)``
        succeeds for every point ``params`` of the space.
    """
    tree: dict[str, Any] = {}
    for key in space:
        node = tree
        for part in key.split("."):
            node = node.setdefault(part, {})
    return _config_node(tree)


def _values(dim: Dimension) -> st.SearchStrategy[Any]:
    if isinstance(dim, Real):
        ends = st.sampled_from([float(dim.low), float(dim.high)])
        return ends | st.floats(float(dim.low), float(dim.high)).map(lambda x: x + 0.0)
    if isinstance(dim, Integer):
        return st.integers(int(dim.low), int(dim.high))
    if isinstance(dim, Categorical):
        return st.sampled_from(dim.choices)
    raise InvalidArgument(f"no value strategy for {dim!r}")


def parameters(space: SearchSpace) -> st.SearchStrategy[dict[str, Any]]:
    """Generate points of ``space``: any valid value for every key.

    Reals can be any float in ``[low, high]`` (ends included), not only
    values the encoding produces; integers any int in range; categoricals
    one of the choice objects themselves.

    Parameters
    ----------
    space : SearchSpace
        The space.

    Returns
    -------
    hypothesis.strategies.SearchStrategy[dict]
        Parameter dicts with exactly the space's keys.
    """
    return st.fixed_dictionaries({key: _values(dim) for key, dim in space.items()})


def unit_points(d: int, n: int | None = None) -> st.SearchStrategy[np.ndarray]:
    """Generate points of the unit cube ``[0, 1]^d``.

    Coordinates favour the edges: exactly ``0.0``, exactly ``1.0`` and the
    float just below ``1.0`` appear often, besides arbitrary floats in
    between.

    Parameters
    ----------
    d : int
        Dimension (``>= 1``).
    n : int, optional
        When given, generate arrays of ``n`` points, shape ``(n, d)``;
        otherwise single points of shape ``(d,)``.

    Returns
    -------
    hypothesis.strategies.SearchStrategy[numpy.ndarray]
        Float64 arrays with every entry in ``[0, 1]``.
    """
    if d < 1:
        raise InvalidArgument(f"d must be >= 1, got {d}")
    coord = st.sampled_from([0.0, 1.0, math.nextafter(1.0, 0.0), 0.5]) | st.floats(0.0, 1.0)
    count = d if n is None else n * d
    shape = (d,) if n is None else (n, d)
    return st.lists(coord.map(lambda x: x + 0.0), min_size=count, max_size=count).map(
        lambda xs: np.array(xs, dtype=np.float64).reshape(shape)
    )


def seeds() -> st.SearchStrategy[int]:
    """Generate seeds for samplers: ints in ``[0, 2**32 - 1]``.

    Returns
    -------
    hypothesis.strategies.SearchStrategy[int]
    """
    return st.integers(0, 2**32 - 1)
