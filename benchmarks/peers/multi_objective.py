"""Several objectives and constraints: hpcore beside Optuna's samplers, in one run.

Every contestant gets the same problems, budget, seeds and thread limit
(one thread: set before numpy loads). Reported per problem and contestant,
median and interquartile range over seeds:

* two or three objectives: the hypervolume of the feasible points found,
  against a fixed reference point (higher is better);
* one objective under constraints: the best feasible value found (lower is
  better) and the share of feasible trials;
* the wall time of a whole run (ask + tell + the function).

Usage (from the repository root)::

    python -m benchmarks.peers.multi_objective --seeds 10 --budget 50 \
        --out benchmarks/peers/results/multi_objective.json
    python -m benchmarks.peers.multi_objective --latency 200 --steps 5

Hypervolumes are shares of the true front's where it is known (ZDT1,
Branin-Currin, DTLZ2). ``--latency N`` times single suggestions after ``N``
observations instead (hpcore and Optuna GPSampler, 2 and 3 objectives).

Contestants: hpcore (``MultiOutputBayesianStrategy`` at its defaults;
``hpcore-ref``: told the problem's reference point, ``reference_point=``),
Optuna ``GPSampler``, ``TPESampler`` (``multivariate=True``),
``NSGAIISampler`` (population 10, so that it evolves within the budget)
and ``RandomSampler``; each Optuna sampler gets ``constraints_func``.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # before numpy loads
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                 "NUMBA_NUM_THREADS"):
        os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from hpcore.kernels import hypervolume  # noqa: E402
from hpcore.space import Categorical, Integer, Real  # noqa: E402

N_INITIAL = 10


# ---------------------------------------------------------------------------- problems
@dataclass
class Problem:
    name: str
    space: dict[str, Any]
    evaluate: Callable[[dict[str, Any]], tuple[list[float], list[float]]]  # values, violations
    n_objectives: int
    n_constraints: int
    ref: np.ndarray | None = None  # hypervolume reference (several objectives)
    optimum: float | None = None  # best feasible value (one objective)
    max_hv: float | None = None  # hypervolume of the true front (several objectives)


def _zdt1(p: dict[str, Any]) -> tuple[list[float], list[float]]:
    x = np.array([p[f"x{i}"] for i in range(6)])
    g = 1 + 9 * x[1:].mean()
    return [x[0], g * (1 - math.sqrt(x[0] / g))], []


def _dtlz2(p: dict[str, Any]) -> tuple[list[float], list[float]]:
    x = np.array([p[f"x{i}"] for i in range(6)])
    g = float(np.sum((x[2:] - 0.5) ** 2))
    a, b = x[0] * math.pi / 2, x[1] * math.pi / 2
    return [(1 + g) * math.cos(a) * math.cos(b), (1 + g) * math.cos(a) * math.sin(b),
            (1 + g) * math.sin(a)], []


def _branin(x1: float, x2: float) -> float:
    return (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2 \
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


def _branin_currin(p: dict[str, Any]) -> tuple[list[float], list[float]]:
    """BoTorch's BraninCurrin (both minimised), inputs in the unit square."""
    x1, x2 = p["x1"], p["x2"]
    currin = (1 - math.exp(-1 / (2 * max(x2, 1e-12)))) * (
        (2300 * x1**3 + 1900 * x1**2 + 2092 * x1 + 60)
        / (100 * x1**3 + 500 * x1**2 + 4 * x1 + 20))
    return [_branin(15 * x1 - 5, 15 * x2), currin], []


_SHIFT = {"a": 0.0, "b": 0.3, "c": 0.6}


