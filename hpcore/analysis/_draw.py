"""What every plot shares: colours, the figure, axis coordinates and labels, the best so far."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ArgumentError
from ..space import Categorical, Dimension, Integer
from ..trial import TrialState
from .view import View

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


#: Marker colours by outcome, shared by every plot.
_COLOURS = {
    "completed": "#1f77b4",
    "stopped": "#ff7f0e",
    "failed": "#d62728",
    "best": "#2ca02c",
    "other": "#7f7f7f",
}
_FAILED = (TrialState.FAILED, TrialState.TIMED_OUT)

#: Text properties of every string drawn from user data (parameter names, choices,
#: metric, study and group names): drawn as typed, never parsed as mathtext or TeX,
#: so ``$5`` stays ``$5`` and ``a$_$b`` cannot break a figure.
PLAIN: dict[str, Any] = {"parse_math": False, "usetex": False}


def _legend(ax: Any, **kwargs: Any) -> Any:
    """``ax.legend(**kwargs)`` with its labels drawn as plain text."""
    legend = ax.legend(**kwargs)
    for text in legend.get_texts():
        text.set(**PLAIN)
    return legend


def _colorbar(fig: Figure, mappable: Any, label: str, **kwargs: Any) -> Any:
    """``fig.colorbar`` with ``label`` drawn as plain text."""
    bar = fig.colorbar(mappable, **kwargs)
    bar.set_label(label, **PLAIN)
    return bar


def _choose_params(study: View, params: Sequence[str] | None, what: str) -> list[str]:
    keys = list(study.space)
    if params is None:
        return keys
    if isinstance(params, str):
        params = [params]
    chosen = list(params)
    unknown = [p for p in chosen if p not in study.space]
    if unknown:
        raise ArgumentError(f"{what}: unknown parameter(s) {unknown}; the space has {keys}.")
    if not chosen:
        raise ArgumentError(f"{what}: params is empty; choose some of {keys}.")
    return chosen


# ---------------------------------------------------------------------------
# Coordinates
# ---------------------------------------------------------------------------


def _level(dim: Dimension, value: Any) -> float:
    """Position of a value on a [0, 1] axis: unit-cube coordinate (log space for
    log dimensions), categoricals at the centres of equal bins."""
    if isinstance(dim, Categorical):
        level = dim.match(value)
        return math.nan if level is None else (level + 0.5) / len(dim.choices)
    return dim.to_unit(value) if dim.contains(value) else math.nan


def _axis_value(dim: Dimension, u: np.ndarray) -> np.ndarray:
    """Parameter values at unit coordinates ``u``, continuous (integers not rounded)."""
    u = np.asarray(u, dtype=np.float64)
    if isinstance(dim, Integer):
        a, b = dim._edges()
    else:
        a, b = (math.log(dim.low), math.log(dim.high)) if dim.log else (dim.low, dim.high)  # type: ignore[attr-defined]
    x = a + u * (b - a)
    return np.exp(x) if getattr(dim, "log", False) else x


#: Most labelled ticks on a log axis (slice and contour plots).
MAX_LOG_TICKS = 5


def _log_ticks(low: float, high: float, most: int = MAX_LOG_TICKS) -> list[float]:
    """At most ``most`` round values in ``[low, high]`` for a log axis.

    1, 2 and 5 times each power of ten; when that is too many, 1 and 3; then
    the powers of ten alone, every n-th decade if need be. A range holding
    fewer than two of them is labelled at its ends.
    """
    k0, k1 = math.floor(math.log10(low)), math.ceil(math.log10(high))
    for mantissas in ((1, 2, 5), (1, 3), (1,)):
        ticks = [m * 10.0**k for k in range(k0, k1 + 1) for m in mantissas
                 if low <= m * 10.0**k <= high]
        if len(ticks) <= most:
            break
    else:
        ticks = ticks[:: math.ceil(len(ticks) / most)]
    return ticks if len(ticks) >= 2 else [float(low), float(high)]


def _log_axis(axis: Any, dim: Dimension) -> None:
    """Readable ticks on a log axis of ``dim``: a few round values, plain numbers
    (integers for an :class:`Integer`), minor ticks unlabelled."""
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter

    ticks = _log_ticks(dim.low, dim.high)  # type: ignore[attr-defined]
    integer = isinstance(dim, Integer)
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FixedFormatter(
        [str(round(t)) if integer else f"{t:g}" for t in ticks]))
    axis.set_minor_formatter(NullFormatter())


#: A value axis is cut at the 10th-90th percentile range widened by this many of its
#: widths on each side; values beyond are off the scale (marked at the edge).
OFF_SCALE_WIDTHS = 2.0
#: Decades the values on the scale must span for a log value axis.
LOG_DECADES = 3


def _value_scale(values: Sequence[float]) -> tuple[str, tuple[float, float] | None]:
    """The value axis for ``values``: ``'log'`` or ``'linear'``, and limits (None: all fit).

    Outliers are judged on log10 of the values when all are positive, else on
    the values: beyond ``OFF_SCALE_WIDTHS`` times the 10th-90th percentile
    range (at least a decade, or the median's size) past either percentile,
    and only among four values or more. The axis is logarithmic when every
    value is positive and those on the scale span more than ``LOG_DECADES``
    decades; when some are off the scale, its limits are those of the others.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    positive = len(v) > 0 and bool(np.all(v > 0))
    t = np.log10(v) if positive else v
    kept = v
    if len(v) >= 4:
        p10, p90 = np.percentile(t, [10, 90])
        width = p90 - p10 or (1.0 if positive else abs(float(np.median(t))) or 1.0)
        inside = (t >= p10 - OFF_SCALE_WIDTHS * width) & (t <= p90 + OFF_SCALE_WIDTHS * width)
        kept = v[inside]
    log = positive and kept.max() / kept.min() > 10.0**LOG_DECADES
    if len(kept) == len(v):
        return ("log" if log else "linear"), None
    return ("log" if log else "linear"), _padded(float(kept.min()), float(kept.max()), log)


def _padded(lo: float, hi: float, log: bool) -> tuple[float, float]:
    """``[lo, hi]`` widened by 5% of its span (in log space for a log axis)."""
    if log:
        a, b = _padded(math.log10(lo), math.log10(hi), False)
        return 10.0**a, 10.0**b
    pad = 0.05 * (hi - lo) or 0.05 * abs(lo) or 0.05
    return lo - pad, hi + pad


def _label(value: Any, width: int = 18) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _numeric(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def _figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - matplotlib is in the dev extra
        raise ImportError(
            'hpcore plots need matplotlib: pip install "hpcore[plot]" (or matplotlib)'
        ) from exc
    return Figure(figsize=(width, height), layout="constrained")


def _best_so_far(values: Sequence[float], mode: str) -> np.ndarray:
    """Running best of ``values`` (NaN for a missing value, carried over)."""
    v = np.asarray(values, dtype=np.float64)
    fill = np.inf if mode == "min" else -np.inf
    acc = (np.minimum if mode == "min" else np.maximum).accumulate(np.where(np.isnan(v), fill, v))
    return np.where(np.isinf(acc), np.nan, acc)


def _importances(obj: Any, given: Mapping[str, float] | None) -> dict[str, float]:
    """``given`` or :func:`hpcore.analysis.importance`'s shares, the largest first."""
    if given is not None:
        out = {str(k): float(v) for k, v in given.items()}
    else:
        try:
            from .fanova import importance
        except ImportError as exc:
            raise ImportError(
                "parameter importances come from hpcore.analysis.importance, which is not "
                "available here; pass importances={'param': weight, ...}"
            ) from exc
        out = {str(k): float(v) for k, v in importance(obj).items()}
    if not out:
        raise ArgumentError("no parameter importances to plot (the mapping is empty).")
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _value_cmap(mode: str) -> str:
    # The best trials get the brightest colour in either direction.
    return "viridis_r" if mode == "min" else "viridis"
