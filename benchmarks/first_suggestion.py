"""Time to the first GP suggestion of a Bayesian search, from a fresh process.

Usage::

    python -m benchmarks.first_suggestion [--repeats 3] [--initial 5] [--seconds 0 2]

Each measurement is a new Python process with its own numba cache folder,
empty (the first run after ``pip install``) or warmed by a previous run. It
runs ``BayesianSearch(n_initial_points=K)`` serially on a ``train_fn``
that sleeps S seconds (a stand-in for training; sleeping releases the GIL
as torch does) and reports:

* **wait**: from the end of the last initial trial to the start of the
  first GP trial: what the search waited for its first GP suggestion
  (compilation, if not done yet, and the fit);
* **total**: the whole process, interpreter start to exit.

with the kernels compiled in the background from the start of the search
(``compile_in_background=True``, the default) and without (``False``: the
first GP suggestion compiles them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

_CHILD = """
import json, sys, time
from hpcore import BayesianSearch, Integer, Real

K, S, BACKGROUND = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "1"

def train_fn(config):
    time.sleep(S)
    return (config["x"] - 0.3) ** 2 + (config["y"] - 0.6) ** 2 + 0.01 * config["n"]

search = BayesianSearch({"x": 0.0, "y": 0.0, "n": 1},
                        {"x": Real(0, 1), "y": Real(0, 1), "n": Integer(1, 8)},
                        n_trials=K + 1, n_initial_points=K, random_state=0,
                        compile_in_background=BACKGROUND)
search.run(train_fn, verbose=0)
first_gp, last_initial = search.trials[K], search.trials[K - 1]
print(json.dumps({"wait": first_gp.start - last_initial.end}))
"""


def measure_once(initial: int, seconds: float, background: bool, cache: str) -> dict[str, float]:
    """One fresh process with numba's cache in ``cache``; its wait and total seconds."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(initial), str(seconds), "1" if background else "0"],
        capture_output=True, text=True, env=env, check=True,
    )
    total = time.perf_counter() - t0
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "total": total}


def build_parser() -> argparse.ArgumentParser:
    """This script's arguments; tests/test_docs_shell.py parses the docs' lines with it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--initial", type=int, default=5)
    parser.add_argument("--seconds", type=float, nargs="+", default=[0.0, 2.0])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    rows = []
    for seconds in args.seconds:
        for background in (True, False):
            for state in ("empty", "warm"):
                waits, totals = [], []
                for _ in range(args.repeats):
                    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
                        if state == "warm":
                            measure_once(args.initial, 0.0, background, cache)
                        r = measure_once(args.initial, seconds, background, cache)
                    waits.append(r["wait"])
                    totals.append(r["total"])
                rows.append((seconds, background, state, waits, totals))
    print(f"| initial trials | kernels compiled | numba cache | wait for the first GP "
          f"suggestion, median (worst) of {args.repeats} | whole process, median |")
    print("|---|---|---|---|---|")
    for seconds, background, state, waits, totals in rows:
        how = "in the background" if background else "at the first GP suggestion"
        print(f"| {args.initial} x {seconds:g} s | {how} | {state} | "
              f"{statistics.median(waits):.2f} s ({max(waits):.2f} s) | "
              f"{statistics.median(totals):.1f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
