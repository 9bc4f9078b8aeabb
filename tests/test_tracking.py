"""Experiment tracking, resume and hpcore.load, on real files and real processes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from helpers import train_fns
from hypothesis import given, settings
from hypothesis import strategies as st

import hpcore
from hpcore import GridSearch, RandomSearch, TrialState, load_model
from hpcore.executor import Executor
from hpcore.executor._run import Job, run_trial
from hpcore.search.callbacks import SearchCallback
from hpcore.search.space import Integer, Real
from hpcore.storage import Storage, StudyLockedError, StudyMismatchError

SPACE = {"x": Real(0.0, 1.0)}


def _search(n_trials=6, seed=0, **base):
    return RandomSearch(dict(base), SPACE, metric="val_loss", n_trials=n_trials, random_state=seed,
                        allow_new_keys=True)


# -- tracking ---------------------------------------------------------------------


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_each_trial_gets_a_folder_and_best_links_to_the_best(tmp_path, n_jobs):
    root = tmp_path / "exp"
    search = _search(torch=True)
    search.run(train_fns.tracked, n_jobs=n_jobs, experiment_root=root)
    for t in search.trials:
        d = root / "trials" / f"{t.trial_id:05d}"
        config = json.loads((d / "config.json").read_text())
        assert config["params"] == t.params and config["config"]["x"] == t.params["x"]
        lines = [json.loads(s) for s in (d / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in lines] == [0, 1, 2] and lines == t.reports
        result = json.loads((d / "result.json").read_text())
        assert result["state"] == "completed" and result["value"] == t.value
        assert f"training trial {t.trial_id}" in (d / "trial.log").read_text()
        assert (d / "model.pt").exists()
    best = search.best_trial
    assert os.path.realpath(root / "best") == os.path.realpath(
        root / "trials" / f"{best.trial_id:05d}")
    import torch

    model = load_model(root / "best", torch.nn.Linear(2, 1))
    torch.manual_seed(best.trial_id)
    reference = torch.nn.Linear(2, 1)
    assert torch.equal(model.weight, reference.weight)


def test_models_without_torch_are_pickled_and_save_model_works_directly(tmp_path):
    root = tmp_path / "exp"
    search = _search(save_directly=True)
    search.run(train_fns.tracked, experiment_root=root)
    best = search.best_trial
    assert load_model(root / "best") == {"weights": [best.params["x"], best.trial_id]}
    assert "model" not in best.metrics


def test_without_experiment_root_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    search = _search(torch=False)
    search.run(train_fns.tracked, n_jobs=2)
    assert list(tmp_path.iterdir()) == []
    assert search.best_trial.value is not None


def test_track_experiments_false_keeps_only_the_database(tmp_path):
    root = tmp_path / "exp"
    _search().run(train_fns.tracked, experiment_root=root, track_experiments=False)
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == [
        n for n in sorted(os.listdir(root)) if n.startswith("hpcore.db")]


def test_load_reads_the_study_back(tmp_path):
    root = tmp_path / "exp"
    search = _search()
    search.run(train_fns.tracked, experiment_root=root)
    study = hpcore.load(root)
    assert [t.trial_id for t in study.trials] == [t.trial_id for t in search.trials]
    assert [t.params for t in study.trials] == [t.params for t in search.trials]
    assert [t.reports for t in study.trials] == [t.reports for t in search.trials]
    assert study.best_trial.trial_id == search.best_trial.trial_id
    assert study.best_params == search.best_params
    assert study.metric == "val_loss" and study.mode == "min" and study.strategy == "RandomSearch"
    assert study.counts() == {"completed": 6}
    assert study.load_best_model() == {"weights": [search.best_params["x"],
                                                   search.best_trial.trial_id]}
    with pytest.raises(FileNotFoundError):
        hpcore.load(tmp_path / "nothing-here")


# -- resume -----------------------------------------------------------------------


def test_running_again_continues_to_n_trials_like_one_uninterrupted_run(tmp_path):
    root = tmp_path / "exp"
    _search(n_trials=4, sleep=0).run(train_fns.sleepy_value, experiment_root=root)
    search = _search(n_trials=9, sleep=0)
    search.run(train_fns.sleepy_value, experiment_root=root)
    assert [t.trial_id for t in search.trials] == list(range(9))
    reference = _search(n_trials=9, sleep=0)
    reference.run(train_fns.sleepy_value)
    assert [t.params for t in search.trials] == [t.params for t in reference.trials]
    assert [t.value for t in search.trials] == [t.value for t in reference.trials]
    # Running once more with the same n_trials runs nothing.
    again = _search(n_trials=9, sleep=0)
    again.run(train_fns.sleepy_value, experiment_root=root)
    assert len(hpcore.load(root).trials) == 9


def test_grid_resume_skips_points_already_done(tmp_path):
    root = tmp_path / "exp"
    space = {"x": [0.1, 0.2, 0.3], "n": Integer(0, 2)}
    GridSearch({"sleep": 0}, space, n_trials=4, allow_new_keys=True).run(train_fns.sleepy_value, experiment_root=root)
    search = GridSearch({"sleep": 0}, space, allow_new_keys=True)
    search.run(train_fns.sleepy_value, experiment_root=root)
    points = [(t.params["x"], t.params["n"]) for t in search.trials]
    assert len(points) == 9 and len(set(points)) == 9


def test_bayesian_resume_tells_the_model_the_stored_trials(tmp_path):
    root = tmp_path / "exp"
    kw = dict(metric=None, n_initial_points=3, random_state=1)
    hpcore.BayesianSearch({"sleep": 0}, SPACE, n_trials=5, allow_new_keys=True, **kw).run(
        train_fns.sleepy_value, experiment_root=root)
    search = hpcore.BayesianSearch({"sleep": 0}, SPACE, n_trials=8, allow_new_keys=True, **kw)
    search.run(train_fns.sleepy_value, experiment_root=root)
    xs = [t.params["x"] for t in search.trials]
    assert len(xs) == 8 and len(set(xs)) == 8  # nothing suggested twice across runs
    assert min(t.value for t in search.trials[5:]) < 0.01  # the model used the old points


def test_a_changed_space_metric_or_mode_is_refused_with_the_fix(tmp_path):
    root = tmp_path / "exp"
    _search(n_trials=2, sleep=0).run(train_fns.sleepy_value, experiment_root=root)
    other = RandomSearch({"sleep": 0}, {"x": Real(0.0, 2.0)}, n_trials=3, random_state=0,
                         allow_new_keys=True)
    with pytest.raises(StudyMismatchError, match="resume=False"):
        other.run(train_fns.sleepy_value, experiment_root=root)
    maxed = RandomSearch({"sleep": 0}, SPACE, mode="max", n_trials=3, random_state=0,
                         allow_new_keys=True)
    with pytest.raises(StudyMismatchError, match="mode"):
        maxed.run(train_fns.sleepy_value, experiment_root=root)
    # resume=False starts afresh.
    other.run(train_fns.sleepy_value, experiment_root=root, resume=False)
    study = hpcore.load(root)
    assert len(study.trials) == 3 and all(t.params["x"] <= 2.0 for t in study.trials)
    assert study.space["x"]["high"] == 2.0


SLOW_DRIVER = textwrap.dedent(
    """
    import sys, time
    from hpcore import RandomSearch
    from hpcore.search.space import Real

    def train_fn(config):
        time.sleep(60)
        return config["x"]

    if __name__ == "__main__":
        RandomSearch({}, {"x": Real(0, 1)}, n_trials=3, random_state=0).run(
            train_fn, experiment_root=sys.argv[1])
    """
)


def test_a_second_driver_on_the_same_root_is_refused(tmp_path):
    root = tmp_path / "exp"
    script = tmp_path / "driver.py"
    script.write_text(SLOW_DRIVER)
    proc = subprocess.Popen([sys.executable, str(script), str(root)])
    try:
        for _ in range(600):
            if (root / "trials").exists():
                break
            time.sleep(0.1)
        with pytest.raises(StudyLockedError, match=str(proc.pid)):
            _search(n_trials=2, sleep=0).run(train_fns.sleepy_value, experiment_root=root)
        # Reading is fine meanwhile, and shows the trial as running.
        assert hpcore.load(root).counts() == {"running": 1}
    finally:
        proc.kill()
        proc.wait()
    # A dead driver's trial is not reported as running.
    assert hpcore.load(root).counts() == {"interrupted": 1}


KILLABLE = textwrap.dedent(
    """
    import sys
    from hpcore import RandomSearch
    from hpcore.search.space import Integer, Real
    sys.path.insert(0, sys.argv[3])
    from helpers import train_fns

    if __name__ == "__main__":
        search = RandomSearch({"sleep": 0.1}, {"x": Real(0, 1), "n": Integer(0, 3)},
                              n_trials=40, random_state=5, allow_new_keys=True)
        search.run(train_fns.sleepy_value, n_jobs=int(sys.argv[2]), experiment_root=sys.argv[1])
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_kill_9_at_random_moments_then_resume_loses_and_duplicates_nothing(tmp_path, n_jobs):
    root = tmp_path / "exp"
    script = tmp_path / "driver.py"
    script.write_text(KILLABLE)
    tests_dir = str(Path(__file__).parent)
    rng = random.Random(n_jobs)
    argv = [sys.executable, str(script), str(root), str(n_jobs), tests_dir]
    kills = 0
    for _ in range(12):
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.6, 1.8))  # a run takes 2-5 s: most are cut short
        if proc.poll() is not None:
            assert proc.returncode == 0, proc.stderr.read().decode()
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        study = hpcore.load(root) if (root / "hpcore.db").exists() else None
        if study is not None:
            ids = [t.trial_id for t in study.trials]
            assert len(ids) == len(set(ids))
    else:
        # On a loaded machine every run may have been cut short: a last one, left alone,
        # must finish the search (no wall-clock limit on it).
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert done.returncode == 0, done.stderr.decode()
    assert kills >= 1
    study = hpcore.load(root)
    assert [t.trial_id for t in study.trials] == list(range(40))
    assert all(t.state is TrialState.COMPLETED for t in study.trials)
    reference = RandomSearch({"sleep": 0}, {"x": Real(0, 1), "n": Integer(0, 3)},
                             n_trials=40, random_state=5, allow_new_keys=True)
    reference.run(train_fns.sleepy_value)
    assert [t.params for t in study.trials] == [t.params for t in reference.trials]
    assert [t.value for t in study.trials] == [t.value for t in reference.trials]
    assert os.path.realpath(root / "best") == os.path.realpath(
        root / "trials" / f"{study.best_trial.trial_id:05d}")


