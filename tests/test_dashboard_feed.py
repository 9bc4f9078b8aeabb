"""The dashboard's study feed on a real SQLite study written by a real Storage.

The property that matters: a page that loaded a snapshot once and then
applied every delta of :meth:`StudyFeed.since` holds exactly what a fresh
snapshot holds, whatever the driver did in between.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpcore.dashboard.feed import ROW_FIELDS, StudyFeed, trial_row
from hpcore.storage import Storage, StudyInfo
from hpcore.storage.changes import file_signature, read_changes
from hpcore.trial import FrozenTrial, TrialState


def _info(name: str = "exp") -> StudyInfo:
    return StudyInfo(name=name, strategy="RandomSearch", settings={}, seed=0, metric="loss",
                     mode="min", base_config={}, space={"x": {"type": "real", "low": 0.0,
                                                               "high": 1.0, "log": False}},
                     space_fingerprint="f")


def _finished(i: int, value: float, state: TrialState = TrialState.COMPLETED,
              reports: int = 3) -> FrozenTrial:
    return FrozenTrial(trial_id=i, params={"x": i / 10}, state=state, values=(value,),
                       start=100.0 + i, end=101.0 + i,
                       reports=[{"step": s, "value": value + 1.0 / (s + 1)} for s in range(reports)])


class Page:
    """What the dashboard's script does with the feed: a snapshot, then deltas."""

    def __init__(self, feed: StudyFeed) -> None:
        self.feed = feed
        self.load()

    def load(self) -> None:
        self.feed.refresh()  # as the server does before it answers
        snap = self.feed.snapshot()
        self.version = snap["version"]
        self.rows = {r[0]: r for r in snap["trials"]}
        self.curves = {int(k): v for k, v in self.feed.curves_of(list(self.rows)).items()}

    def poll(self) -> dict[str, Any]:
        self.feed.refresh()
        delta = self.feed.since(self.version)
        if delta.get("reset"):
            self.load()
            return delta
        for r in delta["trials"]:
            self.rows[r[0]] = r
        for k, c in delta["curves"].items():
            self.curves[int(k)] = list(c)
        for k, pts in delta["points"].items():
            self.curves.setdefault(int(k), []).extend(pts)
        self.version = delta["version"]
        return delta


def _fresh(root: Path) -> tuple[dict[int, list[Any]], dict[int, list[Any]]]:
    feed = StudyFeed(root)
    feed.refresh()
    rows = {r[0]: r for r in feed.snapshot()["trials"]}
    return rows, {int(k): v for k, v in feed.curves_of(list(rows)).items()}


@pytest.fixture
def driver(tmp_path):
    s = Storage(tmp_path)
    s.create_study(_info())
    yield s
    s.close()


def test_the_snapshot_holds_every_trial_as_storage_reads_it(driver, tmp_path):
    for i in range(5):
        driver.finish_trial(_finished(i, float(i)))
    driver.start_trial(5, {"x": 0.5}, start=200.0)
    feed = StudyFeed(tmp_path)
    feed.refresh()
    snap = feed.snapshot()
    assert snap["fields"] == ROW_FIELDS
    assert snap["study"]["metrics"] == ["loss"] and snap["study"]["modes"] == ["min"]
    with Storage(tmp_path, readonly=True) as r:
        expected = [trial_row(t) for t in r.trials(with_reports=False)]
    assert snap["trials"] == expected
    assert feed.curves_of([2])["2"] == [[0, 3.0], [1, 2.5], [2, 2.0 + 1 / 3]]
    assert feed.summary()["best"] == {"value": 0.0, "trial": 0}
    assert feed.summary()["counts"] == {"completed": 5, "running": 1}


