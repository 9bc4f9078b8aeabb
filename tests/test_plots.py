"""hpcore.analysis.plots on real studies: every plot renders on Agg, and what it shows is right."""

from __future__ import annotations

import math
import struct
import threading

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from helpers import plot_fns  # noqa: E402

import hpcore  # noqa: E402
from hpcore import (  # noqa: E402
    ArgumentError,
    RandomSearch,
    Real,
    SearchError,
    TrialState,
)
from hpcore.analysis import plots  # noqa: E402

IMPORTANCES = {"lr": 0.7, "act": 0.15, "dropout": 0.1, "width": 0.05}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A loaded RandomSearch study: completed, stopped and failed trials with curves."""
    root = tmp_path_factory.mktemp("random")
    plot_fns.run_random(root)
    loaded = hpcore.load(root)
    counts = loaded.counts()
    assert counts["completed"] >= 3 and counts["stopped"] >= 2 and counts["failed"] >= 1, counts
    return loaded


@pytest.fixture(scope="module")
def bayes(tmp_path_factory):
    root = tmp_path_factory.mktemp("bayes")
    plot_fns.run_bayesian(root)
    return hpcore.load(root)


@pytest.fixture(scope="module")
def max_search():
    """An in-memory search (no experiment root) that maximises accuracy."""
    search = RandomSearch({}, plot_fns.SPACE, metric="acc", mode="max", n_trials=10,
                          random_state=1)
    search.run(plot_fns.accuracy_fn)
    return search


def _check_png(path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert 300 <= width <= 3000 and 200 <= height <= 3000, (width, height)
    assert len(data) > 5_000, f"{path} is suspiciously small ({len(data)} bytes)"


def _scored(trials):
    return [t for t in trials if t.state.can_be_best and t.value is not None
            and math.isfinite(t.value)]


DRAW = {
    "history": lambda s: plots.plot_history(s),
    "importance": lambda s: plots.plot_importance(s, importances=IMPORTANCES),
    "parallel_coordinates": lambda s: plots.plot_parallel_coordinates(s),
    "slice": lambda s: plots.plot_slice(s),
    "contour": lambda s: plots.plot_contour(s, importances=IMPORTANCES),
    "learning_curves": lambda s: plots.plot_learning_curves(s),
}


@pytest.mark.parametrize("name", sorted(DRAW))
def test_every_plot_renders_a_png_from_a_loaded_study(study, name, tmp_path):
    fig = DRAW[name](study)
    assert isinstance(fig, matplotlib.figure.Figure)
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    _check_png(path)


def test_comparison_renders_a_png(study, max_search, tmp_path):
    fig = plots.plot_comparison({"random": [study, study]})
    fig.savefig(tmp_path / "comparison.png")
    _check_png(tmp_path / "comparison.png")


def _best_line(fig):
    (ax,) = fig.axes
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "best so far"]
    return ax, line


def _legend_scatter(ax, label):
    (coll,) = [c for c in ax.collections if c.get_label() == label]
    return coll.get_offsets()


@pytest.mark.parametrize("which", ["loaded study (min)", "search object (max)"])
def test_history_best_so_far_is_monotone_and_ends_at_the_best_value(
    study, max_search, which
):
    obj = study if which.startswith("loaded") else max_search
    best = obj.best_trial
    ax, line = _best_line(plots.plot_history(obj))
    x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
    steps = np.diff(y)
    if obj.mode == "min":
        assert np.all(steps <= 0)
    else:
        assert np.all(steps >= 0)
    assert y[-1] == best.value
    assert x[-1] == max(t.trial_id for t in obj.trials)
    assert line.get_drawstyle() == "steps-post"
    # where the line drops (or rises), a trial reached that value at that id
    values = {t.trial_id: t.value for t in _scored(obj.trials)}
    for i in np.flatnonzero(steps) + 1:
        assert values[int(x[i])] == y[i]


def test_history_marks_completed_stopped_and_failed_trials_apart(study):
    ax, _ = _best_line(plots.plot_history(study))
    for label, state in (("completed", TrialState.COMPLETED), ("stopped", TrialState.STOPPED),
                         ("failed / timed out", TrialState.FAILED)):
        ids = sorted(t.trial_id for t in study.trials if t.state is state)
        offsets = _legend_scatter(ax, label)
        assert sorted(offsets[:, 0].astype(int)) == ids, label
    stopped = {t.trial_id: t.value for t in study.trials if t.state is TrialState.STOPPED}
    for x, y in _legend_scatter(ax, "stopped"):
        assert stopped[int(x)] == pytest.approx(y)


def test_learning_curves_mark_stopped_trials_where_they_stopped(study):
    fig = plots.plot_learning_curves(study)
    (ax,) = fig.axes
    best = study.best_trial
    (marks,) = [ln for ln in ax.get_lines() if ln.get_gid() == "stopped"]
    expected = {
        (t.reports[-1]["step"], t.reports[-1]["value"])
        for t in study.trials
        if t.state is TrialState.STOPPED and t.trial_id != best.trial_id
    }
    assert expected, "the study should have stopped trials"
    assert set(zip(marks.get_xdata(), marks.get_ydata())) == expected
    assert marks.get_marker() == "x"
    # stopped trials end before the last epoch; completed ones run every epoch
    assert max(s for s, _ in expected) < plot_fns.EPOCHS - 1
    (best_line,) = [ln for ln in ax.get_lines() if ln.get_gid() == "best"]
    assert list(best_line.get_ydata()) == [r["value"] for r in best.reports]
    assert best_line.get_linewidth() > max(
        ln.get_linewidth() for ln in ax.get_lines() if ln.get_gid() is None
    )


def test_learning_curves_keep_the_best_trial_when_capped(study):
    fig = plots.plot_learning_curves(study, max_trials=4)
    (ax,) = fig.axes
    curves = [ln for ln in ax.get_lines() if ln.get_gid() in (None, "best")]
    assert len(curves) == 4
    assert any(ln.get_gid() == "best" for ln in curves)
    with pytest.raises(ArgumentError, match="max_trials must be an int >= 1, got 0"):
        plots.plot_learning_curves(study, max_trials=0)


def test_parallel_coordinates_put_log_ranges_in_log_space_and_choices_on_levels(study):
    fig = plots.plot_parallel_coordinates(study)
    ax = fig.axes[0]
    (lines,) = [c for c in ax.collections if c.get_gid() == "trials"]
    segments = lines.get_segments()
    scored = _scored(study.trials)
    assert len(segments) == len(scored)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["lr", "width", "act", "dropout", "val_loss"]
    # match each segment to its trial by the value axis, then check every vertex
    lo = min(t.value for t in scored)
    hi = max(t.value for t in scored)
    by_value = {round((t.value - lo) / (hi - lo), 9): t for t in scored}
    for seg in segments:
        t = by_value[round(seg[-1, 1], 9)]
        lr, width, act, dropout = seg[:4, 1]
        assert lr == pytest.approx(math.log(t.params["lr"] / 1e-4) / math.log(1e3))
        assert dropout == pytest.approx(t.params["dropout"] / 0.5)
        assert act == pytest.approx((["relu", "tanh", "gelu"].index(t.params["act"]) + 0.5) / 3)
        lo_w, hi_w = math.log(7.5), math.log(128.5)
        assert width == pytest.approx((
            0.5 * (math.log(t.params["width"] - 0.5) + math.log(t.params["width"] + 0.5)) - lo_w
        ) / (hi_w - lo_w))
    np.testing.assert_allclose(sorted(lines.get_array()), sorted(t.value for t in scored))


def test_slice_uses_log_axes_and_jittered_levels(study):
    fig = plots.plot_slice(study)
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_xlabel()]
    assert [ax.get_xlabel() for ax in axes] == ["lr", "width", "act", "dropout"]
    by_key = {ax.get_xlabel(): ax for ax in axes}
    assert by_key["lr"].get_xscale() == "log" and by_key["width"].get_xscale() == "log"
    assert by_key["dropout"].get_xscale() == "linear"
    act = by_key["act"]
    assert [t.get_text() for t in act.get_xticklabels()] == ["relu", "tanh", "gelu"]
    scored = _scored(study.trials)
    points = np.vstack([c.get_offsets() for c in act.collections])
    assert len(points) == len(scored)
    assert np.all(np.abs(points[:, 0] - np.round(points[:, 0])) <= 0.15)
    value_of = {(["relu", "tanh", "gelu"].index(t.params["act"]), t.value) for t in scored}
    assert {(int(round(x)), y) for x, y in points} == value_of


def test_contour_axes_are_the_two_most_important_parameters(study):
    fig = plots.plot_contour(study, importances={"width": 0.1, "dropout": 0.5, "lr": 0.3,
                                                 "act": 0.1})
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("dropout", "lr")
    assert ax.get_yscale() == "log" and ax.get_xscale() == "linear"
    best = study.best_trial
    (star,) = [c for c in ax.collections if c.get_label().startswith("best")]
    assert tuple(star.get_offsets()[0]) == pytest.approx((best.params["dropout"],
                                                          best.params["lr"]))
    (points,) = [c for c in ax.collections if c.get_label() == "trials"]
    assert len(points.get_offsets()) == len(_scored(study.trials))


def test_contour_fits_at_most_max_points_trials_and_keeps_the_best(study):
    ax = plots.plot_contour(study, params=["lr", "dropout"], max_points=5).axes[0]
    (points,) = [c for c in ax.collections if c.get_label() == "trials"]
    assert len(points.get_offsets()) == 5
    best = study.best_trial
    (star,) = [c for c in ax.collections if c.get_label() == f"best (trial {best.trial_id})"]
    assert tuple(star.get_offsets()[0]) == pytest.approx((best.params["lr"],
                                                          best.params["dropout"]))


def test_contour_of_a_bayesian_study_follows_analysis_importance(bayes):
    analysis = pytest.importorskip("hpcore.analysis")
    top = list(analysis.importance(bayes))[:2]
    ax = plots.plot_contour(bayes).axes[0]
    assert [ax.get_xlabel(), ax.get_ylabel()] == top


def test_contour_of_a_bayesian_study_over_chosen_parameters(bayes, tmp_path):
    fig = plots.plot_contour(bayes, params=["x", "c"])
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "c")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    fig.savefig(tmp_path / "contour.png")
    _check_png(tmp_path / "contour.png")
    # the GP's mean is drawn on the metric's scale: its range covers the trials' values
    values = [t.value for t in _scored(bayes.trials)]
    (mesh,) = [c for c in ax.collections if c.get_array() is not None and c.get_label() != "trials"
               and not c.get_label().startswith("best")]
    surface = np.asarray(mesh.get_array())
    assert surface.min() < np.median(values) < surface.max()


def _bars_top_down(ax):
    """(label, bar length) from the top of the chart down."""
    labels = dict(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels())))
    bars = sorted(ax.patches, key=lambda p: -p.get_y())
    return [(labels[p.get_y() + p.get_height() / 2], p.get_width()) for p in bars]


def test_importance_bars_are_sorted_and_labelled(study):
    fig = plots.plot_importance(study, importances={"width": 0.05, "lr": 0.7, "act": 0.25})
    assert _bars_top_down(fig.axes[0]) == [("lr", 0.7), ("act", 0.25), ("width", 0.05)]


def test_importance_from_analysis_when_available(study):
    analysis = pytest.importorskip("hpcore.analysis")
    expected = analysis.importance(study)
    bars = _bars_top_down(plots.plot_importance(study).axes[0])
    assert [name for name, _ in bars] == sorted(expected, key=lambda k: -expected[k])
    assert [w for _, w in bars] == pytest.approx(sorted(expected.values(), reverse=True))


def test_comparison_draws_the_median_of_each_group(tmp_path):
    def best_so_far(search):
        values = [t.value for t in sorted(search.trials, key=lambda t: t.trial_id)]
        return np.minimum.accumulate(values)

    runs = []
    for seed in range(3):
        s = RandomSearch({}, {"x": Real(-1.0, 1.0)}, n_trials=6 + seed, random_state=seed)
        s.run(lambda c: c["x"] ** 2)
        runs.append(s)
    fig = plots.plot_comparison({"random": runs, "one": runs[0]})
    ax = fig.axes[0]
    (median,) = [ln for ln in ax.get_lines() if ln.get_gid() == "median:random"]
    y = np.asarray(median.get_ydata())
    curves = [best_so_far(s) for s in runs]
    expected = [np.median([c[i] for c in curves if len(c) > i]) for i in range(8)]
    np.testing.assert_allclose(y, expected)
    assert list(median.get_xdata()) == list(range(1, 9))
    (single,) = [ln for ln in ax.get_lines() if ln.get_gid() == "run:one"]
    np.testing.assert_allclose(single.get_ydata(), curves[0])


def test_comparison_refuses_mixed_modes(study, max_search):
    with pytest.raises(ArgumentError, match="share one mode"):
        plots.plot_comparison({"a": [study], "b": [max_search]})
    with pytest.raises(ArgumentError, match="non-empty mapping"):
        plots.plot_comparison({})


def test_clear_errors_when_there_is_nothing_to_plot(tmp_path):
    search = RandomSearch({}, {"x": Real(0, 1), "y": Real(0, 1)}, n_trials=2, random_state=0)
    with pytest.raises(SearchError):
        search.run(plot_fns.always_fails)
    for fn in (plots.plot_history, plots.plot_parallel_coordinates, plots.plot_slice):
        with pytest.raises(ArgumentError, match=r"needs at least 1 completed .*has 0 \(trials: 2 failed\)"):
            fn(search)
    with pytest.raises(ArgumentError, match="plot_contour needs at least 3 completed"):
        plots.plot_contour(search, params=["x", "y"])
    with pytest.raises(ArgumentError, match="no trial of 'RandomSearch' called trial.report"):
        plots.plot_learning_curves(search)


def test_clear_errors_for_bad_arguments(study, tmp_path):
    with pytest.raises(ArgumentError, match=r"unknown parameter\(s\) \['nope'\]"):
        plots.plot_slice(study, params=["lr", "nope"])
    with pytest.raises(ArgumentError, match="params must name two parameters"):
        plots.plot_contour(study, params=["lr"])
    with pytest.raises(ArgumentError, match="expected a search .* got dict"):
        plots.plot_history({"trials": []})
    one = RandomSearch({}, {"x": Real(0, 1)}, n_trials=3, random_state=0)
    one.run(lambda c: c["x"])
    with pytest.raises(ArgumentError, match=r"needs two parameters; the space has only \['x'\]"):
        plots.plot_contour(one)


def test_no_curves_means_no_learning_curves(tmp_path):
    search = RandomSearch({}, plot_fns.SPACE, metric="val_loss", n_trials=3, random_state=0)
    search.run(plot_fns.no_report_fn, experiment_root=tmp_path)
    with pytest.raises(ArgumentError, match="needs reported curves"):
        plots.plot_learning_curves(hpcore.load(tmp_path))


def test_plots_draw_in_threads_without_pyplot(study, tmp_path):
    import sys

    errors = []

    def draw(i):
        try:
            plots.plot_history(study).savefig(tmp_path / f"h{i}.png")
            plots.plot_slice(study).savefig(tmp_path / f"s{i}.png")
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=draw, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i in range(2):
        _check_png(tmp_path / f"h{i}.png")
    assert "matplotlib.pyplot" not in sys.modules or not _pyplot_figures()


def _pyplot_figures():
    import matplotlib.pyplot as plt

    return plt.get_fignums()
