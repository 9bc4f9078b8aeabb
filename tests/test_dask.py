"""DaskExecutor on real LocalClusters: results, failures, dead workers, timeouts, GPUs."""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import threading
import time

import pytest

distributed = pytest.importorskip("distributed")

import dask  # noqa: E402
import psutil  # noqa: E402
from helpers import dask_fns, train_fns  # noqa: E402

from hpcore import ArgumentError, ExecutorError, GridSearch, RandomSearch, TrialState  # noqa: E402
from hpcore.executor import Objective  # noqa: E402
from hpcore.executor.dask import DaskExecutor  # noqa: E402
from hpcore.executor.dask import worker as _dask_worker  # noqa: E402
from hpcore.executor.dask.cluster import _cluster_slots  # noqa: E402
from hpcore.executor.dask.worker import _captured, report_topic  # noqa: E402
from hpcore.search.space import Integer, Real  # noqa: E402
from hpcore.stopping import MedianStopping  # noqa: E402
from hpcore.trial import FrozenTrial  # noqa: E402

pytestmark = pytest.mark.slow


def _task(i, attempt=0, **config):
    """A trial to submit (its record and its config), the config being the params."""
    return FrozenTrial(i, dict(config), attempts=attempt + 1), dict(config)


def _drain(ex):
    """Every outcome of the submitted trials, by trial id."""
    outcomes = {}
    while ex.n_running:
        for o in ex.wait():
            assert o.trial_id not in outcomes
            outcomes[o.trial_id] = o
    return outcomes


