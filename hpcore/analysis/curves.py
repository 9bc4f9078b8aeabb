"""Curves: each trial's reported learning curve, and searches compared by their best so far.

``plot_learning_curves`` draws a study's curves (stopped trials end in a cross,
the best is highlighted); ``plot_comparison`` draws several searches (groups of
seeds): the best value so far against the trial number, median and
interquartile band per group (a group of one run: its curve alone). Both are re-exported by :mod:`.plots`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ArgumentError
from ..trial import FrozenTrial, TrialState, is_finite
from ._draw import _COLOURS, _FAILED, PLAIN, _best_so_far, _figure, _legend
from .view import view

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["plot_learning_curves", "plot_comparison"]


def _curve(trial: FrozenTrial, metric: str | None) -> tuple[np.ndarray, np.ndarray]:
    """A trial's reported (step, value) pairs: ``value``, else the metric's key."""
    steps, values = [], []
    for r in trial.reports:
        v = r.get("value", r.get(metric) if metric else None)
        if v is not None and "step" in r and math.isfinite(float(v)):
            steps.append(float(r["step"]))
            values.append(float(v))
    return np.array(steps), np.array(values)


def plot_learning_curves(obj: Any, max_trials: int = 50) -> Figure:
    """Each trial's reported curve: value against step.

    Completed trials are blue, stopped ones orange and end in a cross
    where they were stopped, failed ones red and dotted; the best trial is
    a thick green line. With more than ``max_trials`` curves, the best
    trial and others evenly spread over the trial ids are drawn.

    Parameters
    ----------
    obj : BaseSearch or StudyResults
    max_trials : int
        Most curves to draw.
    """
    if isinstance(max_trials, bool) or not isinstance(max_trials, int) or max_trials < 1:
        raise ArgumentError(f"max_trials must be an int >= 1, got {max_trials!r}.")
    study = view(obj)
    curves = {}
    for t in sorted(study.trials, key=lambda t: t.trial_id):
        steps, values = _curve(t, study.metric)
        if len(steps):
            curves[t.trial_id] = (t, steps, values)
    if not curves:
        raise ArgumentError(
            f"plot_learning_curves needs reported curves; no trial of {study.name!r} "
            "called trial.report(step, value) (give train_fn a second argument, the trial)."
        )
    best = study.best
    ids = list(curves)
    if len(ids) > max_trials:
        rest = [i for i in ids if best is None or i != best.trial_id]
        n_rest = max_trials - (1 if best is not None and best.trial_id in curves else 0)
        pick = np.linspace(0, len(rest) - 1, n_rest).round().astype(int) if n_rest else []
        ids = sorted({rest[i] for i in pick} | ({best.trial_id} & set(curves) if best else set()))
    fig = _figure(8, 4.8)
    ax = fig.add_subplot()
    ends_x, ends_y = [], []
    seen: set[str] = set()
    for tid in ids:
        t, steps, values = curves[tid]
        if best is not None and tid == best.trial_id:
            continue
        if t.state is TrialState.STOPPED:
            kind, style = "stopped", "-"
            ends_x.append(steps[-1])
            ends_y.append(values[-1])
        elif t.state in _FAILED:
            kind, style = "failed", ":"
        elif t.state is TrialState.COMPLETED:
            kind, style = "completed", "-"
        else:
            kind, style = "other", "--"
        ax.plot(steps, values, style, color=_COLOURS[kind], lw=1, alpha=0.6,
                label=None if kind in seen else kind)
        seen.add(kind)
    if ends_x:
        ax.plot(ends_x, ends_y, "x", color=_COLOURS["stopped"], ms=8, mew=2,
                label="stopped here", gid="stopped")
    if best is not None and best.trial_id in curves:
        _, steps, values = curves[best.trial_id]
        ax.plot(steps, values, "-", color=_COLOURS["best"], lw=3,
                label=f"best (trial {best.trial_id})", gid="best", zorder=5)
        if best.state is TrialState.STOPPED:
            ax.plot([steps[-1]], [values[-1]], "x", color=_COLOURS["stopped"], ms=8, mew=2,
                    gid="stopped-best", zorder=6)
    ax.set_xlabel("step")
    ax.set_ylabel(study.label, **PLAIN)
    shown = f"{len(ids)} of {len(curves)}" if len(ids) < len(curves) else f"{len(curves)}"
    ax.set_title(f"{study.name}: learning curves ({shown} trials)", **PLAIN)
    ax.grid(alpha=0.3)
    _legend(ax, loc="best", fontsize="small")
    return fig


def _best_curve(obj: Any) -> tuple[np.ndarray, str, str | None]:
    """Best value so far against trial number (1, 2, ...), the mode and the metric."""
    study = view(obj)
    finished = sorted((t for t in study.trials if t.state.is_finished), key=lambda t: t.trial_id)
    values = [t.value if t.state.can_be_best and is_finite(t.value) else math.nan
              for t in finished]
    return _best_so_far(values, study.mode), study.mode, study.metric


def _draw_group(ax: Any, name: str, runs: list[np.ndarray], colour: str) -> None:
    """One group's curve: a single run as it is, several as their median and band."""
    n = max(len(c) for c in runs)
    table = np.full((len(runs), n), np.nan)
    for r, c in enumerate(runs):
        table[r, : len(c)] = c
    has = np.any(~np.isnan(table), axis=0)
    x, sub = np.arange(1, n + 1)[has], table[:, has]
    if len(runs) == 1:
        ax.plot(x, sub[0], drawstyle="steps-post", color=colour, lw=2, label=name,
                gid=f"run:{name}")
        return
    q1, med, q3 = np.nanpercentile(sub, [25, 50, 75], axis=0)
    ax.plot(x, med, drawstyle="steps-post", color=colour, lw=2,
            label=f"{name} (median of {len(runs)})", gid=f"median:{name}")
    ax.fill_between(x, q1, q3, step="post", color=colour, alpha=0.2, lw=0, gid=f"band:{name}")


