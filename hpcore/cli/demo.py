"""The README's main job: searching a small torch network on real data.

The task: classify scikit-learn's bundled handwritten digits (1,797 8x8
images, shipped inside the scikit-learn package, nothing downloaded) with a
multilayer perceptron, minimising the validation cross-entropy under
``data.folds``-fold cross-validation (the honest protocol for a data set
this small). Each trial trains one network per fold in lockstep for
``training.epochs`` epochs and reports the mean validation loss after every
epoch; its result is the best such mean.

``run_demo`` runs grid, random and Bayesian search on it with the same
budget, each stored under its own experiment root in ``experiments/demo``
(so ``hpcore status``, ``best``, ``report`` and ``compare`` work on them),
prints each search's table and a comparison, and writes each search's
results and HTML report and a comparison plot. It needs the ``demo`` extra
(``pip install 'hpcore[demo]'``: torch and scikit-learn); the plots need
matplotlib (``hpcore[plot]``) and are skipped with a note without it.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..search import BayesianSearch, GridSearch, RandomSearch
from ..search.base import BaseSearch
from ..space import Categorical, Integer, Real

__all__ = ["BASE_CONFIG", "train_digits", "run_demo"]

BASE_CONFIG: dict[str, Any] = {
    "seed": 0,
    "data": {"folds": 3},
    "model": {"hidden_dim": 64, "n_layers": 2, "dropout": 0.1, "activation": "relu"},
    "training": {"lr": 1e-3, "batch_size": 64, "weight_decay": 1e-4, "epochs": 100},
}


def _require_demo_deps() -> None:
    missing = []
    for name in ("torch", "sklearn"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise SystemExit(
            f"hpcore demo needs {' and '.join(missing)}: pip install 'hpcore[demo]' "
            "(for the CPU build of torch first: pip install torch==2.13.0)."
        )


@functools.lru_cache(maxsize=4)
def _folds(k: int, seed: int = 0) -> list[tuple[Any, Any, Any, Any]]:
    """The digits as ``k`` (train x, train y, val x, val y) float32 tensor splits.

    Split once per process with a fixed seed, so every trial sees the same folds.
    """
    import numpy as np
    import torch
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = torch.from_numpy((x / 16.0).astype(np.float32))
    y = torch.from_numpy(y)
    parts = np.array_split(np.random.default_rng(seed).permutation(len(x)), k)
    splits = []
    for f in range(k):
        train = torch.from_numpy(np.concatenate([p for i, p in enumerate(parts) if i != f]))
        val = torch.from_numpy(parts[f])
        splits.append((x[train], y[train], x[val], y[val]))
    return splits


def _mlp(in_dim: int, out_dim: int, model_cfg: dict[str, Any]) -> Any:
    import torch.nn as nn

    act = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}[model_cfg["activation"]]
    layers: list[Any] = []
    width = in_dim
    for _ in range(int(model_cfg["n_layers"])):
        layers += [nn.Linear(width, int(model_cfg["hidden_dim"])), act()]
        if model_cfg["dropout"] > 0:
            layers.append(nn.Dropout(float(model_cfg["dropout"])))
        width = int(model_cfg["hidden_dim"])
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


def train_digits(config: dict[str, Any], trial: Any = None) -> dict[str, float]:
    """Train an MLP per fold on the digits; return the best mean validation loss.

    Parameters
    ----------
    config : dict
        Shaped like :data:`BASE_CONFIG`.
    trial : hpcore.Trial, optional
        Receives ``report(epoch, val_loss, val_acc=...)`` after each epoch
        (means over the folds).

    Returns
    -------
    dict
        ``val_loss`` (lowest mean validation cross-entropy over the epochs),
        ``val_acc`` (mean accuracy at that epoch) and ``best_epoch``.
    """
    import torch
    import torch.nn.functional as F

    torch.manual_seed(int(config["seed"]))
    folds = _folds(int(config["data"]["folds"]))
    train = config["training"]
    models = [_mlp(f[0].shape[1], 10, config["model"]) for f in folds]
    opts = [
        torch.optim.AdamW(
            m.parameters(), lr=float(train["lr"]), weight_decay=float(train["weight_decay"])
        )
        for m in models
    ]
    batch = int(train["batch_size"])
    best = (float("inf"), 0.0, 0)
    for epoch in range(int(train["epochs"])):
        losses, accs = [], []
        for model, opt, (x_tr, y_tr, x_val, y_val) in zip(models, opts, folds):
            model.train()
            perm = torch.randperm(len(x_tr))
            for i in range(0, len(x_tr), batch):
                idx = perm[i : i + batch]
                opt.zero_grad()
                F.cross_entropy(model(x_tr[idx]), y_tr[idx]).backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                logits = model(x_val)
                losses.append(F.cross_entropy(logits, y_val).item())
                accs.append((logits.argmax(1) == y_val).float().mean().item())
        val_loss, val_acc = sum(losses) / len(losses), sum(accs) / len(accs)
        if trial is not None:
            trial.report(epoch, val_loss, val_acc=val_acc)
        if val_loss < best[0]:
            best = (val_loss, val_acc, epoch)
    return {"val_loss": best[0], "val_acc": best[1], "best_epoch": float(best[2])}


def demo_searches(n_trials: int, epochs: int, seed: int) -> dict[str, BaseSearch]:
    """The demo's searches, each with a budget of at most ``n_trials`` trials.

    Grid search walks 6 learning rates x 2 widths x 2 batch sizes (24
    points); random and Bayesian search share a 7-parameter space. Bayesian
    search starts with a third of the budget (2 to 8 trials) of quasi-random
    points, then follows its GP model.
    """
    base = json.loads(json.dumps(BASE_CONFIG))
    base["training"]["epochs"] = epochs
    grid_space = {
        "training.lr": Real(1e-3, 3e-2, log=True, grid_points=6),
        "model.hidden_dim": [32, 128],
        "training.batch_size": [32, 128],
    }
    random_space = {
        "training.lr": Real(1e-4, 1e-1, log=True),
        "training.weight_decay": Real(1e-6, 1e-2, log=True),
        "training.batch_size": Integer(16, 256, log=True),
        "model.hidden_dim": Integer(16, 256, log=True),
        "model.n_layers": Integer(1, 3),
        "model.dropout": Real(0.0, 0.5),
        "model.activation": Categorical(["relu", "gelu", "tanh"]),
    }
    common = dict(base_config=base, metric="val_loss", mode="min", random_state=seed)
    n_initial = max(2, min(8, n_trials // 3))
    return {
        "grid": GridSearch(search_space=grid_space, n_trials=n_trials, **common),  # type: ignore[arg-type]
        "random": RandomSearch(search_space=random_space, n_trials=n_trials, **common),  # type: ignore[arg-type]
        "bayesian": BayesianSearch(  # type: ignore[arg-type]
            search_space=random_space, n_trials=n_trials, n_initial_points=n_initial, **common
        ),
    }


def _trials_to_best(search: BaseSearch) -> int | None:
    best = search.best_trial
    return None if best is None else best.trial_id + 1


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _write_report(root: Path, name: str) -> Path | None:
    """``write_report(hpcore.load(root), root / 'report')``: what ``hpcore report root`` does."""
    from ..analysis.report import write_report
    from ..storage import load

    return write_report(load(root), root / "report", title=f"hpcore demo: {name} search")


def _write_comparison(searches: dict[str, BaseSearch], path: Path) -> Path:
    from ..analysis.plots import plot_comparison

    plot_comparison(dict(searches)).savefig(path, dpi=100)
    return path


def comparison_table(summary: dict[str, dict[str, Any]]) -> str:
    """The comparison as a Markdown table: best value, accuracy, trials to best, time."""
    lines = [
        "| method   | best val loss | val acc | trials to best |   time |",
        "|----------|--------------:|--------:|---------------:|-------:|",
    ]
    for name, s in summary.items():
        acc = s["best_val_acc"]
        lines.append(
            f"| {name:<8} | {s['best_val_loss']:>13.4f} | "
            f"{'-' if acc is None else format(acc, '.3f'):>7} | "
            f"{str(s['trials_to_best']) + '/' + str(s['n_trials']):>14} | "
            f"{s['wall_s']:>5.1f}s |"
        )
    return "\n".join(lines)


def run_demo(
    out: str | Path = "experiments/demo",
    n_trials: int = 24,
    epochs: int = 60,
    n_jobs: int = 2,
    seed: int = 0,
    verbose: bool = True,
) -> dict[str, dict[str, Any]]:
    """Run grid, random and Bayesian search on the digits task and write the results.

    Each search is stored under ``out/<name>`` (its experiment root, started
    afresh on every call) with ``trials.json``, ``trials.csv``, ``best.json``
    and, with matplotlib, ``report/report.html``; ``out/summary.json`` and
    ``out/comparison.png`` cover all three.

    Returns a summary per strategy: best value, trials to best, wall time.
    """
    from ..analysis.tables import format_table, save_results

    _require_demo_deps()
    out = Path(out)
    plots = _has_matplotlib()
    searches = demo_searches(n_trials, epochs, seed)
    summary: dict[str, dict[str, Any]] = {}
    for name, search in searches.items():
        print(f"\n== {name} search: {search.n_trials} trials, n_jobs={n_jobs} ==", flush=True)
        root = out / name
        t0 = time.perf_counter()
        search.run(train_digits, n_jobs=n_jobs, verbose=verbose, experiment_root=root,
                   resume=False)
        wall = time.perf_counter() - t0
        best = search.best_trial
        assert best is not None
        print(format_table(search.trials, search.metric, best_id=best.trial_id), flush=True)
        save_results(search, root)
        report = _write_report(root, name) if plots else None
        if report is not None:
            print(f"report: {report}", flush=True)
        summary[name] = {
            "best_val_loss": best.value,
            "best_val_acc": best.metrics.get("val_acc"),
            "trials_to_best": _trials_to_best(search),
            "n_trials": len(search.trials),
            "wall_s": wall,
            "best_params": best.params,
            "experiment_root": str(root),
            "report": None if report is None else str(report),
        }
    print("\n== comparison (same budget) ==")
    print(comparison_table(summary))
    if plots:
        print(f"\ncomparison plot: {_write_comparison(searches, out / 'comparison.png')}")
    else:
        print("\nmatplotlib is not installed: no reports or plots were drawn "
              "(pip install 'hpcore[plot]').")
    winner = min(summary, key=lambda k: summary[k]["best_val_loss"])
    best_search = searches[winner]
    print(f"\nbest config ({winner} search, val_loss={summary[winner]['best_val_loss']:.4f}):")
    print(json.dumps(best_search.best_config, indent=2))
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    names = " ".join(str(out / n) for n in searches)
    print(f"\nresults written to {out}/; try: hpcore compare {names}", file=sys.stderr)
    return summary
