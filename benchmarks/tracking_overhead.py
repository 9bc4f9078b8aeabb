"""What tracking costs a whole search, and what resuming a big study costs.

Usage::

    python -m benchmarks.tracking_overhead [--trials 1000] [--reports 100]

Runs a seeded random search of no-op trials (10 parameters, ``--reports``
reports each) three ways: in memory; with ``experiment_root`` (database,
trial folders, ``metrics.jsonl``, ``best``); and resumed from that root
with one more trial (load every stored trial, tell the strategy, run one).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from hpcore import RandomSearch
from hpcore.search.space import Integer, Real

SPACE = {f"x{i}": Real(0, 1) for i in range(8)} | {"n": Integer(1, 10), "m": Integer(1, 5)}


def make_fn(reports: int):
    def fn(config, trial):
        for s in range(reports):
            trial.report(s, config["x0"] + 1.0 / (s + 1))
        return config["x0"]

    return fn


def build_parser() -> argparse.ArgumentParser:
    """This script's arguments; tests/test_docs_shell.py parses the docs' lines with it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--reports", type=int, default=100)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    fn, n = make_fn(args.reports), args.trials
    tmp = Path(tempfile.mkdtemp())
    root = tmp / "exp"
    try:
        t = time.perf_counter()
        RandomSearch({}, SPACE, n_trials=n, random_state=0).run(fn)
        memory = time.perf_counter() - t
        t = time.perf_counter()
        RandomSearch({}, SPACE, n_trials=n, random_state=0).run(fn, experiment_root=root)
        tracked = time.perf_counter() - t
        t = time.perf_counter()
        RandomSearch({}, SPACE, n_trials=n + 1, random_state=0).run(fn, experiment_root=root)
        resume = time.perf_counter() - t
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{n} trials x {args.reports} reports, 10 params:")
    print(f"  in memory      {memory:.2f} s ({memory / n * 1e3:.2f} ms per trial)")
    print(f"  tracked        {tracked:.2f} s ({tracked / n * 1e3:.2f} ms per trial)")
    print(f"  resume + 1     {resume:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
