"""Callbacks: code of yours (or a binding's, such as the MLflow tracker) that a search calls.

``search.run(train_fn, callbacks=[cb, ...])`` calls, from the thread that
runs the search and in this order:

``on_search_start(search, experiment_root)``
    once, after the study is opened (and resumed trials loaded), before
    the first trial starts; ``experiment_root`` is ``run``'s argument.
``on_trial_end(search, record)``
    for each trial that ended for good (completed, stopped, failed, timed
    out; not an attempt that will be retried), after its record is filled
    in and stored and ``best`` points at it if it is the new best.
``on_search_end(search, error=None)``
    once, when the run ends, with the exception that ended it, if any.

Every method is optional. An exception raised by a callback propagates
and ends the search (a broken tracker should be noticed, not skipped).
"""

from __future__ import annotations

import os
from typing import Any

from ..trial import FrozenTrial

__all__ = ["SearchCallback"]


class SearchCallback:
    """Base class with no-op methods; subclass it and override what you need."""

    def on_search_start(self, search: Any, experiment_root: str | os.PathLike | None) -> None:
        """The search is about to start its first trial."""

    def on_trial_end(self, search: Any, record: FrozenTrial) -> None:
        """``record`` ended for good."""

    def on_search_end(self, search: Any, error: BaseException | None = None) -> None:
        """The search ended (``error`` is what ended it, if anything did)."""


def call(callbacks: Any, method: str, *args: Any, **kwargs: Any) -> None:
    """Call ``method`` on every callback that has it."""
    for cb in callbacks:
        fn = getattr(cb, method, None)
        if fn is not None:
            fn(*args, **kwargs)
