"""The exceptions hpcore raises on purpose.

Every error a user can cause derives from :class:`HpcoreError`, so one
``except hpcore.HpcoreError`` catches them all; each also derives from the
builtin it refines (``ValueError``, ``TypeError``) so generic handlers work.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "HpcoreError",
    "SearchSpaceError",
    "ConfigError",
    "ResultError",
    "SearchError",
    "ExecutorError",
    "ArgumentError",
    "StrategyExhausted",
]


class HpcoreError(Exception):
    """Base class of every error hpcore raises on purpose."""


class SearchSpaceError(HpcoreError, ValueError):
    """A search space is malformed: bad bounds, unknown types, empty choices."""


class ConfigError(HpcoreError, ValueError):
    """A dotted key cannot be applied to the base config."""


class ResultError(HpcoreError, TypeError):
    """``train_fn`` broke its contract: wrong return type, missing metric, or a
    ``trial.report`` with its arguments swapped.

    Unlike a failing trial (which is recorded and the search goes on), this
    is a bug in the user's code that every trial would repeat, so the
    search stops at once.
    """


class ArgumentError(HpcoreError, ValueError):
    """An argument of a search or strategy is invalid (mode, n_trials, n_jobs...)."""


class ExecutorError(HpcoreError, RuntimeError):
    """Trials cannot be started: ``train_fn`` cannot reach the workers."""


class SearchError(HpcoreError, RuntimeError):
    """The search as a whole could not produce a result."""


class StrategyExhausted(HpcoreError, LookupError):
    """A finite strategy (a grid) has no more points to suggest."""


class TrialStopped(HpcoreError):
    """Raised by ``trial.report`` once a stopping rule has asked the trial to stop.

    Let it propagate (the trial is recorded as ``stopped`` with its last
    reported value), or catch it to clean up and return a value.
    """


class WaitForResults(StrategyExhausted):
    """A strategy can suggest nothing until a running trial's result is told.

    Raised by Hyperband between rungs. The search loop waits for the next
    result and asks again; a driver that does not know it sees a
    ``StrategyExhausted`` and stops asking.
    """


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"did you mean 'lr'?"`` for the closest of ``choices``, else the allowed ones listed."""
    import difflib

    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(sorted(choices))}."
