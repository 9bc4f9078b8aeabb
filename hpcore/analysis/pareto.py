"""The Pareto front of a study with several objectives, as a matplotlib figure.

``plot_pareto_front(obj)``
    Two objectives: every trial with values as a point (feasible ones
    filled, infeasible ones hollow grey), the front as a staircase and the
    region it dominates shaded, towards each objective's worse side. Three
    or more: one vertical axis per objective, a line per trial, the front's
    lines drawn over the others in colour.

``objectives=`` picks two (or more) of them by name.

``hypervolume_history(obj)`` / ``plot_hypervolume_history(obj)``
    The hypervolume the feasible front dominates after each trial: the
    one number that says whether a search with several objectives is still
    improving. Bounded by the search's ``reference_point`` (or one given
    here); without either, by the worst feasible value of each objective.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ArgumentError
from ._draw import _COLOURS, PLAIN, _figure, _legend
from .view import view

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["plot_pareto_front", "hypervolume_history", "plot_hypervolume_history"]


def _chosen(metrics: list[str], objectives: Sequence[str] | None) -> list[int]:
    if objectives is None:
        return list(range(len(metrics)))
    missing = [o for o in objectives if o not in metrics]
    if missing or len(objectives) < 2:
        raise ArgumentError(
            f"objectives={list(objectives)!r}: give two or more of the study's objectives "
            f"{metrics}."
        )
    return [metrics.index(o) for o in objectives]


def plot_pareto_front(obj: Any, objectives: Sequence[str] | None = None) -> Figure:
    """The Pareto front and every trial, in the objectives' own units.

    Parameters
    ----------
    obj : BaseSearch or StudyResults
        A search or study with several objectives.
    objectives : sequence of str, optional
        Which objectives to draw (two or more; default: all).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ArgumentError
        A study with one objective, or without a trial that has values.
    """
    v = view(obj)
    if not v.multi:
        raise ArgumentError(
            "plot_pareto_front needs a study with several objectives (metric=[...]); this "
            "one has one: plot_history shows it."
        )
    assert v.objectives is not None
    metrics = [str(m) for m in v.objectives.metrics]
    cols = _chosen(metrics, objectives)
    done = [t for t in (v.all_trials or []) if t.state.can_be_best and t.values
            and len(t.values) == len(metrics) and all(np.isfinite(t.values))]
    if not done:
        raise ArgumentError(f"plot_pareto_front: {v.name!r} has no completed trial with values.")
    front = v.front if len(cols) == len(metrics) else _front_of(v, done, cols)
    if len(cols) == 2:
        return _scatter(v, done, front, cols, metrics)
    return _parallel(v, done, front, cols, metrics)


def _front_of(v: Any, done: list, cols: list[int]) -> list:
    """The front of the chosen objectives only (the feasible trials no other beats in them)."""
    from ..objectives import pareto_mask

    feasible = [t for t in done if t.feasible]
    if not feasible:
        return []
    signs = np.array([1.0 if v.objectives.modes[j] == "min" else -1.0 for j in cols])
    Y = np.array([[t.values[j] for j in cols] for t in feasible]) * signs
    return [t for t, keep in zip(feasible, pareto_mask(Y)) if keep]


def _scatter(v: Any, done: list, front: list, cols: list[int], metrics: list[str]) -> Figure:
    a, b = cols
    modes = v.objectives.modes
    fig = _figure(7, 5.5)
    ax = fig.add_subplot()
    feasible = [t for t in done if t.feasible]
    infeasible = [t for t in done if not t.feasible]
    if infeasible:
        ax.scatter([t.values[a] for t in infeasible], [t.values[b] for t in infeasible],
                   facecolors="none", edgecolors="#999999", s=26, label="infeasible", zorder=2)
    if feasible:
        ax.scatter([t.values[a] for t in feasible], [t.values[b] for t in feasible], s=22,
                   color=_COLOURS["completed"], alpha=0.6, label="feasible", zorder=3)
    if front:
        _staircase(ax, np.array([[t.values[a], t.values[b]] for t in front]),
                   (modes[a], modes[b]))
    ax.set_xlabel(f"{metrics[a]} ({'lower' if modes[a] == 'min' else 'higher'} is better)",
                  **PLAIN)
    ax.set_ylabel(f"{metrics[b]} ({'lower' if modes[b] == 'min' else 'higher'} is better)",
                  **PLAIN)
    ax.set_title(f"{v.name}: Pareto front ({len(front)} of {len(done)} trials)", **PLAIN)
    ax.grid(alpha=0.3)
    _legend(ax, loc="best", fontsize="small")
    return fig


def _staircase(ax: Any, F: np.ndarray, modes: tuple[str, str]) -> None:
    """The front as a staircase, and the region it dominates shaded out to the axes' edge."""
    sx = 1.0 if modes[0] == "min" else -1.0
    sy = 1.0 if modes[1] == "min" else -1.0
    F = F[np.argsort(sx * F[:, 0])]  # from the best of the first objective
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    x_far = x1 if sx > 0 else x0  # the worse end of each axis
    y_far = y1 if sy > 0 else y0
    xs = [F[0, 0]]
    ys = [y_far]
    for i, (x, y) in enumerate(F):
        if i:
            xs.append(x)
            ys.append(F[i - 1, 1])
        xs.append(x)
        ys.append(y)
    xs.append(x_far)
    ys.append(F[-1, 1])
    ax.fill_between(xs, ys, y_far, step=None, color=_COLOURS["best"], alpha=0.12,
                    label="dominated by the front", zorder=1)
    ax.plot(xs[1:-1], ys[1:-1], color=_COLOURS["best"], lw=1.8, zorder=4)
    ax.scatter(F[:, 0], F[:, 1], s=46, color=_COLOURS["best"], edgecolors="white",
               label="Pareto front", zorder=5)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


