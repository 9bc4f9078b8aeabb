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


# ---------------------------------------------------------------------------
# report files are written inside the report folder, never through a symlink
# ---------------------------------------------------------------------------


@pytest.fixture()
def small_root(tmp_path):
    root = tmp_path / "root"
    search = hpcore.RandomSearch({}, {"x": hpcore.Real(0.0, 1.0), "y": hpcore.Real(0.0, 1.0)},
                                 n_trials=4, random_state=0)
    search.run(lambda c: c["x"] + c["y"], experiment_root=root)
    return root


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("how", ["python", "cli"])
def test_a_report_folder_that_is_a_symlink_is_refused(small_root, tmp_path, how):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "history.png").write_bytes(b"not yours")
    (outside / "report.html").write_text("not yours either")
    before = _snapshot(outside)
    (small_root / "report").symlink_to(outside, target_is_directory=True)
    if how == "python":
        with pytest.raises(hpcore.ArgumentError, match=r"root/report.* is a symbolic link"):
            write_report(hpcore.load(small_root), small_root / "report")
    else:
        done = _hpcore("report", small_root)
        assert done.returncode == 1
        assert "hpcore report: error:" in done.stderr and "root/report" in done.stderr
        assert "symbolic link" in done.stderr
    assert _snapshot(outside) == before
    assert (small_root / "report").is_symlink()  # left as it was


def test_a_report_folder_that_is_a_file_is_refused(small_root):
    (small_root / "report").write_text("a file")
    done = _hpcore("report", small_root)
    assert done.returncode == 1 and "not a folder" in done.stderr
    assert (small_root / "report").read_text() == "a file"


@pytest.mark.parametrize("how", ["python", "cli"])
def test_symlinks_planted_in_the_report_folder_are_replaced_not_followed(
    small_root, tmp_path, how
):
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("history.png", "report.html", "contour.png"):
        (outside / name).write_bytes(b"precious " + name.encode())
    before = _snapshot(outside)
    report = small_root / "report"
    report.mkdir()
    for name in ("history.png", "report.html", "contour.png"):  # contour: a 'Not drawn' plot
        (report / name).symlink_to(outside / name)
    if how == "python":
        write_report(hpcore.load(small_root), report, importances={"x": 0.5, "y": 0.5})
    else:
        done = _hpcore("report", small_root)
        assert done.returncode == 0, done.stderr
    assert _snapshot(outside) == before
    for name in ("history.png", "report.html"):
        assert not (report / name).is_symlink() and (report / name).is_file()
    assert (report / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p.name for p in report.iterdir() if p.name.startswith(".")]  # no temp left


def test_compare_out_refuses_a_symlinked_folder_and_replaces_a_planted_png(small_root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "comparison.png").write_bytes(b"precious")
    link = tmp_path / "cmp-link"
    link.symlink_to(outside, target_is_directory=True)
    done = _hpcore("compare", small_root, small_root, "--out", link)
    assert done.returncode == 1 and "symbolic link" in done.stderr
    folder = tmp_path / "cmp"
    folder.mkdir()
    (folder / "comparison.png").symlink_to(outside / "comparison.png")
    done = _hpcore("compare", small_root, small_root, "--out", folder)
    assert done.returncode == 0, done.stderr
    assert (outside / "comparison.png").read_bytes() == b"precious"
    assert (folder / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
