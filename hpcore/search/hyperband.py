"""``HyperbandSearch``: Hyperband or ASHA over a resource given to each trial.

The resource (epochs, steps, samples) is a dotted config key: every trial's
config carries its budget at ``resource_key``, and ``trial.budget`` holds
it too. Promotions are new trials with the same sampled values and a
larger budget. See :mod:`hpcore.strategies.hyperband` for the arithmetic.

Synchronous Hyperband sometimes has nothing to start until a running trial
ends (a rung must complete before its best are promoted): its strategy
then raises :class:`~hpcore.errors.WaitForResults`, and the run loop waits
for the next result before asking again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..config import check_config_keys
from ..errors import ArgumentError
from ..space import SearchSpace
from ..strategies.hyperband import ASHAStrategy, HyperbandStrategy, check_resource_args
from .base import BaseSearch

__all__ = ["HyperbandSearch"]


def not_enqueueable(resource_key: str) -> dict[str, str]:
    """The key an enqueued configuration cannot give, with why (for its message)."""
    return {resource_key: (
        "is the resource_key: Hyperband sets each trial's budget there, and enqueued "
        f"configurations enter the first rung (the smallest budget). Leave '{resource_key}' "
        "out of the configuration."
    )}


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

    _checks_keys_itself = True

    def __init__(
        self,
        base_config: Any = None,
        search_space: Mapping[str, Any] | SearchSpace | None = None,
        metric: str | Sequence[str] | None = None,
        mode: str | Sequence[str] = "min",
        resource_key: str | None = None,
        max_resource: float | None = None,
        min_resource: float = 1,
        eta: float = 3,
        asynchronous: bool = True,
        n_trials: int | None = None,
        random_state: int | None = None,
        brackets: int = 1,
        sampler: str = "random",
        allow_new_keys: bool = False,
        *,
        constraints: Sequence[str] | None = None,
    ) -> None:
        super().__init__(base_config, search_space, metric, mode, n_trials, random_state,
                         allow_new_keys=allow_new_keys, constraints=constraints)
        if self.objectives.multi or self.objectives.constraints:
            raise ArgumentError(
                "HyperbandSearch promotes trials by one value at each rung, so it takes one "
                "metric and no constraints (got " + self.objectives.describe() + "). For several "
                "objectives or constraints use BayesianSearch or RandomSearch; a stopping rule "
                "(stopping=...) then still cuts trials short on the first objective."
            )
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
        # Every key, active or not (a typo under a condition fails here too).
        probe = self.space.decode_all(np.random.default_rng(0).random(len(self.space)))
        check_config_keys(base_config, {**probe, resource_key: strategy.ladder[-1]}, allow_new_keys)
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

    def _not_enqueueable(self) -> dict[str, str]:
        return not_enqueueable(self.resource_key)

    def _check_room(self, n_enqueued: int) -> None:
        if self.asynchronous:
            return  # ASHA starts new configurations as long as n_trials allows
        room = sum(bracket["n"][0] for bracket in self._make_strategy().plan)
        if n_enqueued > room:
            raise ArgumentError(
                f"search.enqueue: {n_enqueued} configurations enqueued, but Hyperband's brackets "
                f"start {room} configurations in all (their first rungs), and each enqueued one "
                f"takes the place of one of them. Enqueue at most {room}, raise max_resource, or "
                "use ASHA (asynchronous=True), which starts new ones as long as n_trials allows."
            )

    def _trial_budget(self, params: Mapping[str, Any]) -> float | None:
        return params.get(self.resource_key)
