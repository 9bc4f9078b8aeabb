"""hpcore beside its peers, in one run: sample efficiency and suggestion latency.

Installs nothing: every peer that imports is compared, the others are
listed as missing. Every contestant gets the same thread limits (set here
before numpy loads; ``--threads``) and the same budget.

Usage (from the repository root)::

    python -m benchmarks.peers.compare regret --seeds 10 --budget 50
    python -m benchmarks.peers.compare latency --n 50,100,200,500,1000 --d 2,6,10,20

``regret`` runs each contestant on the functions of
:mod:`benchmarks.functions` and reports the median and interquartile range
over seeds of the simple regret (best value found minus the optimum)
after 10, 20 and 50 evaluations. ``latency`` times one step (``ask`` plus ``tell``: the model
update or fit plus acquisition maximisation, wherever the library does it)
after ``n`` observations in ``d`` dimensions: ``first`` is the first step
after loading the history (a fit from scratch), ``steady`` the mean of the
next ``--steps`` steps. Results go to ``--out`` as JSON and to stdout as
Markdown tables.
"""

from __future__ import annotations

import argparse
import os
import sys


def _limit_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
        os.environ[var] = str(n)


if __name__ == "__main__":  # before numpy, scipy, torch load
    _threads = 1
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            _threads = int(sys.argv[i + 1])
    _limit_threads(_threads)

import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.functions import ALL_FUNCTIONS, by_name  # noqa: E402
from hpcore.space import Integer, Real, SearchSpace  # noqa: E402

N_INITIAL = 10  # quasi-random / startup trials for every model-based contestant


# -- contestants: objects with ask() -> params and tell(params, value) ---------


class HpcoreBayes:
    name = "hpcore"

    def __init__(self, space: dict, seed: int, n_initial: int = N_INITIAL, **opts: Any):
        from hpcore.strategies.bayesian import BayesianStrategy

        self.s = BayesianStrategy(space, seed=seed, n_initial_points=n_initial, **opts)

    def ask(self) -> dict:
        return self.s.ask()

    def tell(self, params: dict, value: float) -> None:
        self.s.tell(params, value)


class HpcoreRandom(HpcoreBayes):
    name = "random"

    def __init__(self, space: dict, seed: int, **_: Any):
        from hpcore.strategies import RandomStrategy

        self.s = RandomStrategy(space, seed=seed)


def _optuna_distributions(space: dict) -> dict:
    import optuna

    out = {}
    for key, dim in SearchSpace(space).items():
        if isinstance(dim, Real):
            out[key] = optuna.distributions.FloatDistribution(dim.low, dim.high, log=dim.log)
        elif isinstance(dim, Integer):
            out[key] = optuna.distributions.IntDistribution(dim.low, dim.high, log=dim.log)
        else:
            out[key] = optuna.distributions.CategoricalDistribution(list(dim.choices))
    return out


class OptunaSampler:
    name = "optuna"

    def __init__(self, space: dict, seed: int, sampler: str = "tpe", **_: Any):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        if sampler == "gp":
            smp = optuna.samplers.GPSampler(seed=seed, n_startup_trials=N_INITIAL)
        elif sampler == "hpcore":  # hpcore's strategy as an Optuna sampler (the binding)
            from hpcore.bindings.optuna import HpcoreSampler

            smp = HpcoreSampler(seed=seed, n_startup_trials=N_INITIAL)
        else:
            smp = optuna.samplers.TPESampler(seed=seed, n_startup_trials=N_INITIAL)
        self.study = optuna.create_study(sampler=smp, direction="minimize")
        self.dists = _optuna_distributions(space)
        self._trials: list[Any] = []

    def ask(self) -> dict:
        trial = self.study.ask(self.dists)
        self._trials.append(trial)
        return dict(trial.params)

    def tell(self, params: dict, value: float) -> None:
        for i, t in enumerate(self._trials):
            if t.params == params:
                self.study.tell(self._trials.pop(i), value)
                return
        raise KeyError("unknown params")

    def preload(self, X: list[dict], y: list[float]) -> None:
        import optuna

        for p, v in zip(X, y):
            self.study.add_trial(optuna.trial.create_trial(params=p, distributions=self.dists,
                                                           value=v))