# -- best/ ------------------------------------------------------------------------


def _valued(config, trial):
    return config["values"][trial.trial_id]


@settings(max_examples=15)
@given(values=st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=8),
       mode=st.sampled_from(["min", "max"]))
def test_best_always_holds_the_best_finished_trial(tmp_path_factory, values, mode):
    root = tmp_path_factory.mktemp("exp")
    search = RandomSearch({"values": values}, SPACE, mode=mode, n_trials=len(values),
                          random_state=0, allow_new_keys=True)
    seen = []

    def fn(config, trial):
        # Check at each trial start what best/ pointed at after the previous finishes.
        link = root / "best"
        seen.append(os.readlink(link) if link.is_symlink() else None)
        return _valued(config, trial)

    search.run(fn, experiment_root=root)
    pick = min if mode == "min" else max
    for k in range(1, len(values)):
        best_so_far = values.index(pick(values[:k]))
        assert seen[k] == os.path.join("trials", f"{best_so_far:05d}")
    with Storage(root, lock=False, readonly=True) as store:
        assert store.best_trial().trial_id == values.index(pick(values))
    assert os.readlink(root / "best") == os.path.join("trials", f"{values.index(pick(values)):05d}")


def test_on_a_cluster_without_shared_files_the_driver_writes_logs_and_reports(tmp_path):
    distributed = pytest.importorskip("distributed")
    from hpcore.executor import DaskExecutor

    root = tmp_path / "exp"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster:
        search = _search(n_trials=3)
        search.run(train_fns.tracked, executor=DaskExecutor(cluster), experiment_root=root)
    for t in search.trials:
        d = root / "trials" / f"{t.trial_id:05d}"
        assert f"training trial {t.trial_id}" in (d / "trial.log").read_text()
        lines = [json.loads(s) for s in (d / "metrics.jsonl").read_text().splitlines()]
        assert lines == t.reports
        # The worker saved the model in a folder of its own; the driver wrote the file it sent.
        assert hpcore.load_model(d) == {"weights": [t.params["x"], t.trial_id]}
    assert hpcore.load(root).best_trial.trial_id == search.best_trial.trial_id


