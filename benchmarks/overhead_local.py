"""Per-trial overhead of the local executors, beside Optuna and a bare process pool.

Usage::

    python -m benchmarks.overhead_local [--trials 400] [--scale 2000]

Every contestant runs a no-op ``train_fn`` (it returns its input), so the
time is all overhead: suggesting, shipping the trial, collecting the result.

* ``hpcore n_jobs=1``: the serial executor (the trial runs in the driver);
* ``hpcore n_jobs=2``: two spawned worker processes (worker start included);
* ``optuna n_jobs=1/2``: ``study.optimize`` with a random sampler (Optuna
  runs ``n_jobs > 1`` in threads of the driver, not processes);
* ``ProcessPoolExecutor(2)``: the floor of any process pool: submit, wait
  for the first to finish, submit the next (pool start included).

``--scale`` runs that many trials with ``n_jobs=2`` and reports the
driver's resident memory before and after and the overhead per trial in
the first and the last tenth: flat memory and flat overhead mean no
per-trial state leaks.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import time

import numpy as np


def noop(config):
    return config["x"]


def _opt_noop(trial):
    return trial.suggest_float("x", 0.0, 1.0)


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def hpcore_rate(n: int, n_jobs: int) -> float:
    from hpcore import RandomSearch
    from hpcore.search.space import Real

    search = RandomSearch({}, {"x": Real(0.0, 1.0)}, n_trials=n, random_state=0)
    t0 = time.perf_counter()
    search.run(noop, n_jobs=n_jobs)
    return n / (time.perf_counter() - t0)


def optuna_rate(n: int, n_jobs: int) -> float | None:
    try:
        import optuna
    except ImportError:
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    t0 = time.perf_counter()
    study.optimize(_opt_noop, n_trials=n, n_jobs=n_jobs)
    return n / (time.perf_counter() - t0)


def pool_rate(n: int, workers: int = 2) -> float:
    import multiprocessing as mp

    t0 = time.perf_counter()
    with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        running = {pool.submit(noop, {"x": float(i)}) for i in range(workers)}
        submitted = workers
        while running:
            done, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for _ in done:
                if submitted < n:
                    running.add(pool.submit(noop, {"x": float(submitted)}))
                    submitted += 1
    return n / (time.perf_counter() - t0)


def scale(n: int) -> dict[str, float]:
    from hpcore import RandomSearch
    from hpcore.search.space import Real

    search = RandomSearch({}, {"x": Real(0.0, 1.0)}, n_trials=n, random_state=0)
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    search.run(noop, n_jobs=2)
    total = time.perf_counter() - t0
    ends = np.sort([t.end for t in search.trials])
    tenth = max(2, n // 10)
    first = (ends[tenth] - ends[1]) / (tenth - 1)  # skip the workers' start
    last = (ends[-1] - ends[-tenth]) / (tenth - 1)
    return {"trials": n, "seconds": total, "rss_start_mb": rss0, "rss_end_mb": _rss_mb(),
            "ms_per_trial_first_tenth": first * 1e3, "ms_per_trial_last_tenth": last * 1e3}


def build_parser() -> argparse.ArgumentParser:
    """This script's arguments; tests/test_docs_shell.py parses the docs' lines with it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--scale", type=int, default=2000)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    n = args.trials
    rows = [
        ("hpcore n_jobs=1 (serial)", hpcore_rate(n, 1)),
        ("hpcore n_jobs=2 (processes)", hpcore_rate(n, 2)),
        ("optuna n_jobs=1", optuna_rate(n, 1)),
        ("optuna n_jobs=2 (threads)", optuna_rate(n, 2)),
        ("ProcessPoolExecutor(2), spawn", pool_rate(n, 2)),
    ]
    print(f"| no-op trials ({n}) | trials/s | ms per trial |")
    print("|---|---|---|")
    for name, rate in rows:
        if rate is None:
            print(f"| {name} | not installed | - |")
        else:
            print(f"| {name} | {rate:,.0f} | {1e3 / rate:.3f} |")
    if args.scale:
        s = scale(args.scale)
        print(f"\n{s['trials']} no-op trials, n_jobs=2: {s['seconds']:.1f} s; driver RSS "
              f"{s['rss_start_mb']:.0f} MB -> {s['rss_end_mb']:.0f} MB; overhead "
              f"{s['ms_per_trial_first_tenth']:.2f} ms/trial (first tenth) vs "
              f"{s['ms_per_trial_last_tenth']:.2f} ms/trial (last tenth)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
