"""The Dask path as on a real cluster: a train module the workers cannot import, models sent back.

Workers here never see the driver's folders or ``sys.path`` additions: a
``LocalCluster`` spawned before the driver puts a folder on its path, or
``dask scheduler`` / ``dask worker`` started as separate processes in
another folder, as on machines of their own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")


from helpers import dask_fns  # noqa: E402

import hpcore  # noqa: E402
from hpcore import ExecutorError, RandomSearch, TrialState  # noqa: E402
from hpcore.executor.dask import DaskExecutor  # noqa: E402
from hpcore.search.space import Real  # noqa: E402

pytestmark = pytest.mark.slow

MODULE = "def train_fn(config):\n    return (config['x'] - 0.5) ** 2\n"


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster:
        with distributed.Client(cluster, set_as_default=False) as c:
            yield c


def _driver_only_module(folder: Path, name: str, monkeypatch) -> Path:
    """A module on the driver's ``sys.path`` only (the workers were spawned before)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(MODULE)
    monkeypatch.syspath_prepend(str(folder))
    return path


def _workers_import(client, name: str) -> bool:
    def can_import(name):
        import importlib.util

        return importlib.util.find_spec(name) is not None

    return any(client.run(can_import, name).values())


# -- 1. a train module the workers cannot import --------------------------------------
@pytest.mark.parametrize("timeout", [None, 30.0], ids=["thread", "child"])
def test_a_module_the_workers_cannot_import_ends_the_search_at_once(
    client, tmp_path, monkeypatch, timeout
):
    name = f"driver_only_{'thread' if timeout is None else 'child'}"
    path = _driver_only_module(tmp_path / "src", name, monkeypatch)
    module = __import__(name)
    assert not _workers_import(client, name)
    root = tmp_path / "study"

    def search():
        return RandomSearch({}, {"x": Real(0, 1)}, n_trials=6, random_state=0)

    first = search()
    started = time.monotonic()
    with pytest.raises(ExecutorError) as info:
        first.run(module.train_fn, executor=DaskExecutor(client, trial_timeout=timeout),
                  experiment_root=root, verbose=0)
    assert time.monotonic() - started < 30
    message = str(info.value)
    assert f"No module named '{name}'" in message
    assert "upload_file" in message and str(path) in message
    assert "PYTHONPATH" in message and "install" in message
    stored = hpcore.load(root).trials
    assert 1 <= len(stored) <= 2  # the first outcome ends it: no 6 failed trials
    assert {t.state for t in stored} == {TrialState.INTERRUPTED}
    assert {t.state for t in first.trials} == {TrialState.INTERRUPTED}

    client.upload_file(str(path))
    assert _workers_import(client, name)
    resumed = search()
    resumed.run(module.train_fn, executor=DaskExecutor(client, trial_timeout=timeout),
                experiment_root=root, verbose=0)
    assert [t.trial_id for t in resumed.trials] == list(range(6))
    assert {t.state for t in resumed.trials} == {TrialState.COMPLETED}
    assert {t.state for t in hpcore.load(root).trials} == {TrialState.COMPLETED}


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


@pytest.fixture
def remote_cluster(tmp_path):
    """``dask scheduler`` and one ``dask worker``, processes of their own in another folder."""
    home = tmp_path / "cluster"
    home.mkdir()
    info = home / "scheduler.json"
    common = {"cwd": home, "env": _env(), "stdout": subprocess.DEVNULL,
              "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--scheduler-file", str(info),
         "--port", "0", "--dashboard-address", ":0"], **common)
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not info.exists() or not info.read_text().strip():
            assert time.monotonic() < deadline and scheduler.poll() is None
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
             "--nworkers", "1", "--no-dashboard", "--local-directory", str(home / "work")],
            **common)
        with distributed.Client(address, set_as_default=False) as c:
            c.wait_for_workers(1, timeout=60)
            yield address, c
    finally:
        for proc in (worker, scheduler):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


SPEC = """\
search = "random"
train = "{name}:train_fn"
n_trials = 4
seed = 0

[space]
x = {{ type = "real", low = 0.0, high = 1.0 }}

[run]
experiment_root = "study"
"""


def _hpcore_run(folder: Path, address: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hpcore", "run", "spec.toml", "--executor", address, "--quiet"],
        cwd=folder, env=_env(), capture_output=True, text=True, timeout=180,
    )


def test_hpcore_run_on_a_cluster_that_cannot_import_train_says_what_to_do(
    remote_cluster, tmp_path
):
    address, client = remote_cluster
    name = "spec_train_mod"
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / f"{name}.py").write_text(MODULE)
    (folder / "spec.toml").write_text(SPEC.format(name=name))
    assert not _workers_import(client, name)

    failed = _hpcore_run(folder, address)
    assert failed.returncode != 0
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in failed.stderr, failed.stderr
    assert lines[0].startswith("hpcore run: error: ")
    assert f"No module named '{name}'" in lines[0]
    assert "upload_file" in lines[0] and "PYTHONPATH" in lines[0]
    stored = hpcore.load(folder / "study").trials
    assert stored and {t.state for t in stored} == {TrialState.INTERRUPTED}

    client.upload_file(str(folder / f"{name}.py"))
    done = _hpcore_run(folder, address)
    assert done.returncode == 0, done.stderr
    study = hpcore.load(folder / "study")
    assert [t.trial_id for t in study.trials] == [0, 1, 2, 3]
    assert {t.state for t in study.trials} == {TrialState.COMPLETED}


