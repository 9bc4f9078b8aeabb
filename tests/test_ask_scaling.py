"""benchmarks/ask_scaling.py end to end: real child processes, the JSON, the tables, the plot."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]
PEERS = ["hpcore"] + (["optuna-gp"] if importlib.util.find_spec("optuna") else [])
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks.ask_scaling", *args], cwd=ROOT,
                          capture_output=True, text=True, check=True)


def _assert_png(path: Path) -> None:
    import matplotlib.image

    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 5000
    image = matplotlib.image.imread(path)
    assert image.ndim >= 2 and image.shape[0] > 100 and image.shape[1] > 100


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ask_scaling")
    out = _script("--n", "30,60", "--d", "3", "--steps", "2", "--peers", ",".join(PEERS),
                  "--out", str(tmp / "r.json"), "--plot", str(tmp / "p.png"))
    return tmp, out.stdout


@pytest.mark.slow
def test_every_measurement_is_recorded_with_positive_numbers(run):
    tmp, stdout = run
    report = json.loads((tmp / "r.json").read_text())
    assert report["d"] == 3 and report["steps"] == 2 and report["command"]
    assert report["date"]
    got = {(r["contestant"], r["n"]): r for r in report["results"]}
    assert set(got) == {(p, n) for p in PEERS for n in (30, 60)}
    for rec in got.values():
        assert rec["status"] == "ok", rec
        assert len(rec["later"]) == 2
        for key in ("first", "median", "max", "mean", "load_s", "rss_loaded_mb"):
            assert rec[key] > 0, (key, rec)
        assert rec["max"] >= rec["median"]
        assert min(rec["later"]) <= rec["mean"] <= rec["max"]
        assert rec["peak_rss_mb"] > 0 and rec["peak_rss_mb"] >= rec["rss_loaded_mb"] * 0.99
    assert "| n | contestant | first (s) | median (s) | worst (s) | mean (s) | peak RSS (MB) |" \
        in stdout
    if "optuna-gp" in PEERS:
        assert "| 60 | optuna-gp/hpcore |" in stdout
    _assert_png(tmp / "p.png")


@pytest.mark.slow
def test_plot_only_redraws_from_the_json(run):
    tmp, _ = run
    again = tmp / "again" / "p.png"
    _script("--plot-only", str(tmp / "r.json"), "--plot", str(again))
    _assert_png(again)


@pytest.mark.slow
def test_a_failing_child_is_an_error_and_a_slow_contestant_stops(tmp_path):
    # hpcore's child fails (an unknown option); "random" exceeds --max-seconds 0 at n=30.
    out = _script("--n", "30,60", "--d", "2", "--steps", "1", "--peers", "hpcore,random",
                  "--hpcore-opts", '{"no_such_option": 1}', "--max-seconds", "0",
                  "--out", str(tmp_path / "r.json"))
    got = {(r["contestant"], r["n"]): r for r in
           json.loads((tmp_path / "r.json").read_text())["results"]}
    assert got["hpcore", 30]["status"] == got["hpcore", 60]["status"] == "error"
    assert "no_such_option" in got["hpcore", 30]["error"]
    assert got["random", 30]["status"] == "ok"
    assert got["random", 60]["status"] == "skipped"
    assert "| 60 | random | skipped |" in out.stdout
