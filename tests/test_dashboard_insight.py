"""The dashboard's importance and GP-mean surface: the analysis layer's numbers,
computed in the background, recomputed only when the study moved on."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the dashboard extra is not installed")

from helpers.dashboard import dashboard  # noqa: E402

import hpcore  # noqa: E402
from hpcore.analysis import gp_surface, importance  # noqa: E402
from hpcore.dashboard import insight  # noqa: E402
from hpcore.dashboard.feed import StudyFeed  # noqa: E402
from hpcore.dashboard.insight import Insights, compute_insight  # noqa: E402
from hpcore.search import RandomSearch  # noqa: E402
from hpcore.search.space import Categorical, Integer, Real  # noqa: E402

SPACE = {"lr": Real(1e-4, 1e-1, log=True), "width": Integer(8, 64),
         "opt": Categorical(["adam", "sgd"]), "noise": Real(0.0, 1.0)}


def _fn(c: dict) -> float:
    return (math.log10(c["lr"]) + 2.5) ** 2 + (0.5 if c["opt"] == "sgd" else 0.0) + 0.001 * c["noise"]


def _study(root, n: int = 30, seed: int = 0, fn=_fn, **kw) -> None:
    RandomSearch({}, SPACE, metric=kw.pop("metric", "loss"), n_trials=n, random_state=seed, **kw).run(
        fn, experiment_root=str(root), verbose=0)


def test_the_numbers_are_the_analysis_layers(tmp_path):
    _study(tmp_path / "s")
    out = compute_insight(tmp_path / "s")
    study = hpcore.load(tmp_path / "s")
    shares = importance(study, max_trials=insight.MAX_POINTS)
    assert out["importance"]["loss"] == pytest.approx(shares)
    assert list(out["importance"]["loss"])[:2] == ["lr", "opt"]  # the two that matter
    surface = gp_surface(study, importances=shares, resolution=insight.RESOLUTION,
                         max_points=insight.MAX_POINTS)
    sf = out["surface"]
    assert [a["key"] for a in sf["axes"]] == surface.keys == ["lr", "opt"]
    assert sf["axes"][0]["log"] and not sf["axes"][0]["categorical"]
    assert sf["axes"][1] == {"key": "opt", "categorical": True, "log": False, "values": ["adam", "sgd"]}
    z = np.array([[np.nan if v is None else v for v in row] for row in sf["z"]])
    want = np.where(surface.unsure, np.nan, surface.surface)
    np.testing.assert_allclose(z, want, rtol=1e-4, equal_nan=True)
    assert len(sf["points"]) == 30 and {p[1] for p in sf["points"]} <= {"adam", "sgd"}
    json.dumps(out, allow_nan=False)  # plain JSON: no NaN reaches a page


def test_what_cannot_be_computed_is_said(tmp_path):
    _study(tmp_path / "one", n=1)
    out = compute_insight(tmp_path / "one")
    assert out["importance"] == {} and out["surface"] is None
    assert any(n.startswith("importance") and "at least 2" in n for n in out["notes"]), out["notes"]
    _study(tmp_path / "two", n=2)
    out = compute_insight(tmp_path / "two")
    assert out["importance"] and out["surface"] is None
    assert any(n.startswith("GP mean") and "at least 3" in n for n in out["notes"]), out["notes"]


def test_several_objectives_get_an_importance_each(tmp_path):
    def two(c: dict) -> dict:
        return {"loss": _fn(c), "size": c["width"] + 0.01 * c["noise"]}

    _study(tmp_path / "mo", fn=two, metric=["loss", "size"], mode=["min", "min"])
    out = compute_insight(tmp_path / "mo")
    assert list(out["importance"]) == ["loss", "size"]
    assert next(iter(out["importance"]["size"])) == "width"
    assert out["surface"]["metric"] == "loss"


def _wait(insights: Insights, feed: StudyFeed, have: int = -1, min_stamp: int = 1) -> dict:
    for _ in range(1200):
        r = insights.get(feed, have)
        if r["state"] == "ready" and r["stamp"] >= min_stamp:
            return r
        time.sleep(0.05)
    raise AssertionError("no result")


def _fed(root, n: int) -> tuple[StudyFeed, Insights]:
    """A study of ``n`` trials at ``root``, its feed read once, and a fresh Insights."""
    _study(root, n=n)
    feed = StudyFeed(root, "s1")
    feed.refresh()
    return feed, Insights()


def test_results_come_from_the_background_and_are_recomputed_only_when_due(tmp_path, monkeypatch):
    feed, insights = _fed(tmp_path / "s", 12)
    try:
        first = insights.get(feed)
        assert first["state"] == "computing" and "importance" not in first
        done = _wait(insights, feed)
        assert done["trials"] == 12 and done["stamp"] == 1 and "lr" in done["importance"]["loss"]
        assert set(insights.get(feed, have=1)) == {"state", "trials", "stamp"}  # nothing new
        _study(tmp_path / "s", n=20)  # resume: 8 more trials
        feed.refresh()
        assert insights.get(feed, have=1)["state"] == "ready"  # too soon to compute again
        monkeypatch.setattr(insight, "MIN_GAP_S", 0.0)
        monkeypatch.setattr(insight, "DUTY", 0.0)
        assert insights.get(feed, have=1)["state"] == "computing"
        again = _wait(insights, feed)
        assert again["trials"] == 20 and again["stamp"] == 2
        assert insights.get(feed, have=2)["state"] == "ready"  # unchanged study: not computed
    finally:
        insights.close()


def test_the_server_serves_them(tmp_path):
    _study(tmp_path / "runs" / "s", n=15)
    with dashboard(str(tmp_path)) as (url, _, _proc):
        import urllib.request

        def get(path: str) -> dict:
            return json.load(urllib.request.urlopen(url + path, timeout=30))

        sid = get("api/studies")["studies"][0]["id"]
        for _ in range(600):
            r = get(f"api/studies/{sid}/insight")
            if "importance" in r:
                break
            time.sleep(0.1)
        assert r["trials"] == 15 and list(r["importance"]["loss"])[0] == "lr"
        assert get(f"api/studies/{sid}/insight?have={r['stamp']}").keys() == {"state", "trials", "stamp"}


def test_a_killed_computing_process_is_said_and_tried_again(tmp_path, monkeypatch):
    feed, insights = _fed(tmp_path / "s", 12)
    try:
        assert insights.get(feed)["state"] == "computing"
        for _ in range(600):  # the computing process, mid-way
            if insights.computing is not None:
                break
            time.sleep(0.01)
        insights.computing.kill()
        failed = _wait(insights, feed)
        assert failed["notes"] == ["analysis failed: its process ended early"]
        monkeypatch.setattr(insight, "MIN_GAP_S", 0.0)
        monkeypatch.setattr(insight, "DUTY", 0.0)
        assert insights.get(feed, have=failed["stamp"])["state"] == "computing"  # again
        done = _wait(insights, feed, min_stamp=2)
        assert done["trials"] == 12 and "lr" in done["importance"]["loss"]
    finally:
        insights.close()
    assert insights.computing is None


def test_the_computation_runs_on_its_own_as_a_command(tmp_path):
    _study(tmp_path / "s", n=8)
    out = subprocess.run([sys.executable, "-m", "hpcore.dashboard.insight", str(tmp_path / "s")],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == json.loads(json.dumps(compute_insight(tmp_path / "s")))
