"""A search's trials as tables, records and files.

``trials_table`` (a DataFrame), ``top_k`` and ``param_summary`` read a search or
a stored study (see :mod:`.view`); ``to_records`` turns trials into JSON-able
dicts, ``format_table`` renders them for a terminal and ``save_results`` writes
``trials.json``, ``trials.csv`` and ``best.json`` into a folder.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .._io import jsonable, write_text_atomic
from ..errors import ArgumentError
from ..space import Categorical
from ..trial import FrozenTrial, TrialState, to_records
from .view import scored, view

__all__ = [
    "trials_table",
    "top_k",
    "param_summary",
    "to_records",
    "format_table",
    "save_results",
    "extra_metrics",
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


def extra_metrics(
    trials: Iterable[FrozenTrial], metric: Any, taken: Iterable[str] = ()
) -> dict[str, str]:
    """The metrics trials returned beside the objective, by name, with their column names.

    In order of first appearance; the objective (``metric``, or each of a
    sequence of them) is left out, as it is the ``value`` column. A metric
    whose name is one of the ``taken`` column names is ``metrics.<name>``.
    """
    objectives = {metric} if isinstance(metric, str) or metric is None else set(metric)
    taken = set(taken)
    out: dict[str, str] = {}
    for t in trials:
        for name in t.metrics:
            if name not in objectives and name not in out:
                out[name] = f"metrics.{name}" if name in taken else name
    return out


def save_results(search: Any, directory: str | os.PathLike[str]) -> Path:
    """Write ``trials.json``, ``trials.csv`` and ``best.json`` for ``search``.

    ``trials.csv`` has a row per trial: ``trial_id``, ``state``, ``value``,
    ``duration``, ``error``, each parameter, then each other metric a trial
    returned (``val_acc`` beside ``metric='val_loss'``; empty where a trial
    has none), named as returned, or ``metrics.<name>`` when a parameter or
    column has that name. Returns the folder. ``best.json`` holds the best trial's id, value,
    params and full config (``null`` values when nothing completed).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    records = to_records(search.trials)
    write_text_atomic(out / "trials.json", json.dumps(records, indent=2))
    keys: list[str] = []
    for t in search.trials:
        keys.extend(k for k in t.params if k not in keys)
    head = ["trial_id", "state", "value", "duration", "error", *keys]
    extra = extra_metrics(search.trials, search.metric, taken=head)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*head, *extra.values()])
    for t in search.trials:
        writer.writerow(
            [t.trial_id, str(t.state), t.value, t.duration, t.error or ""]
            + [t.params.get(k) for k in keys]
            + [t.metrics.get(m) for m in extra]
        )
    write_text_atomic(out / "trials.csv", buffer.getvalue())
    best = search.best_trial
    summary = {
        "metric": search.metric,
        "mode": search.mode,
        "n_trials": len(search.trials),
        "best_trial_id": None if best is None else best.trial_id,
        "best_score": None if best is None else best.value,
        "best_params": None if best is None else jsonable(best.params),
        "best_config": jsonable(search.best_config),
    }
    write_text_atomic(out / "best.json", json.dumps(summary, indent=2))
    return out


def _states(states: Any) -> set[TrialState] | None:
    if states is None:
        return None
    if isinstance(states, (str, TrialState)):
        states = [states]
    out = set()
    for s in states:
        try:
            out.add(TrialState(s))
        except ValueError:
            valid = ", ".join(repr(v.value) for v in TrialState)
            raise ArgumentError(f"states: unknown trial state {s!r}; use {valid}.") from None
    return out