class SkoptGP:
    name = "skopt"

    def __init__(self, space: dict, seed: int, **_: Any):
        import skopt

        self.keys = list(SearchSpace(space))
        dims = []
        for dim in SearchSpace(space).values():
            if isinstance(dim, Real):
                dims.append(skopt.space.Real(dim.low, dim.high,
                                             prior="log-uniform" if dim.log else "uniform"))
            elif isinstance(dim, Integer):
                dims.append(skopt.space.Integer(dim.low, dim.high,
                                                prior="log-uniform" if dim.log else "uniform"))
            else:
                dims.append(skopt.space.Categorical(list(dim.choices)))
        self.opt = skopt.Optimizer(dims, base_estimator="GP", n_initial_points=N_INITIAL,
                                   acq_func="EI", random_state=seed)

    def ask(self) -> dict:
        return dict(zip(self.keys, self.opt.ask()))

    def tell(self, params: dict, value: float) -> None:
        self.opt.tell([params[k] for k in self.keys], value)

    def preload(self, X: list[dict], y: list[float]) -> None:
        self.opt.tell([[p[k] for k in self.keys] for p in X], list(y))


class BotorchLogEI:
    """BoTorch's standard loop: SingleTaskGP, qLogEI, optimize_acqf (continuous spaces)."""

    name = "botorch"

    def __init__(self, space: dict, seed: int, **_: Any):
        import torch

        sp = SearchSpace(space)
        if any(not isinstance(d, Real) for d in sp.values()):
            raise NotImplementedError("the BoTorch contestant handles continuous spaces only")
        self.space = sp
        self.seed = seed
        self.X: list[np.ndarray] = []
        self.y: list[float] = []
        self.init = SearchSpace(space)
        self.rng = np.random.default_rng(seed)
        torch.manual_seed(seed)

    def ask(self) -> dict:
        import torch
        from botorch.acquisition.logei import qLogExpectedImprovement
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from botorch.models.transforms import Standardize
        from botorch.optim import optimize_acqf
        from gpytorch.mlls import ExactMarginalLogLikelihood

        d = len(self.space)
        if len(self.y) < N_INITIAL:
            u = self.rng.random(d)
        else:
            X = torch.tensor(np.array(self.X), dtype=torch.float64)
            Y = -torch.tensor(self.y, dtype=torch.float64).unsqueeze(-1)  # botorch maximises
            model = SingleTaskGP(X, Y, outcome_transform=Standardize(m=1))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
                acq = qLogExpectedImprovement(model, best_f=Y.max())
                bounds = torch.stack([torch.zeros(d), torch.ones(d)]).to(torch.float64)
                cand, _ = optimize_acqf(acq, bounds=bounds, q=1, num_restarts=10,
                                        raw_samples=512)
            u = cand.detach().numpy()[0]
        return self.space.decode(u)

    def tell(self, params: dict, value: float) -> None:
        self.X.append(self.space.encode(params))
        self.y.append(value)

    def preload(self, X: list[dict], y: list[float]) -> None:
        for p, v in zip(X, y):
            self.tell(p, v)


CONTESTANTS: dict[str, Callable[..., Any]] = {
    "hpcore": HpcoreBayes,
    # A refit skips its random restarts when the warm start stays within 0.5 (issue 16).
    "hpcore-settled": lambda space, seed: HpcoreBayes(space, seed, skip_restarts_within=0.5),
    "random": HpcoreRandom,
    "optuna-tpe": lambda space, seed: OptunaSampler(space, seed, sampler="tpe"),
    "optuna-gp": lambda space, seed: OptunaSampler(space, seed, sampler="gp"),
    "optuna-hpcore": lambda space, seed: OptunaSampler(space, seed, sampler="hpcore"),
    "skopt": SkoptGP,
    "botorch": BotorchLogEI,
}

