"""Plots of a search or a stored study, as matplotlib figures.

Every function takes a :class:`~hpcore.search.base.BaseSearch` (after or
during ``run``) or a :class:`~hpcore.storage.StudyResults` (``hpcore.load``)
and returns a :class:`matplotlib.figure.Figure`; ``fig.savefig(path)``
writes it. Figures are built with the object-oriented API only (no
``pyplot``), so they draw headless and from any thread.

``plot_history``
    Value of each trial by trial id (completed, stopped and failed marked
    apart) and the best value so far, in the search's direction.
``plot_importance``
    Parameter importances as horizontal bars.
``plot_parallel_coordinates``
    One vertical axis per parameter (log ranges in log space, categoricals
    as levels) and one for the value; a line per trial coloured by value.
``plot_slice``
    One panel per parameter: value against the parameter's value.
``plot_contour``
    The GP posterior mean over the two most important parameters, the
    others fixed at the best trial's values, with the trials as points.
``plot_learning_curves``
    Each trial's reported curve; stopped trials end in a cross, the best
    trial is highlighted.
``plot_pareto_front``
    Several objectives: the Pareto front and its dominated region (two), or
    one axis per objective with the front highlighted (three or more)
    (:mod:`.pareto`).
``plot_hypervolume_history``
    Several objectives: the hypervolume of the feasible front after each
    trial, below the search's ``reference_point`` (:mod:`.pareto`).
``plot_comparison``
    Several searches (groups of seeds): best value so far against trial
    number, median and interquartile band per group.

matplotlib is an optional extra (``pip install "hpcore[plot]"``) and is
imported only when a plot is drawn. A plot with nothing to show (no
completed trial, no reported curve) raises :class:`hpcore.ArgumentError`
naming what is missing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..space import Categorical, Integer
from ..trial import TrialState
from ._draw import (
    _COLOURS,
    _FAILED,
    PLAIN,
    _axis_value,
    _best_so_far,
    _choose_params,
    _colorbar,
    _figure,
    _importances,
    _label,
    _legend,
    _level,
    _log_axis,
    _numeric,
    _value_cmap,
    _value_scale,
)
from .contour import plot_contour
from .curves import plot_comparison, plot_learning_curves
from .pareto import plot_hypervolume_history, plot_pareto_front
from .view import view

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "plot_history",
    "plot_importance",
    "plot_parallel_coordinates",
    "plot_slice",
    "plot_contour",
    "plot_learning_curves",
    "plot_comparison",
    "plot_pareto_front",
    "plot_hypervolume_history",
]

def plot_history(obj: Any) -> Figure:
    """The value of every trial by trial id, and the best value so far.

    Completed trials are dots, stopped ones crosses at their last value,
    failed and timed-out ones red triangles along the bottom edge (they
    have no value). Outliers do not flatten the rest: a value far outside
    the others' range is left off the axis and marked by a hollow triangle
    on the edge it is past, and values spanning more than three decades get
    a log axis (the rule: :func:`hpcore.analysis._draw._value_scale`). The step line is the best value so far in the search's
    direction (lowest for ``mode='min'``, highest for ``'max'``); it ends
    at the best value.

    Parameters
    ----------
    obj : BaseSearch or StudyResults

    Returns
    -------
    matplotlib.figure.Figure
    """
    study = view(obj)
    done = study.need_scored("plot_history")
    fig = _figure(8, 4.5)
    ax = fig.add_subplot()
    for state, marker, name in (
        (TrialState.COMPLETED, "o", "completed"),
        (TrialState.STOPPED, "x", "stopped"),
    ):
        pts = [t for t in done if t.state is state]
        if pts:
            ax.scatter([t.trial_id for t in pts], [t.value for t in pts], marker=marker,
                       s=28, color=_COLOURS[name], label=name, zorder=3)
    failed = [t for t in study.trials if t.state in _FAILED]
    if failed:
        # No value: along the bottom edge (x in data, y in axes coordinates).
        ax.scatter([t.trial_id for t in failed], [0.02] * len(failed), marker="v", s=30,
                   color=_COLOURS["failed"], transform=ax.get_xaxis_transform(),
                   label="failed / timed out", zorder=3, clip_on=False)
    finished = sorted(t.trial_id for t in study.trials if t.state.is_finished)
    by_id = {t.trial_id: t.value for t in done}
    xs = np.array(finished, dtype=np.float64)
    best = _best_so_far([by_id.get(i, math.nan) for i in finished], study.mode)
    keep = ~np.isnan(best)
    ax.plot(xs[keep], best[keep], drawstyle="steps-post", color=_COLOURS["best"], lw=2,
            label="best so far", zorder=2)
    scale, limits = _value_scale([t.value for t in done])
    ax.set_yscale(scale)
    if limits is not None:
        ax.set_ylim(*limits)
        _mark_off_scale(ax, done, limits)
    ax.set_xlabel("trial")
    ax.set_ylabel(study.label, **PLAIN)
    direction = "lower" if study.mode == "min" else "higher"
    ax.set_title(f"{study.name}: {study.label} by trial ({direction} is better)", **PLAIN)
    ax.grid(alpha=0.3)
    _legend(ax, loc="best", fontsize="small")
    return fig


def _mark_off_scale(ax: Any, done: Sequence[Any], limits: tuple[float, float]) -> None:
    """Trials whose value lies beyond ``limits``: triangles on the edge they are past."""
    above = [t for t in done if t.value > limits[1]]
    below = [t for t in done if t.value < limits[0]]
    for where, edge, marker, off in (("above", 0.98, "^", above), ("below", 0.06, "v", below)):
        if off:
            ax.scatter([t.trial_id for t in off], [edge] * len(off), marker=marker, s=46,
                       facecolors="none", edgecolors=_COLOURS["other"], lw=1.4,
                       transform=ax.get_xaxis_transform(), clip_on=False, zorder=4,
                       label=f"{where} the axis ({len(off)})", gid="off-scale")


def plot_importance(obj: Any, importances: Mapping[str, float] | None = None) -> Figure:
    """Parameter importances as horizontal bars, the most important on top.

    Parameters
    ----------
    obj : BaseSearch or StudyResults
    importances : mapping of str to float, optional
        Precomputed importances; by default
        :func:`hpcore.analysis.importance(obj) <hpcore.analysis.importance>`.
    """
    study = view(obj)
    if importances is None:
        study.need_scored("plot_importance", at_least=2)
    imp = _importances(obj, importances)
    names = list(imp)
    fig = _figure(7, 1.2 + 0.45 * len(names))
    ax = fig.add_subplot()
    y = np.arange(len(names))[::-1]
    bars = ax.barh(y, [imp[n] for n in names], color=_COLOURS["completed"])
    ax.bar_label(bars, labels=[f"{imp[n]:.3f}" for n in names], padding=3, fontsize="small")
    ax.set_yticks(y, labels=names, **PLAIN)
    ax.set_xlabel("importance")
    ax.set_xlim(0, max(max(imp.values()) * 1.15, 1e-12))
    ax.set_title(f"{study.name}: parameter importance for {study.label}", **PLAIN)
    return fig


def plot_parallel_coordinates(obj: Any, params: Sequence[str] | None = None) -> Figure:
    """One vertical axis per parameter and one for the value; a line per trial.

    Each axis spans its dimension's range: linear, or in log space for
    ``log=True`` dimensions; a categorical's choices are evenly spaced
    levels. Lines are coloured by value (the best brightest); completed
    and stopped trials are drawn.

    Parameters
    ----------
    obj : BaseSearch or StudyResults
    params : sequence of str, optional
        Parameters to show, in order (default: all).
    """
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize

    study = view(obj)
    keys = _choose_params(study, params, "plot_parallel_coordinates")
    done = study.need_scored("plot_parallel_coordinates")
    values = np.array([t.value for t in done], dtype=np.float64)
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo if hi > lo else 1.0
    rows = np.array([[_level(study.space[k], t.params.get(k)) for k in keys] for t in done])
    rows = np.column_stack([rows, (values - lo) / span if hi > lo else np.full(len(done), 0.5)])
    xs = np.arange(len(keys) + 1, dtype=np.float64)
    fig = _figure(max(6.0, 1.6 * len(xs)), 5)
    ax = fig.add_subplot()
    norm = Normalize(lo, hi if hi > lo else lo + 1.0)
    cmap = _value_cmap(study.mode)
    order = np.argsort([-study.sign(v) for v in values])  # the best drawn last, on top
    segments = [np.column_stack([xs, rows[i]]) for i in order]
    lines = LineCollection(segments, array=values[order], cmap=cmap, norm=norm, lw=1.4,
                           alpha=0.8)
    lines.set_gid("trials")
    ax.add_collection(lines)
    for x in xs:
        ax.axvline(x, color="black", lw=0.8)
    for j, key in enumerate(keys):
        dim = study.space[key]
        if isinstance(dim, Categorical):
            ticks = [((i + 0.5) / len(dim.choices), _label(c)) for i, c in enumerate(dim.choices)]
        else:
            u = np.linspace(0.0, 1.0, 5)
            vals = _axis_value(dim, u)
            if isinstance(dim, Integer):
                vals = np.array(dim.from_unit(u), dtype=np.float64)
                u = np.array([dim.to_unit(int(v)) for v in vals])
            ticks = [(float(p), _label(float(v))) for p, v in zip(u, vals)]
        for pos, text in ticks:
            ax.text(xs[j] + 0.03, pos, text, fontsize="x-small", va="center", ha="left", **PLAIN,
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1})
    for pos in np.linspace(0.0, 1.0, 5):
        ax.text(xs[-1] + 0.03, pos, _label(lo + pos * span if hi > lo else lo),
                fontsize="x-small", va="center", ha="left")
    ax.set_xticks(xs, labels=[*keys, study.label], rotation=20, ha="right", **PLAIN)
    ax.set_yticks([])
    ax.set_xlim(-0.1, xs[-1] + 0.5)
    ax.set_ylim(-0.04, 1.04)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    _colorbar(fig, lines, study.label, ax=ax, pad=0.01)
    ax.set_title(f"{study.name}: parallel coordinates ({len(done)} trials)", **PLAIN)
    return fig


def _grid_shape(n: int, max_cols: int = 3) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def plot_slice(obj: Any, params: Sequence[str] | None = None) -> Figure:
    """One panel per parameter: each trial's value against the parameter's value.

    The x axis is logarithmic for ``log=True`` dimensions; a categorical's
    choices are levels with a little horizontal jitter. Points are coloured
    by trial id; stopped trials are crosses.

    Parameters
    ----------
    obj : BaseSearch or StudyResults
    params : sequence of str, optional
        Parameters to show (default: all).
    """
    study = view(obj)
    keys = _choose_params(study, params, "plot_slice")
    done = study.need_scored("plot_slice")
    nrows, ncols = _grid_shape(len(keys))
    fig = _figure(3.6 * ncols, 3.0 * nrows + 0.6)
    axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False).ravel()
    rng = np.random.default_rng(0)
    ids = np.array([t.trial_id for t in done], dtype=np.float64)
    values = np.array([t.value for t in done], dtype=np.float64)
    stopped = np.array([t.state is TrialState.STOPPED for t in done])
    scatter = None
    for ax, key in zip(axes, keys):
        dim = study.space[key]
        if isinstance(dim, Categorical):
            x = np.array([math.nan if (i := dim.match(t.params.get(key))) is None else i
                          for t in done], dtype=np.float64)
            x = x + rng.uniform(-0.15, 0.15, len(x))
            ax.set_xticks(range(len(dim.choices)), labels=[_label(c) for c in dim.choices],
                          **PLAIN)
            ax.set_xlim(-0.5, len(dim.choices) - 0.5)
        else:
            x = np.array([_numeric(t.params.get(key)) for t in done])
            if dim.log:  # type: ignore[attr-defined]
                ax.set_xscale("log")
                pad = (dim.high / dim.low) ** 0.04  # type: ignore[attr-defined]
                ax.set_xlim(dim.low / pad, dim.high * pad)  # type: ignore[attr-defined]
                _log_axis(ax.xaxis, dim)
        for mask, marker in ((~stopped, "o"), (stopped, "x")):
            if mask.any():
                scatter = ax.scatter(x[mask], values[mask], c=ids[mask], cmap="viridis",
                                     vmin=ids.min(), vmax=max(ids.max(), ids.min() + 1),
                                     marker=marker, s=24)
        ax.set_xlabel(key, **PLAIN)
        ax.grid(alpha=0.3)
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    for ax in axes[::ncols]:
        ax.set_ylabel(study.label, **PLAIN)
    if scatter is not None:
        fig.colorbar(scatter, ax=list(axes[: len(keys)]), label="trial", shrink=0.8)
    fig.suptitle(f"{study.name}: {study.label} against each parameter (x: stopped)", **PLAIN)
    return fig
