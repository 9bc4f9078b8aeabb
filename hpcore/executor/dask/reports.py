"""The driver's end of a run's live reports (see :mod:`.client` for the channels).

:class:`_Inbox` takes the report events from the client's event loop to the
thread that calls ``wait()``; :class:`_Stream` keeps each trial's entries in
order; :func:`_run_quietly` and :func:`_topic_eraser` push stop requests and
clean up a run's topic on the cluster.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class _Inbox:
    """Report events, from the client's event loop to the thread that calls ``wait()``.

    The client keeps its topic handler after ``unsubscribe_topic``: a closed
    inbox drops what still comes.
    """

    def __init__(self) -> None:
        self.messages: deque[Any] = deque()
        self.wake = threading.Event()
        self.closed = False

    def __call__(self, event: tuple[float, Any]) -> None:  # (scheduler time, message)
        if not self.closed:
            self.messages.append(event[1])
            self.wake.set()


@dataclass
class _Stream:
    """The reports of one trial's task seen so far: ``delivered`` entries, in order.

    ``nonce`` names the execution of the task they come from (Dask runs a
    task again when its worker died) and ``worker`` where it runs;
    ``pending`` holds entries that came ahead of a missing one; ``old`` the
    nonces of earlier executions.
    """

    nonce: str | None = None
    worker: str | None = None  # the address of the worker that runs it
    delivered: int = 0
    pending: dict[int, dict[str, Any]] = field(default_factory=dict)
    old: set[str] = field(default_factory=set)


async def _run_quietly(
    client: Any, workers: list[str] | None, fn: Callable[..., Any], *args: Any
) -> None:
    """``client.run(fn, *args)`` on ``workers`` (None: all), on the client's loop, errors ignored."""
    with contextlib.suppress(Exception):
        await client.run(fn, *args, workers=workers, on_error="ignore", asynchronous=True)


def _topic_eraser() -> Callable[..., Any]:
    """An async function, for ``client.run_on_scheduler``, that drops an event topic's log.

    The scheduler keeps up to ``distributed.admin.low-level-log-length``
    events per topic until it exits and has no public call to drop one.
    The function waits ``delay`` seconds first, for events still on their
    way (and the client's ``unsubscribe-topic``, which travels on another
    connection and would bring the topic back). Being a local function, it
    is pickled by value: the scheduler needs no hpcore.
    """

    async def forget(topic: str, delay: float, dask_scheduler: Any = None) -> None:
        import asyncio

        await asyncio.sleep(delay)
        topics = getattr(getattr(dask_scheduler, "_broker", None), "_topics", None)
        if isinstance(topics, dict):
            topics.pop(topic, None)

    return forget