_MODULES = {"optuna-tpe": "optuna", "optuna-gp": "optuna", "optuna-hpcore": "optuna",
            "skopt": "skopt", "botorch": "botorch"}


def available(names: list[str]) -> tuple[list[str], list[str]]:
    """Split contestant names into those whose package imports and those missing."""
    ok, missing = [], []
    for name in names:
        module = _MODULES.get(name)
        try:
            if module:
                __import__(module)
            ok.append(name)
        except ImportError:
            missing.append(name)
    return ok, missing


# -- regret ---------------------------------------------------------------------


def run_regret(fn: Any, contestant: str, seed: int, budget: int) -> list[float]:
    """Best-so-far regret after each evaluation."""
    opt = CONTESTANTS[contestant](fn.space, seed)
    best = math.inf
    curve = []
    for _ in range(budget):
        params = opt.ask()
        value = float(fn(params))
        opt.tell(params, value)
        best = min(best, value)
        curve.append(best - fn.optimum)
    return curve


def regret_table(results: dict, checkpoints: list[int]) -> str:
    lines = []
    for fname, per in results.items():
        lines.append(f"\n### {fname}\n")
        header = "| contestant | " + " | ".join(f"regret@{c} median [IQR]" for c in checkpoints)
        lines.append(header + " | s per run |")
        lines.append("|---" * (len(checkpoints) + 2) + "|")
        for name, data in per.items():
            curves = np.array(data["curves"])
            cells = []
            for c in checkpoints:
                col = curves[:, c - 1]
                q1, med, q3 = np.percentile(col, [25, 50, 75])
                cells.append(f"{med:.4g} [{q1:.3g}, {q3:.3g}]")
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {data['seconds']:.1f} |")
    return "\n".join(lines)


# -- latency --------------------------------------------------------------------


def latency_history(n: int, d: int, seed: int) -> tuple[dict, list[dict], list[float]]:
    """A d-dimensional continuous space and n observations of a smooth function on it."""
    space = {f"x{i}": Real(0.0, 1.0) for i in range(d)}
    rng = np.random.default_rng(seed)
    U = rng.random((n, d))
    shift = rng.random(d)
    y = np.sum((U - shift) ** 2, axis=1) + 0.1 * np.sin(10 * U).sum(axis=1)
    X = [dict(zip(space, row.tolist())) for row in U]
    return space, X, y.tolist()


def measure_suggestions(contestant: str, n: int, d: int, steps: int, seed: int = 0) -> dict:
    space, X, y = latency_history(n, d, seed)
    opt = CONTESTANTS[contestant](space, seed)
    if hasattr(opt, "preload"):
        opt.preload(X, y)
    else:  # hpcore: tell the history (nothing is fitted until the next ask)
        for p, v in zip(X, y):
            opt.s.tell(p, v)
    times = []
    rng = np.random.default_rng(seed + 1)
    for _ in range(steps + 1):
        # ask + tell: scikit-optimize fits its model and picks the next point in
        # tell(), the others in ask(); the step is the fair unit.
        t0 = time.perf_counter()
        params = opt.ask()
        opt.tell(params, float(rng.random()))
        times.append(time.perf_counter() - t0)
    return {"first": times[0], "steady": float(np.mean(times[1:])), "times": times}


# -- command line -----------------------------------------------------------------


def _names_of(known: list[str]) -> Callable[[str], str]:
    """An argparse type: a comma-separated list of names out of ``known`` (kept as text)."""

    def check(text: str) -> str:
        unknown = [name for name in text.split(",") if name not in known]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {known}")
        return text

    return check


