"""What ``search.run`` shows on the console while it runs.

By default a one-line progress bar,
``[#######.............] 14/40  best 0.0831  running 2  elapsed 0:01:12``,
redrawn in place on stderr after every finished trial (and at most every
0.2 s otherwise). It is drawn only when stderr is a terminal, so logs, CI
and notebooks' captured streams stay clean; ``verbose=0`` turns it off,
``verbose=1`` prints a line per trial instead (and a line when the run
resumes a study, retries a trial or ends early).
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

from ..trial import FrozenTrial, TrialState

__all__ = ["Progress"]


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

    # -- a line per event (verbose) ----------------------------------------------
    def _say(self, text: str) -> None:
        if self.lines:
            print(text, file=sys.stderr, flush=True)

    def resumed(self, root: Any, n_finished: int, n_rerun: int) -> None:
        self._say(f"resuming {root}: {n_finished} finished trial(s), {n_rerun} to run again")

    def ended_early(self, reason: str) -> None:
        self._say(f"search ended early: {reason}")

    def retrying(self, ended: FrozenTrial, attempts: int, max_retries: int) -> None:
        self._say(f"trial {ended.trial_id} failed (attempt {attempts} of {max_retries + 1}): "
                  f"{ended.error}; running it again")

    def trial_ended(self, trial: FrozenTrial, search: Any, budget: int) -> None:
        """``[ 3/20] trial 2  val_loss=0.0831  best=0.0801  (4.2s)  lr=0.001, ...``"""
        if not self.lines:
            return
        best = search.best_score
        width = len(str(budget))
        if trial.state is TrialState.COMPLETED:
            what = f"{search.metric or 'value'}={trial.value:.6g}"
        else:
            what = f"{trial.state}: {trial.error}"
        params = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        best_txt = "" if best is None else f"  best={best:.6g}"
        done = sum(t.state.is_finished for t in search.trials)
        self._say(f"[{done:>{width}}/{budget}] trial {trial.trial_id:<{width}} {what}{best_txt}  "
                  f"({trial.duration or 0.0:.1f}s)  {params}")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return repr(value)
