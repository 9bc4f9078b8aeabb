"""What the SQLite study store costs a search: per trial, and on resume.

Usage::

    python -m benchmarks.storage_overhead [--trials 200] [--resume-trials 1000]
                                          [--params 10] [--reports 100] [--dir DIR]

Every trial has ``--params`` parameters (floats, ints, a string, a tuple)
and ``--reports`` reports (step, value, time and one extra metric), as a
trial of a 100-epoch training run would.

* **record**: the mean time of ``start_trial`` + ``finish_trial`` over
  ``--trials`` trials, the driver's cost per trial. Measured with the
  store's ``synchronous=NORMAL`` and again with ``FULL`` (an fsync of the
  write-ahead log at every commit), the number behind the choice of NORMAL.
* **resume**: opening a store of ``--resume-trials`` such trials (as a
  driver: lock, WAL, schema check) and reading them all back with
  ``trials()``, what a resumed search does before its first new trial;
  then the same with ``trials(with_reports=False)``. Median of 5.

The files go under ``--dir`` (default: the system's temporary folder); the
numbers depend on its disk, ``FULL`` most of all.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from hpcore.storage import DB_NAME, Storage
from hpcore.trial import FrozenTrial, TrialState


def make_trial(i: int, n_params: int, n_reports: int) -> FrozenTrial:
    params: dict[str, object] = {}
    for k in range(n_params):
        kind = k % 4
        if kind == 0:
            params[f"model.layer{k}.lr"] = 10 ** (-5 + (i * 7 + k) % 40 / 10)
        elif kind == 1:
            params[f"model.layer{k}.width"] = 32 + (i + k) % 480
        elif kind == 2:
            params[f"model.layer{k}.act"] = ("relu", "gelu", "tanh")[(i + k) % 3]
        else:
            params[f"model.layer{k}.shape"] = (i % 7, k)
    reports = [
        {"step": s, "time": 1.7e9 + i + s / 100, "value": 1.0 / (s + 1 + i), "acc": s / n_reports}
        for s in range(n_reports)
    ]
    return FrozenTrial(
        trial_id=i,
        params=params,
        state=TrialState.COMPLETED,
        values=(1.0 / (n_reports + i),),
        metrics={"val_loss": 1.0 / (n_reports + i), "val_acc": 0.9},
        start=1.7e9 + i,
        end=1.7e9 + i + 1.0,
        reports=reports,
        devices=(0,),
        host="bench",
        attempts=1,
    )


def measure_record(root: Path, trials: list[FrozenTrial], synchronous: str) -> float:
    """Mean seconds of start_trial + finish_trial per trial."""
    with Storage(root) as s:
        # Storage sets NORMAL; FULL is only measured here, for the comparison.
        s._connection().execute(f"PRAGMA synchronous = {synchronous}")
        t0 = time.perf_counter()
        for t in trials:
            s.start_trial(t.trial_id, t.params, t.start or 0.0)
            s.finish_trial(t)
        return (time.perf_counter() - t0) / len(trials)


def measure_resume(root: Path, with_reports: bool, repeat: int = 5) -> tuple[float, int]:
    """Median seconds of opening the store and reading every trial back."""
    times = []
    n = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        with Storage(root) as s:
            n = len(s.trials(with_reports=with_reports))
        times.append(time.perf_counter() - t0)
    return statistics.median(times), n


def build_parser() -> argparse.ArgumentParser:
    """This script's arguments; tests/test_docs_shell.py parses the docs' lines with it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--resume-trials", type=int, default=1000)
    parser.add_argument("--params", type=int, default=10)
    parser.add_argument("--reports", type=int, default=100)
    parser.add_argument("--dir", default=None, help="where to put the stores")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="hpcore-storage-bench-", dir=args.dir))
    try:
        trials = [make_trial(i, args.params, args.reports) for i in range(args.trials)]
        print(f"{args.params} params, {args.reports} reports per trial; stores in {work}")
        for sync in ("NORMAL", "FULL"):
            mean = measure_record(work / f"record-{sync.lower()}", trials, sync)
            print(
                f"record  start_trial + finish_trial, synchronous={sync:<6}: "
                f"{mean * 1e3:7.3f} ms per trial (mean of {args.trials})"
            )

        root = work / "resume"
        with Storage(root) as s:
            for i in range(args.resume_trials):
                t = make_trial(i, args.params, args.reports)
                s.start_trial(t.trial_id, t.params, t.start or 0.0)
                s.finish_trial(t)
        size = (root / DB_NAME).stat().st_size
        print(f"resume  store of {args.resume_trials} trials: {size / 2**20:.1f} MiB")
        for with_reports in (True, False):
            median, n = measure_resume(root, with_reports)
            label = "with reports" if with_reports else "without reports"
            print(
                f"resume  open + trials() {label:<15}: {median * 1e3:7.1f} ms "
                f"for {n} trials (median of 5)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
