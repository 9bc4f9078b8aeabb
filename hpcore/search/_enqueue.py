"""Known configurations first: checking ``search.enqueue``'s input, and what a resumed
study still owes of it.

``search.enqueue(config_or_list)`` keeps the checked configurations on the
search; each run hands those still to run to its strategy
(:meth:`hpcore.strategies.Strategy.enqueue`), which returns them first from
``ask()``.

How a resumed study recognises them
-----------------------------------
When an enqueued configuration starts as trial ``n``, the study's meta table
(``Storage.set_meta``) gets ``[n, identity]`` under :data:`META_KEY`, where
the identity is the configuration *as it was enqueued* (its canonical JSON,
keys sorted): not the trial's params, which a partial configuration only
fixes in part. On the next run of the same script, each enqueued
configuration whose identity matches the mark of a stored trial is not
enqueued again, one mark per configuration (enqueuing the same one twice
runs it twice, once each). A trial that finished is told to the strategy as
usual; one that was interrupted runs again as every interrupted trial does.
A mark whose trial is not in the study (a crash between the two writes) is
ignored, so that configuration runs again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._io import jsonable
from ..errors import ArgumentError, SearchSpaceError
from ..space import SearchSpace

__all__ = ["META_KEY", "check_configs", "identity", "still_to_run"]

#: Meta-table key of the marks ``[trial_id, identity]`` of the trials run from the queue.
META_KEY = "enqueued"


def check_configs(
    config: Any, space: SearchSpace, reserved: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The configurations of one ``enqueue`` call, checked and flat (all or none).

    Raises
    ------
    ArgumentError
        Naming the configuration (its position in a list), the key and the fix.
    """
    single = isinstance(config, Mapping)
    if not single and (not isinstance(config, Sequence) or isinstance(config, (str, bytes))):
        raise ArgumentError(
            "search.enqueue takes a dict of dotted keys to values, e.g. "
            f"{{'training.lr': 0.001}}, or a list of them; got {type(config).__name__}."
        )
    checked = []
    for i, item in enumerate([config] if single else config):
        try:
            checked.append(space.check_partial(item, reserved))
        except SearchSpaceError as exc:
            where = "search.enqueue" if single else f"search.enqueue, configuration [{i}]"
            raise ArgumentError(f"{where}: {exc}") from None
    return checked


def identity(config: Mapping[str, Any]) -> str:
    """How a resumed study recognises an enqueued configuration: its canonical JSON."""
    return json.dumps(jsonable(config), sort_keys=True)


def still_to_run(
    configs: Sequence[dict[str, Any]], marks: Iterable[Sequence[Any]], stored: set[int]
) -> list[dict[str, Any]]:
    """The ``configs`` that no stored trial was started from (see the module docstring).

    Parameters
    ----------
    configs : list of dict
        The search's enqueued configurations, in order.
    marks : iterable of (int, str)
        ``[trial_id, identity]`` of the trials an earlier run started from the queue.
    stored : set of int
        The ids of the study's stored trials.
    """
    ran: dict[str, int] = {}
    for trial_id, key in marks:
        if trial_id in stored:
            ran[key] = ran.get(key, 0) + 1
    todo = []
    for config in configs:
        key = identity(config)
        if ran.get(key, 0):
            ran[key] -= 1
        else:
            todo.append(config)
    return todo