class Adam:
    pass


class SGD:
    pass


def test_resume_puts_non_data_choices_back(tmp_path):
    from hpcore import Categorical

    root = tmp_path / "exp"
    space = {"opt": Categorical([Adam, SGD]), "x": Real(0, 1)}

    def fn(config):
        return config["x"] + (config["opt"] is SGD)

    RandomSearch({}, space, n_trials=3, random_state=0).run(fn, experiment_root=root)
    search = RandomSearch({}, space, n_trials=5, random_state=0)
    search.run(fn, experiment_root=root)
    assert all(t.params["opt"] in (Adam, SGD) for t in search.trials)
    assert [t.value for t in search.trials[:3]] == [
        t.params["x"] + (t.params["opt"] is SGD) for t in search.trials[:3]]


# -- a batch of outcomes is stored before anything can interrupt ------------------------


class _AllAtOnce(Executor):
    """Runs every submitted trial in this process and hands back all their outcomes from
    one ``wait()``, as a process pool or a Dask cluster does when trials end together."""

    def __init__(self, n: int) -> None:
        self.n, self._fn, self._queue = n, None, []

    @property
    def max_concurrency(self) -> int:
        return self.n

    @property
    def n_running(self) -> int:
        return len(self._queue)

    def start(self, objective):
        self._fn = objective

    def submit(self, trial, config, dir=None):
        self._queue.append(Job(trial, config, dir))

    def wait(self, timeout=None):
        outcomes = [run_trial(self._fn, job) for job in self._queue]
        self._queue.clear()
        return outcomes

    def shutdown(self, cancel=False):
        cut = [job.trial.interrupted(0.0) for job in self._queue]
        self._queue.clear()
        return cut


