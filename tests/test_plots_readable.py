"""What the plots show stays readable on awkward studies: narrow log integer ranges,
outliers, sparse contours, comparisons of single runs. Real searches, drawn on Agg."""

from __future__ import annotations

import math

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402

from hpcore import GridSearch, Integer, RandomSearch, Real  # noqa: E402
from hpcore.analysis import contour, plots  # noqa: E402


def _drawn(fig):
    """``fig`` drawn on an Agg canvas (tick labels laid out); returns its renderer."""
    FigureCanvasAgg(fig).draw()
    return fig.canvas.get_renderer()


def _visible_tick_labels(ax, renderer):
    """(text, display extent) of every labelled tick, major and minor, in the view."""
    lo, hi = sorted(ax.get_xlim())
    return [(t.get_text(), t.get_window_extent(renderer))
            for t in ax.xaxis.get_ticklabels(which="both")
            if t.get_visible() and t.get_text() and lo <= t.get_position()[0] <= hi]


@pytest.mark.parametrize("low, high", [(2, 64), (16, 256), (50, 900), (1, 100_000)])
def test_slice_of_a_log_integer_has_tick_labels_that_do_not_overlap(low, high):
    search = RandomSearch({}, {"n": Integer(low, high, log=True), "x": Real(0.0, 1.0)},
                          n_trials=12, random_state=0)
    search.run(lambda c: math.log(c["n"]) + c["x"])
    fig = plots.plot_slice(search)
    renderer = _drawn(fig)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "n" and ax.get_xscale() == "log"
    labels = _visible_tick_labels(ax, renderer)
    assert 2 <= len(labels) <= 5, [t for t, _ in labels]
    for i, (a, box_a) in enumerate(labels):
        for b, box_b in labels[i + 1:]:
            assert not box_a.overlaps(box_b), f"tick labels {a!r} and {b!r} overlap"
    texts = [t for t, _ in labels]
    assert all(t.isdigit() for t in texts), texts  # plain integers, not 2x10^1
    assert all(low <= int(t) <= high for t in texts)


def _grid_study(value_of):
    """Ten trials at x = 0, 1/9, ..., 1 (a real grid search), valued by ``value_of(x)``."""
    search = GridSearch({}, {"x": Real(0.0, 1.0, grid_points=10)})
    search.run(lambda c: value_of(c["x"]))
    return search


@pytest.mark.parametrize("bulk", [0.1, -1.0], ids=["positive", "negative"])
def test_history_keeps_the_bulk_readable_next_to_one_outlier(bulk):
    search = _grid_study(lambda x: 1e6 if x == 1.0 else bulk + 0.01 * x)
    (outlier,) = [t for t in search.trials if t.value == 1e6]
    values = [t.value for t in search.trials if t is not outlier]
    ax = plots.plot_history(search).axes[0]
    lo, hi = ax.get_ylim()
    assert ax.get_yscale() == "linear"
    assert lo <= min(values) and max(values) <= hi
    # the bulk fills most of the axis instead of a sliver at its bottom
    assert (max(values) - min(values)) / (hi - lo) > 0.8
    (marks,) = [c for c in ax.collections if c.get_gid() == "off-scale"]
    assert marks.get_label() == "above the axis (1)"
    assert [tuple(p) for p in marks.get_offsets()] == [(outlier.trial_id, 0.98)]


def test_history_of_values_over_many_decades_is_logarithmic_and_uncut():
    search = _grid_study(lambda x: 10.0 ** (6 * x))
    ax = plots.plot_history(search).axes[0]
    assert ax.get_yscale() == "log"
    lo, hi = ax.get_ylim()
    assert lo <= 1.0 and 1e6 <= hi
    assert not [c for c in ax.collections if c.get_gid() == "off-scale"]


def test_history_of_ordinary_values_is_unchanged():
    search = _grid_study(lambda x: (x - 0.3) ** 2)
    ax = plots.plot_history(search).axes[0]
    lo, hi = ax.get_ylim()
    assert ax.get_yscale() == "linear" and lo <= 0.0 and 0.49 <= hi
    assert not [c for c in ax.collections if c.get_gid() == "off-scale"]


