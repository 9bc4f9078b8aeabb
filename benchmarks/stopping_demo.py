"""Early stopping and ASHA on the demo's real training task (torch MLP, sklearn digits).

Usage::

    python -m benchmarks.stopping_demo [--trials 24] [--epochs 60] [--n-jobs 2]

The same seeded random search over the demo's 7-parameter space, run
three ways: every trial trained for all epochs; with
``MedianStopping(grace_steps=--grace, min_trials=4)``; and ASHA
(``HyperbandSearch``, resource ``training.epochs`` from 4 to the full
count, eta = 3, twice as many trials since most are short). Reported:
epochs trained in all (over the three folds, one epoch counts once), the
best validation loss found, and wall time.
"""

from __future__ import annotations

import argparse
import json
import time

from hpcore import HyperbandSearch
from hpcore.cli.demo import BASE_CONFIG, demo_searches, train_digits
from hpcore.stopping import MedianStopping


def build_parser() -> argparse.ArgumentParser:
    """This script's arguments; tests/test_docs_shell.py parses the docs' lines with it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grace", type=int, default=8, help="MedianStopping grace_steps")
    parser.add_argument("--skip-asha", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    rows = []
    for name in ("none", "median"):
        search = demo_searches(args.trials, args.epochs, args.seed)["random"]
        stopping = MedianStopping(grace_steps=args.grace, min_trials=4) if name == "median" else None
        t0 = time.perf_counter()
        search.run(train_digits, n_jobs=args.n_jobs, stopping=stopping)
        rows.append((name, search, time.perf_counter() - t0))
    if not args.skip_asha:
        random = demo_searches(args.trials, args.epochs, args.seed)["random"]
        base = json.loads(json.dumps(BASE_CONFIG))
        base["training"]["epochs"] = args.epochs
        asha = HyperbandSearch(base, random.space, metric="val_loss",
                               resource_key="training.epochs", max_resource=args.epochs,
                               min_resource=4, eta=3, n_trials=2 * args.trials,
                               random_state=args.seed)
        t0 = time.perf_counter()
        asha.run(train_digits, n_jobs=args.n_jobs)
        rows.append(("asha", asha, time.perf_counter() - t0))
    full = rows[0][1]
    full_epochs = sum(len(t.reports) for t in full.trials)
    print(f"random search over the demo space, {args.trials} trials x {args.epochs} epochs, "
          f"n_jobs={args.n_jobs}, seed {args.seed}\n")
    print("| run | trials | epochs trained | vs none | best val_loss | vs none | wall s |")
    print("|---|---|---|---|---|---|---|")
    for name, search, wall in rows:
        epochs = sum(len(t.reports) for t in search.trials)
        best = search.best_score
        print(f"| {name} | {len(search.trials)} | {epochs} | {epochs / full_epochs:.2f} | "
              f"{best:.4f} | {best / full.best_score - 1:+.1%} | {wall:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
