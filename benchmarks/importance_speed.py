"""Parameter importance: speed on 10,000 trials, and accuracy against known indices.

Usage::

    python -m benchmarks.importance_speed [--trials 10000] [--params 8] [--repeat 3]
                                          [--fanova-trials 1000] [--accuracy-trials 200] [--seeds 3]

**Speed.** ``--trials`` trials of a mixed space of ``--params`` (>= 6)
parameters (reals, a log real, an integer, a categorical) with values from a
Friedman-like function, timed side by side in one process:
:func:`hpcore.analysis.importance` (best of ``--repeat``, after one call
that loads the compiled kernels), Optuna's ``get_param_importances`` with
its default evaluator (in Optuna 5.0 that is ``PedAnovaImportanceEvaluator``)
and with ``PedAnovaImportanceEvaluator`` named, on the same trials; then
``FanovaImportanceEvaluator`` (fANOVA on a 64-tree random forest, the
default of earlier Optuna versions) and hpcore again on the first
``--fanova-trials`` of them (Optuna's fANOVA ran over 10 minutes on 10,000
here). The ratios are the result; the absolute times depend on the machine.
The true main-effect shares of the function are printed beside each
method's.

**Accuracy.** On functions whose main-effect (Sobol) indices are known in
closed form, over ``[0, 1]^d`` sampled uniformly (``--accuracy-trials``
trials, ``--seeds`` data sets each): the error of each method's shares
(half the L1 distance to the true shares, 0 = exact, 1 = disjoint), and
whether hpcore's ranking agrees with Optuna's fANOVA (Kendall's tau on the
parameters that matter). The true shares are ``V_j / sum V_i``:

* ``linear``: ``10 x0 + 0.1 x1`` (+ noise sd 0.5), ``x2`` unused.
* ``ishigami``: ``sin a + 7 sin^2 b + 0.1 c^4 sin a`` with ``(a, b, c) = pi (2x - 1)``:
  ``V = (0.3139, 0.4424, 0)`` (fractions of the total; ``V_02 = 0.2437``).
* ``sobol_g``: ``prod_j (|4 x_j - 2| + a_j) / (1 + a_j)``, ``a = (0, 1, 4.5, 9, 99, 99, 99, 99)``:
  ``V_j = 1 / (3 (1 + a_j)^2)``.
* ``friedman``: ``10 sin(pi x0 x1) + 20 (x2 - 1/2)^2 + 10 x3 + 5 x4`` (+ noise sd 1),
  ``x5..x7`` unused; ``V_0 = V_1`` by quadrature.
* ``step``: ``[x0 > 1/2] + 0.3 [x1 > 0.7]`` (+ noise sd 0.05), ``x2..x4``
  unused: ``V = (1/4, 0.09 * 0.21, 0, 0, 0)``; a surface a forest fits
  exactly and a GP only approximately.
* ``interaction``: ``(x0 - 1/2)(x1 - 1/2)``: every main effect 0; reported
  as hpcore's share of the pair ``(x0, x1)`` with ``interactions=True``;
  and Ishigami's one interaction, ``(x0, x2)``, whose true share of the
  variance is 0.2437.

Ties in the true shares (friedman's ``x0`` and ``x1``) cap tau below 1.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import hpcore
from hpcore.analysis import importance
from hpcore.space import Categorical, Integer, Real, SearchSpace
from hpcore.trial import FrozenTrial, TrialState


@dataclass
class Trials:
    """What :mod:`hpcore.analysis` reads: trials, space, metric, mode."""

    trials: list[FrozenTrial]
    space: SearchSpace
    metric: str | None = None
    mode: str = "min"


def make_trials(space: SearchSpace, params: list[dict[str, Any]], values: np.ndarray) -> Trials:
    trials = [
        FrozenTrial(trial_id=i, params=p, state=TrialState.COMPLETED, values=(float(v),))
        for i, (p, v) in enumerate(zip(params, values))
    ]
    return Trials(trials, space)


def optuna_study(space: SearchSpace, params: list[dict[str, Any]], values: np.ndarray) -> Any:
    """The same trials as an Optuna study (distributions mirror the hpcore space)."""
    import optuna
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    dists: dict[str, Any] = {}
    for key, dim in space.items():
        if isinstance(dim, Real):
            dists[key] = FloatDistribution(dim.low, dim.high, log=dim.log)
        elif isinstance(dim, Integer):
            dists[key] = IntDistribution(dim.low, dim.high, log=dim.log)
        else:
            assert isinstance(dim, Categorical)
            dists[key] = CategoricalDistribution(dim.choices)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study()
    study.add_trials(
        [
            optuna.trial.create_trial(params=p, distributions=dists, value=float(v))
            for p, v in zip(params, values)
        ]
    )
    return study


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


# ---------------------------------------------------------------------------
# Speed
# ---------------------------------------------------------------------------


def speed(n: int, d: int, repeat: int, n_fanova: int) -> None:
    import optuna

    if d < 6:
        raise SystemExit("--params must be >= 6")
    dims: dict[str, Any] = {}
    for j in range(d):
        if j == d - 1:
            dims[f"p{j}"] = Categorical(["adam", "sgd", "rmsprop"])
        elif j == d - 2:
            dims[f"p{j}"] = Integer(1, 64, log=True)
        elif j == d - 3:
            dims[f"p{j}"] = Real(1e-5, 1e-1, log=True)
        else:
            dims[f"p{j}"] = Real(0.0, 1.0)
    space = SearchSpace(dims)
    rng = np.random.default_rng(0)
    params = space.sample(rng, n)
    U = np.array([space.encode(p) for p in params])
    cat_cost = {"adam": 0.0, "sgd": 2.0, "rmsprop": 1.0}
    values = (
        10 * np.sin(np.pi * U[:, 0] * U[:, 1])
        + 20 * (U[:, 2] - 0.5) ** 2
        + 5 * U[:, d - 3]
        + np.array([cat_cost[p[f"p{d - 1}"]] for p in params])
        + rng.normal(0.0, 1.0, n)
    )
    # True main-effect variances under the space's measure (log real uniform in log).
    truth = dict.fromkeys(space, 0.0)
    v = _friedman_v()
    truth.update({"p0": v[0], "p1": v[1], "p2": v[2], f"p{d - 3}": 25 / 12, f"p{d - 1}": 2 / 3})
    total = sum(truth.values())

    view = make_trials(space, params, values)
    study = optuna_study(space, params, values)
    m = min(n, n_fanova)
    view_m = make_trials(space, params[:m], values[:m])
    study_m = optuna_study(space, params[:m], values[:m])

    t_warmup = hpcore.warmup()
    t_first = time.perf_counter()
    importance(view)
    t_first = time.perf_counter() - t_first
    t_hp, ours = best_of(lambda: importance(view), repeat)
    t_default, default = best_of(lambda: optuna.importance.get_param_importances(study), repeat)
    t_ped, ped = best_of(
        lambda: optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.PedAnovaImportanceEvaluator()
        ),
        repeat,
    )
    t_hp_m, ours_m = best_of(lambda: importance(view_m), repeat)
    t_fan, fan = best_of(
        lambda: optuna.importance.get_param_importances(
            study_m, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
        ),
        1,
    )
    print(
        f"## speed: {n} trials, {d} parameters (optuna {optuna.__version__}; "
        f"hpcore.warmup() {t_warmup:.2f} s)"
    )
    print("time, and its ratio to hpcore's on the same trials (> 1: hpcore is faster)")
    print(f"hpcore importance (gp)                 {t_hp:8.3f} s   (first call {t_first:.3f} s)")
    print(f"optuna get_param_importances, default  {t_default:8.3f} s   {t_default / t_hp:7.2f}x")
    print(f"optuna PedAnovaImportanceEvaluator     {t_ped:8.3f} s   {t_ped / t_hp:7.2f}x")
    print(f"on the first {m} trials (Optuna's fANOVA is too slow for all {n}):")
    print(f"hpcore importance (gp)                 {t_hp_m:8.3f} s")
    print(f"optuna FanovaImportanceEvaluator       {t_fan:8.3f} s   {t_fan / t_hp_m:7.2f}x")
    print(
        f"main-effect shares: true, hpcore, optuna default, PED-ANOVA ({n} trials); "
        f"hpcore, fANOVA ({m})"
    )
    for key in space:
        print(
            f"  {key:4s} {truth[key] / total:7.4f} {ours[key]:7.4f} {default[key]:7.4f} "
            f"{ped[key]:7.4f}   {ours_m[key]:7.4f} {fan[key]:7.4f}"
        )
    print()


# ---------------------------------------------------------------------------
# Accuracy
# ---------------------------------------------------------------------------


def _friedman_v() -> np.ndarray:
    x = (np.arange(200_000) + 0.5) / 200_000
    v01 = float(np.var(10 * (1 - np.cos(np.pi * x)) / (np.pi * x)))
    return np.array([v01, v01, 400 * (1 / 80 - 1 / 144), 100 / 12, 25 / 12, 0, 0, 0])


A_G = np.array([0, 1, 4.5, 9, 99, 99, 99, 99.0])

#: name -> (function of U (n, d), d, noise sd, true main-effect variances)
FUNCTIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], int, float, np.ndarray]] = {
    "linear": (lambda U: 10 * U[:, 0] + 0.1 * U[:, 1], 3, 0.5, np.array([100 / 12, 0.01 / 12, 0])),
    "ishigami": (
        lambda U: (
            np.sin(np.pi * (2 * U[:, 0] - 1))
            + 7 * np.sin(np.pi * (2 * U[:, 1] - 1)) ** 2
            + 0.1 * (np.pi * (2 * U[:, 2] - 1)) ** 4 * np.sin(np.pi * (2 * U[:, 0] - 1))
        ),
        3,
        0.0,
        np.array([0.3139, 0.4424, 0.0]),
    ),
    "sobol_g": (
        lambda U: np.prod((np.abs(4 * U - 2) + A_G) / (1 + A_G), axis=1),
        8,
        0.0,
        1 / (3 * (1 + A_G) ** 2),
    ),
    "friedman": (
        lambda U: (
            10 * np.sin(np.pi * U[:, 0] * U[:, 1])
            + 20 * (U[:, 2] - 0.5) ** 2
            + 10 * U[:, 3]
            + 5 * U[:, 4]
        ),
        8,
        1.0,
        _friedman_v(),
    ),
    "step": (
        lambda U: (U[:, 0] > 0.5) + 0.3 * (U[:, 1] > 0.7),
        5,
        0.05,
        np.array([0.25, 0.09 * 0.21, 0, 0, 0]),
    ),
}


def kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    n, s, c = len(a), 0.0, 0
    for i in range(n):
        for j in range(i + 1, n):
            s += np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])
            c += 1
    return s / c if c else 1.0


def accuracy(n: int, seeds: int) -> None:
    import optuna

    print(f"## accuracy: {n} uniform trials, {seeds} data sets per function")
    print("error = half the L1 distance between estimated and true shares (mean over data sets)")
    print("tau = Kendall's rank correlation over the parameters that matter (true share > 0.001)")
    print(
        f"{'function':10s} {'error:':>6s} {'hpcore':>7s} {'fANOVA':>7s} {'PED':>7s}   "
        f"{'tau vs truth:':>13s} {'hpcore':>7s} {'fANOVA':>7s}   tau(hpcore, fANOVA)   "
        "time hpcore/fANOVA"
    )
    for name, (f, d, sd, V) in FUNCTIONS.items():
        truth = V / V.sum()
        keys = [f"x{j}" for j in range(d)]
        space = SearchSpace({k: Real(0.0, 1.0) for k in keys})
        errs: dict[str, list[float]] = {"hpcore": [], "fanova": [], "ped": []}
        taus, ratios, tau_ours, tau_fan = [], [], [], []
        for seed in range(seeds):
            rng = np.random.default_rng(1000 + seed)
            U = rng.random((n, d))
            y = f(U) + (rng.normal(0.0, sd, n) if sd else 0.0)
            params = [dict(zip(keys, map(float, u))) for u in U]
            view = make_trials(space, params, y)
            study = optuna_study(space, params, y)
            t = time.perf_counter()
            ours = importance(view, seed=seed)
            t_ours = time.perf_counter() - t
            t = time.perf_counter()
            fan = optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=seed)
            )
            t_fan = time.perf_counter() - t
            ped = optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.PedAnovaImportanceEvaluator()
            )
            for label, est in (("hpcore", ours), ("fanova", fan), ("ped", ped)):
                e = np.array([est[k] for k in keys])
                e = e / e.sum() if e.sum() > 0 else np.full(d, 1 / d)
                errs[label].append(0.5 * float(np.abs(e - truth).sum()))
            mattering = truth > 1e-3
            a = np.array([ours[k] for k in keys])[mattering]
            b = np.array([fan[k] for k in keys])[mattering]
            taus.append(kendall_tau(a, b))
            tau_ours.append(kendall_tau(a, truth[mattering]))
            tau_fan.append(kendall_tau(b, truth[mattering]))
            ratios.append(t_ours / t_fan)
        mean = statistics.mean
        print(
            f"{name:10s} {'':6s} {mean(errs['hpcore']):7.3f} {mean(errs['fanova']):7.3f} "
            f"{mean(errs['ped']):7.3f}   {'':13s} {mean(tau_ours):7.2f} {mean(tau_fan):7.2f}   "
            f"{mean(taus):19.2f}   {mean(ratios):18.2f}"
        )
    pair = []
    for seed in range(seeds):
        rng = np.random.default_rng(2000 + seed)
        U = rng.random((n, 3))
        y = (U[:, 0] - 0.5) * (U[:, 1] - 0.5) + rng.normal(0.0, 0.01, n)
        keys = ["x0", "x1", "x2"]
        space = SearchSpace({k: Real(0.0, 1.0) for k in keys})
        view = make_trials(space, [dict(zip(keys, map(float, u))) for u in U], y)
        _, pairs = importance(view, seed=seed, interactions=True)
        pair.append(pairs[("x0", "x1")])
    ishigami, _, _, _ = FUNCTIONS["ishigami"]
    shares = []
    for seed in range(seeds):
        rng = np.random.default_rng(3000 + seed)
        U = rng.random((n, 3))
        keys = ["x0", "x1", "x2"]
        space = SearchSpace({k: Real(0.0, 1.0) for k in keys})
        view = make_trials(space, [dict(zip(keys, map(float, u))) for u in U], ishigami(U))
        main, pairs = importance(view, seed=seed, interactions=True)
        shares.append([main["x0"], main["x1"], main["x2"], pairs[("x0", "x2")]])
    est = np.mean(shares, axis=0)
    print(
        f"ishigami with interactions: x0 {est[0]:.3f} x1 {est[1]:.3f} x2 {est[2]:.3f} "
        f"(x0, x2) {est[3]:.3f}; true 0.314 0.442 0 0.244"
    )
    print(
        f"interaction: hpcore share of the pair (x0, x1) = {statistics.mean(pair):.3f} "
        f"(min {min(pair):.3f}; true 1)"
    )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--params", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fanova-trials", type=int, default=1000)
    parser.add_argument("--accuracy-trials", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    if not args.skip_speed:
        speed(args.trials, args.params, args.repeat, args.fanova_trials)
    if not args.skip_accuracy:
        accuracy(args.accuracy_trials, args.seeds)


if __name__ == "__main__":
    main()
