"""Conditional parameters: a dimension that exists only when others take given values.

``Real(0.0, 0.99, when={'optimizer.name': 'sgd'})`` is searched only in
trials whose ``optimizer.name`` is ``'sgd'``; in the others the key is
*inactive*: absent from the trial's params, so ``train_fn``'s config keeps
the base config's value there. ``when`` maps each parent key to a value or
a list of values; with several parents all must match, and a parent may
itself be conditional (then the child is active only where the parent is).

The rules, checked before any trial, each error naming the key and the fix:

* a parent is a key of the same space (a typo gets the closest key);
* a parent is discrete (:class:`Categorical` or :class:`Integer`): a
  condition on a real-valued parameter would almost never hold;
* each value is one the parent can take;
* no key depends on itself, directly or through others (a cycle is shown
  as its path ``a -> b -> a``);
* some combination of the parents' values activates every key (checked
  when the parents have at most 100,000 combinations).

Grids enumerate branch by branch: a key contributes its values only where
it is active, so the optimizer example below has ``3 + 4 = 7`` points, not
``2 x 3 x 4``::

    {'optimizer.name': ['sgd', 'adam'],
     'optimizer.momentum': Real(0, 0.9, grid_points=3, when={'optimizer.name': 'sgd'}),
     'optimizer.beta2': Real(0.9, 0.999, grid_points=4, when={'optimizer.name': 'adam'})}
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..errors import SearchSpaceError
from .dimensions import Categorical, Dimension, Integer, same_value

__all__ = ["Conditions", "parse_when"]

#: A parsed ``when``: ``((parent key, (allowed values...)), ...)``.
When = tuple[tuple[str, tuple[Any, ...]], ...]


def parse_when(key: str, when: Any) -> When | None:
    """``when`` as ``((parent, values), ...)``, or None; a ``SearchSpaceError`` naming
    ``key`` when it is not a mapping of keys to a value or a list of values."""
    if when is None:
        return None
    if not isinstance(when, Mapping) or not when:
        raise SearchSpaceError(
            f"search space key '{key}': when= must be a non-empty dict of parent keys to "
            f"values, e.g. when={{'optimizer.name': 'sgd'}}, got {when!r}."
        )
    out = []
    for parent, values in when.items():
        if not isinstance(parent, str):
            raise SearchSpaceError(
                f"search space key '{key}': when= keys are dotted keys (strings), got {parent!r}."
            )
        vals = tuple(values) if isinstance(values, (list, tuple)) else (values,)
        if not vals:
            raise SearchSpaceError(
                f"search space key '{key}': when={{{parent!r}: []}} can never hold; give at "
                "least one value."
            )
        out.append((parent, vals))
    return tuple(out)


def _matches(dim: Dimension, value: Any, allowed: Sequence[Any]) -> bool:
    if isinstance(dim, Integer):
        return any(not isinstance(a, bool) and a == value for a in allowed)
    return any(same_value(a, value) for a in allowed)


class Conditions:
    """The conditions of a space's dimensions, checked as a graph.

    Parameters
    ----------
    dims : dict of str to Dimension
        The space's dimensions, in order.
    """

    def __init__(self, dims: Mapping[str, Dimension]) -> None:
        self.dims = dict(dims)
        self.when: dict[str, When] = {}
        for key, dim in self.dims.items():
            parsed = parse_when(key, getattr(dim, "when", None))
            if parsed is not None:
                self.when[key] = parsed
        for key, conds in self.when.items():
            for parent, values in conds:
                self._check_parent(key, parent, values)
        self.order = self._topological()
        self._check_reachable()

    def __bool__(self) -> bool:
        return bool(self.when)

    def _check_parent(self, key: str, parent: str, values: tuple[Any, ...]) -> None:
        if parent == key:
            raise SearchSpaceError(
                f"search space key '{key}': when= names '{key}' itself; a parameter cannot "
                "depend on its own value."
            )
        if parent not in self.dims:
            close = difflib.get_close_matches(parent, list(self.dims), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise SearchSpaceError(
                f"search space key '{key}': when= names '{parent}', which is not a key of "
                f"the space.{hint}"
            )
        pdim = self.dims[parent]
        if not isinstance(pdim, (Categorical, Integer)):
            raise SearchSpaceError(
                f"search space key '{key}': its parent '{parent}' is {pdim!r}; a condition "
                "needs a discrete parent (Categorical, a list, or Integer): a real-valued "
                "parameter would almost never equal a given value."
            )
        for v in values:
            if not pdim.contains(v) or not _matches(pdim, v, [v]):
                raise SearchSpaceError(
                    f"search space key '{key}': when={{'{parent}': {v!r}}} can never hold: "
                    f"'{parent}' is {pdim!r}."
                )

    def _check_reachable(self, limit: int = 100_000) -> None:
        """Refuse a key no combination of its parents' values activates (e.g. it needs
        a parent's value under a branch where that parent does not exist). Checked by
        enumerating the parents' values when there are at most ``limit`` combinations."""
        parents = {p for conds in self.when.values() for p, _ in conds}
        if not parents:
            return
        size = 1
        for p in parents:
            size *= self.dims[p].cardinality or limit + 1
            if size > limit:
                return
        axes = {k: (self.dims[k].grid_values(k) if k in parents else (None,)) for k in self.dims}
        seen: set[str] = set()
        for point in self.grid(axes):
            seen.update(point)
        never = [k for k in self.dims if k not in seen]
        if never:
            key = never[0]
            raise SearchSpaceError(
                f"search space key '{key}' can never be searched: no values of its parents "
                f"satisfy when={dict(self.when[key])!r} together (a parent may only exist "
                "where another condition excludes it). Loosen the condition or drop the key."
            )

    def _topological(self) -> list[str]:
        """Every key, parents before children (the space's order otherwise); a cycle is
        an error showing its path."""
        order: list[str] = []
        state: dict[str, int] = {}  # 1: on the path, 2: placed

        def visit(key: str, path: list[str]) -> None:
            if state.get(key) == 2:
                return
            if state.get(key) == 1:
                cycle = path[path.index(key):] + [key]
                raise SearchSpaceError(
                    f"search space conditions form a cycle: {' -> '.join(cycle)}; a "
                    "parameter cannot depend, through others, on itself."
                )
            state[key] = 1
            for parent, _ in self.when.get(key, ()):
                visit(parent, path + [key])
            state[key] = 2
            order.append(key)

        for key in self.dims:
            visit(key, [])
        return order

    # -- which keys a point has -----------------------------------------------------
    def active(self, params: Mapping[str, Any]) -> set[str]:
        """The keys active at ``params`` (whose parents are active and match)."""
        on: set[str] = set()
        for key in self.order:
            conds = self.when.get(key)
            if conds is None or all(
                parent in on and parent in params
                and _matches(self.dims[parent], params[parent], values)
                for parent, values in conds
            ):
                on.add(key)
        return on

    def check_given(self, params: Mapping[str, Any]) -> None:
        """Refuse a conditional key of a partial point (an enqueued configuration) that
        the parents it gives leave inactive, or whose parents it does not give.

        Raises
        ------
        SearchSpaceError
            Naming the key, its condition and the fix (parents first: a key under a
            parent that is itself refused is never reached).
        """
        on = self.active(params)
        for key in self.order:
            if key not in params or key in on:
                continue
            conds = self.when[key]  # an inactive key is a conditional one
            when = dict(self.dims[key].when)  # type: ignore[arg-type]
            missing = [p for p, _ in conds if p not in params]
            if missing:
                raise SearchSpaceError(
                    f"'{key}' is searched only when={when!r}: give '{missing[0]}' too (its "
                    f"value decides whether '{key}' exists), or leave '{key}' out."
                )
            parent, values = next((p, v) for p, v in conds
                                  if not _matches(self.dims[p], params[p], v))
            one_of = repr(values[0]) if len(values) == 1 else f"one of {list(values)!r}"
            raise SearchSpaceError(
                f"'{key}' is inactive where '{parent}' = {params[parent]!r}: it is searched "
                f"only when={when!r}. Leave '{key}' out, or set '{parent}' to {one_of}."
            )

    def prune(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` without its inactive keys, in the space's order."""
        on = self.active(params)
        return {k: params[k] for k in self.dims if k in on and k in params}

    # -- grids ----------------------------------------------------------------------
    def grid(self, axes: Mapping[str, Sequence[Any]]) -> Iterator[dict[str, Any]]:
        """Every valid combination of the axes' values, branch by branch: a key takes
        its values only where it is active (parents first, then the space's order)."""
        keys = self.order

        def extend(i: int, point: dict[str, Any]) -> Iterator[dict[str, Any]]:
            if i == len(keys):
                yield {k: point[k] for k in self.dims if k in point}
                return
            key = keys[i]
            conds = self.when.get(key)
            if conds is not None and not all(
                parent in point and _matches(self.dims[parent], point[parent], values)
                for parent, values in conds
            ):
                yield from extend(i + 1, point)
                return
            for value in axes[key]:
                point[key] = value
                yield from extend(i + 1, point)
            del point[key]

        yield from extend(0, {})
