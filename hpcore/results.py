"""Results of a finished search as plain records, a text table and files.

``to_records`` turns ``search.trials`` into JSON-able dicts; ``format_table``
renders them for a terminal; ``save_results`` writes ``trials.json``,
``trials.csv`` and ``best.json`` into a folder.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .search.base import BaseSearch
from .trial import FrozenTrial, TrialState

__all__ = ["to_records", "format_table", "save_results"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return _jsonable(dataclasses.asdict(value))
    return repr(value)


def to_records(trials: Iterable[FrozenTrial]) -> list[dict[str, Any]]:
    """One JSON-able dict per trial: id, state, value, params, metrics, times, error."""
    return [
        {
            "trial_id": t.trial_id,
            "state": str(t.state),
            "value": t.value,
            "params": _jsonable(t.params),
            "metrics": t.metrics,
            "duration": t.duration,
            "start": t.start,
            "end": t.end,
            "error": t.error,
            "n_reports": len(t.reports),
        }
        for t in trials
    ]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_table(
    trials: Sequence[FrozenTrial],
    metric: str | None = None,
    best_id: int | None = None,
    max_rows: int | None = None,
) -> str:
    """Render trials as an aligned text table; the best one is marked with ``*``."""
    keys: list[str] = []
    for t in trials:
        keys.extend(k for k in t.params if k not in keys)
    header = ["#", "state", metric or "value", "time (s)", *keys]
    rows = []
    shown = trials if max_rows is None else trials[:max_rows]
    for t in shown:
        mark = "*" if t.trial_id == best_id else " "
        state = str(t.state) if t.state is not TrialState.COMPLETED else "ok"
        rows.append(
            [f"{t.trial_id}{mark}", state, _cell(t.value), _cell(t.duration)]
            + [_cell(t.params.get(k)) for k in keys]
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if max_rows is not None and len(trials) > max_rows:
        lines.append(f"... {len(trials) - max_rows} more")
    return "\n".join(lines)


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def save_results(search: BaseSearch, directory: str | os.PathLike[str]) -> Path:
    """Write ``trials.json``, ``trials.csv`` and ``best.json`` for ``search``.

    Returns the folder. ``best.json`` holds the best trial's id, value,
    params and full config (``null`` values when nothing completed).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    records = to_records(search.trials)
    _write_atomic(out / "trials.json", json.dumps(records, indent=2))
    keys: list[str] = []
    for t in search.trials:
        keys.extend(k for k in t.params if k not in keys)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["trial_id", "state", "value", "duration", "error", *keys])
    for t in search.trials:
        writer.writerow(
            [t.trial_id, str(t.state), t.value, t.duration, t.error or ""]
            + [t.params.get(k) for k in keys]
        )
    _write_atomic(out / "trials.csv", buffer.getvalue())
    best = search.best_trial
    summary = {
        "metric": search.metric,
        "mode": search.mode,
        "n_trials": len(search.trials),
        "best_trial_id": None if best is None else best.trial_id,
        "best_score": None if best is None else best.value,
        "best_params": None if best is None else _jsonable(best.params),
        "best_config": _jsonable(search.best_config),
    }
    _write_atomic(out / "best.json", json.dumps(summary, indent=2))
    return out
