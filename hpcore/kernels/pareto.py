r"""Pareto fronts, hypervolume and the box decomposition of the non-dominated region.

Every objective is MINIMISED. A point ``a`` dominates ``b`` when ``a <= b`` in
every objective and ``a < b`` in at least one. The hypervolume of a set of
points with respect to a reference point ``ref`` is the volume of the region
``{x : x < ref and some point p <= x}``; only points strictly better than
``ref`` in every objective contribute (any other point dominates nothing of
positive volume below ``ref``).

Symbols (shapes)
----------------
n, k        number of points, number of objectives
m           number of query points
b           number of boxes
Y, front    (n, k) objective vectors, float64
ref         (k,) reference point (finite)
lower, upper  (b, k) corners of disjoint axis-aligned boxes, ``lower < upper``;
            ``lower`` may be ``-inf``, ``upper <= ref``
y           (m, k) query points

Functions
---------
nondominated(Y) -> bool (n,)
    True for the rows no other row dominates. Of several EQUAL rows the first
    is kept and the later ones are marked dominated, so that the mask selects
    each point of the front exactly once.
hypervolume(Y, ref) -> float
    Exact. k = 1: ``ref - min``; k = 2: sort and sweep, O(n log n); k = 3: a
    sweep over the third objective maintaining the 2-D staircase of the points
    below the sweep plane, O(n^2); k >= 4: recursive slicing along the last
    objective down to the 3-D sweep (HSO, While et al. 2006), O(n^(k-1)),
    refused with ``NotImplementedError`` when ``n^(k-1)`` exceeds
    :data:`MAX_SLICING_WORK`.
box_decomposition(front, ref) -> (lower (b, k), upper (b, k))
    Disjoint boxes whose union is exactly the region below ``ref`` that no
    point of ``front`` dominates -- where a new point adds hypervolume.
    k = 1: one box; k = 2: the ``r + 1`` staircase boxes of the ``r``
    non-dominated points; k = 3: the plane ``y_3 = c`` swept upwards, each
    slab between two consecutive changes of the 2-D staircase cut into that
    staircase's boxes (at most ``1 + n (n + 3) / 2`` boxes). The first column
    of boxes and the bottom slab have ``lower = -inf``.
box_improvement(lower, upper, y) -> (m,)
    ``sum_b prod_j max(0, upper[b, j] - max(lower[b, j], y_j))``: the volume of
    the part of the boxes that ``y`` dominates.
hypervolume_improvement(front, ref, y) -> (m,)
    ``HV(front + {y_i}) - HV(front)`` for each row of ``y``. For k <= 3 this is
    :func:`box_improvement` over the boxes of :func:`box_decomposition`: the
    region a new point ``y`` adds is ``{x : y <= x < ref}`` minus what the
    front already dominates, i.e. ``[y, ref)`` intersected with the boxes.
    For k >= 4 it is the difference of two hypervolumes.

Non-finite values: ``NaN`` anywhere, or ``-inf`` in a point, is a
``ValueError`` (``-inf`` would make the hypervolume infinite); ``+inf`` in a
point is allowed (such a point never counts, it is not below ``ref``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._numba import jit
from .linalg import _as_matrix, _as_vector

__all__ = [
    "MAX_SLICING_WORK",
    "nondominated",
    "hypervolume",
    "box_decomposition",
    "box_improvement",
    "hypervolume_improvement",
]

#: Largest ``n^(k-1)`` (points below ``ref`` on the front, objectives) for
#: which :func:`hypervolume` slices when ``k >= 4`` (about a second of work).
MAX_SLICING_WORK = 1e8


# --------------------------------------------------------------------------- kernels
@jit
def _nondominated(Y):
    """Mask (n,) of the rows of ``Y`` (n, k) that no row dominates; of equal rows, the first."""
    n, k = Y.shape
    keep = np.ones(n, dtype=np.bool_)
    for i in range(n):
        for j in range(n):
            if j == i:
                continue
            weak = True  # Y[j] <= Y[i] in every objective
            strict = False
            for d in range(k):
                if Y[j, d] > Y[i, d]:
                    weak = False
                    break
                if Y[j, d] < Y[i, d]:
                    strict = True
            # an equal row earlier in Y counts as dominating: one copy survives
            if weak and (strict or j < i):
                keep[i] = False
                break
    return keep


@jit
def _stair_dominated(xs, ys, cnt, a, b):
    """Whether ``(a, b)`` is weakly dominated by the staircase ``xs[:cnt]``, ``ys[:cnt]``.

    The staircase is a 2-D front: ``xs`` strictly increasing, ``ys`` strictly
    decreasing. Returns ``(dominated, pos)`` with ``pos`` the first index whose
    ``x >= a`` (where ``(a, b)`` goes if inserted).
    """
    pos = 0
    while pos < cnt and xs[pos] < a:
        pos += 1
    # the lowest point with x <= a is at pos (x == a) or else at pos - 1
    if pos < cnt and xs[pos] == a and ys[pos] <= b:
        return True, pos
    if pos > 0 and ys[pos - 1] <= b:
        return True, pos
    return False, pos


@jit
def _stair_insert(xs, ys, cnt, pos, a, b):
    """Insert the non-dominated ``(a, b)`` at ``pos``; drop what it dominates; new count."""
    # the points it dominates follow it contiguously: x >= a and y >= b
    end = pos
    while end < cnt and ys[end] >= b:
        end += 1
    shift = pos + 1 - end  # +1: nothing removed; <= 0: points removed
    if shift > 0:
        for j in range(cnt - 1, end - 1, -1):
            xs[j + shift] = xs[j]
            ys[j + shift] = ys[j]
    elif shift < 0:
        for j in range(end, cnt):
            xs[j + shift] = xs[j]
            ys[j + shift] = ys[j]
    xs[pos] = a
    ys[pos] = b
    return cnt + shift


@jit
def _stair_area(xs, ys, cnt, r0, r1):
    """Area the staircase dominates below ``(r0, r1)`` (all its points below both)."""
    area = 0.0
    for j in range(cnt):
        right = xs[j + 1] if j + 1 < cnt else r0
        area += (right - xs[j]) * (r1 - ys[j])
    return area


@jit
def _stair_boxes(xs, ys, cnt, r0, r1, lo2, hi2, lower, upper, nb):
    """Write the ``cnt + 1`` boxes of the region the staircase leaves free below
    ``(r0, r1)``, times ``[lo2, hi2)`` when ``lower`` has 3 columns; new box count."""
    three = lower.shape[1] == 3
    for j in range(cnt + 1):
        lower[nb, 0] = -math.inf if j == 0 else xs[j - 1]
        upper[nb, 0] = xs[j] if j < cnt else r0
        lower[nb, 1] = -math.inf
        upper[nb, 1] = r1 if j == 0 else ys[j - 1]
        if three:
            lower[nb, 2] = lo2
            upper[nb, 2] = hi2
        nb += 1
    return nb


@jit
def _hv2(Y, ref):
    """Hypervolume of ``Y`` (n, 2), every row below ``ref``: sort by y_1 and sweep."""
    n = Y.shape[0]
    order = np.argsort(Y[:, 0])
    best = ref[1]  # lowest y_2 seen so far
    vol = 0.0
    for t in range(n):
        i = order[t]
        best = min(best, Y[i, 1])
        right = Y[order[t + 1], 0] if t + 1 < n else ref[0]
        vol += (right - Y[i, 0]) * (ref[1] - best)
    return vol


@jit
def _sweep3(Y, ref, want_boxes):
    """Sweep ``Y`` (n, 3), every row below ``ref``, upwards in y_3.

    The 2-D staircase of the points below the plane changes only when a point
    joins it; between two changes the slab contributes (area x height) to the
    hypervolume and, when ``want_boxes``, the staircase's free boxes.
    Returns ``(volume, lower, upper)`` (the box arrays trimmed; empty unless asked).
    """
    n = Y.shape[0]
    order = np.argsort(Y[:, 2])
    xs = np.empty(n + 1)
    ys = np.empty(n + 1)
    cnt = 0
    cap = 1 + (n * (n + 3)) // 2 if want_boxes else 0
    lower = np.empty((cap, 3))
    upper = np.empty((cap, 3))
    nb = 0
    vol = 0.0
    slab = -math.inf  # bottom of the current slab
    for t in range(n):
        i = order[t]
        dom, pos = _stair_dominated(xs, ys, cnt, Y[i, 0], Y[i, 1])
        if dom:
            continue  # the staircase, hence the slab, is unchanged
        if Y[i, 2] > slab:  # close the slab [slab, y_3) (none between equal y_3)
            if cnt > 0:  # (the bottom slab is empty: -inf height times 0 area)
                vol += _stair_area(xs, ys, cnt, ref[0], ref[1]) * (Y[i, 2] - slab)
            if want_boxes:
                nb = _stair_boxes(xs, ys, cnt, ref[0], ref[1], slab, Y[i, 2], lower, upper, nb)
            slab = Y[i, 2]
        cnt = _stair_insert(xs, ys, cnt, pos, Y[i, 0], Y[i, 1])
    if cnt > 0:
        vol += _stair_area(xs, ys, cnt, ref[0], ref[1]) * (ref[2] - slab)
    if want_boxes:
        nb = _stair_boxes(xs, ys, cnt, ref[0], ref[1], slab, ref[2], lower, upper, nb)
    return vol, lower[:nb].copy(), upper[:nb].copy()


@jit
def _boxes2(Y, ref):
    """The staircase boxes of ``Y`` (n, 2), every row below ``ref``."""
    n = Y.shape[0]
    order = np.argsort(Y[:, 0])
    xs = np.empty(n + 1)
    ys = np.empty(n + 1)
    cnt = 0
    for t in range(n):
        i = order[t]
        dom, pos = _stair_dominated(xs, ys, cnt, Y[i, 0], Y[i, 1])
        if not dom:
            cnt = _stair_insert(xs, ys, cnt, pos, Y[i, 0], Y[i, 1])
    lower = np.empty((cnt + 1, 2))
    upper = np.empty((cnt + 1, 2))
    _stair_boxes(xs, ys, cnt, ref[0], ref[1], 0.0, 0.0, lower, upper, 0)
    return lower, upper


@jit
def _box_improvement(lower, upper, y):
    """``sum_b prod_j max(0, upper[b, j] - max(lower[b, j], y[i, j]))`` for each row i of ``y``."""
    m, k = y.shape
    out = np.zeros(m)
    for i in range(m):
        total = 0.0
        for b in range(lower.shape[0]):
            vol = 1.0
            for j in range(k):
                side = upper[b, j] - max(lower[b, j], y[i, j])
                if side <= 0.0:
                    vol = 0.0
                    break
                vol *= side
            total += vol
        out[i] = total
    return out


# --------------------------------------------------------------------------- helpers
def _points(name: str, Y: Any, k: int | None = None) -> np.ndarray:
    Y = _as_matrix(name, Y, cols=k)
    if Y.shape[1] < 1:
        raise ValueError(f"`{name}` must have at least one objective (column)")
    if np.isnan(Y).any() or (Y == -np.inf).any():
        raise ValueError(f"`{name}` must not contain NaN or -inf")
    return Y


def _reference(ref: Any, k: int) -> np.ndarray:
    ref = _as_vector("ref", ref, k)
    if not np.isfinite(ref).all():
        raise ValueError(f"`ref` must be finite, got {ref}")
    return ref


def _below(Y: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """The rows strictly below ``ref`` in every objective, C-contiguous."""
    return np.ascontiguousarray(Y[np.all(Y < ref, axis=1)])


def _hv_below(Y: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of ``Y``, every row below ``ref``."""
    n, k = Y.shape
    if n == 0:
        return 0.0
    if k == 1:
        return float(ref[0] - Y[:, 0].min())
    if k == 2:
        return float(_hv2(Y, ref))
    if k == 3:
        return float(_sweep3(Y, ref, False)[0])
    # slicing: only non-dominated points matter, and fewer points cut the work
    Y = np.ascontiguousarray(Y[_nondominated(Y)])
    n = Y.shape[0]
    if float(n) ** (k - 1) > MAX_SLICING_WORK:
        raise NotImplementedError(
            f"exact hypervolume in {k} objectives costs O(n^{k - 1}); {n} non-dominated "
            f"points exceed the limit n^{k - 1} <= {MAX_SLICING_WORK:.0e} (MAX_SLICING_WORK)")
    Y = Y[np.argsort(Y[:, -1], kind="stable")]
    sub_ref = np.ascontiguousarray(ref[:-1])
    vol = 0.0
    for t in range(n):
        top = Y[t + 1, -1] if t + 1 < n else ref[-1]
        if top > Y[t, -1]:  # the slab [y_t, top) sees the first t + 1 points
            vol += _hv_below(np.ascontiguousarray(Y[: t + 1, :-1]), sub_ref) * (top - Y[t, -1])
    return vol


