"""Plots of the peer comparison: regret curves and suggestion latency against n.

Usage (from the repository root, after ``benchmarks.peers.compare``)::

    python -m benchmarks.peers.plot [--regret benchmarks/peers/results/regret_20seeds.json]
        [--latency benchmarks/peers/results/latency.json] [--out docs/img]

Reads the JSON that ``compare regret`` and ``compare latency`` write and
draws ``regret.png`` (one panel per function: the median over seeds of the
simple regret after each evaluation, with the 25th-75th percentile band,
log scale) and ``latency.png`` (one panel per dimension: the steady
ask+tell time against the number of observations, log-log). Needs
matplotlib (``pip install 'hpcore[plot]'``).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path("benchmarks/peers/results")

# One colour per contestant in every figure; hpcore drawn last and thickest.
COLOURS = {
    "hpcore": "#d62728",
    "optuna-hpcore": "#ff9896",
    "optuna-gp": "#1f77b4",
    "optuna-tpe": "#17becf",
    "skopt": "#2ca02c",
    "botorch": "#9467bd",
    "random": "#7f7f7f",
}


def _order(names: list[str]) -> list[str]:
    return sorted(names, key=lambda n: (n == "hpcore", n))


def _grid(n: int) -> tuple[int, int]:
    cols = min(3, n)
    return math.ceil(n / cols), cols


def plot_regret(results: dict[str, dict[str, Any]]) -> Any:
    """Median regret (band: quartiles over seeds) against evaluations, a panel per function.

    Parameters
    ----------
    results : mapping
        ``{function: {contestant: {"curves": [[regret after each evaluation], ...]}}}``,
        as ``compare regret`` writes it.
    """
    from matplotlib.figure import Figure  # no pyplot: nothing global, safe in threads

    if not results:
        raise ValueError("plot_regret: the results hold no function")
    rows, cols = _grid(len(results))
    fig = Figure(figsize=(4.2 * cols, 3.3 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[len(results):]:
        ax.set_visible(False)
    for ax, (fname, by_peer) in zip(axes.flat, results.items()):
        for name in _order(list(by_peer)):
            curves = np.asarray(by_peer[name]["curves"], dtype=float)
            # A regret of exactly 0 (optimum hit) would vanish on a log axis.
            curves = np.maximum(curves, 1e-12)
            x = np.arange(1, curves.shape[1] + 1)
            lo, med, hi = np.percentile(curves, [25, 50, 75], axis=0)
            colour = COLOURS.get(name)
            width = 2.2 if name == "hpcore" else 1.3
            ax.plot(x, med, color=colour, lw=width, label=f"{name} ({curves.shape[0]} seeds)")
            ax.fill_between(x, lo, hi, color=colour, alpha=0.12, lw=0)
        ax.set_yscale("log")
        ax.set_title(fname)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("regret (median, IQR)")
        ax.grid(alpha=0.3, which="both")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def _latency_points(table: dict[str, dict[str, Any]]) -> dict[int, dict[str, list[tuple[int, float]]]]:
    points: dict[int, dict[str, list[tuple[int, float]]]] = {}
    for key, row in table.items():
        parts = dict(p.split("=") for p in key.split(","))
        n, d = int(parts["n"]), int(parts["d"])
        for name, cell in row.items():
            if isinstance(cell, dict):
                points.setdefault(d, {}).setdefault(name, []).append((n, cell["steady"]))
    return points


def plot_latency(table: dict[str, dict[str, Any]]) -> Any:
    """Steady ask+tell seconds against observations n, a panel per dimension d (log-log).

    Parameters
    ----------
    table : mapping
        ``{"n=N,d=D": {contestant: {"steady": seconds, ...} or "skipped"}}``,
        as ``compare latency`` writes it.
    """
    from matplotlib.figure import Figure

    points = _latency_points(table)
    if not points:
        raise ValueError("plot_latency: the table holds no measured step")
    dims = sorted(points)
    fig = Figure(figsize=(3.6 * len(dims), 3.4))
    axes = fig.subplots(1, len(dims), squeeze=False)
    for ax, d in zip(axes.flat, dims):
        for name in _order(list(points[d])):
            n, secs = zip(*sorted(points[d][name]))
            ax.plot(n, secs, "o-", color=COLOURS.get(name), label=name,
                    lw=2.2 if name == "hpcore" else 1.3, ms=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"d = {d}")
        ax.set_xlabel("observations n")
        ax.grid(alpha=0.3, which="both")
    axes.flat[0].set_ylabel("seconds per ask+tell")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regret", default=str(RESULTS / "regret_20seeds.json"))
    parser.add_argument("--latency", default=str(RESULTS / "latency.json"))
    parser.add_argument("--out", default="docs/img")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for source, draw, name in ((args.regret, plot_regret, "regret.png"),
                               (args.latency, plot_latency, "latency.png")):
        fig = draw(json.loads(Path(source).read_text()))
        fig.savefig(out / name, dpi=90)
        print(f"{source} -> {out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