def _parallel(v: Any, done: list, front: list, cols: list[int], metrics: list[str]) -> Figure:
    """One axis per objective, each scaled to its range with better at the bottom."""
    modes = v.objectives.modes
    Y = np.array([[t.values[j] for j in cols] for t in done])
    lo, hi = Y.min(axis=0), Y.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    U = (Y - lo) / span
    for i, j in enumerate(cols):
        if modes[j] == "max":  # better at the bottom on every axis
            U[:, i] = 1.0 - U[:, i]
    fig = _figure(max(6.0, 2.2 * len(cols)), 5.0)
    ax = fig.add_subplot()
    on_front = {t.trial_id for t in front}
    xs = np.arange(len(cols))
    for t, u in zip(done, U):
        if t.trial_id not in on_front:
            ax.plot(xs, u, color="#bbbbbb" if t.feasible else "#dddddd", lw=0.8, zorder=1)
    for t, u in zip(done, U):
        if t.trial_id in on_front:
            ax.plot(xs, u, color=_COLOURS["best"], lw=1.6, alpha=0.9, zorder=3)
    ax.plot([], [], color=_COLOURS["best"], label=f"Pareto front ({len(front)})")
    ax.plot([], [], color="#bbbbbb", label="other trials")
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{metrics[j]}\n({modes[j]})" for j in cols], **PLAIN)
    for i, j in enumerate(cols):
        bottom, top = (lo[i], hi[i]) if modes[j] == "min" else (hi[i], lo[i])
        last = i == len(cols) - 1  # its labels go left of the axis, inside the frame
        dx, ha = (-4, "right") if last else (4, "left")
        ax.annotate(f"{bottom:.3g}", (i, 0), xytext=(dx, -2), textcoords="offset points",
                    fontsize="x-small", va="top", ha=ha)
        ax.annotate(f"{top:.3g}", (i, 1), xytext=(dx, 2), textcoords="offset points",
                    fontsize="x-small", va="bottom", ha=ha)
    ax.set_yticks([0, 1])
    ax.set_yticklabels(["better", "worse"])
    ax.set_ylim(-0.08, 1.08)
    ax.set_title(f"{v.name}: {len(cols)} objectives, Pareto front highlighted", **PLAIN)
    for x in xs:
        ax.axvline(x, color="#888888", lw=0.8, zorder=0)
    _legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize="small")
    return fig