# -- 2. models come back to the experiment root without a shared filesystem ------------
def test_a_returned_torch_model_reaches_best_without_a_shared_filesystem(client, tmp_path):
    torch = pytest.importorskip("torch")
    root = tmp_path / "study"
    search = RandomSearch({}, {"x": Real(0, 1)}, metric="loss", n_trials=4, random_state=0)
    search.run(dask_fns.returns_a_torch_model, executor=client, experiment_root=root, verbose=0)
    assert {t.state for t in search.trials} == {TrialState.COMPLETED}
    assert all(t.host for t in search.trials)  # they ran on the workers
    study = hpcore.load(root)
    for t in study.trials:
        assert (study.trial_dir(t.trial_id) / "model.pt").is_file()
    best = study.load_best_model(torch.nn.Linear(2, 1))
    x = study.best_trial.params["x"]
    assert torch.equal(best.weight, torch.full((1, 2), x)) and torch.equal(best.bias, torch.full((1,), x))


@pytest.mark.parametrize("timeout", [None, 60.0], ids=["thread", "child"])
def test_a_saved_model_reaches_best_without_a_shared_filesystem(client, tmp_path, timeout):
    root = tmp_path / "study"
    search = RandomSearch({}, {"x": Real(0, 1)}, n_trials=3, random_state=1)
    search.run(dask_fns.saves_a_model, executor=DaskExecutor(client, trial_timeout=timeout),
               experiment_root=root, verbose=0)
    study = hpcore.load(root)
    assert {t.state for t in study.trials} == {TrialState.COMPLETED}
    assert all(t.error is None for t in study.trials)
    assert study.load_best_model() == {"x": study.best_trial.params["x"], "blob": b""}


def test_a_model_over_the_size_limit_stays_behind_and_the_trial_says_why(client, tmp_path):
    root = tmp_path / "study"
    search = RandomSearch({"size": 5000}, {"x": Real(0, 1)}, n_trials=2, random_state=0,
                          allow_new_keys=True)
    with pytest.warns(RuntimeWarning, match="max_model_bytes=1000"):
        search.run(dask_fns.saves_a_model, executor=DaskExecutor(client, max_model_bytes=1000),
                   experiment_root=root, verbose=0)
    study = hpcore.load(root)
    for t in study.trials:
        assert t.state is TrialState.COMPLETED and t.value is not None  # the result is kept
        assert "was not sent back" in t.error and "max_model_bytes=1000" in t.error
        assert "shared_filesystem=True" in t.error
        assert not any(study.trial_dir(t.trial_id).glob("model.*"))
    with pytest.raises(FileNotFoundError):
        study.load_best_model()


def test_with_a_shared_filesystem_the_worker_saves_the_model_itself(client, tmp_path):
    """No bytes travel, so no limit applies (a LocalCluster shares the driver's disk)."""
    root = tmp_path / "study"
    search = RandomSearch({"size": 5000}, {"x": Real(0, 1)}, n_trials=2, random_state=0,
                          allow_new_keys=True)
    search.run(dask_fns.saves_a_model, experiment_root=root, verbose=0,
               executor=DaskExecutor(client, shared_filesystem=True, max_model_bytes=1000))
    study = hpcore.load(root)
    assert all(t.state is TrialState.COMPLETED and t.error is None for t in study.trials)
    assert study.load_best_model()["x"] == study.best_trial.params["x"]


@pytest.mark.parametrize("timeout", [None, 60.0], ids=["thread", "child"])
@pytest.mark.parametrize("shared", [False, True])
def test_only_with_a_shared_filesystem_the_worker_writes_the_whole_log(
    client, tmp_path, shared, timeout
):
    root = tmp_path / "study"
    search = RandomSearch({}, {"x": Real(0, 1)}, n_trials=1, random_state=0)
    search.run(dask_fns.long_output, experiment_root=root, verbose=0,
               executor=DaskExecutor(client, trial_timeout=timeout, shared_filesystem=shared))
    log = (root / "trials" / "00000" / "trial.log").read_text()
    # Without one the driver writes the tail that came back with the outcome.
    assert ("the first line of a long log" in log) is shared
    assert log.rstrip().endswith("x" * 99) and len(log) >= 20_000


def test_without_an_experiment_root_no_model_travels(client):
    search = RandomSearch({"size": 5000}, {"x": Real(0, 1)}, n_trials=2, random_state=0,
                          allow_new_keys=True)
    search.run(dask_fns.saves_a_model, executor=DaskExecutor(client, max_model_bytes=1000),
               verbose=0)
    assert all(t.state is TrialState.COMPLETED and t.error is None for t in search.trials)


def test_the_model_size_limit_is_checked():
    with pytest.raises(hpcore.ArgumentError, match="max_model_bytes"):
        DaskExecutor("tcp://127.0.0.1:1", max_model_bytes=-1)