def plot_comparison(groups: Mapping[str, Any]) -> Figure:
    """Several searches, each run with one or more seeds: best so far by trial number.

    For each group, the median over its runs of the best value after
    ``n`` trials is a line and the 25th-75th percentiles a band; at each
    trial number only the runs that got that far (and have a value by
    then) count. A group of one run is its own curve, labelled with the
    group's name alone, without a band.

    Parameters
    ----------
    groups : mapping of str to a sequence of searches or studies
        E.g. ``{"random": [s0, s1, s2], "bayesian": [b0, b1, b2]}``; a
        single search stands for a group of one. All must share one mode.
    """
    if not isinstance(groups, Mapping) or not groups:
        raise ArgumentError(
            "plot_comparison needs a non-empty mapping of group names to searches, e.g. "
            "{'random': [search1, search2], 'bayesian': [search3]}."
        )
    modes: dict[str, set[str]] = {}
    metric = None
    data: dict[str, list[np.ndarray]] = {}
    for name, runs in groups.items():
        members = list(runs) if isinstance(runs, (list, tuple)) else [runs]
        if not members:
            raise ArgumentError(f"plot_comparison: group {name!r} has no searches.")
        data[str(name)] = []
        for run in members:
            curve, mode, m = _best_curve(run)
            modes.setdefault(str(name), set()).add(mode)
            metric = metric or m
            data[str(name)].append(curve)
    all_modes = set().union(*modes.values())
    if len(all_modes) > 1:
        found = {k: sorted(v) for k, v in modes.items()}
        raise ArgumentError(
            f"plot_comparison: every search must share one mode (min or max); got {found}."
        )
    if all(np.all(np.isnan(c)) for runs in data.values() for c in runs):
        raise ArgumentError("plot_comparison: no search has a completed trial with a value.")
    fig = _figure(8, 4.8)
    ax = fig.add_subplot()
    for i, (name, runs) in enumerate(data.items()):
        _draw_group(ax, name, runs, f"C{i % 10}")
    ax.set_xlabel("trial number")
    ax.set_ylabel(f"best {metric or 'value'} so far", **PLAIN)
    mode = all_modes.pop()
    band = "; band: 25th-75th percentile" if any(len(r) > 1 for r in data.values()) else ""
    ax.set_title(f"best {metric or 'value'} so far "
                 f"({'lower' if mode == 'min' else 'higher'} is better{band})", **PLAIN)
    ax.grid(alpha=0.3)
    _legend(ax, loc="best", fontsize="small")
    return fig
