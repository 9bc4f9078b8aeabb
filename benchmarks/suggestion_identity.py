"""Fingerprints of BayesianStrategy's suggestions, to check that a refactoring of the
kernel layer or the strategy changed no number.

    python -m benchmarks.suggestion_identity            # prints one line per case
    PYTHONPATH=<old checkout> python -m benchmarks.suggestion_identity

Each case runs ``--steps`` ask/tell rounds of ``BayesianStrategy`` (seeded) on a
test function, sequentially or with ``batch`` points pending at once, and prints
a SHA-256 of every suggested value (``repr`` of the floats: bit-exact). Two runs
print the same lines exactly when every suggestion was the same.
"""

from __future__ import annotations

import argparse
import hashlib

from benchmarks.functions import by_name
from hpcore.strategies import BayesianStrategy

CASES = [("branin", 1, 0), ("hartmann6", 1, 1), ("mixed6", 1, 2), ("branin", 4, 3),
         ("mixed6", 4, 4)]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=25, help="suggestions per case")
    return parser


def fingerprint(name: str, batch: int, seed: int, steps: int) -> str:
    fn = by_name(name)
    strategy = BayesianStrategy(fn.space, seed=seed, n_initial_points=6)
    digest = hashlib.sha256()
    made = 0
    while made < steps:
        asked = strategy.ask(min(batch, steps - made))
        for params in asked:
            digest.update(repr(sorted(params.items())).encode())
            strategy.tell(params, fn(params))
        made += len(asked)
    return digest.hexdigest()[:16]


def main() -> None:
    args = build_parser().parse_args()
    for name, batch, seed in CASES:
        print(f"{name:10s} batch={batch} seed={seed} {fingerprint(name, batch, seed, args.steps)}")


if __name__ == "__main__":
    main()