def test_a_delta_holds_only_what_changed(driver, tmp_path):
    for i in range(50):
        driver.finish_trial(_finished(i, float(i)))
    driver.start_trial(50, {"x": 0.5}, start=200.0)
    feed = StudyFeed(tmp_path)
    v = feed.refresh()
    driver.add_reports(50, [{"step": 0, "value": 9.0}, {"step": 1, "value": 8.0}])
    v2 = feed.refresh()
    delta = feed.since(v)
    assert v2 == v + 1
    assert delta["trials"] == [] and delta["points"] == {"50": [[0, 9.0], [1, 8.0]]}
    driver.add_reports(50, [{"step": 2, "value": 7.0}])
    feed.refresh()
    assert feed.since(v2)["points"] == {"50": [[2, 7.0]]}  # only the new point
    driver.finish_trial(_finished(50, 7.0))
    v3 = feed.refresh()
    delta = feed.since(v2)
    assert [r[0] for r in delta["trials"]] == [50] and delta["trials"][0][1] == "completed"
    assert len(delta["curves"]["50"]) == 3 and delta["points"] == {}
    assert feed.since(v3) == {"version": v3, "driver_alive": True, "trials": [], "curves": {},
                              "points": {}}


def test_nothing_is_read_while_the_files_are_unchanged(driver, tmp_path):
    driver.finish_trial(_finished(0, 1.0))
    feed = StudyFeed(tmp_path)
    v = feed.refresh()
    sig = file_signature(tmp_path)
    assert feed.refresh() == v and file_signature(tmp_path) == sig
    driver.finish_trial(_finished(1, 0.5))
    assert file_signature(tmp_path) != sig
    assert feed.refresh() == v + 1


def test_a_replaced_study_makes_pages_load_again(driver, tmp_path):
    driver.finish_trial(_finished(0, 1.0))
    feed = StudyFeed(tmp_path)
    page = Page(feed)
    driver.delete_study()
    time.sleep(0.01)  # a new creation time
    driver.create_study(_info("second"))
    driver.finish_trial(_finished(0, 5.0))
    assert page.poll().get("reset") is True
    assert page.rows[0][2] == [5.0] and feed.snapshot()["study"]["name"] == "second"


def test_a_dead_drivers_running_trial_shows_as_interrupted(tmp_path):
    s = Storage(tmp_path)
    s.create_study(_info())
    s.start_trial(0, {"x": 0.1}, start=1.0)
    feed = StudyFeed(tmp_path)
    feed.refresh()
    assert feed.snapshot()["trials"][0][1] == "running" and feed.driver_alive
    s.close()  # releases the lock, as a driver's death does
    feed.refresh()
    assert feed.snapshot()["trials"][0][1] == "interrupted" and not feed.driver_alive


def test_read_changes_reads_above_an_id_and_the_listed_ones(driver, tmp_path):
    for i in range(10):
        driver.finish_trial(_finished(i, float(i)))
    with Storage(tmp_path, readonly=True) as r:
        got = read_changes(r, 7, [2, 3, 99], {4: 1})
    assert [t.trial_id for t in got.trials] == [2, 3, 8, 9]
    assert [rep["step"] for rep in got.reports[4]] == [1, 2]


_OPS = st.lists(
    st.tuples(st.sampled_from(["start", "report", "report", "finish", "fail", "restart"]),
              st.integers(0, 3), st.integers(1, 3), st.booleans()),
    min_size=1, max_size=30,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_OPS)
def test_a_page_applying_every_delta_equals_a_fresh_snapshot(tmp_path_factory, ops):
    root = tmp_path_factory.mktemp("study")
    with Storage(root) as s:
        s.create_study(_info())
        feed = StudyFeed(root)
        page = Page(feed)
        running: list[int] = []  # the driver's running trials
        steps: dict[int, int] = {}
        for op, pick, n, poll in ops:
            if op == "start" or not running:
                tid = len(steps)
                s.start_trial(tid, {"x": tid / 10}, start=float(tid))
                running.append(tid)
                steps[tid] = 0
                continue
            tid = running[pick % len(running)]
            if op == "report":
                s.add_reports(tid, [{"step": steps[tid] + k, "value": float(k)} for k in range(n)])
                steps[tid] += n
            elif op in ("finish", "fail"):
                how = TrialState.COMPLETED if op == "finish" else TrialState.FAILED
                s.finish_trial(_finished(tid, float(n), how, reports=steps[tid] + 1))
                running.remove(tid)
            else:  # a retry: the trial starts again, its curve from nothing
                s.start_trial(tid, {"x": tid / 10}, start=float(tid) + 1, attempt=1)
                steps[tid] = 0
            feed.refresh()  # another tab's poll: several versions between this page's polls
            if poll:
                page.poll()
                assert (page.rows, page.curves) == _fresh(root)
        page.poll()
        assert (page.rows, page.curves) == _fresh(root)
