"""What every search shares: its arguments, ``run`` and the best trial.

``BaseSearch.run`` checks everything it can before the first trial (the
dotted keys against the base config, ``train_fn``'s signature, the
arguments), builds the executor, the recorder and the stopper, and hands
them to the run loop (:class:`~hpcore.search.loop.RunLoop`).
"""

from __future__ import annotations

import inspect
import math
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..config import apply_params, check_config_keys
from ..errors import (
    ArgumentError,
    SearchError,
)
from ..executor import Executor, LocalProcessExecutor, Objective, SerialExecutor
from ..executor.resources import Device, check_resources
from ..objectives import BestOfTrials, Objectives
from ..space import SearchSpace
from ..stopping import SearchBudget, StoppingRule, as_rule
from ..strategies import Strategy
from ..trial import FrozenTrial
from ._early import EarlyStopper
from ._enqueue import check_configs
from ._progress import Progress
from ._recorder import Recorder
from .loop import RunLoop

__all__ = ["BaseSearch"]


def _check_callable(fn: Any) -> None:
    if not callable(fn):
        raise ArgumentError(f"train_fn must be callable, got {type(fn).__name__}.")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(object())
    except TypeError:
        try:
            sig.bind(object(), object())
        except TypeError:
            raise ArgumentError(
                f"train_fn{sig} cannot be called as train_fn(config) or "
                "train_fn(config, trial). Give it one or two positional parameters."
            ) from None


def _make_executor(
    executor: Any,
    n_workers: int,
    gpus_per_trial: float,
    cpus_per_trial: float | None,
    devices: Sequence[Device] | None,
    trial_timeout: float | None,
) -> Executor:
    """The executor ``run`` drives, from its arguments."""
    if executor is None:
        if n_workers == 1 and gpus_per_trial == 0 and trial_timeout is None:
            return SerialExecutor()
        # Devices and timeouts need a process of its own, even for one trial at a time.
        return LocalProcessExecutor(
            n_workers,
            gpus_per_trial=gpus_per_trial,
            cpus_per_trial=cpus_per_trial,
            devices=devices,
            trial_timeout=trial_timeout,
        )
    if isinstance(executor, Executor):
        if gpus_per_trial or cpus_per_trial is not None or devices is not None or trial_timeout:
            raise ArgumentError(
                "gpus_per_trial, cpus_per_trial, devices and trial_timeout configure the "
                "executor run() builds; with executor=..., give them to the executor itself."
            )
        return executor
    if (
        isinstance(executor, str)
        or type(executor).__module__.startswith("distributed")
        or isinstance(getattr(executor, "scheduler_address", None), str)  # dask-cuda clusters
    ):
        if devices is not None:
            raise ArgumentError(
                "devices= is for local GPUs; on a Dask cluster GPUs are worker resources "
                "(start workers with --resources GPU=1)."
            )
        from ..executor.dask import DaskExecutor

        return DaskExecutor(
            executor,
            gpus_per_trial=gpus_per_trial,
            cpus_per_trial=cpus_per_trial,
            trial_timeout=trial_timeout,
        )
    raise ArgumentError(
        f"executor must be an hpcore Executor, a dask.distributed Client or a scheduler "
        f"address string, got {type(executor).__name__}."
    )


def _check_run_args(
    train_fn: Any,
    trial_timeout: Any,
    max_retries: Any,
    stopping: Any,
    search_budget: Any,
) -> None:
    """Every argument of ``run`` that can be wrong is refused here, before any trial."""
    _check_callable(train_fn)
    if trial_timeout is not None and (
        isinstance(trial_timeout, bool)
        or not isinstance(trial_timeout, (int, float))
        or not trial_timeout > 0
    ):
        raise ArgumentError(
            f"trial_timeout must be a positive number of seconds, got {trial_timeout!r}."
        )
    if isinstance(max_retries, bool) or not isinstance(max_retries, (int, np.integer)) or (
        max_retries < 0
    ):
        raise ArgumentError(f"max_retries must be an int >= 0, got {max_retries!r}.")
    as_rule(stopping)  # a bad rule fails here
    if search_budget is not None and not isinstance(search_budget, SearchBudget):
        raise ArgumentError(
            f"search_budget must be a SearchBudget, got {type(search_budget).__name__}."
        )


