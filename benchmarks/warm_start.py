"""Warm start against a cold start: regret after 10, 20 and 50 evaluations.

For each test function of ``benchmarks/functions.py`` and each seed:

1. an **earlier study**: 50 evaluations of hpcore's Bayesian search on a
   *shifted variant* of the function, ``g(x) = f(x - delta)`` with every
   numeric coordinate moved by ``delta`` of its range (in the unit cube,
   so in log space for log-scaled keys; categoricals unchanged; clipped at
   the box), so that its optimum lies ``delta`` away from the true one --
   last week's search on a neighbouring task;
2. a **cold** search of the function itself (no earlier study);
3. **warm** searches of the function started from the earlier study
   (``warm_start``), with several numbers of initial quasi-random points.

On the demo's real task (``--functions demo``: ``hpcore demo``'s MLP on the
digits, its 7-key space) the earlier study trains each network for
``DEMO_EPOCHS_EARLIER`` epochs and the new searches for ``DEMO_EPOCHS``: a
quick search last week, the real one now, whose best learning rate and
regularisation differ and whose losses are on another scale. The optimum
is unknown there: the table gives the best validation loss found.

The cold and warm searches use the same seed. Each is hpcore's ask/tell
loop (``BayesianStrategy`` at its defaults), without processes or disk:
what changes between them is the model alone. Output: a JSON file with
every run's best-so-far curve, and a table of median (and worst) regret.

    python -m benchmarks.warm_start --seeds 10 --jobs 2 \
        --out benchmarks/results/warm_start.json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from benchmarks.functions import ALL_FUNCTIONS, by_name
from hpcore.space import Categorical, SearchSpace
from hpcore.strategies import BayesianStrategy

BUDGET = 50
CHECKPOINTS = (10, 20, 50)
DEMO_EPOCHS_EARLIER, DEMO_EPOCHS = 3, 8


class DemoTask:
    """``hpcore demo``'s training run at a number of epochs, as a function of params."""

    optimum = 0.0  # unknown: "regret" is the best validation loss itself

    def __init__(self, epochs: int) -> None:
        from hpcore.cli.demo import BASE_CONFIG, demo_searches

        self.space = demo_searches(1, epochs, 0)["random"].space
        self.base = {**BASE_CONFIG, "training": {**BASE_CONFIG["training"], "epochs": epochs}}

    def __call__(self, params: dict[str, Any]) -> float:
        import torch

        from hpcore.cli.demo import train_digits
        from hpcore.config import apply_params

        torch.set_num_threads(1)
        return train_digits(apply_params(self.base, params))["val_loss"]


def shifted(fn: Any, delta: float) -> Any:
    """``fn`` with its numeric coordinates moved by ``delta`` of their unit range."""
    space = SearchSpace(fn.space)

    def g(params: dict[str, Any]) -> float:
        moved = dict(params)
        for key, dim in space.items():
            if not isinstance(dim, Categorical):
                u = min(max(dim.to_unit(params[key]) - delta, 0.0), 1.0)
                moved[key] = dim.from_unit(np.array([u]))[0]
        return fn(moved)

    return g


def run(fn: Any, objective: Any, seed: int, budget: int, **options: Any) -> list[float]:
    """Best-so-far regret after each evaluation; also the observations (params, value)."""
    s = BayesianStrategy(fn.space, seed=seed, **options)
    best, curve, seen = math.inf, [], []
    for _ in range(budget):
        p = s.ask()
        v = float(objective(p))
        s.tell(p, v)
        seen.append((p, v))
        best = min(best, v)
        curve.append(best)
    return curve, seen


def one(task: tuple[str, int, float, tuple[int, ...]]) -> dict[str, Any]:
    name, seed, delta, inits = task
    t0 = time.perf_counter()
    if name == "demo":
        fn = DemoTask(DEMO_EPOCHS)
        _, earlier = run(fn, DemoTask(DEMO_EPOCHS_EARLIER), seed + 1000, BUDGET)
        delta = "epochs"
    else:
        fn = by_name(name)
        _, earlier = run(fn, shifted(fn, delta), seed + 1000, BUDGET)
    out: dict[str, Any] = {"function": name, "seed": seed, "delta": delta}
    cold, _ = run(fn, fn, seed, BUDGET)
    out["cold"] = [c - fn.optimum for c in cold]
    for k in inits:
        warm, _ = run(fn, fn, seed, BUDGET, warm_start=[earlier], n_initial_points=k)
        out[f"warm_init{k}"] = [c - fn.optimum for c in warm]
    out["seconds"] = time.perf_counter() - t0
    return out


def table(results: list[dict[str, Any]]) -> str:
    arms = [k for k in results[0] if k == "cold" or k.startswith("warm_")]
    lines = ["| function | delta | arm | " + " | ".join(
        f"regret at {c} (median / worst)" for c in CHECKPOINTS) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in CHECKPOINTS) + " |"]
    keys = sorted({(r["function"], str(r["delta"])) for r in results})
    for name, delta in keys:
        rows = [r for r in results if r["function"] == name and str(r["delta"]) == delta]
        for arm in arms:
            cells = []
            for c in CHECKPOINTS:
                v = np.array([r[arm][c - 1] for r in rows])
                cells.append(f"{np.median(v):.3g} / {v.max():.3g}")
            lines.append(f"| {name} | {delta} | {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--functions", default=",".join(f.name for f in ALL_FUNCTIONS))
    ap.add_argument("--deltas", default="0.1")
    ap.add_argument("--inits", default="1,3,10", help="initial points of the warm searches")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    inits = tuple(int(k) for k in args.inits.split(","))
    tasks = [(name, seed, float(d), inits) for d in args.deltas.split(",")
             for name in args.functions.split(",") for seed in range(args.seeds)]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(one, tasks))
    print(table(results))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"budget": BUDGET, "results": results}, f)


if __name__ == "__main__":
    main()
