"""Parameter importance: a functional ANOVA of a GP surrogate.

Every function takes a finished search (:class:`~hpcore.search.base.BaseSearch`
after ``run``), a stored study (:class:`~hpcore.storage.StudyResults` from
:func:`hpcore.load`, whose space is rebuilt from its JSON description), or
any object with ``trials``, ``space`` and ``mode`` (``metric`` optional).

Functions
---------
trials_table(obj, states=None) -> pandas.DataFrame, or list of dict without pandas
top_k(obj, k=10) -> list of FrozenTrial, best first
param_summary(obj, top=0.1) -> dict: key -> {type, bounds or choices, best, top range or counts}
importance(obj, method='auto', seed=0, *, interactions=False, max_trials=400)
    -> dict key -> share, or (that, dict (key_a, key_b) -> share)

Parameter importance: functional ANOVA of a GP surrogate
--------------------------------------------------------
Trials that completed (or were stopped) with a finite value are encoded as
the search space encodes them: reals and integers by their unit-cube
coordinate (so log scales are uniform in ``log x`` and each integer has its
bin's width), categoricals by their level index. Symbols:

X : (n, d)   encoded parameters of at most ``max_trials`` trials (a seeded random subset beyond).
y : (n,)     their values, standardised (mean 0, variance 1).
cat : (d,)   1.0 on categorical dims.
m(x)         the posterior mean ``k(x, X) alpha`` of the GP that
             :func:`hpcore.kernels.fit_gp` fits (Matérn-5/2 ARD, MAP kernel
             parameters), ``alpha = K^{-1} y``.
mu           the space's own measure: uniform on each encoded coordinate,
             uniform over a categorical's levels.

The functional ANOVA (Hooker 2007; Hutter et al. 2014 for hyperparameters)
splits ``m`` into a constant, one function per parameter, one per pair, and
so on, orthogonal under ``mu``. The main effect of parameter ``j`` and its
variance are

    f_j(x_j) = integral of m over every other coordinate - f_0,    V_j = integral of f_j^2 dmu_j,

and the pair effect ``f_jk(x_j, x_k) = integral of m over the others - f_j - f_k - f_0``
has variance ``V_jk = Var(integral of m over the others) - V_j - V_k``.
The importance of ``j`` is its share ``V_j / sum_i V_i``; with
``interactions=True`` the shares are of ``sum_i V_i + sum_{i<k} V_ik`` so that
main effects and pairs together sum to 1 (and an interaction-only pair, whose
main effects are 0, shows as a large pair share).

Quadrature. ``f_j`` is evaluated on a grid ``g`` of the coordinate (32
midpoints for a real; each integer's centre weighted by its bin width, or 32
midpoints for wider integer ranges; every level of a categorical), each grid
value paired with the same ``M = 128`` base points ``z`` for the other
coordinates (a Latin hypercube, integers snapped to their centres):

    f_j(g) + f_0 ~ (1/M) sum_m m(g, z_m),

so the other parameters' main effects add the same constant at every ``g``
and cancel from the variance over ``g``; only interactions with ``j`` add a
Monte-Carlo error, of order ``V_interactions / M``. Pairs use a 16 x 16
grid (levels for categoricals) crossed with 32 base points of their own
(measured on Ishigami's one interaction, true share 0.244, with 1000
trials: 0.205 with an 8 x 8 grid, 0.232 with 16 x 16, 0.239 with 32 x 32).
Cost: ``O(n^3)`` for the fit (``n <= max_trials``) plus ``O(n d)`` per
evaluated point of the mean, ``d G M`` points for the main effects and
``d^2 / 2 * 16^2 * 32`` more for the pairs, in chunks of 8192 points.

Why this method (``benchmarks/importance_speed.py``; the numbers are in
``docs/analysis.md``): on functions with known indices and 200 uniform
trials, the error of its shares (half the L1 distance to the true shares)
was 0.000-0.038, against 0.001-0.199 for fANOVA on a random forest
(Optuna's ``FanovaImportanceEvaluator``; a numpy forest written for the
comparison did no better) and 0.015-0.54 for PED-ANOVA (Optuna 5's
default), which compares the distribution of the best trials' parameters
with all trials' and so cannot see a pure interaction at all. Only on a
step function was the forest closer (0.003 against 0.024).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal, overload

import numpy as np

from ..errors import ArgumentError
from ..kernels import GPModel, standardize
from ..space import Categorical, Dimension, Integer
from .view import View, scored, view

__all__ = ["importance"]

#: Grid size for a real's (or a wide integer's) main effect, and for pairs.
_GRID = 32
_PAIR_GRID = 16
#: Base points paired with each grid value, for main effects and for pairs.
_BASE = 128
_PAIR_BASE = 32



def _design(
    v: View, max_trials: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Encoded parameters (n, d) and values (n,) of the trials the model learns from.

    Trials are taken by id, so a search and the study it stored give the
    same rows in the same order; beyond ``max_trials``, a random subset
    drawn with ``rng`` (before encoding, which costs a Python call per
    value). A trial whose parameters do not fit the space (a key missing, a
    value outside it) is left out with a warning.
    """
    done = sorted(scored(v), key=lambda t: t.trial_id)
    if len(done) > max_trials:
        keep = np.sort(rng.choice(len(done), max_trials, replace=False))
        done = [done[i] for i in keep]
    X = v.space.model_arrays([t.params for t in done])  # NaN: a value outside the space
    fits = np.all(np.isfinite(X), axis=1)
    skipped = int(len(done) - fits.sum())
    X = X[fits]
    values = [t.value for t, ok in zip(done, fits) if ok]
    if skipped:
        warnings.warn(
            f"importance: {skipped} trial(s) with parameters outside the search space were "
            "left out.",
            stacklevel=3,
        )
    return np.ascontiguousarray(X), np.asarray(values, dtype=np.float64)


