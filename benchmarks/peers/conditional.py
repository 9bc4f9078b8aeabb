"""Conditional spaces: hpcore beside Optuna's samplers on define-by-run branches, in one run.

The functions are :mod:`hpcore.testing.conditional`'s, over three branches
(``kind`` in a, b, c with 2, 2 and 1 parameters of their own; optimum 0):
``conditional_sphere`` (every branch a bowl) and ``conditional_trap`` (the
best branch is the worst on average). hpcore declares the space with
``when=``; Optuna's samplers see the same branches define-by-run. Reported:
the median and interquartile range over seeds of the best value after the
budget (the regret: the optimum is 0), and seconds per run.

Usage (from the repository root)::

    python -m benchmarks.peers.conditional --seeds 10 --budget 50

Contestants: hpcore (``BayesianStrategy`` at its defaults), Optuna
``TPESampler(multivariate=True, group=True)``, ``GPSampler`` and
``RandomSampler``; one thread each.
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # before numpy loads
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                 "NUMBA_NUM_THREADS"):
        os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from hpcore.testing.conditional import TRAP_SPACE, conditional_sphere, conditional_trap  # noqa: E402

FUNCTIONS = {"sphere": conditional_sphere, "trap": conditional_trap}
BRANCH_KEYS = {"a": ["a.x1", "a.x2"], "b": ["b.x1", "b.x2"], "c": ["c.x1"]}
N_INITIAL = 10


def run_hpcore(fn: Callable[[dict[str, Any]], float], seed: int, budget: int) -> float:
    from hpcore.strategies import BayesianStrategy

    s = BayesianStrategy(TRAP_SPACE, seed=seed, n_initial_points=N_INITIAL)
    best = np.inf
    for _ in range(budget):
        p = s.ask()
        v = fn(p)
        s.tell(p, v)
        best = min(best, v)
    return float(best)


def _optuna(make: Callable[[int], Any]) -> Callable[..., float]:
    def run(fn: Callable[[dict[str, Any]], float], seed: int, budget: int) -> float:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)

        def objective(trial: Any) -> float:
            kind = trial.suggest_categorical("kind", ["a", "b", "c"])
            p = {"kind": kind}
            for key in BRANCH_KEYS[kind]:
                p[key] = trial.suggest_float(key, 0.0, 1.0)
            return fn(p)

        study = optuna.create_study(sampler=make(seed))
        study.optimize(objective, n_trials=budget)
        return float(study.best_value)

    return run


def contestants() -> dict[str, Callable[..., float]]:
    import optuna.samplers as s

    return {
        "hpcore": run_hpcore,
        "optuna-tpe": _optuna(lambda seed: s.TPESampler(seed=seed, multivariate=True, group=True,
                                                        n_startup_trials=N_INITIAL)),
        "optuna-gp": _optuna(lambda seed: s.GPSampler(seed=seed, n_startup_trials=N_INITIAL,
                                                      warn_independent_sampling=False)),
        "random": _optuna(lambda seed: s.RandomSampler(seed=seed)),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=int, default=50)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    runs = contestants()
    results: dict[str, dict[str, list[list[float]]]] = {}
    for fname, fn in FUNCTIONS.items():
        for seed in range(args.seeds):
            for cname, run in runs.items():
                t0 = time.perf_counter()
                best = run(fn, seed, args.budget)
                secs = time.perf_counter() - t0
                results.setdefault(fname, {}).setdefault(cname, []).append([best, secs])
                print(fname, cname, seed, round(best, 5), round(secs, 2), file=sys.stderr,
                      flush=True)
    print(f"\n{args.seeds} seeds, {args.budget} evaluations, one thread each; regret "
          "(best value, the optimum is 0): median [IQR]; seconds per run\n")
    for fname, by_c in results.items():
        print(f"### {fname}\n\n| contestant | regret | runs at the optimum (< 1e-3) | seconds |")
        print("| --- | --- | --- | --- |")
        for cname, rows in by_c.items():
            best = np.array([r[0] for r in rows])
            q = np.percentile(best, [25, 50, 75])
            print(f"| {cname} | {q[1]:.4g} [{q[0]:.4g}, {q[2]:.4g}] | "
                  f"{int(np.sum(best < 1e-3))}/{len(best)} | "
                  f"{np.median([r[1] for r in rows]):.1f} |")
        print()
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"seeds": args.seeds, "budget": args.budget,
                                        "results": results}, indent=1))


if __name__ == "__main__":
    main()
