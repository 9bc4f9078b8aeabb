"""Compute saved by early stopping on synthetic learning curves, beside Optuna's pruners.

Usage::

    python -m benchmarks.stopping [--configs 100] [--epochs 50] [--seeds 5]

Each configuration ``k`` has a known final value ``f_k`` and a learning
curve ``f_k + a_k / (t + 1) ** b_k`` plus a little noise, for ``t`` in
``0 .. epochs - 1`` (fast-learning bad configurations cross slow good
ones, as real curves do). Every contestant sees the same configurations
in the same order (trial ``k`` trains configuration ``k``), so the only
difference is what it stops:

* ``none``: every configuration trained to the end;
* hpcore rules: ``MedianStopping``, ``ImprovementStopping``,
  ``ThresholdStopping`` and the median + improvement pair;
* Optuna's ``MedianPruner`` and ``HyperbandPruner`` (when optuna is installed);
* hpcore's ``HyperbandSearch`` (synchronous and ASHA), when present:
  it chooses its own configurations and budgets (a promotion retrains from
  scratch), so it is compared on compute and the true final value of the
  configuration it returns.

Reported per contestant: the epochs trained in all (compute), compute
relative to ``none``, and the value the configuration it returns as best
reaches when trained for all epochs, relative to the best of ``none`` (the goal: 40% less
compute, best within 1%). Medians over seeds.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np


def make_curves(n: int, epochs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Final values (n,) and curves (n, epochs)."""
    rng = np.random.default_rng(seed)
    final = rng.lognormal(mean=-1.0, sigma=0.6, size=n)
    a = rng.uniform(0.5, 3.0, size=n)
    b = rng.uniform(0.3, 1.5, size=n)
    t = np.arange(epochs)[None, :] + 1.0
    noise = rng.normal(scale=0.005, size=(n, epochs))
    curves = final[:, None] + a[:, None] / t ** b[:, None] + noise
    curves[:, -1] = final + a / epochs ** b  # the value returned at the end, noise-free
    return final, curves


def run_hpcore(curves: np.ndarray, stopping) -> tuple[int, int]:
    """(epochs trained, index of the configuration returned as best)."""
    from hpcore import GridSearch

    n, epochs = curves.shape
    used = [0]

    def train_fn(config, trial):
        k = config["k"]
        for t in range(epochs):
            used[0] += 1
            trial.report(t, float(curves[k, t]))
        return float(curves[k, -1])

    search = GridSearch({}, {"k": list(range(n))})
    search.run(train_fn, stopping=stopping)
    return used[0], search.best_params["k"]


def run_optuna(curves: np.ndarray, pruner) -> tuple[int, int]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    n, epochs = curves.shape
    used = [0]

    def objective(trial):
        k = trial.number
        trial.suggest_int("k", k, k)
        for t in range(epochs):
            used[0] += 1
            trial.report(float(curves[k, t]), t)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(curves[k, -1])

    study = optuna.create_study(pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=n)
    return used[0], study.best_trial.number


def run_hyperband(curves: np.ndarray, asynchronous: bool, seed: int) -> tuple[int, int] | None:
    try:
        from hpcore import HyperbandSearch
        from hpcore.search.space import Integer
    except ImportError:
        return None
    n, epochs = curves.shape
    used = [0]

    def train_fn(config, trial):
        k, budget = config["k"], int(config["epochs"])
        for t in range(budget):
            used[0] += 1
            trial.report(t, float(curves[k, t]))
        return float(curves[k, budget - 1])

    kwargs = dict(resource_key="epochs", max_resource=epochs, min_resource=max(1, epochs // 27),
                  eta=3, random_state=seed)
    if asynchronous:
        kwargs["n_trials"] = n * 2
    search = HyperbandSearch({"epochs": epochs}, {"k": Integer(0, n - 1)},
                             asynchronous=asynchronous, **kwargs)
    search.run(train_fn)
    # The configuration returned: the best among those trained to the full budget.
    full = [t for t in search.trials if t.value is not None and t.params["epochs"] == epochs]
    pick = min(full or [t for t in search.trials if t.value is not None], key=lambda t: t.value)
    return used[0], pick.params["k"]


def contestants(epochs: int) -> dict[str, Callable[[np.ndarray, int], tuple[int, int] | None]]:
    from hpcore.stopping import ImprovementStopping, MedianStopping, ThresholdStopping

    out: dict[str, Callable] = {
        "none": lambda c, s: run_hpcore(c, None),
        "hpcore MedianStopping(5, 5)": lambda c, s: run_hpcore(c, MedianStopping(5, 5)),
        "hpcore ImprovementStopping(3, 0.01)": lambda c, s: run_hpcore(
            c, ImprovementStopping(patience=3, min_delta=0.01)),
        "hpcore ThresholdStopping(1.0, 10)": lambda c, s: run_hpcore(
            c, ThresholdStopping(threshold=1.0, after_step=10)),
        "hpcore Median + Improvement": lambda c, s: run_hpcore(
            c, [MedianStopping(5, 5), ImprovementStopping(patience=3, min_delta=0.01)]),
    }
    try:
        import optuna

        out["optuna MedianPruner(5, 5)"] = lambda c, s: run_optuna(
            c, optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5))
        out["optuna HyperbandPruner(1, max, 3)"] = lambda c, s: run_optuna(
            c, optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs,
                                              reduction_factor=3))
    except ImportError:
        pass
    out["hpcore HyperbandSearch (sync)"] = lambda c, s: run_hyperband(c, False, s)
    out["hpcore HyperbandSearch (ASHA)"] = lambda c, s: run_hyperband(c, True, s)
    return out


def build_parser() -> argparse.ArgumentParser:
    """This script's arguments; tests/test_docs_shell.py parses the docs' lines with it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=5)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    rows: dict[str, list[tuple[float, float]]] = {}
    for seed in range(args.seeds):
        _, curves = make_curves(args.configs, args.epochs, seed)
        final = curves[:, -1]  # what a configuration trained for all epochs ends at
        full = args.configs * args.epochs
        best_none = float(final.min())
        for name, fn in contestants(args.epochs).items():
            res = fn(curves, seed)
            if res is None:
                continue
            used, k = res
            gap = (final[k] - best_none) / abs(best_none)
            rows.setdefault(name, []).append((used / full, gap))
    print(f"{args.configs} configurations x {args.epochs} epochs, {args.seeds} seeds (medians)\n")
    print("| contestant | compute vs none | saved | best final value vs none's best |")
    print("|---|---|---|---|")
    for name, vals in rows.items():
        comp = float(np.median([v[0] for v in vals]))
        gap = float(np.median([v[1] for v in vals]))
        worst = max(v[1] for v in vals)
        print(f"| {name} | {comp:.2f} | {1 - comp:.0%} | +{gap:.2%} (worst seed +{worst:.2%}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