def hypervolume_history(
    obj: Any, reference_point: Any = None
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """The hypervolume of the feasible front after each trial, by trial id.

    Parameters
    ----------
    obj : BaseSearch, StudyResults or View
        A search or study with several objectives.
    reference_point : mapping or sequence of float, optional
        The worst value of each objective still counted, in the user's units
        and directions (as ``BayesianSearch(reference_point=...)``). Default:
        the search's own, else the worst feasible value of each objective in
        the study (then the extreme trials add nothing).

    Returns
    -------
    ids : ndarray of int
        The id of each completed or stopped trial with values, in order.
    hypervolume : ndarray
        After each of them (in the objectives' units multiplied together).
    reference : dict
        The reference point used, ``{metric: value}``.

    Raises
    ------
    ArgumentError
        One objective, no trial with values, a bad reference point, or a
        front too large for an exact hypervolume (four or more objectives).
    """
    from .. import kernels

    v = view(obj)  # a View is taken as it is
    if not v.multi:
        raise ArgumentError("the hypervolume needs a study with several objectives "
                            "(metric=[...]); this one has one: plot_history shows it.")
    objectives = v.objectives
    done = sorted((t for t in (v.all_trials or []) if t.state.can_be_best and t.values
                   and len(t.values) == objectives.n and all(np.isfinite(t.values))),
                  key=lambda t: t.trial_id)
    if not done:
        raise ArgumentError(f"{v.name!r} has no completed trial with values.")
    Y = np.array([t.values for t in done], dtype=float) * objectives.signs  # minimised
    feasible = np.array([t.feasible for t in done], dtype=bool)
    ref = reference_point if reference_point is not None else v.reference_point
    if ref is not None:
        reference = objectives.reference_point(ref, searched=False)
        r = np.array([reference[m] for m in objectives.metrics]) * objectives.signs
    else:
        r = Y[feasible].max(axis=0) if feasible.any() else Y.max(axis=0)
        reference = {m: float(x * sg) for m, x, sg in zip(objectives.metrics, r, objectives.signs)}
    out = np.zeros(len(done))
    front = np.empty((0, objectives.n))
    current = 0.0
    for i, (y, ok) in enumerate(zip(Y, feasible)):
        # Only a feasible trial below the reference that nothing on the front weakly
        # dominates changes the hypervolume.
        if ok and np.all(y < r) and not np.any(np.all(front <= y, axis=1)):
            front = np.vstack([front[~np.all(y <= front, axis=1)], y])
            try:
                current = kernels.hypervolume(front, r)
            except NotImplementedError as exc:
                raise ArgumentError(f"the hypervolume of {v.name!r}: {exc}") from None
        out[i] = current
    return np.array([t.trial_id for t in done]), out, reference


def plot_hypervolume_history(obj: Any, reference_point: Any = None) -> Figure:
    """The hypervolume of the feasible front after each trial (:func:`hypervolume_history`).

    Parameters
    ----------
    obj : BaseSearch or StudyResults
        A search or study with several objectives.
    reference_point : mapping or sequence of float, optional
        As for :func:`hypervolume_history`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.ticker import MaxNLocator

    v = view(obj)
    ids, hv, reference = hypervolume_history(v, reference_point)
    fig = _figure(7, 4.5)
    ax = fig.add_subplot()
    ax.step(ids, hv, where="post", color=_COLOURS["best"], lw=2)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial", **PLAIN)
    ax.set_ylabel("hypervolume of the feasible front", **PLAIN)
    where = ", ".join(f"{m} {x:.4g}" for m, x in reference.items())
    own = reference_point is not None or v.reference_point is not None
    ax.set_title(f"{v.name}: hypervolume ({'reference' if own else 'worst feasible'}: "
                 f"{where})", **PLAIN)
    ax.grid(alpha=0.3)
    return fig
