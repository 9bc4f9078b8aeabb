"""Per-trial overhead of DaskExecutor on a local Dask cluster.

Usage::

    python -m benchmarks.overhead_dask [--trials 200] [--timeout-trials 20] [--repeat 3]

A ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)`` runs a
no-op ``train_fn`` (it returns its input), so the time is all overhead:
shipping the task, scheduling, running it, sending the outcome back.
Two trials are kept in flight, as the search loop does with
``max_concurrency == 2``. Contestants:

* ``bare dask``: ``client.submit`` of a no-op function and
  ``distributed.wait(FIRST_COMPLETED)``, the floor of any Dask executor;
* ``DaskExecutor``: trials in the workers' threads;
* ``DaskExecutor(trial_timeout=...)``: a child process per trial (the
  interpreter start and ``import hpcore`` in the child dominate);
* ``RandomSearch.run(executor=DaskExecutor)``: the above plus suggesting
  and recording, the whole search loop.

Printed per contestant: trials per second and the median time from
submitting a trial to collecting its outcome (not shown for the search
loop, which does not expose it). The workers are warmed up
first (their first trial imports hpcore). Each is run ``--repeat`` times;
the median run is reported.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

IN_FLIGHT = 2


def noop(config: Any) -> float:
    return config["x"]


def _bare_noop(x: float) -> float:
    return x


def _drive(submit: Callable[[int], None], collect: Callable[[], list[int]], n: int) -> tuple[float, float]:
    """Keep IN_FLIGHT jobs running until ``n`` are done; (seconds, median latency)."""
    sent: dict[int, float] = {}
    latencies = []
    t0 = time.perf_counter()
    submitted = 0
    while len(latencies) < n:
        while submitted < n and len(sent) < IN_FLIGHT:
            sent[submitted] = time.perf_counter()
            submit(submitted)
            submitted += 1
        for i in collect():
            latencies.append(time.perf_counter() - sent.pop(i))
    return time.perf_counter() - t0, statistics.median(latencies)


def bare_dask(client: Any, n: int) -> tuple[float, float]:
    import distributed

    futures: dict[Any, int] = {}

    def submit(i: int) -> None:
        futures[client.submit(_bare_noop, 0.5, pure=False)] = i

    def collect() -> list[int]:
        with client.as_current():
            done, _ = distributed.wait(list(futures), return_when="FIRST_COMPLETED")
        ids = []
        for f in done:
            f.result()
            ids.append(futures.pop(f))
        return ids

    return _drive(submit, collect, n)


def dask_executor(client: Any, n: int, trial_timeout: float | None = None) -> tuple[float, float]:
    from hpcore import FrozenTrial
    from hpcore.executor import Objective
    from hpcore.executor.dask import DaskExecutor

    ex = DaskExecutor(client, trial_timeout=trial_timeout)
    ex.start(Objective(noop))

    def submit(i: int) -> None:
        ex.submit(FrozenTrial(i, {"x": 0.5}), {"x": 0.5})

    def collect() -> list[int]:
        outcomes = ex.wait()
        assert all(o.state == "completed" for o in outcomes), outcomes
        return [o.trial_id for o in outcomes]

    try:
        return _drive(submit, collect, n)
    finally:
        ex.shutdown()


def search_loop(client: Any, n: int) -> tuple[float, float]:
    from hpcore import RandomSearch
    from hpcore.executor.dask import DaskExecutor
    from hpcore.search.space import Real

    search = RandomSearch({}, {"x": Real(0.0, 1.0)}, n_trials=n, random_state=0)
    t0 = time.perf_counter()
    search.run(noop, executor=DaskExecutor(client))
    return time.perf_counter() - t0, float("nan")  # the loop does not expose latencies


def build_parser() -> argparse.ArgumentParser:
    """This script's arguments; tests/test_docs_shell.py parses the docs' lines with it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--timeout-trials", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)

    import distributed

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster, distributed.Client(cluster) as client:
        dask_executor(client, 10)  # warm up: workers import hpcore
        dask_executor(client, 4, trial_timeout=600)
        contestants = [
            ("bare dask (client.submit)", lambda: bare_dask(client, args.trials), args.trials),
            ("DaskExecutor (worker threads)", lambda: dask_executor(client, args.trials), args.trials),
            (
                "DaskExecutor(trial_timeout=600) (child process per trial)",
                lambda: dask_executor(client, args.timeout_trials, trial_timeout=600),
                args.timeout_trials,
            ),
            ("RandomSearch.run(executor=DaskExecutor)", lambda: search_loop(client, args.trials), args.trials),
        ]
        print(f"{'contestant':<58} {'trials':>6} {'trials/s':>9} {'median latency':>15}")
        for name, run, n in contestants:
            runs = sorted((run() for _ in range(args.repeat)), key=lambda r: r[0])
            seconds, latency = runs[len(runs) // 2]
            shown = "-" if latency != latency else f"{latency * 1e3:.1f} ms"
            print(f"{name:<58} {n:>6} {n / seconds:>9.1f} {shown:>15}")


if __name__ == "__main__":
    main()
