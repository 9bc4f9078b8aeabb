"""Stopping a running trial from outside its driver (hpcore.storage.control):
real searches, real request files, the trial recorded as stopped."""

from __future__ import annotations

import os
import time

import pytest

import hpcore
from hpcore.search import RandomSearch
from hpcore.search.space import Real
from hpcore.storage.control import CONTROL_DIR, StopRequests, request_stop


def _stops_itself(root, who: int, at_step: int = 3):
    """A trial function; trial ``who`` writes a stop request for itself at ``at_step``."""

    def fn(config: dict, trial) -> float:
        value = config["x"]
        for step in range(40):
            if step == at_step and trial.trial_id == who:
                request_stop(root, trial.trial_id, by="test")
            time.sleep(0.02)
            value = config["x"] + 1.0 / (step + 1)
            trial.report(step, value)
            if trial.should_stop:
                break
        return value

    return fn


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_requested_trial_stops_at_its_next_reports_and_is_recorded_stopped(tmp_path, n_jobs):
    root = tmp_path / "s"
    search = RandomSearch({}, {"x": Real(0.0, 1.0)}, metric="loss", n_trials=3, random_state=0)
    search.run(_stops_itself(root, who=1), experiment_root=str(root), verbose=0, n_jobs=n_jobs)
    trials = {t.trial_id: t for t in hpcore.load(root).trials}
    stopped = trials[1]
    assert str(stopped.state) == "stopped"
    assert stopped.error == "stopped early: requested by test"
    assert 3 < len(stopped.reports) < 40  # it ran on until the driver read the request, no longer
    assert stopped.value == pytest.approx(stopped.reports[-1]["value"])  # its last value
    assert [str(trials[i].state) for i in (0, 2)] == ["completed", "completed"]
    assert not any((root / CONTROL_DIR).iterdir())  # the driver removed the request


def test_a_request_for_a_trial_that_is_not_running_does_nothing(tmp_path):
    root = tmp_path / "s"
    request_stop(root, 0, by="an earlier run")  # left over before the search starts
    search = RandomSearch({}, {"x": Real(0.0, 1.0)}, metric="loss", n_trials=2, random_state=0)
    search.run(_stops_itself(root, who=-1), experiment_root=str(root), verbose=0)
    assert [str(t.state) for t in hpcore.load(root).trials] == ["completed", "completed"]
    assert not any((root / CONTROL_DIR).iterdir())


def test_requests_are_read_at_most_every_period_and_removed(tmp_path):
    requests = StopRequests(tmp_path, period=3600.0)
    assert requests.take() == {}  # no folder yet: nothing, and no error
    request_stop(tmp_path, 7, by="me")
    assert requests.take() == {}  # looked a moment ago: not before the period
    assert StopRequests(tmp_path, period=0.0).take() == {7: "me"}
    assert not (tmp_path / CONTROL_DIR / "stop-7").exists()
    (tmp_path / CONTROL_DIR / "notes.txt").write_text("not a request")
    assert StopRequests(tmp_path, period=0.0).take() == {}
    assert (tmp_path / CONTROL_DIR / "notes.txt").exists()  # only requests are removed


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_a_bad_trial_id_is_refused(tmp_path, bad):
    with pytest.raises(ValueError, match="trial_id"):
        request_stop(tmp_path, bad)


def test_nothing_is_written_or_read_through_a_linked_control_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside, root / CONTROL_DIR)
    with pytest.raises(NotADirectoryError, match="symbolic link"):
        request_stop(root, 1)
    assert list(outside.iterdir()) == []
    (outside / "stop-4").write_text("{}")
    assert StopRequests(root, period=0.0).take() == {}
    assert (outside / "stop-4").exists()  # not removed through the link