def _mixed(p: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Two objectives over a categorical, an integer and three reals: the choice
    shifts where the reals' optimum lies; the integer trades one objective for
    the other (a width: loss falls, cost grows)."""
    x = np.array([p["x0"], p["x1"], p["x2"]])
    k, c = p["k"], _SHIFT[p["kind"]]
    loss = float(np.sum((x - c) ** 2)) + 1.0 / k + (0.2 if p["kind"] == "a" else 0.0)
    cost = 0.1 * k + float(np.sum(np.abs(x - 0.5))) * 0.5
    return [loss, cost], []


def _branin_c(p: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Branin under a disc: feasible only within 5 of (2.5, 7.5); one of the
    three global minima, (pi, 2.275), is inside, 0.397887."""
    x1, x2 = p["x1"], p["x2"]
    return [_branin(x1, x2)], [(x1 - 2.5) ** 2 + (x2 - 7.5) ** 2 - 50.0]


def _pressure_vessel(p: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Pressure-vessel design (Sandgren 1990), all four variables continuous;
    best known 5885.33 (ts 0.7782, th 0.3847, r 40.32, l 200)."""
    ts, th, r, length = p["ts"], p["th"], p["r"], p["l"]
    f = (0.6224 * ts * r * length + 1.7781 * th * r**2 + 3.1661 * ts**2 * length
         + 19.84 * ts**2 * r)
    return [f], [-ts + 0.0193 * r, -th + 0.00954 * r,
                 (-math.pi * r**2 * length - 4 / 3 * math.pi * r**3 + 1_296_000) / 1e5]


UNIT6 = {f"x{i}": Real(0.0, 1.0) for i in range(6)}
PROBLEMS = {
    # Max hypervolumes: ZDT1 10 + 2/3 + 0.1 * 11 (the front is f2 = 1 - sqrt(f1));
    # Branin-Currin as in BoTorch; DTLZ2 1.1^3 - pi/6 (the front is the unit sphere).
    "zdt1-6d": Problem("zdt1-6d", UNIT6, _zdt1, 2, 0, ref=np.array([1.1, 11.0]),
                       max_hv=10 + 2 / 3 + 1.1),
    "branin-currin": Problem("branin-currin", {"x1": Real(0.0, 1.0), "x2": Real(0.0, 1.0)},
                             _branin_currin, 2, 0, ref=np.array([18.0, 6.0]),
                             max_hv=59.36011874867746),
    "mixed-5d": Problem("mixed-5d", {"kind": Categorical(["a", "b", "c"]), "k": Integer(1, 16),
                                     "x0": Real(0.0, 1.0), "x1": Real(0.0, 1.0),
                                     "x2": Real(0.0, 1.0)},
                        _mixed, 2, 0, ref=np.array([3.0, 2.5])),
    "dtlz2-6d": Problem("dtlz2-6d", UNIT6, _dtlz2, 3, 0, ref=np.array([1.1, 1.1, 1.1]),
                        max_hv=1.1**3 - math.pi / 6),
    "branin-disc": Problem("branin-disc", {"x1": Real(-5.0, 10.0), "x2": Real(0.0, 15.0)},
                           _branin_c, 1, 1, optimum=0.397887),
    "pressure-vessel": Problem("pressure-vessel", {"ts": Real(0.0625, 6.1875),
                                                   "th": Real(0.0625, 6.1875),
                                                   "r": Real(10.0, 200.0),
                                                   "l": Real(10.0, 200.0)},
                               _pressure_vessel, 1, 3, optimum=5885.33),
}


# ---------------------------------------------------------------------------- contestants
def run_hpcore(problem: Problem, seed: int, budget: int,
               reference: bool = False) -> list[tuple[list[float], list[float]]]:
    """hpcore at its defaults; with ``reference``, told the problem's own reference point
    (as a user states the worst value of each objective still of interest)."""
    from hpcore.strategies.multi import MultiOutputBayesianStrategy

    options = {}
    if reference and problem.ref is not None and problem.n_objectives in (2, 3):
        options["reference_point"] = problem.ref
    s = MultiOutputBayesianStrategy(problem.space, problem.n_objectives, problem.n_constraints,
                                    seed=seed, n_initial_points=N_INITIAL, **options)
    out = []
    for _ in range(budget):
        params = s.ask()
        values, violations = problem.evaluate(params)
        s.tell(params, values, constraints=violations or None)
        out.append((values, violations))
    return out


def _optuna(make: Callable[[int, Any], Any]) -> Callable[..., list]:
    def run(problem: Problem, seed: int, budget: int) -> list[tuple[list[float], list[float]]]:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        dists = {k: _distribution(d) for k, d in problem.space.items()}
        constraints = (lambda t: t.user_attrs["c"]) if problem.n_constraints else None
        study = optuna.create_study(directions=["minimize"] * problem.n_objectives,
                                    sampler=make(seed, constraints))
        out = []
        for _ in range(budget):
            trial = study.ask(dists)
            values, violations = problem.evaluate(trial.params)
            trial.set_user_attr("c", violations)
            study.tell(trial, values if problem.n_objectives > 1 else values[0])
            out.append((values, violations))
        return out

    return run


def _distribution(d: Any) -> Any:
    import optuna

    if isinstance(d, Categorical):
        return optuna.distributions.CategoricalDistribution(list(d.choices))
    if isinstance(d, Integer):
        return optuna.distributions.IntDistribution(d.low, d.high)
    return optuna.distributions.FloatDistribution(d.low, d.high)


def _samplers() -> dict[str, Callable[..., list]]:
    import optuna.samplers as s

    return {
        "hpcore": run_hpcore,
        "hpcore-ref": lambda problem, seed, budget: run_hpcore(problem, seed, budget, True),
        "optuna-gp": _optuna(lambda seed, c: s.GPSampler(seed=seed, n_startup_trials=N_INITIAL,
                                                         constraints_func=c)),
        "optuna-tpe": _optuna(lambda seed, c: s.TPESampler(seed=seed, multivariate=True,
                                                           n_startup_trials=N_INITIAL,
                                                           constraints_func=c)),
        "optuna-nsga2": _optuna(lambda seed, c: s.NSGAIISampler(seed=seed, population_size=10,
                                                                constraints_func=c)),
        "random": _optuna(lambda seed, c: s.RandomSampler(seed=seed)),
    }


# ---------------------------------------------------------------------------- scoring
def score(problem: Problem, history: list[tuple[list[float], list[float]]]) -> dict[str, float]:
    feasible = [v for v, c in history if all(x <= 0 for x in c)]
    share = len(feasible) / len(history)
    if problem.n_objectives > 1:
        hv = hypervolume(np.array(feasible), problem.ref) if feasible else 0.0
        if problem.max_hv is not None:
            hv /= problem.max_hv  # the share of the maximum
        return {"hypervolume": float(hv), "feasible": share}
    best = min((v[0] for v in feasible), default=math.inf)
    # Evaluations until the best feasible value is within 0.1 % of the optimum.
    reached = next((i + 1 for i, (v, c) in enumerate(history) if all(x <= 0 for x in c)
                    and v[0] <= problem.optimum * 1.001), math.inf)  # type: ignore[operator]
    return {"best": float(best), "feasible": share, "to_0.1%": float(reached)}


def latency(n: int, steps: int) -> dict[str, dict[str, list[float]]]:
    """Seconds of one ``ask`` + ``tell`` after ``n`` random observations, for hpcore and
    Optuna GPSampler, with 2 (ZDT1) and 3 (DTLZ2) objectives: ``steps`` steps each."""
    import optuna

    from hpcore.strategies.multi import MultiOutputBayesianStrategy

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out: dict[str, dict[str, list[float]]] = {}
    for pname in ("zdt1-6d", "dtlz2-6d"):
        problem = PROBLEMS[pname]
        rng = np.random.default_rng(0)
        history = [{k: float(v) for k, v in zip(problem.space, row)}
                   for row in rng.random((n, len(problem.space)))]
        s = MultiOutputBayesianStrategy(problem.space, problem.n_objectives, 0, seed=0)
        for p in history:
            s.tell(p, problem.evaluate(p)[0])
        times = []
        for _ in range(steps):
            t0 = time.perf_counter()
            p = s.ask()
            s.tell(p, problem.evaluate(p)[0])
            times.append(time.perf_counter() - t0)
        out.setdefault(pname, {})["hpcore"] = times
        dists = {k: _distribution(d) for k, d in problem.space.items()}
        study = optuna.create_study(directions=["minimize"] * problem.n_objectives,
                                    sampler=optuna.samplers.GPSampler(seed=0))
        study.add_trials([optuna.trial.create_trial(params=p, distributions=dists,
                                                    values=problem.evaluate(p)[0])
                          for p in history])
        times = []
        for _ in range(steps):
            t0 = time.perf_counter()
            trial = study.ask(dists)
            study.tell(trial, problem.evaluate(trial.params)[0])
            times.append(time.perf_counter() - t0)
        out[pname]["optuna-gp"] = times
        print(pname, {c: round(float(np.median(t)), 3) for c, t in out[pname].items()},
              file=sys.stderr, flush=True)
    return out


def _quartiles(xs: list[float]) -> tuple[float, float, float]:
    q = np.percentile(xs, [25, 50, 75])
    return float(q[1]), float(q[0]), float(q[2])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=40)
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    ap.add_argument("--contestants", default="hpcore,optuna-gp,optuna-tpe,optuna-nsga2,random")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--latency", type=int, default=None,
                    help="time asks after this many observations instead (2 and 3 objectives)")
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    if args.latency is not None:
        times = latency(args.latency, args.steps)
        print(f"\nSeconds per ask + tell after {args.latency} observations, {args.steps} steps, "
              "one thread\n")
        print("| problem | hpcore median / worst | Optuna GPSampler median / worst | ratio of medians |")
        print("| --- | --- | --- | --- |")
        for pname, by_c in times.items():
            h, o = by_c["hpcore"], by_c["optuna-gp"]
            print(f"| {pname} | {np.median(h):.3f} / {max(h):.3f} | {np.median(o):.3f} / "
                  f"{max(o):.3f} | {np.median(o) / np.median(h):.1f}x |")
        if args.out is not None:
            args.out.write_text(json.dumps({"n": args.latency, "times": times}, indent=1))
        return
    samplers = _samplers()
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    for pname in args.problems.split(","):
        problem = PROBLEMS[pname]
        for seed in range(args.seeds):  # seeds outermost per problem: contestants interleave
            for cname in args.contestants.split(","):
                t0 = time.perf_counter()
                history = samplers[cname](problem, seed, args.budget)
                row = {**score(problem, history), "seconds": time.perf_counter() - t0}
                results.setdefault(pname, {}).setdefault(cname, []).append(row)
                print(pname, cname, seed, {k: round(v, 4) for k, v in row.items()},
                      file=sys.stderr, flush=True)
    print(f"\n{args.seeds} seeds, {args.budget} evaluations, one thread each\n")
    for pname, by_c in results.items():
        problem = PROBLEMS[pname]
        key = "hypervolume" if problem.n_objectives > 1 else "best"
        what = ("share of the maximum hypervolume" if problem.max_hv else "hypervolume") \
            if problem.n_objectives > 1 else f"best feasible value, optimum {problem.optimum}"
        print(f"### {pname} ({what}: median [IQR]; feasible share; evaluations to within "
              "0.1 % of the optimum; seconds per run)\n")
        print(f"| contestant | {key} | feasible | to 0.1 % | seconds (median / worst) |")
        print("| --- | --- | --- | --- | --- |")
        for cname, rows in by_c.items():
            m, lo, hi = _quartiles([r[key] for r in rows])
            f = float(np.median([r["feasible"] for r in rows]))
            reach = "" if key != "best" else f"{np.median([r['to_0.1%'] for r in rows]):g}"
            secs = [r["seconds"] for r in rows]
            print(f"| {cname} | {m:.4g} [{lo:.4g}, {hi:.4g}] | {f:.2f} | {reach} | "
                  f"{np.median(secs):.1f} / {max(secs):.1f} |")
        print()
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"seeds": args.seeds, "budget": args.budget,
                                        "results": results}, indent=1))


if __name__ == "__main__":
    main()
