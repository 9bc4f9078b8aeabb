"""How one suggestion's time and the process memory grow with the number of observations.

Usage (from the repository root)::

    python -m benchmarks.ask_scaling --n 200,1000,2000,5000,10000 --d 10 --steps 30 \\
        --peers hpcore,optuna-gp --max-seconds 20 --out benchmarks/results/ask_scaling.json \\
        --plot docs/img/ask_scaling.png [--hpcore-opts '{"refit_growth": 0.01}'] [--threads 1]
    python -m benchmarks.ask_scaling --plot-only benchmarks/results/ask_scaling.json \\
        --plot docs/img/ask_scaling.png

Each (contestant, n) is measured in its own fresh Python process, so that its
peak memory is its own. The process first pays the one-time costs of a fresh
process (imports, numba's compile or cache load, Optuna's lazy torch import)
on a throwaway history of 12 observations (``warmup_s``; ``--no-warmup`` skips
it), then loads the history of ``n`` observations of
:func:`benchmarks.peers.compare.latency_history` in ``d`` dimensions (hpcore:
``BayesianStrategy.tell`` for each; Optuna: ``add_trial``), then times
``--steps + 1`` steps, each one ``ask()`` plus ``tell(params, random value)``.
The columns:

* **first (s)**: the first step after loading: a model fit from scratch;
* **median (s)**, **worst (s)**, **mean (s)**: of the ``--steps`` later steps
  (warm-started refits, or full ones where the library refits every time);
* **peak RSS (MB)**: the process's peak resident memory (``ru_maxrss``), the
  interpreter and libraries included; the JSON also has the RSS right after
  loading the history (``rss_loaded_mb``) and the loading time (``load_s``).

Once a contestant's median step exceeds ``--max-seconds`` (or its process
runs past ``--child-timeout``), its larger ``n`` are recorded as skipped. A
process that fails is recorded as an error with the tail of its stderr.
Every process gets ``--threads`` threads (BLAS, OpenMP, numba, torch).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.peers.compare import (
    CONTESTANTS,
    HpcoreBayes,
    _limit_threads,
    available,
    latency_history,
)

ROOT = Path(__file__).resolve().parents[1]


# -- child: one (contestant, n) in this process ------------------------------------


def _rss_mb() -> float:
    """The current resident set size in MB (Linux, /proc/self/status VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _contestant(name: str, space: dict, hpcore_opts: dict[str, Any]) -> Any:
    """A fresh contestant (seed 0, 10 initial points); hpcore gets ``hpcore_opts``."""
    return HpcoreBayes(space, 0, **hpcore_opts) if name == "hpcore" else CONTESTANTS[name](space, 0)


def _load(opt: Any, X: list[dict], y: list[float]) -> None:
    """Give the contestant the history: ``preload`` where it has one, else ``tell`` each."""
    if hasattr(opt, "preload"):
        opt.preload(X, y)
    else:
        for p, v in zip(X, y):
            opt.tell(p, v)


def measure(name: str, n: int, d: int, steps: int, hpcore_opts: dict[str, Any],
            warmup: bool = True) -> dict[str, Any]:
    """Time ``steps + 1`` ask+tell steps after ``n`` observations; memory of this process."""
    import numpy as np

    warmup_s = 0.0
    if warmup:  # one-time costs of a fresh process, on a separate small history
        t0 = time.perf_counter()
        space, X, y = latency_history(12, d, seed=1)
        opt = _contestant(name, space, hpcore_opts)
        _load(opt, X, y)
        opt.tell(opt.ask(), 0.5)
        del opt
        gc.collect()
        warmup_s = time.perf_counter() - t0
    space, X, y = latency_history(n, d, seed=0)
    t0 = time.perf_counter()
    opt = _contestant(name, space, hpcore_opts)
    _load(opt, X, y)
    load_s = time.perf_counter() - t0
    rss_loaded = _rss_mb()
    rng = np.random.default_rng(1)
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        params = opt.ask()
        opt.tell(params, float(rng.random()))
        times.append(time.perf_counter() - t0)
    later = times[1:]
    return {"first": times[0], "later": later, "median": statistics.median(later),
            "max": max(later), "mean": statistics.fmean(later), "load_s": load_s,
            "warmup_s": warmup_s, "rss_loaded_mb": rss_loaded,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# -- parent: one child process per measurement ------------------------------------


def run_child(name: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Measure (name, n) in a fresh process; an error record if it fails or times out."""
    cmd = [sys.executable, "-m", "benchmarks.ask_scaling", "--child", name, "--n", str(n),
           "--d", str(args.d), "--steps", str(args.steps), "--hpcore-opts", args.hpcore_opts]
    if args.no_warmup:
        cmd.append("--no-warmup")
    base = {"contestant": name, "n": n}
    try:
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                             timeout=args.child_timeout)
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) \
            else exc.stderr or ""
        return {**base, "status": "error", "timed_out": True,
                "error": f"timed out after {args.child_timeout} s\n{err[-2000:]}"}
    if out.returncode != 0:
        return {**base, "status": "error", "error": f"exit {out.returncode}\n{out.stderr[-2000:]}"}
    try:
        return {**base, "status": "ok", **json.loads(out.stdout.strip().splitlines()[-1])}
    except (IndexError, ValueError):
        return {**base, "status": "error", "error": f"no JSON on stdout\n{out.stderr[-2000:]}"}


def _git(*cmd: str) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return None


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for pkg in ("hpcore", "numpy", "optuna", "torch"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def tables(results: list[dict[str, Any]]) -> str:
    """The Markdown tables: every measurement, then optuna-gp/hpcore (or any peer/hpcore)."""
    lines = ["| n | contestant | first (s) | median (s) | worst (s) | mean (s) | peak RSS (MB) |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for r in results:
        if r["status"] == "ok":
            cells = [f"{r[k]:.4g}" for k in ("first", "median", "max", "mean")]
            cells.append(f"{r['peak_rss_mb']:.0f}")
        else:
            cells = [r["status"]] + ["-"] * 4
        lines.append(f"| {r['n']} | {r['contestant']} | " + " | ".join(cells) + " |")
    ok = {(r["contestant"], r["n"]): r for r in results if r["status"] == "ok"}
    pairs = [(p, n) for p, n in ok if p != "hpcore" and ("hpcore", n) in ok]
    if pairs:
        lines += ["", "| n | ratio | first | median | mean |", "|---:|---|---:|---:|---:|"]
        for p, n in sorted(pairs, key=lambda pn: (pn[0], pn[1])):
            a, b = ok[(p, n)], ok[("hpcore", n)]
            cells = [f"{a[k] / b[k]:.2f}x" for k in ("first", "median", "mean")]
            lines.append(f"| {n} | {p}/hpcore | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(report: dict[str, Any], path: str | Path) -> None:
    """Log-log step seconds against n: median (solid), worst (dashed), first (dotted)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    from benchmarks.peers.plot import COLOURS

    ok = [r for r in report["results"] if r["status"] == "ok"]
    if not ok:
        raise ValueError("no measured step to plot")
    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    names = list(dict.fromkeys(r["contestant"] for r in ok))
    for i, name in enumerate(names):
        rows = sorted((r for r in ok if r["contestant"] == name), key=lambda r: r["n"])
        ns = [r["n"] for r in rows]
        colour = COLOURS.get(name, f"C{i}")
        ax.plot(ns, [r["median"] for r in rows], "-o", color=colour, label=f"{name} median")
        ax.plot(ns, [r["max"] for r in rows], "--", color=colour, label=f"{name} worst")
        ax.plot(ns, [r["first"] for r in rows], ":", color=colour, label=f"{name} first")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(sorted({r["n"] for r in ok}))  # the measured n, written out
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("observations n")
    ax.set_ylabel("seconds per step (ask + tell)")
    ax.set_title(f"One suggestion after n observations, d = {report['d']}, "
                 f"{report['steps']} later steps")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def build_parser() -> argparse.ArgumentParser:
    """This script's arguments (the parent's, ``--child``'s and ``--plot-only``'s)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", default="200,1000,2000,5000,10000", help="comma-separated n")
    p.add_argument("--d", type=int, default=10)
    p.add_argument("--steps", type=int, default=30, help="later steps timed after the first")
    p.add_argument("--peers", default="hpcore,optuna-gp",
                   help=f"comma-separated, from {', '.join(CONTESTANTS)}")
    p.add_argument("--max-seconds", type=float, default=20.0,
                   help="skip larger n for a contestant once its median step exceeds this")
    p.add_argument("--hpcore-opts", default="{}", help="JSON of BayesianStrategy options")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--child-timeout", type=float, default=1800.0)
    p.add_argument("--no-warmup", action="store_true", help="no throwaway run first")
    p.add_argument("--out", default="benchmarks/results/ask_scaling.json")
    p.add_argument("--plot", help="PNG path for the figure")
    p.add_argument("--plot-only", metavar="JSON", help="draw --plot from this JSON and exit")
    p.add_argument("--child", metavar="CONTESTANT", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the measurements (or one child, or only the plot)."""
    args = build_parser().parse_args(argv)
    if args.child:
        rec = measure(args.child, int(args.n), args.d, args.steps, json.loads(args.hpcore_opts),
                      warmup=not args.no_warmup)
        print(json.dumps(rec), flush=True)
        return 0
    if args.plot_only:
        if not args.plot:
            sys.exit("--plot-only needs --plot PATH")
        plot(json.loads(Path(args.plot_only).read_text()), args.plot)
        print(f"wrote {args.plot}")
        return 0
    unknown = [p for p in args.peers.split(",") if p not in CONTESTANTS]
    if unknown:
        sys.exit(f"unknown peers {unknown}; choose from {list(CONTESTANTS)}")
    json.loads(args.hpcore_opts)  # fail early on bad JSON
    peers, missing = available(args.peers.split(","))
    if missing:
        print(f"not installed, skipped: {', '.join(missing)}", flush=True)
    _limit_threads(args.threads)  # the children inherit these before they import numpy
    head = _git("rev-parse", "HEAD")
    dirty = _git("diff", "--quiet", "HEAD")
    report: dict[str, Any] = {
        "command": [sys.executable, "-m", "benchmarks.ask_scaling", *sys.argv[1:]]
        if argv is None else ["benchmarks.ask_scaling", *argv],
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": head.stdout.strip() if head and head.returncode == 0 else None,
        "tracked_changes": bool(dirty.returncode) if dirty else None,
        "versions": _versions(), "d": args.d, "steps": args.steps, "threads": args.threads,
        "hpcore_opts": json.loads(args.hpcore_opts), "max_seconds": args.max_seconds,
        "missing": missing, "results": [],
    }
    stopped: set[str] = set()
    for n in sorted(int(v) for v in args.n.split(",")):
        for name in peers:
            if name in stopped:
                rec: dict[str, Any] = {"contestant": name, "n": n, "status": "skipped"}
            else:
                rec = run_child(name, n, args)
                if rec.get("timed_out") or rec.get("median", 0.0) > args.max_seconds:
                    stopped.add(name)
            report["results"].append(rec)
            if rec["status"] == "ok":
                print(f"n={n:6d} {name:10s} first {rec['first']:.4f}s median {rec['median']:.4f}s"
                      f" worst {rec['max']:.4f}s load {rec['load_s']:.2f}s"
                      f" peak RSS {rec['peak_rss_mb']:.0f} MB", flush=True)
            else:
                print(f"n={n:6d} {name:10s} {rec['status']}: {rec.get('error', '')[-500:]}",
                      flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {out}\n\n" + tables(report["results"]))
    if args.plot:
        if any(r["status"] == "ok" for r in report["results"]):
            plot(report, args.plot)
            print(f"\nwrote {args.plot}")
        else:
            print("\nnothing measured, no plot")
    return 0


if __name__ == "__main__":
    sys.exit(main())