# --------------------------------------------------------------------------- public API
def nondominated(Y: Any) -> np.ndarray:
    """Mask of the non-dominated rows of ``Y`` (n, k), all objectives minimised.

    A row is dominated when another row is ``<=`` in every objective and ``<``
    in one. Of several equal rows only the FIRST is kept (marked True); the
    later copies are marked dominated, so ``Y[nondominated(Y)]`` has no duplicates.

    Parameters
    ----------
    Y : array_like (n, k)
        Objective vectors; no NaN.

    Returns
    -------
    ndarray of bool (n,)
    """
    Y = _as_matrix("Y", Y)
    if np.isnan(Y).any():
        raise ValueError("`Y` must not contain NaN")
    return _nondominated(Y)


def hypervolume(Y: Any, ref: Any) -> float:
    """Volume dominated by the rows of ``Y`` (n, k) and bounded above by ``ref`` (k,).

    Rows not strictly below ``ref`` in every objective contribute nothing.
    Exact for every ``k``; for ``k >= 4`` limited to ``n^(k-1) <=``
    :data:`MAX_SLICING_WORK` non-dominated points below ``ref``
    (``NotImplementedError`` beyond).

    Parameters
    ----------
    Y : array_like (n, k)
        Objective vectors to minimise; no NaN or ``-inf``.
    ref : array_like (k,)
        Finite reference point.

    Returns
    -------
    float
    """
    Y = _points("Y", Y)
    ref = _reference(ref, Y.shape[1])
    return _hv_below(_below(Y, ref), ref)


