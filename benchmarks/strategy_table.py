"""The seed's strategy table, reproduced on a real training task with several seeds.

Usage::

    python -m benchmarks.strategy_table [--seeds 5] [--trials 20] [--epochs 60] [--n-jobs 2]

The seed reports, for a VAE and a 20-trial budget, the best validation
loss, trials to best and wall time of grid, random and Bayesian search.
This runs the same comparison on the demo's task (``hpcore.cli.demo``: a torch
MLP on scikit-learn's bundled digits, 3-fold cross-validated validation
cross-entropy, ``--epochs`` epochs per trial), every strategy with the
same budget of ``--trials`` trials, ``--n-jobs`` at a time:

- grid: 5 learning rates (1e-3 to 3e-2, log-spaced) x widths {32, 128} x
  batch sizes {32, 128}, 20 points in product order, so a budget of 20
  runs the whole grid;
- random and Bayesian: the demo's 7-parameter space (learning rate, weight
  decay, batch size, width, depth, dropout, activation); Bayesian starts
  with 6 quasi-random points.

Seed ``s`` seeds the search (``random_state``) and the networks'
initialisation (``config["seed"]``), so grid runs differ only in the
latter. The strategies run interleaved (seed 0: grid, random, Bayesian;
seed 1: ...), so a change of machine load hits them alike. Each run is a
stored study, ``OUT/studies/<strategy>/seed<s>`` (``hpcore status``,
``hpcore compare`` and ``hpcore.load`` read them). Writes
``OUT/strategy_table.json`` (every trial's value and duration, per run)
and ``OUT/strategy_table.png`` (best so far against trials, median and
quartiles over the seeds), and prints the Markdown tables of
``docs/benchmarks.md``. ``--replot`` redraws the plot from the stored
studies without training anything.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any

from hpcore import BayesianSearch, GridSearch, RandomSearch
from hpcore.cli.demo import BASE_CONFIG, demo_searches, train_digits
from hpcore.search.base import BaseSearch
from hpcore.space import Real

STRATEGIES = ("grid", "random", "bayesian")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--replot", action="store_true",
                        help="train nothing: print the tables from OUT/strategy_table.json "
                             "and redraw OUT/strategy_table.png from OUT/studies")
    return parser


def grid_space() -> dict[str, Any]:
    """The 20-point grid: 5 learning rates x 2 widths x 2 batch sizes."""
    return {
        "training.lr": Real(1e-3, 3e-2, log=True, grid_points=5),
        "model.hidden_dim": [32, 128],
        "training.batch_size": [32, 128],
    }


def make_search(strategy: str, trials: int, epochs: int, seed: int) -> BaseSearch:
    """One strategy's search with a budget of ``trials`` and seed ``seed``."""
    base = json.loads(json.dumps(BASE_CONFIG))
    base["training"]["epochs"] = epochs
    base["seed"] = seed
    common: dict[str, Any] = dict(base_config=base, metric="val_loss", mode="min",
                                  random_state=seed, n_trials=trials)
    if strategy == "grid":
        return GridSearch(search_space=grid_space(), **common)
    space = demo_searches(trials, epochs, seed)["random"].space
    if strategy == "random":
        return RandomSearch(search_space=space, **common)
    n_initial = max(2, min(8, trials // 3))
    return BayesianSearch(search_space=space, n_initial_points=n_initial, **common)


def run_record(search: BaseSearch, wall: float) -> dict[str, Any]:
    """What the tables need from one run: values in trial order, best, trials to best."""
    trials = sorted(search.trials, key=lambda t: t.trial_id)
    best = search.best_trial
    assert best is not None, "no trial finished"
    seconds = [t.end - t.start for t in trials if t.end is not None and t.start is not None]
    return {
        "values": [t.value if t.value is not None else None for t in trials],
        "states": [t.state.value for t in trials],
        "trial_seconds": seconds,
        "compute_s": sum(seconds),
        "best_val_loss": best.value,
        "best_val_acc": best.metrics.get("val_acc"),
        "trials_to_best": best.trial_id + 1,
        "n_trials": len(trials),
        "wall_s": wall,
        "best_params": best.params,
    }


def _q(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=4, method="inclusive")[int(q * 4) - 1] if len(values) > 1 else values[0]


def _best_of_first(run: dict[str, Any], k: int) -> float:
    values = [v for v in run.get("values", [])[:k] if v is not None]
    return min(values) if values else math.nan


def summary_table(runs: dict[str, list[dict[str, Any]]]) -> str:
    """Per strategy: median best val loss [quartiles], wins, trials to best, wall time.

    "at half budget" is the median best after the first half of the trials.
    """
    n_seeds = min(len(r) for r in runs.values())
    wins = dict.fromkeys(runs, 0)
    for s in range(n_seeds):
        winner = min(runs, key=lambda k: runs[k][s]["best_val_loss"])
        wins[winner] += 1
    lines = [
        "| method | best val loss, median [25%, 75%] | at half budget | best of seeds | wins | "
        "trials to best, median (range) | wall time, median (range) | trial time, median |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, rs in runs.items():
        best = [r["best_val_loss"] for r in rs]
        ttb = [r["trials_to_best"] for r in rs]
        wall = [r["wall_s"] for r in rs]
        compute = [r.get("compute_s", math.nan) for r in rs]
        half = statistics.median(_best_of_first(r, r["n_trials"] // 2) for r in rs)
        lines.append(
            f"| {name} | {statistics.median(best):.4f} [{_q(best, .25):.4f}, {_q(best, .75):.4f}] "
            f"| {half:.4f} | {min(best):.4f} | {wins[name]}/{n_seeds} "
            f"| {statistics.median(ttb):g}/{rs[0]['n_trials']} ({min(ttb)}-{max(ttb)}) "
            f"| {statistics.median(wall):.0f} s ({min(wall):.0f}-{max(wall):.0f}) "
            f"| {statistics.median(compute):.0f} s |"
        )
    return "\n".join(lines)


def per_seed_table(runs: dict[str, list[dict[str, Any]]]) -> str:
    """Best val loss (trials to best) of every strategy, a row per seed."""
    names = list(runs)
    lines = ["| seed | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for s in range(min(len(r) for r in runs.values())):
        cells = [f"{runs[n][s]['best_val_loss']:.4f} ({runs[n][s]['trials_to_best']})"
                 for n in names]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(runs: dict[str, list[Any]], path: Path) -> Path | None:
    """``plot_comparison`` of the runs (searches or stored studies), zoomed on the finish."""
    try:
        from hpcore.analysis.plots import plot_comparison
    except ImportError:  # pragma: no cover - matplotlib missing
        return None
    fig = plot_comparison(runs)
    finals = [r.best_trial.value for group in runs.values() for r in group
              if r.best_trial is not None]
    if finals:  # the first trials' losses (up to 10x the final ones) would flatten the rest
        ax = fig.axes[0]
        ax.set_ylim(min(finals) * 0.95, statistics.median(finals) * 1.6)
    fig.savefig(path, dpi=100)
    return path


def stored_runs(out: Path) -> dict[str, list[Any]]:
    """The stored studies of a finished run, by strategy, in seed order."""
    from hpcore import load

    runs: dict[str, list[Any]] = {}
    for name in STRATEGIES:
        roots = sorted((out / "studies" / name).glob("seed*"), key=lambda p: int(p.name[4:]))
        if roots:
            runs[name] = [load(root) for root in roots]
    if not runs:
        raise SystemExit(f"no stored studies under {out / 'studies'}: run without --replot first")
    return runs


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    if args.replot:
        runs = json.loads((out / "strategy_table.json").read_text())["runs"]
        print(summary_table(runs) + "\n\n" + per_seed_table(runs))
        if (out / "studies").is_dir():
            print(f"\nplot: {plot(stored_runs(out), out / 'strategy_table.png')}")
        else:
            print(f"\nno stored studies under {out / 'studies'}: the plot was not redrawn")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in STRATEGIES}
    searches: dict[str, list[BaseSearch]] = {k: [] for k in STRATEGIES}
    print(f"{args.trials} trials x {args.epochs} epochs per search, n_jobs={args.n_jobs}, "
          f"{args.seeds} seeds, {os.cpu_count()} cores", flush=True)
    for seed in range(args.seeds):
        for name in STRATEGIES:
            search = make_search(name, args.trials, args.epochs, seed)
            t0 = time.perf_counter()
            search.run(train_digits, n_jobs=args.n_jobs, verbose=False, resume=False,
                       experiment_root=out / "studies" / name / f"seed{seed}")
            record = run_record(search, time.perf_counter() - t0)
            runs[name].append(record)
            searches[name].append(search)
            print(f"seed {seed} {name:8s} best {record['best_val_loss']:.4f} "
                  f"at trial {record['trials_to_best']}/{record['n_trials']} "
                  f"in {record['wall_s']:.0f} s", flush=True)
            (out / "strategy_table.json").write_text(json.dumps(
                {"args": vars(args), "runs": runs}, indent=1, default=str))
    print("\n" + summary_table(runs) + "\n\n" + per_seed_table(runs))
    png = plot(searches, out / "strategy_table.png")
    if png is not None:
        print(f"\nplot: {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
