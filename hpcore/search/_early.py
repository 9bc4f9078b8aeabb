"""The search loop's side of early stopping: curves, decisions, search budgets.

Reports arrive from the executor while trials run (``on_report``); each is
added to its trial's curve and shown to the stopping rule, whose "stop"
goes back to the trial through the executor. A trial is asked to stop at
most once. The search budget (:class:`~hpcore.stopping.SearchBudget`) is
checked as trials start and end.
"""

from __future__ import annotations

import math
import time
from typing import Any

from ..executor import Executor
from ..stopping import SearchBudget, StoppingRule
from ..trial import FrozenTrial

__all__ = ["EarlyStopper"]


class EarlyStopper:
    """Curves of every trial and the decisions taken on them."""

    def __init__(
        self,
        rule: StoppingRule | None,
        budget: SearchBudget | None,
        metric: str | None,
        mode: str,
    ) -> None:
        self.rule = None if rule is None else rule.bind(mode)
        self.budget = budget
        self.metric = metric
        self.mode = mode
        self.curves: dict[int, list[tuple[int, float]]] = {}
        self.asked: dict[int, str] = {}  # trials asked to stop, and why
        self.t0 = time.monotonic()

    def _value(self, entry: dict[str, Any]) -> float | None:
        v = entry.get("value")
        if v is None and self.metric is not None:
            v = entry.get(self.metric)
        if v is None:
            return None
        v = float(v)
        return v if math.isfinite(v) else None

    def on_report(self, executor: Executor, record: FrozenTrial, entry: dict[str, Any]) -> None:
        """Add a live report to the curve; ask the trial to stop if the rule says so."""
        value = self._value(entry)
        if value is None:
            return
        curve = self.curves.setdefault(record.trial_id, [])
        curve.append((int(entry["step"]), value))
        if self.rule is None or record.trial_id in self.asked:
            return
        others = {tid: c for tid, c in self.curves.items() if tid != record.trial_id}
        elapsed = time.time() - record.start if record.start is not None else 0.0
        reason = self.rule.explain(record.trial_id, curve, others, elapsed)
        if reason is not None:
            self.ask(executor, record.trial_id, reason)

    def ask(self, executor: Executor, trial_id: int, reason: str) -> None:
        """Ask a running trial to stop, unless it was asked already (the first reason stays)."""
        if trial_id not in self.asked:
            self.asked[trial_id] = reason
            executor.stop(trial_id, reason)

    def on_finish(self, record: FrozenTrial) -> None:
        """Take the trial's full curve from its record (executors without live reports)."""
        curve = [(int(e["step"]), v) for e in record.reports if (v := self._value(e)) is not None]
        if len(curve) > len(self.curves.get(record.trial_id, ())):
            self.curves[record.trial_id] = curve

    def search_over(self, started: int, best: float | None) -> str | None:
        """Why the whole search should end now, or None."""
        if self.budget is None:
            return None
        return self.budget.reached(time.monotonic() - self.t0, started, best, self.mode)

    def wait_timeout(self) -> float | None:
        """How long the loop may block before the wall-time budget needs a look."""
        if self.budget is None or self.budget.max_seconds is None:
            return None
        return max(0.0, self.budget.max_seconds - (time.monotonic() - self.t0)) + 0.01
