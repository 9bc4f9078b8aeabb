"""The contour plot: a GP's predicted value over two parameters, drawn only where
the trials back it. Re-exported by :mod:`.plots`.

A Gaussian process (the model :class:`~hpcore.kernels.GPModel` that
``BayesianSearch`` uses) is fit to the completed and stopped trials; its
posterior mean is drawn over the two chosen parameters, every other one at
the best trial's value. Where its posterior standard deviation is more than
``UNSURE_RATIO`` of its prior one (few or no trials near, in the model's own
length scales), the surface is not painted: that area is grey, so a value
the model merely extrapolates is never shown as the best colour.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ArgumentError
from ..space import Categorical
from ._draw import (
    PLAIN,
    _axis_value,
    _choose_params,
    _colorbar,
    _figure,
    _importances,
    _label,
    _legend,
    _log_axis,
    _numeric,
    _value_cmap,
)
from .view import View, view

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["plot_contour", "gp_surface", "Surface", "UNSURE_RATIO", "UNSURE_COLOUR"]

#: The surface is left unpainted where the GP's posterior standard deviation exceeds
#: this fraction of its prior standard deviation (the trials explain less than
#: 1 - 0.5² = 75% of its prior variance there).
UNSURE_RATIO = 0.5
#: The colour of the unpainted area.
UNSURE_COLOUR = "#d9d9d9"


@dataclass(frozen=True)
class Surface:
    """A GP's posterior mean over two parameters: what the contour plot and the
    dashboard draw.

    Attributes
    ----------
    keys : list of str
        The x and y parameters.
    done : list of FrozenTrial
        The trials the GP was fit to (in the space).
    X : ndarray (n, d)
        Their model arrays (unit-cube coordinates, categoricals by level).
    ix, iy : int
        The two parameters' columns in ``X``.
    coords : list of ndarray
        The grid of each axis in parameter units (level indices for a categorical).
    surface : ndarray (len(coords[1]), len(coords[0]))
        The posterior mean, in the metric's units.
    unsure : ndarray of bool, same shape
        Where the posterior standard deviation exceeds ``UNSURE_RATIO`` of the prior's.
    """

    keys: list[str]
    done: list[Any]
    X: np.ndarray
    ix: int
    iy: int
    coords: list[np.ndarray]
    surface: np.ndarray
    unsure: np.ndarray


def gp_surface(
    obj: Any,
    params: Sequence[str] | None = None,
    importances: Mapping[str, float] | None = None,
    resolution: int = 60,
    max_points: int = 500,
) -> Surface:
    """The numbers of :func:`plot_contour`, without drawing (no matplotlib needed).

    Same parameters as :func:`plot_contour`; the other parameters are held at
    the best trial's values.
    """
    study = view(obj)
    keys = _contour_keys(obj, study, params, importances)
    return _fit(study, keys, int(resolution), int(max_points))


def plot_contour(
    obj: Any,
    params: Sequence[str] | None = None,
    importances: Mapping[str, float] | None = None,
    resolution: int = 60,
    max_points: int = 500,
) -> Figure:
    """The GP's predicted value over two parameters, with the trials as points.

    A Gaussian process (:func:`hpcore.kernels.fit_gp`, Matérn-5/2 ARD) is
    fit to the completed and stopped trials: inputs are their unit-cube
    coordinates (categoricals by index, under a Hamming distance), values
    standardised. Its posterior mean, in the metric's units, is drawn over
    the two chosen parameters, with every other parameter fixed at the
    best trial's value. Where the posterior standard deviation exceeds
    ``UNSURE_RATIO`` (0.5) of the prior one, too few trials back the
    surface: it is left grey there (a legend entry says so), and when no
    point of the grid is backed, a note replaces the surface. Axes are in
    parameter units (log scale for log dimensions); the best trial is a star.

    Parameters
    ----------
    obj : BaseSearch or StudyResults
    params : pair of str, optional
        The x and y parameters; default: the two most important.
    importances : mapping of str to float, optional
        Used to pick the two most important parameters when ``params`` is
        not given; default :func:`hpcore.analysis.importance`.
    resolution : int
        Grid points per continuous axis.
    max_points : int
        The GP is fit to at most this many trials (the best one and a
        seeded random sample of the others): its fit costs O(n^3).
    """
    study = view(obj)
    fit = gp_surface(study, params, importances, resolution, max_points)
    keys = fit.keys
    fig = _figure(7, 5.5)
    ax = fig.add_subplot()
    _draw_surface(fig, ax, study, fit)
    _draw_trials(ax, study, fit)
    _contour_axes(ax, study, fit, keys)
    handles, _ = ax.get_legend_handles_labels()
    if fit.unsure.any():
        from matplotlib.patches import Patch

        handles.append(Patch(facecolor=UNSURE_COLOUR, edgecolor="none",
                             label="too few trials near (GP unsure)"))
    _legend(ax, handles=handles, loc="best", fontsize="small")
    return fig


def _contour_keys(obj: Any, study: View, params: Sequence[str] | None,
                  importances: Mapping[str, float] | None) -> list[str]:
    if len(study.space) < 2:
        raise ArgumentError(
            f"plot_contour needs two parameters; the space has only {list(study.space)}."
        )
    if params is None:
        imp = _importances(obj, importances)
        ranked = [k for k in imp if k in study.space]
        ranked += [k for k in study.space if k not in ranked]
        return ranked[:2]
    keys = _choose_params(study, params, "plot_contour")
    if len(keys) != 2 or keys[0] == keys[1]:
        raise ArgumentError(f"plot_contour: params must name two parameters, got {keys}.")
    return keys


def _trials_in_space(study: View, max_points: int) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """The trials to fit (at most ``max_points``, the best kept), their arrays and values."""
    done = study.need_scored("plot_contour", at_least=3)
    best = study.best
    if len(done) > max(max_points, 3):
        others = [t for t in done if t is not best]
        pick = np.random.default_rng(0).choice(len(others), max_points - 1, replace=False)
        done = sorted([best, *(others[i] for i in pick)], key=lambda t: t.trial_id)
    X = study.space.model_arrays([t.params for t in done])  # NaN: outside the space
    y = np.array([t.value for t in done], dtype=np.float64)
    ok = np.all(np.isfinite(X), axis=1)
    if ok.sum() < 3:
        raise ArgumentError(
            "plot_contour needs at least 3 trials whose parameters lie in the space; "
            f"{study.name!r} has {int(ok.sum())}."
        )
    return [t for t, k in zip(done, ok) if k], X[ok], y[ok]


def _fit(study: View, keys: list[str], resolution: int, max_points: int) -> Surface:
    """Fit the GP and evaluate its mean and how unsure it is over the two axes."""
    from .. import kernels

    done, X, y = _trials_in_space(study, max_points)
    scaled = kernels.standardize(y)
    ys, mu, sd = scaled if scaled is not None else (y - y.mean(), float(y.mean()), 1.0)
    model = kernels.GPModel.fit(X, ys, study.space.model_cat, seed=0)
    names = list(study.space)
    ix, iy = names.index(keys[0]), names.index(keys[1])
    grids, coords = [], []
    for j in (ix, iy):
        dim = study.space[names[j]]
        if isinstance(dim, Categorical):
            grids.append(np.arange(len(dim.choices), dtype=np.float64))
            coords.append(grids[-1])
        else:
            grids.append(np.linspace(0.0, 1.0, resolution))
            coords.append(_axis_value(dim, grids[-1]))
    gx, gy = np.meshgrid(grids[0], grids[1])
    Z = np.tile(study.space.model_features(study.best.params), (gx.size, 1))  # type: ignore[union-attr]
    Z[:, ix], Z[:, iy] = gx.ravel(), gy.ravel()
    mean, var = model.posterior(Z)
    prior = math.exp(model.theta[X.shape[1]])  # the kernel's signal variance
    unsure = np.sqrt(var / prior) > UNSURE_RATIO
    return Surface(keys, done, X, ix, iy, coords, (mean * sd + mu).reshape(gx.shape),
                unsure.reshape(gx.shape))


def _draw_surface(fig: Figure, ax: Any, study: View, fit: Surface) -> None:
    """The posterior mean where the GP is sure enough, grey elsewhere, and its colour bar."""
    ax.set_facecolor(UNSURE_COLOUR)
    if fit.unsure.all():
        ax.text(0.5, 0.5, "too few trials for a surface:\nthe GP is unsure everywhere",
                transform=ax.transAxes, ha="center", va="center", color="#444444")
        return
    surface = np.ma.masked_array(fit.surface, mask=fit.unsure)
    cx, cy = np.meshgrid(fit.coords[0], fit.coords[1])
    cmap = _value_cmap(study.mode)
    if study.space.model_cat[fit.ix] or study.space.model_cat[fit.iy]:
        mesh = ax.pcolormesh(cx, cy, surface, cmap=cmap, shading="nearest")
    else:
        mesh = ax.contourf(cx, cy, surface, levels=14, cmap=cmap)
        ax.contour(cx, cy, surface, levels=14, colors="black", linewidths=0.3, alpha=0.5)
    _colorbar(fig, mesh, f"predicted {study.label}", ax=ax)


def _draw_trials(ax: Any, study: View, fit: Surface) -> None:
    """The trials as points (categoricals jittered) and the best one as a star."""
    names = list(study.space)
    rng = np.random.default_rng(0)
    pts = []
    for j in (fit.ix, fit.iy):
        if study.space.model_cat[j]:
            pts.append(fit.X[:, j] + rng.uniform(-0.12, 0.12, len(fit.X)))
        else:
            pts.append(np.array([_numeric(t.params.get(names[j])) for t in fit.done]))
    ax.scatter(pts[0], pts[1], s=22, facecolors="white", edgecolors="black", lw=0.8,
               label="trials", zorder=3)
    best = study.best
    if best in fit.done:
        b = fit.done.index(best)
        ax.scatter([pts[0][b]], [pts[1][b]], marker="*", s=220, color="red",
                   edgecolors="black", label=f"best (trial {best.trial_id})", zorder=4)  # type: ignore[union-attr]


def _contour_axes(ax: Any, study: View, fit: Surface, keys: list[str]) -> None:
    """Scales, ticks, labels and the title."""
    names = list(study.space)
    for j, set_scale, set_ticks, axis in ((fit.ix, ax.set_xscale, ax.set_xticks, ax.xaxis),
                                          (fit.iy, ax.set_yscale, ax.set_yticks, ax.yaxis)):
        dim = study.space[names[j]]
        if isinstance(dim, Categorical):
            set_ticks(range(len(dim.choices)), labels=[_label(c) for c in dim.choices], **PLAIN)
        elif dim.log:  # type: ignore[attr-defined]
            set_scale("log")
            _log_axis(axis, dim)
    ax.set_xlabel(keys[0], **PLAIN)
    ax.set_ylabel(keys[1], **PLAIN)
    others = [k for k in names if k not in keys]
    ax.set_title(
        f"{study.name}: GP mean of {study.label}"
        + ("\n(other parameters at the best trial's values)" if others else ""),
        **PLAIN,
    )
