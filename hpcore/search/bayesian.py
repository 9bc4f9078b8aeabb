"""``BayesianSearch``: Gaussian-process Bayesian optimisation."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ArgumentError
from ..space import SearchSpace
from ._warm import WarmStart
from .base import BaseSearch

__all__ = ["BayesianSearch"]

#: Quasi-random trials of a warm-started search by default (docs/bayesian.md, "Warm start").
WARM_INITIAL_POINTS = 3

#: The acquisition functions BayesianSearch accepts.
ACQUISITION_NAMES = ("ei", "logei", "ucb", "pi")

_compile_started = False
_compile_lock = threading.Lock()


class BayesianSearch(BaseSearch):
    """Suggest each trial where a GP model of the results expects most gain.

    After ``n_initial_points`` quasi-random trials, a Gaussian process
    (Matérn-5/2 with one length scale per key, MAP hyperparameters) models
    the results and the next trial maximises the acquisition function.
    Parallel workers get distinct points: pending trials are fantasised.
    See :mod:`hpcore.strategies.bayesian` for the details.

    Parameters
    ----------
    base_config, search_space, metric, mode, random_state
        As in :class:`~hpcore.search.base.BaseSearch`.
    n_trials : int
        Trials in all, initial ones included (default 50).
    n_initial_points : int, optional
        Quasi-random trials before the model is used: by default 10, and
        3 with ``warm_start`` (the earlier studies already inform the model;
        measured in ``docs/bayesian.md``).
    acquisition : {'logei', 'ei', 'ucb', 'pi'}
        Log expected improvement (the default: same maximiser as EI, with
        gradients that do not vanish far from the incumbent), expected
        improvement, upper confidence bound (``beta`` weighs exploration)
        or probability of improvement.
    beta : float
        UCB's exploration weight on standardised values (default 2).
    warm_start : study, path, or a list of them, optional
        Earlier studies (``hpcore.load(root)`` or their experiment roots)
        whose finished trials inform the model from the first suggestion;
        they are not trials of this search. One objective, no constraints.
        See :mod:`hpcore.search._warm` for how an earlier trial is read
        (missing keys, other ranges) and ``docs/bayesian.md`` for what it
        gains.
    reference_point : mapping or sequence of float, optional
        Two or three objectives: the worst value of each that is still of
        interest, ``{'val_loss': 0.5, 'latency_ms': 100}`` (or one number per
        metric, in order). Suggestions then aim at the part of the front
        inside it; without it, the worst values seen (pushed out by 10 %)
        bound the hypervolume. Measured in ``docs/objectives.md``.
    **strategy_options
        Passed to :class:`~hpcore.strategies.bayesian.BayesianStrategy`
        (``y_transform``, ``n_candidates``, ``n_restarts``, ...).

    Examples
    --------
    >>> from hpcore.search.space import Real, Integer
    >>> search = BayesianSearch(
    ...     base_config={'training': {}},
    ...     search_space={'training.lr': Real(1e-5, 1e-2, log=True),
    ...                   'training.batch_size': Integer(32, 256, log=True),
    ...                   'model.hidden_dim': [128, 256, 512]},
    ...     metric='val_loss', mode='min', n_trials=50, n_initial_points=10,
    ...     acquisition='ei', random_state=42)
    """

    def __init__(
        self,
        base_config: Any = None,
        search_space: Mapping[str, Any] | SearchSpace | None = None,
        metric: str | Sequence[str] | None = None,
        mode: str | Sequence[str] = "min",
        n_trials: int | None = 50,
        random_state: int | None = None,
        n_initial_points: int | None = None,
        acquisition: str = "logei",
        beta: float = 2.0,
        allow_new_keys: bool = False,
        *,
        constraints: Sequence[str] | None = None,
        warm_start: Any = None,
        reference_point: Mapping[str, float] | Sequence[float] | None = None,
        **strategy_options: Any,
    ) -> None:
        if acquisition not in ACQUISITION_NAMES:
            raise ArgumentError(
                f"acquisition must be one of {list(ACQUISITION_NAMES)}, got {acquisition!r}. "
                "'logei' (the default: log of expected improvement, EI that stays accurate "
                "far from the best value) is the usual choice."
            )
        if n_initial_points is None:
            n_initial_points = WARM_INITIAL_POINTS if warm_start is not None else 10
        if isinstance(n_initial_points, bool) or not isinstance(n_initial_points, int) or (
            n_initial_points < 1
        ):
            raise ArgumentError(f"n_initial_points must be an int >= 1, got {n_initial_points!r}.")
        if not beta >= 0:
            raise ArgumentError(f"beta must be >= 0, got {beta!r}.")
        super().__init__(base_config, search_space, metric, mode, n_trials, random_state,
                         allow_new_keys=allow_new_keys, constraints=constraints)
        self.n_initial_points = n_initial_points
        self.acquisition = acquisition
        self.beta = float(beta)
        self.strategy_options = dict(strategy_options)
        #: ``{metric: worst value of interest}`` (user units), or None.
        self.reference_point = (None if reference_point is None
                                else self.objectives.reference_point(reference_point))
        self._warm = None if warm_start is None else WarmStart(
            warm_start, self.space, self.objectives)
        #: The earlier studies used (root and observations), as stored in the settings.
        self.warm_start = None if self._warm is None else self._warm.summary()
        self._make_strategy()  # check the options now, before any trial

    def _make_strategy(self) -> Any:
        # Imported here: the kernel layer loads numba, which `import hpcore` avoids.
        from ..strategies.bayesian import BayesianStrategy
        from ..strategies.multi import MultiOutputBayesianStrategy

        if self.strategy_options.get("compile_in_background", True):
            _compile_polish_in_background()

        objectives = self.objectives
        if objectives.multi or objectives.constraints:
            if self.acquisition not in ("logei", "ei"):
                raise ArgumentError(
                    f"acquisition={self.acquisition!r} is for one objective without constraints; "
                    f"this search has {objectives.describe()}, which uses log-EHVI (or log-EI) "
                    "times the probability of feasibility. Leave acquisition at its default."
                )
            ref = self.reference_point
            if ref is not None:
                ref = objectives.minimised([ref[m] for m in objectives.metrics])
            try:
                return MultiOutputBayesianStrategy(
                    self.space, objectives.n, len(objectives.constraints),
                    seed=self.random_state, n_initial_points=self.n_initial_points,
                    reference_point=ref, **self.strategy_options,
                )
            except (TypeError, ValueError) as exc:
                raise ArgumentError(f"BayesianSearch: {exc}") from exc
        try:
            return BayesianStrategy(
                self.space,
                seed=self.random_state,
                n_initial_points=self.n_initial_points,
                acquisition=self.acquisition,
                beta=self.beta,
                warm_start=None if self._warm is None else self._warm.groups,
                **self.strategy_options,
            )
        except (TypeError, ValueError) as exc:
            raise ArgumentError(f"BayesianSearch: {exc}") from exc

    def _check_root(self, experiment_root: str | os.PathLike | None) -> None:
        if self._warm is None or experiment_root is None:
            return
        if Path(experiment_root).resolve() in self._warm.roots:
            raise ArgumentError(
                f"warm_start names the study this search is stored in ({experiment_root}); "
                "its trials are resumed from there already. Warm-start from other studies."
            )


def _compile_polish_in_background() -> subprocess.Popen | None:
    """On a cold numba cache, a process that compiles the acquisition polish; or None.

    The strategy compiles its kernels in a thread while the initial trials
    run (:func:`hpcore.kernels.warmup_in_background`); on an empty cache that
    took 13-15 s on a 2-core machine, longer than five initial trials of 2 s.
    The polish (:mod:`hpcore.kernels.polish`) is 3-4 s of it, so one
    short-lived process per driver compiles it into the shared on-disk cache
    (:func:`hpcore.kernels.warmup.warm_polish`) while the thread compiles the
    rest and then loads it: the first GP suggestion after five 2-s trials
    waited 0.9 s instead of 5.4 s (``docs/benchmarks.md``, "Cold start").
    Nothing starts when the cache holds the polish. The process imports this
    same copy of hpcore (its parent folder first on ``PYTHONPATH``), so both
    write the same cache files, which numba writes atomically; a daemon
    thread reaps it. If it cannot start or fails, the thread compiles all.
    """
    global _compile_started
    with _compile_lock:
        if _compile_started:
            return None
        _compile_started = True
    from ..strategies.bayesian import polish_cached

    if not sys.executable or polish_cached():
        return None
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from hpcore.kernels.warmup import warm_polish; warm_polish()"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, close_fds=True)
    except OSError:
        return None
    threading.Thread(target=proc.wait, name="hpcore-compile-reaper", daemon=True).start()
    return proc
