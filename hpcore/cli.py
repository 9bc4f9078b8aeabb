"""The ``hpcore`` command line.

``hpcore demo`` runs the README's main job; later sub-commands (status,
best, report, compare) inspect searches on disk.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__

__all__ = ["main"]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hpcore", description="Hyperparameter search: grid, random and Bayesian."
    )
    parser.add_argument("--version", action="version", version=f"hpcore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="search a small torch network on the bundled digits data (the README's main job)",
        description=(
            "Train an MLP on scikit-learn's bundled digits with grid search and random "
            "search on the same budget, print each search's trials and a comparison, and "
            "write trials.json, trials.csv and best.json per search under --out."
        ),
    )
    demo.add_argument("--out", default="experiments/demo", help="results folder")
    demo.add_argument("--trials", type=_positive_int, default=24, help="budget per search")
    demo.add_argument("--epochs", type=_positive_int, default=100, help="epochs per trial")
    demo.add_argument("--n-jobs", type=int, default=2, help="trials at once (-1: every core)")
    demo.add_argument("--seed", type=int, default=0, help="random_state of the searches")
    demo.add_argument(
        "--quick", action="store_true", help="a tiny run (4 trials of 2 epochs) to check the setup"
    )
    demo.add_argument("--quiet", action="store_true", help="no line per trial")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hpcore`` console script."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "demo":
        from .demo import run_demo

        trials, epochs = (4, 2) if args.quick else (args.trials, args.epochs)
        run_demo(
            out=args.out,
            n_trials=trials,
            epochs=epochs,
            n_jobs=args.n_jobs,
            seed=args.seed,
            verbose=not args.quiet,
        )
        return 0
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