class _StopAtFirstTrial(SearchCallback):
    def on_trial_end(self, search, record):
        raise KeyboardInterrupt  # Ctrl-C while the first of four finished trials is handled


def _value_of_x(config):
    return config["x"]


def test_trials_that_ended_together_are_all_stored_when_the_search_is_cut(tmp_path):
    root = tmp_path / "exp"

    def search():
        return RandomSearch({}, {"x": Real(0, 1)}, n_trials=8, random_state=0)

    first = search()
    with pytest.raises(KeyboardInterrupt):
        first.run(_value_of_x, executor=_AllAtOnce(4), experiment_root=root,
                  callbacks=[_StopAtFirstTrial()])
    study = hpcore.load(root)
    assert study.counts() == {"completed": 4}
    starts = {t.trial_id: t.start for t in study.trials}
    assert (root / "best").exists()

    search().run(_value_of_x, executor=_AllAtOnce(4), experiment_root=root)
    study = hpcore.load(root)
    assert study.counts() == {"completed": 8}
    assert {t.trial_id: t.start for t in study.trials if t.trial_id < 4} == starts
    assert all(t.attempts == 1 for t in study.trials)


@pytest.mark.slow
@pytest.mark.parametrize("n_jobs", [1, 2])  # 1: the trial runs in the driver's own thread
def test_the_curves_of_running_trials_are_stored_as_they_come(tmp_path, n_jobs):
    """hpcore.load (and hpcore status) see a running trial's reports before it ends."""
    root, release = tmp_path / "study", tmp_path / "release"
    seen: list[list[int]] = []

    def watch():
        try:
            for _ in range(3000):  # a guard against hanging, not a time limit
                try:
                    trials = hpcore.load(root).trials
                except FileNotFoundError:  # the driver has not created the study yet
                    trials = []
                if trials and trials[0].state is TrialState.RUNNING and len(
                    trials[0].reports
                ) == 3:
                    seen.append([r["step"] for r in trials[0].reports])
                    break
                time.sleep(0.1)
        finally:  # whatever happened, the trial must not wait for ever
            release.touch()

    watcher = threading.Thread(target=watch)
    watcher.start()
    search = RandomSearch({"release": str(release)}, {"x": Real(0, 1)}, n_trials=1,
                          allow_new_keys=True)
    search.run(train_fns.reports_then_waits, n_jobs=n_jobs, experiment_root=root, verbose=0)
    watcher.join()
    assert seen == [[0, 1, 2]]
    assert [r["step"] for r in hpcore.load(root).trials[0].reports] == [0, 1, 2]  # not doubled
