"""``HyperbandSearch``: Hyperband or ASHA over a resource given to each trial.

The resource (epochs, steps, samples) is a dotted config key: every trial's
config carries its budget at ``resource_key``, and ``trial.budget`` holds
it too. Promotions are new trials with the same sampled values and a
larger budget. See :mod:`hpcore.strategies.hyperband` for the arithmetic.

Synchronous Hyperband sometimes has nothing to start until a running trial
ends (a rung must complete before its best are promoted). The run loop
asks for a suggestion whenever its executor has a free slot, so the search
wraps the executor in :class:`_WhenReady`, which offers a free slot only
when the strategy has a trial ready: workers wait instead of the loop
taking ``WaitForResults`` for the end of the search.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..config import check_config_keys
from ..errors import ArgumentError
from ..executor import Executor, TrialOutcome, TrialTask
from ..executor.resources import check_resources
from ..space import SearchSpace
from ..strategies.hyperband import ASHAStrategy, HyperbandStrategy, check_resource_args
from .base import BaseSearch, _check_callable, _make_executor, _resolve_n_jobs

__all__ = ["HyperbandSearch"]


class HyperbandSearch(BaseSearch):
    """Spend most of the resource on the configurations that look best early.

    With ``asynchronous=True`` (the default) this is ASHA: each free worker
    either promotes a configuration that is in the best ``1/eta`` of its
    rung or starts a new one at ``min_resource``; workers never wait, and
    ``n_trials`` trials run in all. With ``asynchronous=False`` it is
    Hyperband: the brackets ``s = s_max..0`` of successive halving, each
    rung's best ``1/eta`` promoted once the whole rung has finished; the
    trials and their budgets are fixed by the seed (``search.size`` of
    them), whatever the number of workers.

    Parameters
    ----------
    base_config, search_space, metric, mode, random_state
        As in :class:`~hpcore.search.base.BaseSearch`. The search space
        must not contain ``resource_key``.
    resource_key : str
        Dotted config key that receives each trial's budget, e.g.
        ``'training.epochs'``; ``train_fn`` reads it from its config (or
        ``trial.budget``) and trains that long.
    max_resource : int or float
        The budget of a fully trained configuration (``R``).
    min_resource : int or float
        The smallest budget (default 1). Budgets are ints when both are
        ints, floats otherwise.
    eta : int or float
        Reduction factor (default 3): a rung keeps its best ``1/eta``,
        which get ``eta`` times more resource.
    asynchronous : bool
        ASHA (True, needs ``n_trials``) or synchronous Hyperband (False).
    n_trials : int, optional
        Trials in all (promotions count as trials). Required for ASHA; for
        Hyperband it can only cut the brackets short (default: all of them).
    brackets : int
        ASHA only: the number of asynchronous brackets (default 1).
    sampler : {'random', 'quasi'}
        How new configurations are drawn (independent or Sobol points).

    Notes
    -----
    ``best_trial`` is the trial with the best value at whatever budget it
    ran, and ``best_config`` carries that budget at ``resource_key``, so it
    reproduces the value it reports. For metrics that improve with training
    the best trial is one of the largest budget.

    Examples
    --------
    >>> from hpcore.search.space import Real
    >>> search = HyperbandSearch(
    ...     base_config={'training': {'epochs': 1}},
    ...     search_space={'training.lr': Real(1e-5, 1e-2, log=True)},
    ...     metric='val_loss', mode='min', resource_key='training.epochs',
    ...     max_resource=81, eta=3, asynchronous=False, random_state=0)
    >>> search.size
    206
    """

    def __init__(
        self,
        base_config: Any = None,
        search_space: Mapping[str, Any] | SearchSpace | None = None,
        metric: str | None = None,
        mode: str = "min",
        resource_key: str | None = None,
        max_resource: float | None = None,
        min_resource: float = 1,
        eta: float = 3,
        asynchronous: bool = True,
        n_trials: int | None = None,
        random_state: int | None = None,
        brackets: int = 1,
        sampler: str = "random",
    ) -> None:
        super().__init__(base_config, search_space, metric, mode, n_trials, random_state)
        if resource_key is None:
            raise ArgumentError(
                "resource_key is required: the dotted config key that receives each trial's "
                "budget, e.g. resource_key='training.epochs'."
            )
        if max_resource is None:
            raise ArgumentError(
                "max_resource is required: the budget of a fully trained configuration "
                "(e.g. max_resource=81 epochs)."
            )
        if not isinstance(asynchronous, bool):
            raise ArgumentError(f"asynchronous must be True or False, got {asynchronous!r}.")
        check_resource_args(self.space, resource_key, max_resource, min_resource, eta)
        if not asynchronous and brackets != 1:
            raise ArgumentError(
                f"brackets={brackets!r} is for ASHA (asynchronous=True); synchronous Hyperband "
                "always runs all its brackets. Leave brackets at 1."
            )
        self.resource_key = resource_key
        self.max_resource = max_resource
        self.min_resource = min_resource
        self.eta = eta
        self.asynchronous = asynchronous
        self.brackets = brackets
        self.sampler = sampler
        strategy = self._make_strategy()  # checks brackets and sampler now
        self.size = strategy.size
        if asynchronous and n_trials is None:
            total = HyperbandStrategy(self.space, resource_key, max_resource, min_resource, eta).size
            raise ArgumentError(
                "n_trials is required with asynchronous=True: ASHA starts new configurations "
                f"as long as it is asked. Give n_trials=..., or asynchronous=False for "
                f"Hyperband's fixed brackets ({total} trials here)."
            )
        # The budget is set at resource_key on top of the space's values: check it fits now.
        probe = self.space.sample(np.random.default_rng(0))
        check_config_keys(base_config, {**probe, resource_key: strategy.ladder[-1]})
        self._strategy: HyperbandStrategy | ASHAStrategy | None = None

    def _make_strategy(self) -> HyperbandStrategy | ASHAStrategy:
        common = dict(
            space=self.space,
            resource_key=self.resource_key,
            max_resource=self.max_resource,
            min_resource=self.min_resource,
            eta=self.eta,
            seed=self.random_state,
            sampler=self.sampler,
        )
        if self.asynchronous:
            strategy: HyperbandStrategy | ASHAStrategy = ASHAStrategy(
                brackets=self.brackets, **common
            )
        else:
            strategy = HyperbandStrategy(**common)
        self._strategy = strategy
        return strategy

    def _trial_budget(self, params: Mapping[str, Any]) -> float | None:
        return params.get(self.resource_key)

    def run(
        self,
        train_fn: Callable[..., Any],
        n_jobs: int = 1,
        *,
        executor: Any = None,
        gpus_per_trial: float = 0,
        cpus_per_trial: float | None = None,
        devices: Any = None,
        trial_timeout: float | None = None,
        **options: Any,
    ) -> tuple[Any, float]:
        """Run the search; the arguments are those of :meth:`BaseSearch.run`.

        Returns ``(best_config, best_score)``; ``best_config`` holds the
        best trial's budget at ``resource_key``.
        """
        _check_callable(train_fn)
        n_workers = _resolve_n_jobs(n_jobs)
        gpus = check_resources(gpus_per_trial, cpus_per_trial)
        if trial_timeout is not None and (
            isinstance(trial_timeout, bool)
            or not isinstance(trial_timeout, (int, float))
            or not trial_timeout > 0
        ):
            raise ArgumentError(
                f"trial_timeout must be a positive number of seconds, got {trial_timeout!r}."
            )
        inner = _make_executor(executor, n_workers, gpus, cpus_per_trial, devices, trial_timeout)
        return super().run(train_fn, n_jobs, executor=_WhenReady(inner, self), **options)


class _WhenReady(Executor):
    """An executor that offers a free slot only when the strategy can fill it.

    The loop asks its strategy for a trial while ``n_running <
    max_concurrency``. Here ``max_concurrency`` drops to ``n_running`` while
    the strategy has nothing ready (a rung waits for its last results) and
    no trial waits to be run again (resumed or retried trials are pending
    in the strategy but not running): the loop then waits for a result
    instead of asking. Everything else goes to the wrapped executor.
    """

    def __init__(self, inner: Executor, search: HyperbandSearch) -> None:
        self.inner = inner
        self.search = search

    @property
    def on_report(self) -> Any:  # type: ignore[override]
        return self.inner.on_report

    @on_report.setter
    def on_report(self, hook: Any) -> None:
        self.inner.on_report = hook

    @property
    def max_concurrency(self) -> int:
        limit = self.inner.max_concurrency
        running = self.inner.n_running
        strategy = self.search._strategy
        if strategy is None or running == 0 or len(strategy.pending) > running or strategy.ready:
            return limit
        return min(limit, running)

    @property
    def n_running(self) -> int:
        return self.inner.n_running

    def start(self, train_fn: Callable[..., Any]) -> None:
        self.inner.start(train_fn)

    def submit(self, task: TrialTask) -> None:
        self.inner.submit(task)

    def stop(self, trial_id: int, reason: str) -> None:
        self.inner.stop(trial_id, reason)

    def wait(self, timeout: float | None = None) -> list[TrialOutcome]:
        return self.inner.wait(timeout)

    def shutdown(self, cancel: bool = False) -> list[TrialOutcome]:
        return self.inner.shutdown(cancel)