def _gone(pid):
    """Whether no live process has ``pid`` (a zombie awaiting its reaper counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _local_cluster(**kwargs):
    kwargs = {"n_workers": 2, "threads_per_worker": 1, "processes": True, **kwargs}
    return distributed.LocalCluster(dashboard_address=":0", **kwargs)  # no fixed port


@pytest.fixture(scope="module")
def cluster():
    with _local_cluster() as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as c:
        yield c


@pytest.fixture
def executor(client):
    made = []

    def make(fn, metric=None, **kwargs):
        ex = DaskExecutor(client, **kwargs)
        ex.start(Objective(fn, metric))
        made.append(ex)
        return ex

    yield make
    for ex in made:
        ex.shutdown(cancel=True)


# -- running trials --------------------------------------------------------------
def test_trials_run_on_the_workers_and_come_back(executor, client):
    ex = executor(train_fns.quadratic, metric="loss")
    assert ex.max_concurrency == 2  # 2 workers x 1 thread
    xs = [0.1, 0.3, 0.5, 0.9, 1.0]
    for i, x in enumerate(xs):
        ex.submit(*_task(i, x=x, n=4))
    assert ex.n_running == len(xs)
    outcomes = _drain(ex)
    assert sorted(outcomes) == list(range(len(xs)))
    for i, x in enumerate(xs):
        o = outcomes[i]
        assert o.state is TrialState.COMPLETED
        assert o.value == pytest.approx((x - 0.3) ** 2)
        assert o.metrics == {"loss": pytest.approx((x - 0.3) ** 2), "aux": 1.0}
        assert o.host == socket.gethostname() and o.start <= o.end
        assert o.devices == () and o.output is None
    assert ex.n_running == 0 and ex.wait() == []
    assert client.status == "running"


def test_reports_and_printed_output_come_back(executor):
    ex = executor(train_fns.quadratic_with_trial)
    task = _task(0, x=0.5)
    ex.submit(*task)
    (o,) = _drain(ex).values()
    assert [r["step"] for r in o.reports] == [0, 1, 2] and o.reports[2]["extra"] == 4.0

    ex = executor(dask_fns.noisy)
    ex.submit(*_task(1, x=0.25))
    (o,) = _drain(ex).values()
    assert o.value == 0.25
    assert o.output == "hello from trial x=0.25\na warning on stderr\n"


def test_wait_with_a_timeout_returns_nothing_while_trials_run(executor):
    ex = executor(train_fns.slow)
    ex.submit(*_task(0, x=1.0))
    assert ex.wait(timeout=0.01) == []
    assert ex.n_running == 1
    (o,) = ex.wait()
    assert o.state is TrialState.COMPLETED and o.value == 1.0


def test_an_exception_fails_only_its_trial(executor):
    ex = executor(train_fns.faulty, metric="loss")
    for i, mode in enumerate(["ok", "raise", "nan", "ok"]):
        ex.submit(*_task(i, mode=mode, x=float(i)))
    out = _drain(ex)
    assert [out[i].state for i in range(4)] == [
        TrialState.COMPLETED,
        TrialState.FAILED,
        TrialState.FAILED,
        TrialState.COMPLETED,
    ]
    assert out[1].error == "RuntimeError: boom"
    assert "Traceback" in out[1].traceback and 'raise RuntimeError("boom")' in out[1].traceback
    assert "non-finite" in out[2].error
    assert out[3].value == 3.0


def test_sys_exit_in_a_worker_thread_fails_the_trial_and_spares_the_worker(executor, client):
    pids = client.run(os.getpid)
    ex = executor(dask_fns.calls_exit)
    ex.submit(*_task(0, x=0.0))
    (o,) = _drain(ex).values()
    assert o.state is TrialState.FAILED and o.error == "train_fn raised SystemExit(5)"
    assert client.run(os.getpid) == pids


def test_a_train_fn_the_workers_cannot_import_is_an_executor_error(executor, tmp_path, monkeypatch):
    """Not a failed trial: every trial would fail alike (tests/test_dask_remote.py runs a search)."""
    (tmp_path / "driver_only_mod.py").write_text("def f(config):\n    return 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # the workers were spawned before: not on their path
    import driver_only_mod

    ex = executor(driver_only_mod.f)
    ex.submit(*_task(0))
    with pytest.raises(ExecutorError, match="No module named 'driver_only_mod'.*upload_file"):
        _drain(ex)
    assert ex.n_running == 1  # left for the search's way out, which records it interrupted
    (cut,) = ex.shutdown(cancel=True)
    assert cut.trial_id == 0 and cut.state is TrialState.INTERRUPTED


def test_an_unpicklable_train_fn_is_refused_at_start(client):
    lock = threading.Lock()
    ex = DaskExecutor(client)
    with pytest.raises(ExecutorError, match="cannot be sent to Dask workers"):
        ex.start(Objective(lambda config: bool(lock)))


def test_captured_output_keeps_concurrent_threads_apart():
    """Two threads printing at once each get only their own lines; sys.stdout is restored."""
    original = sys.stdout
    barrier = threading.Barrier(2)
    got = {}

    def run(name):
        with _captured() as sink:
            barrier.wait()
            for i in range(200):
                print(name, i)
            barrier.wait()
        got[name] = sink.getvalue()

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name in ("a", "b"):
        assert got[name] == "".join(f"{name} {i}\n" for i in range(200))
    assert sys.stdout is original


# -- a worker that dies ------------------------------------------------------------
@pytest.fixture(scope="module")
def fragile_client():
    """One worker, and a task fails as soon as one worker died running it."""
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with _local_cluster(n_workers=1) as cluster:
            with distributed.Client(cluster, set_as_default=False) as c:
                yield c


@pytest.mark.parametrize("fn, config", [
    (train_fns.dies, {"mode": "exit", "x": 0.0}),
    (dask_fns.kills_itself, {"mode": "kill", "x": 0.0}),
])
def test_a_worker_dying_mid_trial_fails_that_trial_and_later_ones_run(fragile_client, fn, config):
    ex = DaskExecutor(fragile_client)
    ex.start(Objective(fn))
    try:
        ex.submit(*_task(0, **config))
        (o,) = _drain(ex).values()
        assert o.state is TrialState.FAILED
        assert o.error.startswith("the Dask worker running this trial died (KilledWorker")
        # The only worker, which held train_fn, is gone: its replacement gets it again.
        for i in (1, 2):
            ex.submit(*_task(i, mode="ok", x=float(i)))
        out = _drain(ex)
        assert {i: (o.state, o.value) for i, o in out.items()} == {
            1: (TrialState.COMPLETED, 1.0),
            2: (TrialState.COMPLETED, 2.0),
        }
    finally:
        ex.shutdown(cancel=True)


# -- trial_timeout: a child process per trial -----------------------------------------
def test_a_trial_past_its_timeout_is_killed_with_its_children(executor, client):
    worker_pids = client.run(os.getpid)
    ex = executor(dask_fns.hangs, trial_timeout=5.0)
    ex.submit(*_task(0))
    (o,) = _drain(ex).values()
    assert o.state is TrialState.TIMED_OUT
    assert o.error == "the trial exceeded trial_timeout=5s and was killed"
    assert o.host == socket.gethostname() and o.end - o.start >= 5.0
    line = next(line for line in o.output.splitlines() if line.startswith("pids "))
    child, grandchild = map(int, line.split()[1:])
    assert child not in worker_pids.values()
    assert _gone(child) and _gone(grandchild)
    for pid in worker_pids.values():
        assert psutil.Process(pid).children(recursive=True) == []
    assert client.run(os.getpid) == worker_pids


def test_with_a_timeout_a_crash_stays_in_the_trial_process(executor, client):
    worker_pids = client.run(os.getpid)
    ex = executor(train_fns.dies, trial_timeout=600)
    for i, mode in enumerate(["exit", "segv", "ok"]):
        ex.submit(*_task(i, mode=mode, x=0.5))
    out = _drain(ex)
    assert out[0].state is TrialState.FAILED
    assert out[0].error == "the trial's process exited with code 3"
    assert out[1].error == "the trial's process was killed by SIGSEGV"
    assert out[2].state is TrialState.COMPLETED and out[2].value == 0.5
    assert client.run(os.getpid) == worker_pids  # no worker died


def test_in_a_child_process_results_and_output_come_back(executor):
    ex = executor(dask_fns.noisy, trial_timeout=600)
    ex.submit(*_task(0, x=0.75))
    ex.submit(*_task(1, x=0.5))
    out = _drain(ex)
    assert out[0].state is TrialState.COMPLETED and out[0].value == 0.75
    assert "hello from trial x=0.75\n" in out[0].output
    assert "a warning on stderr\n" in out[0].output
    assert out[1].value == 0.5 and out[1].host == socket.gethostname()


def test_cancelling_kills_a_running_child_process(client, tmp_path):
    pidfile = tmp_path / "pids"
    ex = DaskExecutor(client, trial_timeout=600)
    ex.start(Objective(dask_fns.hangs))
    ex.submit(*_task(0, pidfile=str(pidfile)))
    for _ in range(6000):  # until the trial is running (a guard against hanging, not a limit)
        assert ex.wait(timeout=0.05) == []
        if pidfile.exists() and len(pidfile.read_text().split()) == 2:
            break
    pids = [psutil.Process(int(p)) for p in pidfile.read_text().split()]
    (o,) = ex.shutdown(cancel=True)
    assert o.trial_id == 0 and o.state is TrialState.INTERRUPTED
    gone, alive = psutil.wait_procs(pids, timeout=120)  # a guard against hanging
    assert alive == []


# -- how many at once: threads and resources -------------------------------------------
def test_capacity_counts_threads_and_gpu_resources():
    workers = {
        "a": {"nthreads": 4, "resources": {"GPU": 2}},
        "b": {"nthreads": 1, "resources": {"GPU": 2}},
        "c": {"nthreads": 8, "resources": {}},
    }
    assert _cluster_slots(workers, 0, None) == 13
    assert _cluster_slots(workers, 1, None) == 2 + 1
    assert _cluster_slots(workers, 0.5, None) == 4 + 1
    assert _cluster_slots(workers, 0.1, None) == 4 + 1
    assert _cluster_slots(workers, 2, None) == 2
    assert _cluster_slots(workers, 0, 4) == 3  # 13 threads // 4, no CPU resource
    with pytest.raises(ExecutorError, match=r"cpus_per_trial=16 but the Dask workers have 13"):
        _cluster_slots(workers, 0, 16)
    with pytest.raises(ExecutorError, match=r"no Dask worker has that many GPUs \(the most is GPU=2\)"):
        _cluster_slots(workers, 3, None)


def test_capacity_uses_a_declared_cpu_resource():
    workers = {
        "a": {"nthreads": 8, "resources": {"CPU": 8}},
        "b": {"nthreads": 8, "resources": {"CPU": 3}},
    }
    assert _cluster_slots(workers, 0, 2) == 4 + 1
    assert _cluster_slots(workers, 0, 0.3) == 8 + 8
    with pytest.raises(ExecutorError, match="no worker's CPU resource fits one trial"):
        _cluster_slots(workers, 0, 9)


def test_capacity_is_measured_while_the_client_refreshes_its_scheduler_info(cluster):
    # The client's periodic refresh replaces its cached identity with one that
    # lists no workers; capacity read from that cache saw an empty cluster
    # (and raised) about one time in three at this refresh rate.
    with dask.config.set({"distributed.client.scheduler-info-interval": "1ms"}):
        with distributed.Client(cluster, set_as_default=False) as c:
            assert {DaskExecutor(c).max_concurrency for _ in range(200)} == {2}


def test_a_cluster_without_workers_says_so():
    with pytest.raises(ExecutorError, match="the Dask scheduler lists no workers"):
        _cluster_slots({}, 0, None)


@pytest.fixture(scope="module")
def gpu_cluster():
    """Two in-process workers, each declaring two GPUs (none need exist)."""
    with _local_cluster(threads_per_worker=4, processes=False, resources={"GPU": 2}) as c:
        yield c


def test_gpu_resources_set_the_concurrency(gpu_cluster):
    def slots(gpus_per_trial):
        ex = DaskExecutor(gpu_cluster, gpus_per_trial=gpus_per_trial)
        ex.start(Objective(train_fns.slow))
        try:
            return ex.max_concurrency
        finally:
            ex.shutdown()

    assert slots(1) == 4  # 2 workers x floor(2 / 1)
    assert slots(0.5) == 8  # 2 workers x floor(2 / 0.5), within 4 threads each
    assert slots(2) == 2
    assert slots(0) == 8  # the threads


def test_a_gpu_trial_gets_its_workers_devices(gpu_cluster, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1")  # in-process workers share it
    for kwargs, devices, seen in [
        ({"gpus_per_trial": 1}, (3,), "3,1"),  # a thread sees its worker's devices
        ({"gpus_per_trial": 1, "trial_timeout": 600}, (3,), "3"),  # a child only its own
        ({"gpus_per_trial": 2, "trial_timeout": 600}, (3, 1), "3,1"),
    ]:
        ex = DaskExecutor(gpu_cluster, **kwargs)
        ex.start(Objective(dask_fns.visible_gpus))
        ex.submit(*_task(0, x=1.0))
        (o,) = _drain(ex).values()
        ex.shutdown()
        assert o.state is TrialState.COMPLETED and o.devices == devices, kwargs
        assert f"CUDA_VISIBLE_DEVICES={seen}\n" in o.output, kwargs


def test_gpus_on_a_cluster_without_gpu_resources_say_how_to_fix_it(client):
    ex = DaskExecutor(client, gpus_per_trial=1)
    with pytest.raises(ExecutorError, match=r"gpus_per_trial=1 but none of the 2 Dask workers") as e:
        ex.start(Objective(train_fns.slow))
    assert "--resources GPU=1" in str(e.value) and "gpus_per_trial=0" in str(e.value)


def test_cpus_per_trial_divides_the_threads(client):
    ex = DaskExecutor(client, cpus_per_trial=2)
    ex.start(Objective(train_fns.slow))
    assert ex.max_concurrency == 1  # 2 threads // 2
    ex.shutdown()


# -- connecting ----------------------------------------------------------------------
def test_an_address_gets_a_client_of_its_own_closed_at_shutdown(cluster, client):
    ex = DaskExecutor(cluster.scheduler_address)
    ex.start(Objective(train_fns.quadratic, "loss"))
    own = ex._client
    assert own is not client and own.status == "running"
    ex.submit(*_task(0, x=0.3, n=4))
    (o,) = _drain(ex).values()
    assert o.state is TrialState.COMPLETED and o.value == 0.0
    assert ex.shutdown() == []
    assert own.status == "closed" and client.status == "running"
    ex.start(Objective(train_fns.quadratic, "loss"))  # and it reconnects for another run
    assert ex.max_concurrency == 2
    ex.shutdown()


def test_bad_arguments_are_refused():
    with pytest.raises(ArgumentError, match="client must be a dask.distributed.Client"):
        DaskExecutor(42)
    with pytest.raises(ArgumentError, match="gpus_per_trial must be a number >= 0, got -1"):
        DaskExecutor("tcp://127.0.0.1:1", gpus_per_trial=-1)
    with pytest.raises(ArgumentError, match="trial_timeout must be a number > 0, got 0"):
        DaskExecutor("tcp://127.0.0.1:1", trial_timeout=0)
    with pytest.raises(ArgumentError, match="cpus_per_trial must be a number > 0"):
        DaskExecutor("tcp://127.0.0.1:1", cpus_per_trial=True)


def test_no_scheduler_at_the_address_is_an_executor_error():
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ex = DaskExecutor(f"tcp://127.0.0.1:{port}")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(ExecutorError, match="cannot connect to the Dask scheduler"):
            ex.start(Objective(train_fns.slow))


# -- through the search loop -----------------------------------------------------------
def test_a_search_on_dask_gives_the_trials_of_a_serial_run(client):
    space = {"x": Real(0.0, 1.0), "n": Integer(1, 8)}

    def run(**kwargs):
        search = RandomSearch({}, space, metric="loss", n_trials=8, random_state=3)
        best = search.run(train_fns.quadratic, **kwargs)
        return best, {t.trial_id: (t.params, t.value, t.state) for t in search.trials}

    (best, serial), (best_dask, on_dask) = run(n_jobs=1), run(executor=DaskExecutor(client))
    assert on_dask == serial and best_dask == best
    assert client.status == "running"


# -- live reports and early stopping ---------------------------------------------------
MODES = [pytest.param({}, id="thread"), pytest.param({"trial_timeout": 600}, id="child")]


@pytest.mark.parametrize("mode", MODES)
def test_a_search_stops_hopeless_trials_long_before_their_last_step(client, mode):
    space = {"level": [0.0, 0.05, 0.1, 5.0, 6.0, 7.0]}
    search = GridSearch({"steps": 200, "pause": 0.02}, space, allow_new_keys=True)
    search.run(train_fns.curve, executor=DaskExecutor(client, **mode),
               stopping=MedianStopping(grace_steps=3, min_trials=2))
    hopeless = [t for t in search.trials if t.params["level"] >= 5.0]
    assert all(t.state is TrialState.STOPPED for t in hopeless)
    assert all(len(t.reports) < 30 for t in hopeless)  # out of 200 steps
    assert all(t.error.startswith("stopped early: MedianStopping: its best value") for t in hopeless)
    # The first two run side by side with fewer than min_trials peers: never stopped.
    assert [t.state for t in search.trials[:2]] == [TrialState.COMPLETED] * 2
    assert [len(t.reports) for t in search.trials[:2]] == [200, 200]


def _watch(ex):
    """Record ``(trial_id, step)`` of every live report, and when it came."""
    seen = []
    ex.on_report = lambda tid, entry: seen.append((tid, entry["step"], time.time()))
    return seen


@pytest.mark.parametrize("mode", MODES)
def test_on_report_gets_every_report_in_order_while_trials_run(executor, mode):
    ex = executor(train_fns.curve, **mode)
    seen = _watch(ex)
    for i in range(2):
        task = _task(i, level=float(i), steps=50, pause=0.01)
        ex.submit(*task)
    out = _drain(ex)
    for i in range(2):
        assert out[i].state is TrialState.COMPLETED and len(out[i].reports) == 50
        assert [step for tid, step, _ in seen if tid == i] == list(range(50))
        first = min(t for tid, _, t in seen if tid == i)
        assert first < out[i].end  # it arrived while the trial ran, not with its outcome


@pytest.mark.parametrize("mode", MODES)
def test_a_burst_of_reports_arrives_complete_and_in_order(executor, mode):
    ex = executor(dask_fns.report_loop, **mode)
    seen = _watch(ex)
    for i in range(2):
        task = _task(i, n=1000)
        ex.submit(*task)
    out = _drain(ex)
    for i in range(2):
        assert out[i].state is TrialState.COMPLETED and 0 < out[i].value
        assert [step for tid, step, _ in seen if tid == i] == list(range(1000))


@pytest.mark.parametrize("mode", MODES)
def test_stop_reaches_the_trial_and_should_stop_turns_true(executor, mode):
    ex = executor(dask_fns.until_stopped, metric="loss", **mode)
    seen = _watch(ex)
    for i in range(2):
        task = _task(i, steps=5000, pause=0.01)
        ex.submit(*task)
    for _ in range(10_000):  # until trial 0 reported (a guard against hanging, not a limit)
        assert ex.wait(timeout=0.05) == []
        if any(tid == 0 for tid, _, _ in seen):
            break
    ex.stop(0, "enough of this")
    ex.stop(99, "not a running trial: ignored")
    for _ in range(10_000):
        done = ex.wait(timeout=0.05)
        if done:
            break
    (o,) = done
    assert o.trial_id == 0 and o.state is TrialState.STOPPED
    assert o.error == "stopped early: enough of this"
    assert o.metrics["saw_stop"] == 1.0 and o.metrics["step"] < 1000  # out of 5000
    assert [step for tid, step, _ in seen if tid == 0] == [e["step"] for e in o.reports]
    assert ex.n_running == 1  # trial 1 was not asked
    ex.stop(1, "you too")
    (o1,) = _drain(ex).values()
    assert o1.state is TrialState.STOPPED and o1.error == "stopped early: you too"


@pytest.mark.parametrize("mode", MODES)
def test_a_stop_before_the_trial_reported_goes_to_every_worker(executor, mode):
    ex = executor(dask_fns.until_stopped, metric="loss", **mode)
    task = _task(0, steps=5000, pause=0.01)
    ex.submit(*task)
    ex.stop(0, "not even started")  # no report yet says where it runs
    (o,) = _drain(ex).values()
    assert o.state is TrialState.STOPPED and o.error == "stopped early: not even started"
    assert o.metrics["step"] < 1000


def test_live_reports_are_put_in_order_once_and_a_rerun_starts_a_new_curve():
    """The driver's side alone, fed events by hand: gaps wait, duplicates and stale runs drop."""
    ex = DaskExecutor("tcp://127.0.0.1:1")  # never connected
    ex._running = {"key-a": (None, _task(7)[0])}
    seen = []
    ex.on_report = lambda tid, entry: seen.append((tid, entry["step"]))

    def event(nonce, first, steps, key="key-a"):
        ex._take({"k": key, "x": nonce, "w": "tcp://w:1", "n": first,
                  "r": pickle.dumps([{"step": s} for s in steps])})

    event("run1", 2, [2, 3])  # ahead of 0 and 1: held back
    assert seen == []
    event("run1", 0, [0, 1])
    event("run1", 1, [1, 2, 3, 4])  # partly seen already
    event("other-key", 0, [0], key="key-b")  # not a running trial: dropped
    assert seen == [(7, 0), (7, 1), (7, 2), (7, 3), (7, 4)]
    event("run2", 0, [0])  # Dask runs the task again: its curve starts over
    event("run1", 5, [5])  # the first run's last words: dropped
    event("run2", 1, [1])
    assert seen[5:] == [(7, 0), (7, 1)]
    assert ex._streams["key-a"].worker == "tcp://w:1"


