"""hpcore's Bayesian strategy as a Ray Tune searcher: ``HpcoreSearcher``.

::

    from ray import tune
    from hpcore.bindings.ray import HpcoreSearcher

    tuner = tune.Tuner(
        trainable,
        param_space={"lr": tune.loguniform(1e-4, 1e-1), "width": tune.randint(16, 257)},
        tune_config=tune.TuneConfig(
            search_alg=HpcoreSearcher(seed=0), metric="loss", mode="min", num_samples=50),
    )
    tuner.fit()

How it maps onto Ray Tune
-------------------------
The search space is either an hpcore space given to the searcher (dotted
keys to :class:`~hpcore.space.Real`, :class:`~hpcore.space.Integer`,
:class:`~hpcore.space.Categorical` or a plain list; a dotted key becomes a
nested config, as in hpcore's own searches) or the Tuner's ``param_space``,
which Tune hands over through :meth:`HpcoreSearcher.set_search_properties`
and which :func:`convert_ray_space` converts, sampling domain by sampling
domain (the other entries are constants that Tune keeps in every config):

=====================================  ===========================================
Ray Tune                               hpcore
=====================================  ===========================================
``tune.uniform(a, b)``                 ``Real(a, b)``
``tune.loguniform(a, b)``              ``Real(a, b, log=True)``
``tune.quniform(a, b, q)``             ``Integer`` index ``k``, value ``k q`` in ``[a, b]``
``tune.qloguniform(a, b, q)``          ``Real(a, b, log=True)``, value rounded to ``q``
``tune.randint(a, b)``                 ``Integer(a, b - 1)`` (Ray's upper bound is exclusive)
``tune.lograndint(a, b)``              ``Integer(a, b - 1, log=True)``
``tune.qrandint(a, b, q)``             ``Integer`` index ``k``, value ``k q`` in ``[a, b]``
``tune.qlograndint(a, b, q)``          ``Integer(a, b, log=True)``, value rounded to ``q``
``tune.choice(xs)``                    ``Categorical(xs)``
=====================================  ===========================================

``tune.randn``, ``tune.sample_from`` and ``tune.grid_search`` have no
hpcore counterpart and are refused with a ``ValueError`` naming the key.

One trial
---------
:meth:`~HpcoreSearcher.suggest` asks the :class:`~hpcore.strategies.BayesianStrategy`;
the point stays *pending* in the strategy until the trial ends, so
trials that are still running are fantasised by the model and concurrent
suggestions spread out. :meth:`~HpcoreSearcher.on_trial_complete` tells
it ``result[metric]`` (negated for ``mode='max'``); a trial that errored,
or ended without a finite metric, is told as failed (not modelled, never
suggested again). :meth:`~HpcoreSearcher.save` and
:meth:`~HpcoreSearcher.restore` pickle the strategy with the trials in
flight, which is what ``Tuner.restore`` needs to resume.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping
from typing import Any

from ray.tune.search import Searcher
from ray.tune.search.sample import (
    Categorical as RayCategorical,
)
from ray.tune.search.sample import (
    Domain,
    Float,
    LogUniform,
    Quantized,
    Uniform,
)
from ray.tune.search.sample import (
    Integer as RayInteger,
)

from hpcore.errors import StrategyExhausted
from hpcore.space import Categorical, Dimension, Integer, Real, SearchSpace

__all__ = ["HpcoreSearcher", "convert_ray_space"]


class _Quantized:
    """A value ``k q`` kept as its integer index ``k`` (hpcore models the index)."""

    __slots__ = ("q", "is_int")

    def __init__(self, q: float, is_int: bool) -> None:
        self.q, self.is_int = q, is_int

    def __call__(self, k: Any) -> Any:
        x = int(k) * self.q
        return int(round(x)) if self.is_int else float(x)


class _Rounded:
    """A value rounded to a multiple of ``q`` inside ``[low, high]`` (log-quantized domains)."""

    __slots__ = ("q", "low", "high", "is_int")

    def __init__(self, q: float, low: float, high: float, is_int: bool) -> None:
        self.q, self.low, self.high, self.is_int = q, low, high, is_int

    def __call__(self, x: Any) -> Any:
        v = round(float(x) / self.q) * self.q
        if v < self.low:
            v += self.q
        if v > self.high:
            v -= self.q
        return int(round(v)) if self.is_int else float(v)


def _path_text(path: tuple[str, ...]) -> str:
    return "/".join(str(p) for p in path)


def _convert_domain(key: str, domain: Domain) -> tuple[Dimension, Any]:
    """One Ray sampling domain as one hpcore dimension, and how to decode its values."""
    if isinstance(domain, RayCategorical):
        return Categorical(list(domain.categories)), None
    if not isinstance(domain, (Float, RayInteger)):
        raise ValueError(
            f"HpcoreSearcher cannot search {key!r}: {type(domain).__name__} domains "
            "(tune.sample_from, functions) have no hpcore counterpart. Use tune.uniform, "
            "tune.loguniform, tune.randint, tune.qrandint or tune.choice."
        )
    sampler = domain.get_sampler()
    q = None
    if isinstance(sampler, Quantized):
        q, sampler = sampler.q, sampler.sampler
    if not isinstance(sampler, (Uniform, LogUniform)):
        raise ValueError(
            f"HpcoreSearcher cannot search {key!r}: its sampler {type(sampler).__name__} "
            "(e.g. tune.randn) has no hpcore counterpart; give it bounds "
            "(tune.uniform, tune.loguniform)."
        )
    log = isinstance(sampler, LogUniform)
    is_int = isinstance(domain, RayInteger)
    low, high = domain.lower, domain.upper
    if q is None:
        if is_int:  # Ray's randint/lograndint exclude the upper bound
            return Integer(int(low), int(high) - 1, log=log), None
        return Real(float(low), float(high), log=log), None
    if log:
        dim: Dimension = Integer(int(low), int(high), log=True) if is_int else Real(
            float(low), float(high), log=True
        )
        return dim, _Rounded(q, low, high, is_int)
    k_low, k_high = math.ceil(low / q - 1e-9), math.floor(high / q + 1e-9)
    if k_low >= k_high:
        raise ValueError(
            f"HpcoreSearcher cannot search {key!r}: [{low}, {high}] holds fewer than two "
            f"multiples of q={q}."
        )
    return Integer(k_low, k_high), _Quantized(q, is_int)


def _walk(spec: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Any:
    for k, v in spec.items():
        path = (*prefix, k)
        if isinstance(v, Mapping):
            if "grid_search" in v:
                raise ValueError(
                    f"HpcoreSearcher cannot search {_path_text(path)!r}: tune.grid_search "
                    "is not a sampling domain; use tune.choice (hpcore models it) or "
                    "hpcore.GridSearch."
                )
            yield from _walk(v, path)
        else:
            yield path, v


def convert_ray_space(
    param_space: Mapping[str, Any],
) -> tuple[SearchSpace, dict[str, tuple[str, ...]], dict[str, Any]]:
    """The hpcore form of a Ray Tune ``param_space``.

    Returns
    -------
    space : SearchSpace
        One dimension per sampling domain, keyed by its ``/``-joined path
        (Tune's own flattening: ``{"a": {"b": tune.uniform(0, 1)}}`` gives ``'a/b'``).
    paths : dict
        Each key's path into the (nested) config.
    decoders : dict
        For quantized domains, the function from the hpcore value to the
        config's value.

    Constants are left out (Tune puts them in every config itself).

    Raises
    ------
    ValueError
        For a domain hpcore cannot model, naming its key.
    """
    dims: dict[str, Dimension] = {}
    paths: dict[str, tuple[str, ...]] = {}
    decoders: dict[str, Any] = {}
    for path, value in _walk(param_space):
        if not isinstance(value, Domain):
            continue
        key = _path_text(path)
        dim, decode = _convert_domain(key, value)
        dims[key] = dim
        paths[key] = path
        if decode is not None:
            decoders[key] = decode
    return SearchSpace(dims), paths, decoders


def _has_domain(spec: Mapping[str, Any]) -> bool:
    return any(isinstance(v, Domain) for _, v in _walk(spec))


class HpcoreSearcher(Searcher):
    """A Ray Tune searcher that suggests with hpcore's GP Bayesian strategy.

    Parameters
    ----------
    space : mapping, optional
        An hpcore space (dotted keys to dimensions) or a Ray Tune param space
        (``tune.uniform(...)``, ...). Without it, the Tuner's
        ``param_space`` is used.
    metric : str, optional
        The key of the result to optimise (default: ``TuneConfig(metric=...)``).
    mode : {'min', 'max'}, optional
        Default: ``TuneConfig(mode=...)``.
    seed : int, optional
        Same seed, same suggestions (given the same results in the same order).
    n_initial_points : int
        Quasi-random (scrambled Sobol) suggestions before the GP takes over.
    **strategy_options
        Any other argument of :class:`hpcore.strategies.BayesianStrategy`
        (``acquisition``, ``y_transform``, ``fantasy``, ``batch_radius``, ...).

    Raises
    ------
    ValueError
        For an unknown option value, a bad mode, or a domain hpcore cannot
        model (naming its key).
    """

    def __init__(
        self,
        space: Mapping[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        seed: int | None = None,
        n_initial_points: int = 10,
        **strategy_options: Any,
    ) -> None:
        if mode not in (None, "min", "max"):
            raise ValueError(f"HpcoreSearcher: `mode` must be 'min' or 'max', got {mode!r}.")
        if isinstance(n_initial_points, bool) or not isinstance(n_initial_points, int) or (
            n_initial_points < 0
        ):
            raise ValueError(
                f"HpcoreSearcher: `n_initial_points` must be an int >= 0, got {n_initial_points!r}."
            )
        super().__init__(metric=metric, mode=mode)
        self._seed = seed
        self._n_initial_points = n_initial_points
        self._options = dict(strategy_options)
        self._strategy: Any = None
        self._paths: dict[str, tuple[str, ...]] = {}
        self._decoders: dict[str, Any] = {}
        self._live: dict[str, dict[str, Any]] = {}  # trial id -> the point asked for it
        self._make_strategy({"x": Real(0.0, 1.0)})  # checks the options now
        if space is not None:
            self._set_space(space)

    # -- the space and the strategy ------------------------------------------------------
    def _make_strategy(self, space: SearchSpace | Mapping[str, Any]) -> Any:
        from hpcore.strategies import BayesianStrategy  # loads numba: only when needed

        return BayesianStrategy(
            space, seed=self._seed, n_initial_points=self._n_initial_points, **self._options
        )

    def _set_space(self, space: Mapping[str, Any]) -> None:
        if not isinstance(space, Mapping):
            raise TypeError(
                f"HpcoreSearcher: `space` must be a mapping of keys to dimensions, got "
                f"{type(space).__name__}."
            )
        if _has_domain(space):
            hp_space, self._paths, self._decoders = convert_ray_space(space)
        else:
            hp_space = space if isinstance(space, SearchSpace) else SearchSpace(space)
            self._paths = {k: tuple(k.split(".")) for k in hp_space}
            self._decoders = {}
        if len(hp_space) == 0:
            raise ValueError("HpcoreSearcher: the search space has no dimension to search.")
        self._strategy = self._make_strategy(hp_space)
        self._live = {}

    @property
    def space(self) -> SearchSpace | None:
        """The hpcore space searched (``None`` until one is set)."""
        return None if self._strategy is None else self._strategy.space

    @property
    def strategy(self) -> Any:
        """The :class:`~hpcore.strategies.BayesianStrategy` behind the searcher."""
        return self._strategy

    def _config(self, params: Mapping[str, Any]) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for key, value in params.items():
            decode = self._decoders.get(key)
            if decode is not None:
                value = decode(value)
            *parents, leaf = self._paths[key]
            node = config
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = value
        return config

    # -- Searcher --------------------------------------------------------------------------
    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        """Take the Tuner's metric and mode, and its ``param_space`` when no space was given.

        Returns ``False`` when the searcher already has a space (Tune then
        refuses a ``param_space`` with sampling domains) or the config has
        no domains.
        """
        if metric and not self._metric:
            self._metric = metric
        if mode and not self._mode:
            if mode not in ("min", "max"):
                raise ValueError(f"HpcoreSearcher: `mode` must be 'min' or 'max', got {mode!r}.")
            self._mode = mode
        if self._strategy is not None or not config or not _has_domain(config):
            return False
        self._set_space(config)
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        """The config of a new trial; ``Searcher.FINISHED`` once a finite space is used up."""
        if self._strategy is None:
            raise RuntimeError(
                "HpcoreSearcher has no search space: pass `space=` to it or a `param_space` "
                "with tune.uniform/tune.choice/... to the Tuner."
            )
        if not self._metric or not self._mode:
            raise RuntimeError(
                "HpcoreSearcher needs a metric and a mode: pass them to it or to "
                "tune.TuneConfig(metric=..., mode=...)."
            )
        if trial_id in self._live:  # asked again for the same trial (restored run)
            return self._config(self._live[trial_id])
        try:
            params = self._strategy.ask()
        except StrategyExhausted:
            return Searcher.FINISHED
        self._live[trial_id] = params
        return self._config(params)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        """Tell the strategy how the trial ended (its ``result[metric]``, or failed)."""
        params = self._live.pop(trial_id, None)
        if params is None:  # a trial this searcher did not suggest
            return
        value = None if (error or not result) else result.get(self._metric)
        try:
            value = None if value is None or isinstance(value, bool) else float(value)
        except (TypeError, ValueError):
            value = None
        if value is None or not math.isfinite(value):
            self._strategy.tell(params, None, "failed")
            return
        sign = -1.0 if self._mode == "max" else 1.0
        # Tune ends a trial a scheduler stopped early with its last result (done=False)
        state = "completed" if result.get("done", True) else "stopped"  # type: ignore[union-attr]
        self._strategy.tell(params, sign * value, state)

    def add_evaluated_point(
        self,
        parameters: dict,
        value: float,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list | None = None,
    ) -> None:
        """Tell the strategy a point evaluated elsewhere (hpcore keys, hpcore values)."""
        if self._strategy is None:
            raise RuntimeError("HpcoreSearcher has no search space yet.")
        sign = -1.0 if self._mode == "max" else 1.0
        if error or value is None or not math.isfinite(value):
            self._strategy.tell(parameters, None, "failed")
        else:
            self._strategy.tell(parameters, sign * float(value), "stopped" if pruned else "completed")

    # -- state -----------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        return {
            "metric": self._metric,
            "mode": self._mode,
            "seed": self._seed,
            "n_initial_points": self._n_initial_points,
            "options": self._options,
            "strategy": self._strategy,
            "paths": self._paths,
            "decoders": self._decoders,
            "live": self._live,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self._metric = state["metric"]
        self._mode = state["mode"]
        self._seed = state["seed"]
        self._n_initial_points = state["n_initial_points"]
        self._options = state["options"]
        self._strategy = state["strategy"]
        self._paths = state["paths"]
        self._decoders = state["decoders"]
        self._live = state["live"]

    def save(self, checkpoint_path: str) -> None:
        """Pickle the strategy (its history and pending points) and the trials in flight."""
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.get_state(), f, protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, checkpoint_path: str) -> None:
        """Load what :meth:`save` wrote; trials in flight stay pending until they complete."""
        with open(checkpoint_path, "rb") as f:
            self.set_state(pickle.load(f))