def _resolve_n_jobs(n_jobs: int) -> int:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)):
        raise ArgumentError(f"n_jobs must be an int, got {n_jobs!r}.")
    if n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        raise ArgumentError(f"n_jobs must be >= 1 (or -1 for every core), got {n_jobs}.")
    return int(n_jobs)


class BaseSearch(BestOfTrials, ABC):
    """Common arguments and the run loop of every search.

    Parameters
    ----------
    base_config : mapping, dataclass or None
        The config every trial starts from; never mutated.
    search_space : mapping or SearchSpace
        Dotted keys to dimensions (see :mod:`hpcore.space`).
    metric : str or list of str, optional
        Key of the value to optimise when ``train_fn`` returns a mapping; a
        list of keys for several objectives (:mod:`hpcore.objectives`).
    mode : {'min', 'max'} or list of them
        Minimise or maximise the metric; one per metric, or one for all.
    n_trials : int, optional
        How many trials to run in all.
    random_state : int, optional
        Seed; the same seed gives the same suggestions.
    allow_new_keys : bool
        Let searched keys that ``base_config`` lacks be added to it. By
        default such a key is refused before any trial, with the closest
        existing key: a typo would otherwise search nothing. An empty (or
        ``None``) ``base_config`` takes any key.
    constraints : list of str, optional
        Bounds on other metrics ``train_fn`` returns, e.g.
        ``['peak_mem_gb <= 16']``: a trial that breaks one is never best.
    """

    def __init__(
        self,
        base_config: Any = None,
        search_space: Mapping[str, Any] | SearchSpace | None = None,
        metric: str | Sequence[str] | None = None,
        mode: str | Sequence[str] = "min",
        n_trials: int | None = None,
        random_state: int | None = None,
        allow_new_keys: bool = False,
        *,
        constraints: Sequence[str] | None = None,
    ) -> None:
        if search_space is None:
            raise ArgumentError("search_space is required: a dict of dotted keys to dimensions.")
        self.objectives = Objectives.of(metric, mode, constraints)
        if n_trials is not None and (
            isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1
        ):
            raise ArgumentError(f"n_trials must be a positive int, got {n_trials!r}.")
        if random_state is not None and (
            isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer))
        ):
            raise ArgumentError(f"random_state must be an int or None, got {random_state!r}.")
        self.base_config = base_config
        self.space = search_space if isinstance(search_space, SearchSpace) else SearchSpace(
            search_space
        )
        #: The first objective's metric and mode (the only ones, with one objective).
        self.metric = self.objectives.metrics[0]
        self.mode = self.objectives.modes[0]
        self.n_trials = None if n_trials is None else int(n_trials)
        self.random_state = random_state
        self.trials: list[FrozenTrial] = []
        #: Why the last run ended before its budget (a SearchBudget), or None.
        self.stop_reason: str | None = None
        self._enqueued: list[dict[str, Any]] = []  # see enqueue()
        # A point of the space applied to the base config: bad dotted keys fail here.
        # Every key, active or not (a typo under a condition fails here too).
        probe = self.space.decode_all(np.random.default_rng(0).random(len(self.space)))
        if not isinstance(allow_new_keys, bool):
            raise ArgumentError(f"allow_new_keys must be True or False, got {allow_new_keys!r}.")
        self.allow_new_keys = allow_new_keys
        check_config_keys(base_config, probe, allow_new_keys or self._checks_keys_itself)

    #: A search that sets more keys than the space's (Hyperband's resource_key)
    #: checks for keys missing from base_config itself, once it knows them all.
    _checks_keys_itself = False

    # -- known configurations first -------------------------------------------
    def enqueue(self, config: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None:
        """Run known configurations first, in order, before the strategy's own suggestions.

        Parameters
        ----------
        config : dict or list of dicts
            Dotted keys of the search space to values, e.g.
            ``{'training.lr': 1e-3, 'model.hidden_dim': 256}`` (a nested dict
            reads as dotted keys). A configuration may leave keys out: they
            come from the strategy's suggestion for that trial, so a seeded
            search stays deterministic.

        Notes
        -----
        Each is a normal trial: it counts towards ``n_trials`` and its result
        is told to the strategy like any other. Every ``run`` runs them first;
        a study resumed from ``experiment_root`` runs only those that no
        earlier run started (an interrupted one runs again like any
        interrupted trial; the rule is in :mod:`hpcore.search._enqueue`).
        A grid runs an enqueued grid point once (the grid skips it);
        Hyperband and ASHA start them in the first rung.

        Raises
        ------
        ArgumentError
            Before anything is queued: a key that is not in the space (with
            the closest one), a value outside its dimension or not among its
            choices, a conditional key that its given parents leave inactive.
        """
        checked = check_configs(config, self.space, self._not_enqueueable())
        self._check_room(len(self._enqueued) + len(checked))
        self._enqueued.extend(checked)

    def _not_enqueueable(self) -> dict[str, str]:
        """Keys the search sets itself, each with why an enqueued configuration cannot."""
        return {}

    def _check_room(self, n_enqueued: int) -> None:  # noqa: B027 - optional hook
        """Hook: raise ``ArgumentError`` when ``n_enqueued`` configurations cannot all run."""

    def _check_root(self, experiment_root: str | os.PathLike | None) -> None:  # noqa: B027
        """Hook: raise ``ArgumentError`` when this search cannot be stored there."""

    # -- to be provided by each search ----------------------------------------
    @abstractmethod
    def _make_strategy(self) -> Strategy:
        """A fresh strategy for one run."""

    def _trial_budget(self, params: Mapping[str, Any]) -> float | None:
        """The resource a trial gets (``trial.budget``); Hyperband overrides this."""
        return None

    def _budget(self, strategy: Strategy) -> int:
        """How many trials this run may start."""
        size = strategy.size
        if self.n_trials is None:
            if size is None:
                raise ArgumentError(f"{type(self).__name__} needs n_trials.")
            return size
        return self.n_trials if size is None else min(self.n_trials, size)

    # -- results --------------------------------------------------------------
    @property
    def best_score(self) -> float | None:
        """Value of the best trial, as ``train_fn`` returned it."""
        best = self.best_trial
        return None if best is None else best.value

    # -- the loop -------------------------------------------------------------
    def run(
        self,
        train_fn: Callable[..., Any],
        n_jobs: int = 1,
        *,
        executor: Any = None,
        gpus_per_trial: float = 0,
        cpus_per_trial: float | None = None,
        devices: Sequence[Device] | None = None,
        trial_timeout: float | None = None,
        max_retries: int = 0,
        experiment_root: str | os.PathLike | None = None,
        track_experiments: bool = True,
        resume: bool = True,
        study_name: str | None = None,
        stopping: StoppingRule | Sequence[StoppingRule] | None = None,
        search_budget: SearchBudget | None = None,
        callbacks: Sequence[Any] = (),
        verbose: int | bool | None = None,
    ) -> tuple[Any, Any]:
        """Run the search and return ``(best_config, best_score)``.

        With several objectives it returns ``(configs, front)``: the full
        configs of the Pareto-optimal trials (:attr:`best_trials`) and their
        values, an array (m, k) with one column per metric, in the same order.

        Parameters
        ----------
        train_fn : callable
            ``train_fn(config)`` or ``train_fn(config, trial)``; returns a
            number or a mapping holding ``metric``.
        n_jobs : int
            Trials at once: 1 runs them in this process (unless GPUs or a
            timeout need a worker process), more in that many worker
            processes, -1 one per core. Never more than the resources allow.
        executor : Executor, dask Client or str, optional
            Run trials there instead: an :class:`~hpcore.executor.Executor`,
            a ``dask.distributed.Client`` or a scheduler address
            (``'tcp://host:8786'``).
        gpus_per_trial : float
            GPUs each trial gets: 0, a fraction below 1 (trials share a
            GPU), or a whole number. Each trial's process sees only its own
            (``CUDA_VISIBLE_DEVICES``); ``trial.devices`` lists them.
        cpus_per_trial : float, optional
            Cores each trial gets (caps the trials at once, sets thread counts).
        devices : sequence of int or str, optional
            The GPUs to use; default: ``CUDA_VISIBLE_DEVICES``, else all the
            driver reports.
        trial_timeout : float, optional
            Seconds after which a trial is killed and recorded as timed out.
        max_retries : int
            Times a failed trial (an exception, a dead worker) is run again
            before it is recorded as failed. Timeouts are not retried.
        experiment_root : path, optional
            Keep the study on disk there (``hpcore.db``, see
            :mod:`hpcore.storage`) and resume it when run again. Without it
            nothing is written.
        track_experiments : bool
            With ``experiment_root``: a folder per trial (config, metrics,
            result, log, model, ``trial.dir``) and ``best/``
            (:mod:`hpcore.tracking`).
        resume : bool
            Continue the study stored at ``experiment_root`` (``n_trials``
            counts its trials too); ``False`` discards it and starts afresh.
        study_name : str, optional
            Name recorded with the study (default: the root's folder name).
        stopping : StoppingRule or list of them, optional
            Early stopping (:mod:`hpcore.stopping`): fed every
            ``trial.report``; a trial it stops is recorded as ``stopped``
            with its last reported value. A list stops when any rule says so.
        search_budget : SearchBudget, optional
            Ends the whole search on wall time, trials started or a target
            value; ``search.stop_reason`` says why it ended.
        callbacks : sequence, optional
            Objects told when the search starts, each trial ends and the
            search ends (:mod:`hpcore.callbacks`; e.g. the MLflow tracker).
        verbose : int, bool or None
            ``None`` (default): a progress bar on stderr when it is a terminal
            (nothing in logs or CI); ``1``/``True``: a line per finished
            trial; ``0``/``False``: quiet.

        Raises
        ------
        ResultError
            ``train_fn`` returned something without the metric: the search
            stops at once (every trial would repeat the bug).
        SearchError
            No trial completed.
        """
        _check_run_args(train_fn, trial_timeout, max_retries, stopping, search_budget)
        if self.objectives.multi and search_budget is not None and search_budget.target is not None:
            raise ArgumentError(
                "SearchBudget(target=...) ends a search when its best value reaches the target; "
                f"with several objectives ({self.objectives.describe()}) no value is best. "
                "Drop target=, or bound the other objectives with constraints=."
            )
        self._check_root(experiment_root)
        n_workers = _resolve_n_jobs(n_jobs)
        gpus = check_resources(gpus_per_trial, cpus_per_trial)
        strategy = self._make_strategy()
        budget = self._budget(strategy)
        executor = _make_executor(
            executor, n_workers, gpus, cpus_per_trial, devices, trial_timeout
        )
        recorder = Recorder(self, experiment_root, track_experiments, resume, study_name)
        stored = recorder.open()  # before any trial: a locked or mismatched study fails here
        self.stop_reason = None
        loop = RunLoop(
            self, strategy, executor, recorder,
            EarlyStopper(as_rule(stopping), search_budget, self.metric, self.mode),
            Progress.for_verbose(budget, verbose),
            objective=Objective(train_fn, self.objectives),
            budget=budget,
            max_retries=int(max_retries),
            callbacks=list(callbacks),
            enqueued=self._enqueued,
        )
        loop.run(stored)
        front = self.best_trials
        if not front:
            raise SearchError(self._why_no_best())
        if self.objectives.multi:
            return [self._config(t.params) for t in front], self.pareto_front()
        return self.best_config, front[0].value

    def _why_no_best(self) -> str:
        """Why no trial can be best: none completed, or none met the constraints."""
        done = [t for t in self.trials if t.state.can_be_best and t.values]
        ended = f" The search ended early: {self.stop_reason}." if self.stop_reason else ""
        if done and self.objectives.constraints:
            least = min(done, key=lambda t: max(t.constraints or (math.inf,)))
            return (
                f"none of the {len(done)} completed trial(s) met the constraints "
                f"({', '.join(map(str, self.objectives.constraints))}); the nearest, trial "
                f"{least.trial_id}, has metrics {least.metrics}. See search.trials.{ended}"
            )
        failed = [t for t in self.trials if t.error]
        first = f" First error (trial {failed[0].trial_id}): {failed[0].error}" if failed else ""
        return (
            f"no trial completed out of {len(self.trials)}; see search.trials for "
            f"each error.{first}{ended}"
        )

    def _config(self, params: Mapping[str, Any]) -> Any:
        """A trial's full config: the base config with ``params`` set at their dotted keys."""
        return apply_params(self.base_config, params)
