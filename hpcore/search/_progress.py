"""What ``search.run`` shows while it runs.

In a terminal, a one-line progress bar,
``[#######.............] 14/40  best 0.0831  running 2  elapsed 0:01:12``,
redrawn in place on stderr after every finished trial (and at most every
0.2 s otherwise). Elsewhere (nohup, a batch scheduler, CI, a file) a line
per event instead, as it happens: each finished trial, a resume, a retry,
an early end. The lines go through the ``hpcore`` logger (INFO; what the
user must know, WARNING); when the program has not configured logging, a
handler that writes them to stderr is attached for the run.
``verbose=1`` asks for the lines in a terminal too, ``verbose=0`` for
neither (warnings still show).
"""

from __future__ import annotations

import logging
import math
import sys
import time
from typing import Any, TextIO

from ..trial import FrozenTrial, TrialState

__all__ = ["Progress", "logger"]

#: The logger of every line a search run writes (``logging.getLogger("hpcore")``).
logger = logging.getLogger("hpcore")


class Progress:
    """The console of one run: the bar (``enabled``) or a line per event (``lines``)."""

    def __init__(self, total: int, enabled: bool, stream: TextIO | None = None, *,
                 lines: bool = False) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.lines = lines
        self.t0 = time.monotonic()
        self._last = 0.0
        self._width = 0
        self._level = logger.level
        self._handler = _console_handler(self.stream)

    @classmethod
    def for_verbose(cls, total: int, verbose: int | bool | None) -> Progress:
        """The console ``verbose`` asks for: ``None`` a bar in a terminal, else lines."""
        if verbose is not None and not isinstance(verbose, (bool, int)):
            raise TypeError(f"verbose must be None, a bool or an int, got {verbose!r}.")
        terminal = cls.wanted(None)
        if verbose is None:
            return cls(total, terminal, lines=not terminal)
        return cls(total, False, lines=bool(verbose))

    @staticmethod
    def wanted(verbose: int | bool | None, stream: TextIO | None = None) -> bool:
        """Whether to draw: ``verbose is None`` (the default) and a terminal."""
        if verbose is not None:
            return False
        stream = stream or sys.stderr
        try:
            return bool(stream.isatty())
        except (AttributeError, ValueError):
            return False

    def update(self, done: int, best: float | None, running: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.2:
            return
        self._last = now
        frac = min(1.0, done / self.total) if self.total else 0.0
        bar = "#" * int(round(20 * frac))
        elapsed = int(now - self.t0)
        best_txt = "-" if best is None else f"{best:.6g}"
        line = (f"[{bar:<20}] {done}/{self.total}  best {best_txt}  running {running}  "
                f"elapsed {elapsed // 3600}:{elapsed // 60 % 60:02d}:{elapsed % 60:02d}")
        pad = max(0, self._width - len(line))
        self._width = len(line)
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\n")
            self.stream.flush()
        if self._handler is not None:
            logger.removeHandler(self._handler)
            logger.setLevel(self._level)
            self._handler = None

    # -- a line per event ------------------------------------------------------------
    def _say(self, text: str) -> None:
        if self.lines:
            logger.info(text)

    def warn(self, text: str) -> None:
        """A line the user must see whatever ``verbose`` says (above the bar)."""
        if self.enabled and self._width:
            self.stream.write("\n")
            self._width = 0
        logger.warning(text)

    def resumed(self, root: Any, n_finished: int, n_rerun: int) -> None:
        self._say(f"resuming {root}: {n_finished} finished trial(s), {n_rerun} to run again")

    def nothing_to_run(self, root: Any, n_stored: int, budget: int) -> None:
        self.warn(
            f"{root} already holds {n_stored} trial(s) of the {budget} this search may run: "
            f"nothing to run, so the stored best is returned. To run more, raise n_trials; "
            f"to start anew, pass resume=False or another experiment_root."
        )

    def ended_early(self, reason: str) -> None:
        self._say(f"search ended early: {reason}")

    def retrying(self, ended: FrozenTrial, attempts: int, max_retries: int) -> None:
        self._say(f"trial {ended.trial_id} failed (attempt {attempts} of {max_retries + 1}): "
                  f"{ended.error}; running it again")

    def trial_ended(self, trial: FrozenTrial, search: Any, budget: int) -> None:
        """``[ 3/20] trial 2  val_loss=0.0831  best=0.0801  (4.2s)  lr=0.001, ...``"""
        if not self.lines:
            return
        objectives = search.objectives
        width = len(str(budget))
        if trial.state is TrialState.COMPLETED and trial.values:
            what = "  ".join(f"{m or 'value'}={v:.6g}"
                             for m, v in zip(objectives.metrics, trial.values))
            what += "" if trial.feasible else "  (infeasible)"
        else:
            what = f"{trial.state}: {trial.error}"
        params = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        if objectives.multi:
            best_txt = f"  front={len(search.best_trials)}"
        else:
            best = search.best_score
            best_txt = "" if best is None else f"  best={best:.6g}"
        done = sum(t.state.is_finished for t in search.trials)
        self._say(f"[{done:>{width}}/{budget}] trial {trial.trial_id:<{width}} {what}{best_txt}  "
                  f"({trial.duration or 0.0:.1f}s)  {params}")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return repr(value)


def _console_handler(stream: TextIO) -> logging.Handler | None:
    """A stderr handler for the ``hpcore`` logger while a run lasts, unless the program
    configured logging itself (a handler on ``hpcore``, or on the root logger)."""
    if logger.handlers or logging.getLogger().handlers:
        return None
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return handler