def test_shutdown_cleans_up_and_stops_a_trial_left_in_a_worker_thread(client, tmp_path):
    marker = tmp_path / "marker"
    ex = DaskExecutor(client)
    ex.start(Objective(dask_fns.until_stopped, "loss"))
    token = ex._token
    task = _task(0, steps=100_000, pause=0.01, marker=str(marker))
    ex.submit(*task)
    for _ in range(10_000):  # until it runs (a guard against hanging, not a limit)
        assert ex.wait(timeout=0.05) == []
        if marker.exists():
            break
    ex.stop(0, "first")
    (o,) = ex.shutdown(cancel=True)
    assert o.state is TrialState.INTERRUPTED
    # A worker thread cannot be killed, but the run's end reaches it at its next report.
    for _ in range(10_000):
        if marker.read_text().startswith("ended"):
            break
        time.sleep(0.05)
    assert marker.read_text() in ("ended: first", "ended: the search's executor shut down")
    # Nothing of the run is left on the workers (but the mark that it ended) or the scheduler.
    assert set(client.run(lambda: token in _dask_worker._STOPS).values()) == {False}
    assert set(client.run(lambda: token in _dask_worker._CLOSED).values()) == {True}
    for _ in range(10_000):  # the scheduler drops the topic a second later, in the background
        topics = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler._broker._topics))
        if report_topic(token) not in topics:
            break
        time.sleep(0.05)
    assert report_topic(token) not in topics


def test_import_hpcore_does_not_import_dask():
    code = (
        "import sys, hpcore, hpcore.executor;"
        "assert 'distributed' not in sys.modules and 'dask' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_executor_reports_a_missing_dask(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ExecutorError, match=r'pip install "hpcore\[dask\]"'):
        DaskExecutor("tcp://127.0.0.1:1")


def test_a_childs_start_up_is_not_charged_to_its_trials_timeout(executor):
    from helpers import slow_import

    # The child is a new interpreter that imports slow_import (4 s) before it can run
    # the trial, which returns at once: a 2 s clock from the spawn would time it out.
    ex = executor(slow_import.quick, trial_timeout=2.0)
    ex.submit(*_task(0, x=0.25))
    (o,) = _drain(ex).values()
    assert (o.state, o.value) == (TrialState.COMPLETED, 0.25)

    stuck = executor(slow_import.quick, trial_timeout=60.0, start_timeout=1.0)
    stuck.submit(*_task(1, x=0.5))
    (o,) = _drain(stuck).values()
    assert o.state is TrialState.TIMED_OUT
    assert "did not start it within start_timeout=1s" in o.error