def _int_list(text: str) -> str:
    """An argparse type: comma-separated integers (kept as text)."""
    try:
        [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not comma-separated integers: {text!r}") from None
    return text


def build_parser() -> argparse.ArgumentParser:
    """This script's arguments; tests/test_docs_shell.py parses the docs' lines with it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    peer = _names_of(list(CONTESTANTS))
    r = sub.add_parser("regret")
    r.add_argument("--functions", default=",".join(f.name for f in ALL_FUNCTIONS),
                   type=_names_of([f.name for f in ALL_FUNCTIONS]))
    r.add_argument("--peers", default="hpcore,random,optuna-tpe,optuna-gp,skopt,botorch",
                   type=peer)
    r.add_argument("--seeds", type=int, default=10)
    r.add_argument("--budget", type=int, default=50)
    lat = sub.add_parser("latency")
    lat.add_argument("--peers", default="hpcore,optuna-gp,skopt,optuna-tpe,botorch", type=peer)
    lat.add_argument("--n", default="50,100,200,500,1000", type=_int_list)
    lat.add_argument("--d", default="2,6,10,20", type=_int_list)
    lat.add_argument("--steps", type=int, default=3)
    lat.add_argument("--max-seconds", type=float, default=30.0,
                     help="skip larger n for a contestant once one suggestion takes longer")
    for p in (r, lat):
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--out", default="benchmarks/peers/results")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    peers, missing = available(args.peers.split(","))
    if missing:
        print(f"not installed, skipped: {', '.join(missing)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"threads per contestant: {os.environ.get('OMP_NUM_THREADS')}")

    if args.what == "regret":
        checkpoints = [c for c in (10, 20, 50) if c <= args.budget]
        results: dict[str, dict[str, Any]] = {}
        for fname in args.functions.split(","):
            fn = by_name(fname)
            results[fname] = {}
            for name in peers:
                curves, t0 = [], time.perf_counter()
                try:
                    for seed in range(args.seeds):
                        curves.append(run_regret(fn, name, seed, args.budget))
                except NotImplementedError as exc:
                    print(f"{name} on {fname}: {exc}")
                    continue
                secs = (time.perf_counter() - t0) / args.seeds
                results[fname][name] = {"curves": curves, "seconds": secs}
                med = np.median(np.array(curves)[:, -1])
                print(f"{fname:12s} {name:10s} median regret@{args.budget} {med:.4g} "
                      f"({secs:.1f} s/run)", flush=True)
        (out / "regret.json").write_text(json.dumps(results))
        print(regret_table(results, checkpoints))
    else:
        table: dict[str, dict[str, Any]] = {}
        for d in map(int, args.d.split(",")):
            for n in map(int, args.n.split(",")):
                row = table.setdefault(f"n={n},d={d}", {})
                for name in peers:
                    if row.get(name) == "skipped":
                        continue
                    prev = [table.get(f"n={m},d={d}", {}).get(name) for m in
                            map(int, args.n.split(","))]
                    if any(isinstance(p, dict) and p["steady"] > args.max_seconds
                           for p in prev):
                        row[name] = "skipped"
                        continue
                    row[name] = measure_suggestions(name, n, d, args.steps)
                    print(f"d={d:3d} n={n:5d} {name:10s} first {row[name]['first']:.4f}s "
                          f"steady {row[name]['steady']:.4f}s", flush=True)
        (out / "latency.json").write_text(json.dumps(table))
        names = peers
        print("\n| n, d | " + " | ".join(names) + " | " +
              " | ".join(f"{p}/hpcore" for p in names if p != "hpcore") + " |")
        print("|---" * (2 * len(names)) + "|")
        for key, row in table.items():
            steady = {p: row[p]["steady"] for p in names if isinstance(row.get(p), dict)}
            cells = [f"{steady[p] * 1e3:.1f} ms" if p in steady else "-" for p in names]
            ratios = [f"{steady[p] / steady['hpcore']:.1f}x"
                      if p in steady and "hpcore" in steady else "-"
                      for p in names if p != "hpcore"]
            print(f"| {key} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
