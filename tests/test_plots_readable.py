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
from hpcore.analysis import plots  # noqa: E402


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