def _pixel(fig, ax, x, y):
    """The RGB colour drawn at data point (x, y), a 5x5 median (0-1 floats), legend hidden."""
    ax.get_legend().set_visible(False)
    _drawn(fig)
    rgba = np.asarray(fig.canvas.buffer_rgba())
    px, py = ax.transData.transform((x, y))
    row, col = int(round(rgba.shape[0] - py)), int(round(px))
    return np.median(rgba[row - 2:row + 3, col - 2:col + 3, :3].reshape(-1, 3), axis=0) / 255


def _bowl(c):
    return (c["x"] - 0.3) ** 2 + 0.5 * c["y"]


def test_contour_leaves_the_area_no_trial_backs_unpainted():
    search = RandomSearch({}, {"x": Real(0.0, 1.0), "y": Real(0.0, 1.0)}, n_trials=4,
                          random_state=0)
    search.run(_bowl)
    trials = np.array([[t.params["x"], t.params["y"]] for t in search.trials])
    corners = np.array([[0.02, 0.02], [0.02, 0.98], [0.98, 0.02], [0.98, 0.98]])
    far = corners[np.argmax([np.min(np.hypot(*(trials - c).T)) for c in corners])]
    assert np.min(np.hypot(*(trials - far).T)) > 0.5  # no trial near that corner
    fig = plots.plot_contour(search, params=["x", "y"])
    ax = fig.axes[0]
    grey = np.array(matplotlib.colors.to_rgb(contour.UNSURE_COLOUR))
    np.testing.assert_allclose(_pixel(fig, ax, *far), grey, atol=0.02)
    # the trials themselves are backed: the surface is painted next to them
    near = trials[0] + np.array([0.02, 0.02])
    assert np.abs(_pixel(fig, ax, *near) - grey).max() > 0.05
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "too few trials near (GP unsure)" in labels


def test_contour_of_a_well_sampled_study_is_painted_everywhere():
    search = GridSearch({}, {"x": Real(0.0, 1.0, grid_points=5),
                             "y": Real(0.0, 1.0, grid_points=5)})
    search.run(_bowl)
    fig = plots.plot_contour(search, params=["x", "y"])
    ax = fig.axes[0]
    grey = np.array(matplotlib.colors.to_rgb(contour.UNSURE_COLOUR))
    for corner in ((0.1, 0.1), (0.1, 0.9), (0.9, 0.1), (0.9, 0.9)):
        assert np.abs(_pixel(fig, ax, *corner) - grey).max() > 0.05, corner
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "too few trials near (GP unsure)" not in labels


def _runs(n, seed0=0):
    out = []
    for seed in range(seed0, seed0 + n):
        s = RandomSearch({}, {"x": Real(-1.0, 1.0)}, n_trials=5, random_state=seed)
        s.run(lambda c: c["x"] ** 2)
        out.append(s)
    return out


def test_comparison_of_single_runs_says_so_and_draws_no_band():
    fig = plots.plot_comparison({"random": _runs(1), "sobol": _runs(1, seed0=5)})
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["random", "sobol"]
    assert not any("median" in text for text in labels)
    assert not [c for c in ax.collections if c.get_gid() and c.get_gid().startswith("band:")]
    assert not ax.collections  # no (empty) interquartile band
    assert "band" not in ax.get_title() and "percentile" not in ax.get_title()
    (line,) = [ln for ln in ax.get_lines() if ln.get_gid() == "run:random"]
    assert line.get_label() == "random"


def test_comparison_mixing_single_runs_and_groups_bands_only_the_groups():
    fig = plots.plot_comparison({"seeds": _runs(3), "one": _runs(1, seed0=7)})
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["seeds (median of 3)", "one"]
    assert [c.get_gid() for c in ax.collections] == ["band:seeds"]
    assert "band: 25th-75th percentile" in ax.get_title()