def _grid(dim: Dimension, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes of one coordinate under the space's measure, and their weights."""
    if isinstance(dim, Categorical):
        k = len(dim.choices)
        return np.arange(k, dtype=np.float64), np.full(k, 1.0 / k)
    if isinstance(dim, Integer) and dim.cardinality <= size:
        nodes = np.array([dim.to_unit(v) for v in range(int(dim.low), int(dim.high) + 1)])
        return nodes, dim.probabilities()
    nodes = (np.arange(size) + 0.5) / size
    if isinstance(dim, Integer):
        nodes = _snap(dim, nodes)
    return nodes, np.full(size, 1.0 / size)


def _snap(dim: Dimension, u: np.ndarray) -> np.ndarray:
    """Unit-cube coordinates moved to the model's coordinate of the value they decode to."""
    if isinstance(dim, Categorical):
        k = len(dim.choices)
        return np.minimum(np.floor(u * k), k - 1).astype(np.float64)
    if isinstance(dim, Integer):
        return np.array([dim.to_unit(v) for v in dim.from_unit(u)])
    return u


def _base_points(dims: Sequence[Dimension], m: int, rng: np.random.Generator) -> np.ndarray:
    """``m`` Latin-hypercube points (m, d) in the model's coordinates."""
    d = len(dims)
    strata = np.argsort(rng.random((m, d)), axis=0)
    u = (strata + rng.random((m, d))) / m
    return np.column_stack([_snap(dim, u[:, j]) for j, dim in enumerate(dims)])


def _weighted_var(a: np.ndarray, w: np.ndarray) -> float:
    mean = float(np.dot(w, a))
    return float(np.dot(w, (a - mean) ** 2))


def _main_effects(model: GPModel, dims: Sequence[Dimension], base: np.ndarray) -> np.ndarray:
    """``V_j`` (d,) from grids of each coordinate crossed with the common base points."""
    grids = [_grid(dim, _GRID) for dim in dims]
    blocks = []
    for j, (nodes, _) in enumerate(grids):
        Z = np.repeat(base[None, :, :], len(nodes), axis=0)
        Z[:, :, j] = nodes[:, None]
        blocks.append(Z.reshape(-1, base.shape[1]))
    means = model.mean(np.concatenate(blocks))
    V = np.empty(len(dims))
    start = 0
    for j, (nodes, weights) in enumerate(grids):
        size = len(nodes) * base.shape[0]
        a = means[start : start + size].reshape(len(nodes), base.shape[0]).mean(axis=1)
        V[j] = _weighted_var(a, weights)
        start += size
    return V


def _pair_effects(
    model: GPModel, dims: Sequence[Dimension], base: np.ndarray
) -> dict[tuple[int, int], float]:
    """``V_jk`` for every pair ``j < k`` from a 2-d grid crossed with the base points."""
    grids = [_grid(dim, _PAIR_GRID) for dim in dims]
    m, d = base.shape
    out: dict[tuple[int, int], float] = {}
    for j in range(d):
        for k in range(j + 1, d):
            (nj, wj), (nk, wk) = grids[j], grids[k]
            Z = np.broadcast_to(base, (len(nj), len(nk), m, d)).copy()
            Z[:, :, :, j] = nj[:, None, None]
            Z[:, :, :, k] = nk[None, :, None]
            a = model.mean(Z.reshape(-1, d)).reshape(len(nj), len(nk), m).mean(axis=2)
            w = np.outer(wj, wk)
            total = _weighted_var(a.ravel(), w.ravel())
            vj = _weighted_var(a @ wk, wj)
            vk = _weighted_var(wj @ a, wk)
            out[(j, k)] = max(0.0, total - vj - vk)
    return out


def _sorted_shares(shares: Mapping[Any, float], order: Sequence[Any]) -> dict[Any, float]:
    """Descending by share; ties in the space's order."""
    rank = {key: i for i, key in enumerate(order)}
    return dict(sorted(shares.items(), key=lambda kv: (-kv[1], rank[kv[0]])))


@overload
def importance(
    obj: Any,
    method: str = ...,
    seed: int = ...,
    *,
    interactions: Literal[False] = ...,
    max_trials: int = ...,
    objective: str | int | None = ...,
) -> dict[str, float]: ...


@overload
def importance(
    obj: Any,
    method: str = ...,
    seed: int = ...,
    *,
    interactions: Literal[True],
    max_trials: int = ...,
    objective: str | int | None = ...,
) -> tuple[dict[str, float], dict[tuple[str, str], float]]: ...


def importance(
    obj: Any,
    method: str = "auto",
    seed: int = 0,
    *,
    interactions: bool = False,
    max_trials: int = 400,
    objective: str | int | None = None,
) -> Any:
    """How much of the variation of the values each parameter explains.

    The functional ANOVA of a Gaussian-process surrogate of the values over
    the space's own encoding (log scales, integers and categoricals as the
    space encodes them); see the module docstring for the formulas and
    ``docs/analysis.md`` for its validation.

    Parameters
    ----------
    obj : BaseSearch or StudyResults
        A finished search or a study from :func:`hpcore.load`. Completed and
        early-stopped trials with a finite value are used; failed ones, NaN
        values and trials without a value are left out.
    method : {'auto', 'gp'}
        ``'gp'``: functional ANOVA of the GP posterior mean. ``'auto'`` is
        ``'gp'`` (the most accurate of the methods measured).
    seed : int
        Seeds the subset of trials (beyond ``max_trials``), the GP fit's
        restart and the quadrature points: the same seed, the same result,
        up to float rounding (the compiled kernels reassociate sums, so the
        last bits can depend on memory alignment; measured differences
        between identical calls were below 3e-11).
    interactions : bool
        Also return pair importances.
    max_trials : int
        Fit the GP to at most this many trials (a random subset, by
        ``seed``): the fit costs ``O(n^3)``. 400 keeps 10,000 trials under a
        second.
    objective : str or int, optional
        With several objectives, whose variation to explain (a metric name
        or its position; default: the first).

    Returns
    -------
    dict
        Parameter key -> share of the variance, all >= 0, largest first.
        Without ``interactions`` the shares sum to 1.
    (dict, dict)
        With ``interactions=True``: the main shares and ``(key_a, key_b) ->
        share`` of every pair (keys in the space's order), all shares of
        one total, so that both dicts together sum to 1. The main shares are
        those without ``interactions`` times ``1 - sum(pair shares)``.

    When the values are constant (nothing to explain) every parameter gets
    the same share and every pair 0.

    Raises
    ------
    ArgumentError
        Unknown ``method``, bad ``max_trials``, or fewer than 2 trials with
        finite values.
    """
    if method not in ("auto", "gp"):
        raise ArgumentError(f"method must be 'auto' or 'gp', got {method!r}.")
    if (
        isinstance(max_trials, bool)
        or not isinstance(max_trials, numbers.Integral)
        or (max_trials < 2)
    ):
        raise ArgumentError(f"max_trials must be an int >= 2, got {max_trials!r}.")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ArgumentError(f"seed must be an int, got {seed!r}.")
    v = view(obj, objective)
    keys = list(v.space)
    dims = list(v.space.values())
    d = len(keys)
    pairs = [(keys[j], keys[k]) for j in range(d) for k in range(j + 1, d)]
    rng = np.random.default_rng(int(seed))
    X, y = _design(v, int(max_trials), rng)
    if len(y) < 2:
        raise ArgumentError(
            f"importance needs at least 2 completed trials with finite values; "
            f"{len(y)} of the {len(v.trials)} trials have one."
        )
    scaled = standardize(y)
    ys = None if scaled is None else scaled[0]

    V = np.zeros(d)
    P: dict[tuple[int, int], float] = {}
    if ys is not None and d > 1:
        cat = np.array([1.0 if isinstance(dim, Categorical) else 0.0 for dim in dims])
        model = GPModel.fit(X, ys, cat, n_restarts=1, seed=int(rng.integers(2**31)))
        base = _base_points(dims, _BASE, rng)
        V = _main_effects(model, dims, base)
        if interactions:
            P = _pair_effects(model, dims, _base_points(dims, _PAIR_BASE, rng))
    elif ys is not None:
        V = np.ones(1)

    main_total = float(V.sum())
    total = main_total + sum(P.values()) if interactions else main_total
    if total > 0 and math.isfinite(total):
        main = {key: float(v) / total for key, v in zip(keys, V)}
        pair_shares = {
            (keys[j], keys[k]): P.get((j, k), 0.0) / total
            for j, k in ((a, b) for a in range(d) for b in range(a + 1, d))
        }
    else:  # constant values: nothing to explain, nothing to rank
        main = {key: 1.0 / d for key in keys}
        pair_shares = dict.fromkeys(pairs, 0.0)
    main = _sorted_shares(main, keys)
    if not interactions:
        return main
    return main, _sorted_shares(pair_shares, pairs)
