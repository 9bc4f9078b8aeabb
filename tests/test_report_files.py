"""The report's files: user strings with ``$`` (no mathtext), extra metrics as columns,
and every file written without following a planted symlink."""

from __future__ import annotations

import csv
import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from helpers import plot_fns  # noqa: E402

import hpcore  # noqa: E402
from hpcore.analysis import plots, save_results  # noqa: E402
from hpcore.analysis.report import PLOTS, write_report  # noqa: E402


def _hpcore(*args):
    return subprocess.run([sys.executable, "-m", "hpcore", *map(str, args)],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def dollar_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("dollar") / "root"
    plot_fns.run_dollar(root)
    return root


def _user_texts(fig):
    """Every text artist showing a ``$`` that came from the user (not a tick formatter's)."""
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text)
            if "$" in t.get_text() and "\\mathdefault" not in t.get_text()]


def test_dollar_signs_in_user_strings_draw_as_plain_text(dollar_root, tmp_path):
    study = hpcore.load(dollar_root)
    draw = {
        "history": plots.plot_history,
        "importance": lambda s: plots.plot_importance(s, importances={"fee$_$": 0.5,
                                                                      "plan": 0.3, "x": 0.2}),
        "contour": lambda s: plots.plot_contour(s, params=["fee$_$", "plan"]),
        "parallel_coordinates": plots.plot_parallel_coordinates,
        "slice": plots.plot_slice,
        "learning_curves": plots.plot_learning_curves,
        "comparison": lambda s: plots.plot_comparison({"$a$^": [s], "b$_$": [s, s]}),
    }
    for name, fn in draw.items():
        fig = fn(study)
        fig.savefig(tmp_path / f"{name}.png")  # mathtext would raise here
        texts = _user_texts(fig)
        assert texts, name
        for t in texts:
            assert t.get_parse_math() is False and t.get_usetex() is False, (name, t.get_text())
    slice_ax = plots.plot_slice(study).axes[1]
    assert [t.get_text() for t in slice_ax.get_xticklabels()] == ["$5", "$10", "$x^$"]


@pytest.mark.parametrize("how", ["python", "cli"])
def test_a_report_with_dollar_signs_writes_every_png_and_the_page(dollar_root, tmp_path, how):
    out = tmp_path / "report"
    if how == "python":
        page = write_report(hpcore.load(dollar_root), out)
    else:
        done = _hpcore("report", dollar_root, "--out", out)
        assert done.returncode == 0, done.stderr
        page = Path(done.stdout.strip())
    assert page == out / "report.html" and page.is_file()
    text = page.read_text(encoding="utf-8")
    assert "Not drawn" not in text
    for stem, _, _ in PLOTS:
        assert (out / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", stem
    assert "$x^$" in text and "fee$_$" in text


def _two_metrics(config):
    loss = (config["x"] - 0.3) ** 2
    return {"val_loss": loss, "val_acc": 1.0 - loss, "note": "not a number"}


@pytest.fixture(scope="module")
def two_metrics(tmp_path_factory):
    root = tmp_path_factory.mktemp("metrics") / "root"
    search = hpcore.RandomSearch({}, {"x": hpcore.Real(0.0, 1.0)}, metric="val_loss",
                                 n_trials=5, random_state=0)
    search.run(_two_metrics, experiment_root=root)
    return search, root


def _cells(row_html):
    return [html.unescape(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row_html)]


def test_extra_metrics_are_columns_of_the_report_tables(two_metrics, tmp_path):
    search, root = two_metrics
    text = write_report(hpcore.load(root), tmp_path / "out",
                        importances={"x": 1.0}).read_text(encoding="utf-8")
    everything = text.split("<details>", 1)[1].split("</details>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", everything, flags=re.S)
    header = _cells(rows[0])
    assert header == ["trial", "state", "val_loss", "time (s)", "x", "val_acc", "error"]
    for t, row in zip(sorted(search.trials, key=lambda t: t.trial_id), rows[1:]):
        assert _cells(row)[5] == f"{t.metrics['val_acc']:.6g}"
    top = text.split('<section id="trials">', 1)[1].split("<details>", 1)[0]
    assert "<th>val_acc</th>" in top


@pytest.mark.parametrize("source", ["search", "loaded study"])
def test_extra_metrics_are_columns_of_trials_csv(two_metrics, tmp_path, source):
    search, root = two_metrics
    obj = search if source == "search" else hpcore.load(root)
    save_results(obj, tmp_path)
    with open(tmp_path / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["trial_id", "state", "value", "duration", "error", "x", "val_acc"]
    by_id = {t.trial_id: t for t in search.trials}
    for row in rows:
        t = by_id[int(row["trial_id"])]
        assert float(row["val_acc"]) == t.metrics["val_acc"]
        assert float(row["value"]) == t.metrics["val_loss"]
