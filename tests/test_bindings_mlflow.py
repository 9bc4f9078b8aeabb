"""hpcore.bindings.mlflow.MLflowTracker against a real local MLflow store.

MLflow 3 refuses a ``file:`` tracking store unless ``MLFLOW_ALLOW_FILE_STORE``
is set, so the store is SQLite in ``tmp_path`` (artifacts in a folder
beside it). A small real search (reports, returned metrics, a saved model,
a failing trial) is logged, then read back with ``MlflowClient``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

mlflow = pytest.importorskip("mlflow")

from hpcore.bindings.mlflow import MLflowTracker, SearchCallback  # noqa: E402

import hpcore  # noqa: E402
from hpcore import RandomSearch  # noqa: E402
from hpcore.search.space import Integer, Real  # noqa: E402

N_TRIALS = 6
FAILING = 2  # the trial that raises


def train_fn(config, trial):
    if trial.trial_id == FAILING:
        raise RuntimeError("boom")
    x, n = config["x"], config["n"]
    for step in range(3):
        trial.report(step, (x - 0.3) ** 2 + n / (step + 1), lr=0.1 / (step + 1))
    trial.save_model({"x": x, "n": n})
    return {"loss": (x - 0.3) ** 2 + n / 3, "acc": 1.0 - x}


@pytest.fixture
def searched(tmp_path):
    root = tmp_path / "search"
    search = RandomSearch(
        {}, {"x": Real(0.0, 1.0), "n": Integer(1, 4)}, metric="loss", mode="min",
        n_trials=N_TRIALS, random_state=0,
    )
    search.run(train_fn, experiment_root=root, verbose=0)
    return search, root


@pytest.fixture
def tracker(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow's default artifact root is relative to the cwd
    return MLflowTracker(
        tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", experiment_name="exp",
        artifact_location=(tmp_path / "artifacts").as_uri(),
    )


def _runs(tracker):
    client = tracker.client
    exp = client.get_experiment_by_name("exp")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parent = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parent, children


def _check_logged(tracker, search, root):
    client = tracker.client
    parents, children = _runs(tracker)
    assert len(parents) == 1 and len(children) == N_TRIALS
    parent = parents[0]
    assert parent.info.run_id == tracker.parent_run_id
    assert parent.info.status == "FINISHED"
    p = parent.data.params
    assert p["strategy"] == "RandomSearch" and p["metric"] == "loss" and p["mode"] == "min"
    assert p["seed"] == "0" and "space.x" in p and "space.n" in p
    assert all(c.data.tags["mlflow.parentRunId"] == parent.info.run_id for c in children)

    best = min((t for t in search.trials if t.value is not None), key=lambda t: t.value)
    assert parent.data.tags["hpcore.best_trial_id"] == str(best.trial_id)
    assert parent.data.metrics["best_loss"] == pytest.approx(best.value)
    assert parent.data.metrics["n_trials"] == N_TRIALS
    assert parent.data.metrics["n_failed"] == 1
    assert parent.data.metrics["n_completed"] == N_TRIALS - 1
    history = client.get_metric_history(parent.info.run_id, "best_loss")
    values = [m.value for m in sorted(history, key=lambda m: m.step)]
    assert values == sorted(values, reverse=True)  # best so far never gets worse

    space = json.loads(
        open(mlflow.artifacts.download_artifacts(
            run_id=parent.info.run_id, artifact_path="search_space.json",
            tracking_uri=tracker.tracking_uri)).read()
    )
    assert space["x"] == {"type": "real", "low": 0.0, "high": 1.0, "log": False}
    models = [f.path for f in client.list_artifacts(parent.info.run_id, "best_model")]
    assert models == ["best_model/model.pkl"]
    assert parent.data.tags["hpcore.best_model"] == "best_model/model.pkl"

    by_id = {int(c.data.tags["hpcore.trial_id"]): c for c in children}
    assert set(by_id) == {t.trial_id for t in search.trials}
    assert tracker.trial_run_ids == {tid: c.info.run_id for tid, c in by_id.items()}
    for t in search.trials:
        run = by_id[t.trial_id]
        assert run.info.run_name == f"trial-{t.trial_id:05d}"
        assert run.data.tags["hpcore.state"] == str(t.state)
        assert run.data.params == {"x": str(t.params["x"]), "n": str(t.params["n"])}
        assert run.info.start_time == round(t.start * 1000)
        assert run.info.end_time == round(t.end * 1000)
        assert run.data.metrics["duration_s"] == pytest.approx(t.duration)
        if t.trial_id == FAILING:
            assert run.info.status == "FAILED"
            assert "boom" in run.data.tags["hpcore.error"]
            assert "loss" not in run.data.metrics
            continue
        assert run.info.status == "FINISHED"
        assert run.data.metrics["loss"] == pytest.approx(t.value)
        assert run.data.metrics["acc"] == pytest.approx(1.0 - t.params["x"])
        # the reports as a history, then the final value at the last step
        hist = client.get_metric_history(run.info.run_id, "loss")
        # (MLflow drops a point equal in step, time and value to one it has)
        reported = sorted({(m.step, round(m.value, 9)) for m in hist})
        want = sorted({(r["step"], round(r["value"], 9)) for r in t.reports} | {(2, round(t.value, 9))})
        assert reported == want and [s for s, _ in reported][:3] == [0, 1, 2]
        lr = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "lr"))
        assert [s for s, _ in lr] == [0, 1, 2]
        assert [v for _, v in lr] == pytest.approx([0.1 / (s + 1) for s in range(3)])


def test_log_search_of_a_finished_search(searched, tracker):
    search, root = searched
    run_id = tracker.log_search(search, root)
    assert run_id == tracker.parent_run_id
    _check_logged(tracker, search, root)


def test_log_search_of_a_stored_study(searched, tracker):
    search, root = searched
    study = hpcore.load(root)
    tracker.log_search(study)  # the study knows its root: the model is found
    _check_logged(tracker, search, root)
    parent = tracker.client.get_run(tracker.parent_run_id)
    assert parent.data.tags["hpcore.experiment_root"] == str(root.resolve())


def test_callbacks_called_in_loop_order(searched, tracker):
    """What the loop will do: start, one call per trial as it ends, end."""
    search, root = searched
    assert isinstance(tracker, SearchCallback)
    tracker.on_search_start(search, root)
    uploads = []
    real = tracker.client.log_artifact
    tracker.client.log_artifact = lambda *a, **k: (uploads.append(a), real(*a, **k))[1]
    best = None
    for t in sorted(search.trials, key=lambda t: t.end):
        tracker.on_trial_end(search, t)
        if t.value is not None and (best is None or t.value < best.value):
            best = t
            # a new best: its model is uploaded now, not at the end
            assert uploads and f"{t.trial_id:05d}" in uploads[-1][1]
    tracker.on_search_end(search)
    _check_logged(tracker, search, root)


def test_the_search_loop_calls_the_tracker(tmp_path, tracker):
    search = RandomSearch(
        {}, {"x": Real(0.0, 1.0), "n": Integer(1, 4)}, metric="loss", mode="min",
        n_trials=N_TRIALS, random_state=0,
    )
    root = tmp_path / "live"
    search.run(train_fn, experiment_root=root, verbose=0, callbacks=[tracker])
    _check_logged(tracker, search, root)


def test_a_search_without_trial_folders_logs_no_model(tracker):
    search = RandomSearch({}, {"x": Real(0.0, 1.0)}, mode="max", n_trials=3, random_state=1)
    search.run(lambda c: c["x"], verbose=0)
    tracker.log_search(search)
    parents, children = _runs(tracker)
    assert len(children) == 3
    parent = parents[0]
    assert parent.data.params["mode"] == "max" and parent.data.params["metric"] == "None"
    assert parent.data.metrics["best_value"] == pytest.approx(max(t.value for t in search.trials))
    assert tracker.client.list_artifacts(parent.info.run_id, "best_model") == []
    assert all("value" in c.data.metrics for c in children)


def test_an_interrupted_search_ends_its_parent_run_killed(searched, tracker):
    search, root = searched
    tracker.on_search_start(search, root)
    tracker.on_trial_end(search, search.trials[0])
    tracker.on_search_end(search, error=KeyboardInterrupt())
    assert tracker.client.get_run(tracker.parent_run_id).info.status == "KILLED"
    tracker.on_search_start(search, root)
    tracker.on_search_end(search, error=ValueError("bad"))
    run = tracker.client.get_run(tracker.parent_run_id)
    assert run.info.status == "FAILED" and run.data.tags["hpcore.error"] == "ValueError: bad"


def test_log_search_refuses_other_objects(tracker):
    with pytest.raises(TypeError, match="logs an hpcore search .* got dict"):
        tracker.log_search({"trials": []})


def test_importing_the_binding_imports_neither_ray_nor_optuna():
    code = (
        "import sys, hpcore.bindings.mlflow;"
        "print([m for m in ('ray', 'optuna', 'torch') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
