"""A one-line progress bar for ``search.run`` on a terminal.

``[#######.............] 14/40  best 0.0831  running 2  elapsed 0:01:12``
redrawn in place on stderr after every finished trial (and at most every
0.2 s otherwise). It is drawn only when stderr is a terminal, so logs, CI
and notebooks' captured streams stay clean; ``verbose=0`` turns it off,
``verbose=1`` prints a line per trial instead.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Draws the bar; a no-op when ``enabled`` is False."""

    def __init__(self, total: int, enabled: bool, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = enabled
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
