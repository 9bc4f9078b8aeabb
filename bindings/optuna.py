"""hpcore's Bayesian strategy as an Optuna sampler: ``HpcoreSampler``.

::

    import optuna
    from hpcore.bindings.optuna import HpcoreSampler

    study = optuna.create_study(sampler=HpcoreSampler(seed=0))
    study.optimize(objective, n_trials=50)

How it maps onto Optuna
-----------------------
Relative sampling, as Optuna's ``GPSampler`` and ``TPESampler`` do: the
relative search space is the intersection of the distributions of the
finished trials (:class:`optuna.search_space.IntersectionSearchSpace`,
pruned trials included), less single-value distributions (Optuna answers
those itself) and ranges hpcore cannot encode. Everything else (the first
trial, conditional parameters, parameters whose range changed) goes to
``independent_sampler``.

Each distribution becomes one hpcore dimension:

==========================================  ==========================================
Optuna                                      hpcore
==========================================  ==========================================
``FloatDistribution(low, high, log)``       ``Real(low, high, log)``
``FloatDistribution(low, high, step=s)``    ``Integer(0, K)``, value ``low + k s``
``IntDistribution(low, high, log)``         ``Integer(low, high, log)``
``IntDistribution(low, high, step=s)``      ``Integer(0, K)``, value ``low + k s``
``CategoricalDistribution(choices)``        ``Categorical`` of the choice indices
==========================================  ==========================================

(``K = (high - low) / s``; a stepped range keeps its order, so the GP models
it as an integer.) The hpcore space is keyed ``p0, p1, ...`` so any Optuna
parameter name works.

One suggestion
--------------
Under a lock (``n_jobs`` threads share the sampler):

1. The :class:`~hpcore.strategies.BayesianStrategy` of the current search
   space is reused; a new one is built only when the space changes (or for
   a new study, or after :meth:`HpcoreSampler.reseed_rng`).
2. It is told the trials that finished since the last call, in trial
   order: COMPLETE with their value, PRUNED with their last intermediate
   value (hpcore's ``stopped_trials='last-value'``), FAIL with none (never
   suggested again). Values are negated for ``direction='maximize'``.
   Reusing the strategy is what makes a suggestion cheap: between refits
   (every result while fewer than 20, then every 10% growth) the GP's
   Cholesky factor is extended by the new points in O(n^2) each.
3. The RUNNING trials other than the current one become its pending
   points, fantasised by the model, so parallel workers spread out. Their
   parameters are the ones the trial has set, completed by the values
   ``study.enqueue_trial`` fixed for it (the system attribute
   ``fixed_params``: known from the moment the trial starts, before its
   objective asks for them) and by the relative parameters this sampler
   drew for it, which are shared through the trial's system attribute
   ``hpcore:relative_params`` so that workers in other processes (RDB
   storage) see them too.
4. The strategy is asked for one point; a trial whose relative parameters
   were all enqueued (``study.enqueue_trial``) is not asked for. Once every
   point of a finite space has been tried or is running, the independent
   sampler draws the point (a repeat).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler
from optuna.samplers._base import _process_constraints_after_trial
from optuna.study import Study, StudyDirection
from optuna.study._constrained_optimization import _CONSTRAINTS_KEY
from optuna.trial import FrozenTrial, TrialState

from hpcore.errors import SearchSpaceError, StrategyExhausted
from hpcore.objectives import reference_values
from hpcore.space import Categorical, Dimension, Integer, Real, SearchSpace

__all__ = ["HpcoreSampler", "RELATIVE_PARAMS_KEY"]

#: System attribute (chunked, as Optuna's own samplers do) that holds the relative
#: parameters drawn for a trial, in Optuna's internal representation.
RELATIVE_PARAMS_KEY = "hpcore:relative_params"
_SYSTEM_ATTR_MAX_LENGTH = 2045


class _Param:
    """One Optuna distribution as one hpcore dimension, and the value conversions.

    ``to_hpcore`` takes Optuna's internal representation (a float; the index
    for a categorical) and returns the hpcore value, or ``None`` when the
    value lies outside the distribution. ``from_hpcore`` returns the value
    Optuna hands to the objective.
    """

    __slots__ = ("dist", "dim", "_low", "_step", "_n")

    def __init__(self, dist: BaseDistribution) -> None:
        self.dist = dist
        self._low: float = 0.0
        self._step: float | None = None
        self._n = 0
        dim: Dimension
        if isinstance(dist, CategoricalDistribution):
            self._n = len(dist.choices)
            dim = Categorical(list(range(self._n)))
        elif isinstance(dist, (FloatDistribution, IntDistribution)):
            step = dist.step
            if step is None or (isinstance(dist, IntDistribution) and step == 1):
                kind = Real if isinstance(dist, FloatDistribution) else Integer
                dim = kind(dist.low, dist.high, log=dist.log)
            else:
                self._low, self._step = dist.low, step
                dim = Integer(0, int(round((dist.high - dist.low) / step)))
        else:
            raise TypeError(f"unsupported distribution {dist!r}")
        self.dim = dim

    def to_hpcore(self, internal: float) -> Any | None:
        if isinstance(self.dim, Categorical):
            i = int(internal)
            return i if 0 <= i < self._n else None
        if self._step is not None:
            k = round((internal - self._low) / self._step)
            return k if self.dim.contains(k) else None
        if isinstance(self.dim, Integer):
            k = round(internal)
            return k if self.dim.contains(k) else None
        x = float(internal)
        return x if self.dim.contains(x) else None

    def from_hpcore(self, value: Any) -> Any:
        dist = self.dist
        if isinstance(dist, CategoricalDistribution):
            return dist.choices[int(value)]
        if self._step is not None:
            x = self._low + int(value) * self._step
            if isinstance(dist, IntDistribution):
                return int(x)
            return float(min(max(x, dist.low), dist.high))
        return int(value) if isinstance(dist, IntDistribution) else float(value)


def _as_param(name: str, dist: BaseDistribution) -> _Param | None:
    """The hpcore form of ``dist``, or ``None`` when hpcore cannot model it."""
    if dist.single():
        return None
    try:
        param = _Param(dist)
        param.dim.check(name)
    except (TypeError, SearchSpaceError):  # e.g. a float range whose width overflows
        return None
    return param


class HpcoreSampler(BaseSampler):
    """An Optuna sampler that suggests with hpcore's GP Bayesian strategy.

    Parameters
    ----------
    seed : int, optional
        Seeds the strategy and the default independent sampler: the same
        seed gives the same suggestions (in a serial study).
    n_startup_trials : int
        Quasi-random (scrambled Sobol) suggestions before the GP takes over;
        hpcore's ``n_initial_points``. They count every trial the strategy
        has been told of or that is running, failed ones included.
    acquisition : {'logei', 'ei', 'ucb', 'pi'}
        What the strategy maximises.
    independent_sampler : optuna.samplers.BaseSampler, optional
        Samples the parameters outside the relative search space (the first
        trial, conditional parameters, changed ranges). Default
        ``RandomSampler(seed)``.
    constraints_func : callable, optional
        ``constraints_func(frozen_trial) -> sequence of float``, as for
        Optuna's own samplers: each value ``<= 0`` where that constraint is
        met. Called after each completed or pruned trial and stored under
        Optuna's own key, so that ``study.best_trials`` and Optuna's plots see
        feasibility; hpcore models each constraint with a GP and weights the
        acquisition by the probability that every one is met.
    warm_start : optuna.Study or sequence of them, optional
        Earlier studies of the same objective whose finished trials (complete,
        and pruned ones with their last intermediate value; read when the
        sampler is made) inform the GP from
        its first suggestion, without being trials of this study
        (:mod:`hpcore.strategies._prior`: one more input, the study, whose
        fitted length scale says how far they are believed). A trial that
        lacks a parameter of the current search space, or whose value lies
        outside its distribution, is left out. One objective without
        constraints.
    reference_point : sequence of float, optional
        A study with two or three objectives: the worst value of each that is
        still of interest, in the study's directions (for a maximised one,
        the lowest value of interest). Suggestions aim at the part of the
        front inside it; without it, the worst values seen bound the
        hypervolume (GPSampler's rule).
    **strategy_options
        Any other argument of :class:`hpcore.strategies.BayesianStrategy`
        (``y_transform``, ``n_candidates``, ``n_restarts``, ``fantasy``,
        ``batch_radius``, ``stopped_trials``, ...).

    Raises
    ------
    ValueError
        For an unknown acquisition or option value.

    Studies with several objectives (``directions=[...]``) are sampled with
    log expected hypervolume improvement, one GP per objective
    (:class:`hpcore.strategies.MultiOutputBayesianStrategy`).
    """

    def __init__(
        self,
        seed: int | None = None,
        n_startup_trials: int = 10,
        acquisition: str = "logei",
        independent_sampler: BaseSampler | None = None,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        warm_start: Study | Sequence[Study] | None = None,
        reference_point: Sequence[float] | None = None,
        **strategy_options: Any,
    ) -> None:
        if "n_initial_points" in strategy_options:
            raise TypeError(
                "HpcoreSampler: pass the number of quasi-random trials as `n_startup_trials`, "
                f"not `n_initial_points` (got n_initial_points={strategy_options['n_initial_points']!r})."
            )
        if isinstance(n_startup_trials, bool) or not isinstance(n_startup_trials, int) or (
            n_startup_trials < 0
        ):
            raise ValueError(
                f"HpcoreSampler: `n_startup_trials` must be an int >= 0, got {n_startup_trials!r}."
            )
        self._seed = seed
        self._n_startup_trials = n_startup_trials
        self._acquisition = acquisition
        self._options = dict(strategy_options)
        self._independent_sampler = independent_sampler or optuna.samplers.RandomSampler(seed=seed)
        self._constraints_func = constraints_func
        self._reference_point = (None if reference_point is None
                                 else reference_values(reference_point))
        self._warm = _studies(warm_start)
        self._lock = threading.RLock()
        self._make_strategy({"p0": Real(0.0, 1.0)})  # checks the options now, not at trial 11
        self._reset(None)

    # -- the strategy and what it has been told ---------------------------------
    def _make_strategy(self, dims: Mapping[str, Dimension], n_objectives: int = 1,
                       n_constraints: int = 0,
                       warm: list[list[tuple[dict[str, Any], float]]] | None = None,
                       signs: Sequence[float] = ()) -> Any:
        # Loads numba: only when needed.
        from hpcore.strategies import BayesianStrategy, MultiOutputBayesianStrategy

        if n_objectives == 1 and self._reference_point is not None and signs:
            raise ValueError("HpcoreSampler(reference_point=...) is for studies with two or "
                             "three objectives; this study has one. Leave it out.")
        if n_objectives == 1 and n_constraints == 0:
            return BayesianStrategy(
                SearchSpace(dims), seed=self._seed, n_initial_points=self._n_startup_trials,
                acquisition=self._acquisition, warm_start=warm,
                **self._options,
            )
        if self._warm:
            raise ValueError("HpcoreSampler(warm_start=...) is for one objective without "
                             "constraints; this study has "
                             f"{n_objectives} objective(s) and {n_constraints} constraint(s).")
        ref = self._reference_point
        if ref is not None and len(ref) != n_objectives:
            raise ValueError(f"HpcoreSampler(reference_point=...) gives {len(ref)} values; "
                             f"this study has {n_objectives} objective(s). Give one per "
                             "objective, in the order of the study's directions.")
        if ref is not None:
            ref = [sg * r for sg, r in zip(signs, ref)]  # every objective minimised
        return MultiOutputBayesianStrategy(
            SearchSpace(dims), n_objectives, n_constraints, seed=self._seed,
            n_initial_points=self._n_startup_trials, reference_point=ref, **self._options,
        )

    def _reset(self, study_key: tuple[int, int] | None) -> None:
        self._study_key = study_key
        self._intersection = optuna.search_space.IntersectionSearchSpace(include_pruned=True)
        self._drop_strategy()

    def _drop_strategy(self) -> None:
        self._strategy: Any = None
        self._shape = (1, 0)  # objectives and constraints the strategy models
        self._space: dict[str, _Param] = {}
        self._keys: dict[str, str] = {}
        self._cursor = 0  # every trial before this position is finished and was seen
        self._seen: set[int] = set()  # trial numbers seen at or after the cursor

    def _check_study(self, study: Study) -> None:
        key = (id(study._storage), study._study_id)
        if key != self._study_key:
            self._reset(key)

    def _sync(self, study: Study, trial: FrozenTrial, space: dict[str, _Param]) -> None:
        """Bring the strategy up to date with the study (steps 1-3 of the module docstring)."""
        trials = study.get_trials(deepcopy=False)
        shape = (len(study.directions), self._n_constraints(trials))
        signs = [-1.0 if d == StudyDirection.MAXIMIZE else 1.0 for d in study.directions]
        if self._strategy is None or space.keys() != self._space.keys() or any(
            space[n].dist != self._space[n].dist for n in space
        ) or shape != self._shape:
            self._drop_strategy()
            self._space = space
            self._shape = shape
            self._keys = {name: f"p{i}" for i, name in enumerate(space)}
            self._strategy = self._make_strategy(
                {self._keys[n]: p.dim for n, p in space.items()}, *shape,
                warm=self._warm_groups(signs[0]) if shape == (1, 0) else None, signs=signs,
            )
        strategy = self._strategy
        for t in trials[self._cursor :]:
            if not t.state.is_finished() or t.number in self._seen:
                continue
            self._seen.add(t.number)
            params = self._finished_params(t)
            if params is None:  # a failed trial that did not get every parameter
                continue
            constraints = self._constraints_of(t)
            if t.state == TrialState.COMPLETE:
                values = [sg * v for sg, v in zip(signs, t.values)]
                strategy.tell(params, values if len(values) > 1 else values[0], "completed",
                              constraints=constraints)
            elif t.state == TrialState.PRUNED and len(signs) == 1:
                last = _last_value(t)
                value = None if last is None else signs[0] * last
                strategy.tell(params, value, "stopped", constraints=constraints)
            else:
                strategy.tell(params, None, "failed")
        while self._cursor < len(trials) and trials[self._cursor].state.is_finished():
            self._seen.discard(trials[self._cursor].number)
            self._cursor += 1
        pending = []
        for t in trials[self._cursor :]:
            if t.state == TrialState.RUNNING and t.number != trial.number:
                params = self._running_params(t)
                if params is not None:
                    pending.append(params)
        strategy.pending[:] = pending

    def _warm_groups(self, sign: float) -> list[list[tuple[dict[str, Any], float]]] | None:
        """The earlier studies' finished trials in the current space, values to minimise."""
        groups = []
        for trials in self._warm:
            group = []
            for t in trials:
                value = t.value if t.state == TrialState.COMPLETE else _last_value(t)
                params = self._earlier_params(t)
                if params is not None and value is not None and math.isfinite(value):
                    group.append((params, sign * value))
            if group:
                groups.append(group)
        return groups or None

    def _earlier_params(self, t: FrozenTrial) -> dict[str, Any] | None:
        """An earlier study's trial in the current space (its own distributions may differ)."""
        internal = {}
        for name, param in self._space.items():
            if name not in t.params:
                return None
            try:
                internal[name] = param.dist.to_internal_repr(t.params[name])
            except (ValueError, TypeError):  # not a choice of this distribution
                return None
        return self._to_strategy(internal)

    def _n_constraints(self, trials: Sequence[FrozenTrial]) -> int:
        """How many constraints the finished trials carry (0 without ``constraints_func``)."""
        if self._constraints_func is None:
            return 0
        for t in trials:
            c = t.system_attrs.get(_CONSTRAINTS_KEY)
            if c is not None:
                return len(c)
        return 0

    def _constraints_of(self, t: FrozenTrial) -> tuple[float, ...] | None:
        """The trial's stored constraint values (NaN each where none were stored)."""
        n = self._shape[1]
        if n == 0:
            return None
        c = t.system_attrs.get(_CONSTRAINTS_KEY)
        if c is None or len(c) != n:
            return (math.nan,) * n
        return tuple(float(x) for x in c)

    def _to_strategy(self, internal: Mapping[str, float]) -> dict[str, Any] | None:
        out = {}
        for name, param in self._space.items():
            if name not in internal:
                return None
            value = param.to_hpcore(internal[name])
            if value is None:
                return None
            out[self._keys[name]] = value
        return out

    def _set_params(self, t: FrozenTrial) -> dict[str, float]:
        """The trial's parameters of the current space, in Optuna's internal representation."""
        out = {}
        for name, param in self._space.items():
            if name in t.params and t.distributions[name] == param.dist:
                out[name] = param.dist.to_internal_repr(t.params[name])
        return out

    def _finished_params(self, t: FrozenTrial) -> dict[str, Any] | None:
        return self._to_strategy(self._set_params(t))

    def _fixed_params(self, t: FrozenTrial) -> dict[str, float]:
        """The values ``study.enqueue_trial`` fixed for the trial (Optuna keeps them in its
        system attribute ``fixed_params``) in the current space, internal representation."""
        fixed = t.system_attrs.get("fixed_params") or {}
        out = {}
        for name in self._space.keys() & fixed.keys():
            try:
                out[name] = self._space[name].dist.to_internal_repr(fixed[name])
            except ValueError:  # not a choice of the distribution: Optuna warns, and so no model
                pass
        return out

    def _running_params(self, t: FrozenTrial) -> dict[str, Any] | None:
        """What a running trial runs: the relative parameters drawn for it, its enqueued
        values (known before its objective asks for them) and the values it has set."""
        drawn = _load_relative_params(t)
        drawn.update(self._fixed_params(t))
        drawn.update(self._set_params(t))
        return self._to_strategy(drawn)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # -- BaseSampler --------------------------------------------------------------
    def reseed_rng(self) -> None:
        """New random streams (Optuna calls this in each worker thread of ``n_jobs``)."""
        with self._lock:
            self._independent_sampler.reseed_rng()
            self._seed = int(np.random.SeedSequence().generate_state(1)[0])
            self._drop_strategy()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        with self._lock:
            self._check_study(study)
            space = self._intersection.calculate(study)
        return {name: d for name, d in space.items() if _as_param(name, d) is not None}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        space = {}
        for name in sorted(search_space):
            param = _as_param(name, search_space[name])
            if param is not None:
                space[name] = param
        with self._lock:
            self._check_study(study)
            if not space:
                return {}
            fixed = trial.system_attrs.get("fixed_params", {})
            if all(name in fixed for name in space):
                return {}  # an enqueued trial: Optuna uses the fixed values
            self._sync(study, trial, space)
            try:
                point = self._strategy.ask()
            except StrategyExhausted:  # every point of a finite space was tried or is running
                params = {
                    name: self._independent_sampler.sample_independent(study, trial, name, p.dist)
                    for name, p in space.items()
                }
            else:
                params = {name: p.from_hpcore(point[self._keys[name]]) for name, p in space.items()}
            drawn = {name: p.dist.to_internal_repr(params[name]) for name, p in space.items()}
            drawn.update(self._fixed_params(trial))  # as it will run, for the fantasies
            _store_relative_params(study, trial, drawn)
        return params

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        with self._lock:
            self._check_study(study)
            return self._independent_sampler.sample_independent(
                study, trial, param_name, param_distribution
            )

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._independent_sampler.before_trial(study, trial)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        if self._constraints_func is not None:
            _process_constraints_after_trial(self._constraints_func, study, trial, state)
        self._independent_sampler.after_trial(study, trial, state, values)


def _store_relative_params(study: Study, trial: FrozenTrial, drawn: dict[str, float]) -> None:
    text = json.dumps(drawn)
    for i in range(0, len(text), _SYSTEM_ATTR_MAX_LENGTH):
        study._storage.set_trial_system_attr(
            trial._trial_id,
            f"{RELATIVE_PARAMS_KEY}:{i // _SYSTEM_ATTR_MAX_LENGTH}",
            text[i : i + _SYSTEM_ATTR_MAX_LENGTH],
        )


def _load_relative_params(trial: FrozenTrial) -> dict[str, float]:
    chunks = []
    while (chunk := trial.system_attrs.get(f"{RELATIVE_PARAMS_KEY}:{len(chunks)}")) is not None:
        chunks.append(chunk)
    if not chunks:
        return {}
    try:
        drawn = json.loads("".join(chunks))
    except ValueError:
        return {}
    return {k: float(v) for k, v in drawn.items() if isinstance(v, (int, float)) and math.isfinite(v)}


def _last_value(t: FrozenTrial) -> float | None:
    """A pruned trial's value as the strategy models it: its last intermediate value."""
    return None if t.last_step is None else t.intermediate_values[t.last_step]


def _studies(warm_start: Any) -> list[list[FrozenTrial]]:
    """The finished trials of each earlier study, read once (a sampler must pickle)."""
    if warm_start is None:
        return []
    studies = [warm_start] if isinstance(warm_start, Study) else list(warm_start)
    for s in studies:
        if not isinstance(s, Study):
            raise TypeError(f"HpcoreSampler: warm_start must be an optuna.Study or a sequence "
                            f"of them, got {s!r}.")
        if len(s.directions) != 1:
            raise ValueError(f"HpcoreSampler: warm_start study {s.study_name!r} has "
                             f"{len(s.directions)} objectives; warm start takes one.")
    return [s.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED)) for s in studies]