def trials_table(obj: Any, states: Iterable[str | TrialState] | str | None = None) -> Any:
    """One row per trial: id, state, value, duration, attempts, parameters, metrics.

    Parameters
    ----------
    obj : BaseSearch or StudyResults
        A finished search or a study from :func:`hpcore.load`.
    states : str, TrialState or iterable of them, optional
        Keep only trials in these states (``'completed'``, ``'failed'``...).

    Returns
    -------
    pandas.DataFrame or list of dict
        Columns ``trial_id``, ``state`` (a string), ``value``, ``duration``
        (seconds), ``attempts``, then ``params.<key>`` for each key of the
        space (then any other key a trial holds) and ``metrics.<name>`` for
        every metric any trial returned, in order of first appearance. Rows
        are ordered by trial id; a missing entry is None (NaN in a frame).
        A DataFrame (with a plain integer index) when pandas is installed,
        else a list of dicts with the same keys.
    """
    v = view(obj)
    keep = _states(states)
    trials = sorted(
        (t for t in v.trials if keep is None or t.state in keep), key=lambda t: t.trial_id
    )
    param_keys = list(v.space)
    metric_keys: list[str] = []
    for t in trials:
        param_keys.extend(k for k in t.params if k not in param_keys)
        metric_keys.extend(k for k in t.metrics if k not in metric_keys)
    columns = ["trial_id", "state", "value", "duration", "attempts"]
    columns += [f"params.{k}" for k in param_keys] + [f"metrics.{k}" for k in metric_keys]
    rows = []
    for t in trials:
        row: dict[str, Any] = {
            "trial_id": t.trial_id,
            "state": str(t.state),
            "value": t.value,
            "duration": t.duration,
            "attempts": t.attempts,
        }
        row.update({f"params.{k}": t.params.get(k) for k in param_keys})
        row.update({f"metrics.{k}": t.metrics.get(k) for k in metric_keys})
        rows.append(row)
    try:
        import pandas as pd
    except ImportError:
        return rows
    return pd.DataFrame(rows, columns=columns)


def top_k(obj: Any, k: int = 10) -> list[FrozenTrial]:
    """The ``k`` best trials, best first.

    Completed and early-stopped trials with a finite value count, ranked in
    the search's direction (``mode``); ties go to the earlier trial, as for
    ``best_trial``. Fewer than ``k`` when fewer trials have values.
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ArgumentError(f"k must be a positive int, got {k!r}.")
    return scored(view(obj))[: int(k)]


def param_summary(obj: Any, top: float = 0.1) -> dict[str, dict[str, Any]]:
    """What each parameter looked like in the best trials: what to narrow a space by.

    Parameters
    ----------
    obj : BaseSearch or StudyResults
    top : float
        The fraction of trials with values that count as the top ones
        (at least one trial).

    Returns
    -------
    dict
        By key, in the space's order, a dict with

        * ``type``: ``'real'``, ``'integer'`` or ``'categorical'``;
        * ``low``, ``high``, ``log`` (numeric) or ``choices`` (categorical);
        * ``best``: the best trial's value of the parameter (None without one);
        * ``n_top``: how many trials are the top ones;
        * numeric: ``top_low``, ``top_high``, the range of the parameter over
          the top trials (None without any);
        * categorical: ``top_counts``, a list of ``(choice, count)`` over the
          top trials, for every choice in order (choices may be unhashable,
          so not a dict).
    """
    if isinstance(top, bool) or not isinstance(top, numbers.Real) or not 0 < top <= 1:
        raise ArgumentError(f"top must be a fraction in (0, 1], got {top!r}.")
    v = view(obj)
    ranked = scored(v)
    n_top = min(len(ranked), max(1, math.ceil(top * len(ranked))))
    best = ranked[0] if ranked else None
    leaders = ranked[:n_top]
    out: dict[str, dict[str, Any]] = {}
    for key, dim in v.space.items():
        info: dict[str, Any] = {"type": dim.to_json()["type"]}
        if isinstance(dim, Categorical):
            info["choices"] = list(dim.choices)
        else:
            info.update(low=dim.low, high=dim.high, log=dim.log)
        info["best"] = None if best is None else best.params.get(key)
        info["n_top"] = n_top
        values = [t.params[key] for t in leaders if key in t.params]
        if isinstance(dim, Categorical):
            counts = [0] * len(dim.choices)
            for v in values:
                level = dim.match(v)
                if level is not None:
                    counts[level] += 1
            info["top_counts"] = list(zip(dim.choices, counts))
        else:
            nums = [v for v in values if isinstance(v, numbers.Real) and not isinstance(v, bool)]
            info["top_low"] = min(nums) if nums else None
            info["top_high"] = max(nums) if nums else None
        out[key] = info
    return out