def box_decomposition(front: Any, ref: Any) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint boxes covering exactly the region below ``ref`` that ``front`` leaves free.

    The union of the boxes ``[lower[b], upper[b])`` is ``{x : x < ref and no
    row of front is <= x}`` (up to boundaries of zero volume): the region where
    a new point adds hypervolume. The boxes are pairwise disjoint, each has
    ``lower < upper`` and ``upper <= ref``; lower corners may be ``-inf``.
    ``front`` need not be non-dominated (dominated rows, duplicates and rows
    not below ``ref`` are ignored).

    Parameters
    ----------
    front : array_like (n, k), k in {1, 2, 3}
        Objective vectors to minimise; no NaN or ``-inf``.
    ref : array_like (k,)
        Finite reference point.

    Returns
    -------
    lower, upper : ndarray (b, k)
        ``b = 1`` for k = 1, ``r + 1`` for k = 2 (``r`` points on the front),
        at most ``1 + n (n + 3) / 2`` for k = 3.

    Raises
    ------
    NotImplementedError
        For k >= 4.
    """
    front = _points("front", front)
    k = front.shape[1]
    if k > 3:
        raise NotImplementedError(
            f"box_decomposition is implemented for 1, 2 and 3 objectives, not {k}")
    ref = _reference(ref, k)
    Y = _below(front, ref)
    if k == 1:
        top = min(ref[0], Y[:, 0].min()) if Y.shape[0] else ref[0]
        return np.array([[-np.inf]]), np.array([[top]])
    if k == 2:
        return _boxes2(Y, ref)
    _, lower, upper = _sweep3(Y, ref, True)
    return lower, upper


def box_improvement(lower: Any, upper: Any, y: Any) -> np.ndarray:
    """Volume of the part of the boxes that each row of ``y`` dominates.

    With the boxes of :func:`box_decomposition` this is the hypervolume
    improvement of each point; reusing the boxes avoids rebuilding them.

    Parameters
    ----------
    lower, upper : array_like (b, k)
        Box corners, ``lower <= upper``, ``upper`` finite.
    y : array_like (m, k)
        Query points.

    Returns
    -------
    ndarray (m,)
        ``sum_b prod_j max(0, upper[b, j] - max(lower[b, j], y[i, j]))``.
    """
    lower, upper = _boxes(lower, upper)
    y = _as_matrix("y", y, cols=lower.shape[1])
    return _box_improvement(lower, upper, y)


def _boxes(lower: Any, upper: Any) -> tuple[np.ndarray, np.ndarray]:
    """Checked box corners (shared with :mod:`.ehvi`)."""
    lower = _as_matrix("lower", lower)
    upper = _as_matrix("upper", upper, rows=lower.shape[0], cols=lower.shape[1])
    if np.isnan(lower).any() or not np.isfinite(upper).all() or (lower > upper).any():
        raise ValueError("boxes need lower <= upper, `upper` finite and no NaN in `lower`")
    return lower, upper


def hypervolume_improvement(front: Any, ref: Any, y: Any) -> np.ndarray:
    """``HV(front + {y_i}, ref) - HV(front, ref)`` for each row ``y_i`` of ``y`` (m, k).

    Parameters
    ----------
    front : array_like (n, k)
        Current points (need not be non-dominated); no NaN or ``-inf``.
    ref : array_like (k,)
        Finite reference point.
    y : array_like (m, k)
        Candidate points; no NaN or ``-inf``.

    Returns
    -------
    ndarray (m,)
        Exact (a sum of box volumes) for k <= 3; for k >= 4 the difference of
        two :func:`hypervolume` values (same limits).
    """
    front = _points("front", front)
    k = front.shape[1]
    ref = _reference(ref, k)
    y = _points("y", y, k)
    if k <= 3:
        lower, upper = box_decomposition(front, ref)
        return _box_improvement(lower, upper, y)
    base = _below(front, ref)
    hv = _hv_below(base, ref)
    out = np.zeros(y.shape[0])
    for i, row in enumerate(y):
        if np.all(row < ref):
            out[i] = max(0.0, _hv_below(np.vstack([base, row[None, :]]), ref) - hv)
    return out
