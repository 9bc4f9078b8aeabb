"""The sections of a spec file (``[space]``, ``enqueue``, ``[run]``, ``[stopping]``,
``[search_budget]``), each checked with every problem listed by its key.

:func:`hpcore.cli.spec.parse_spec` reads the whole file with these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from ..errors import HpcoreError, did_you_mean
from ..space import Categorical, Dimension, SearchSpace
from ..space.dimensions import dimension_from_json, dimension_problems
from ..stopping import (
    BudgetStopping,
    ImprovementStopping,
    MedianStopping,
    SearchBudget,
    StoppingRule,
    ThresholdStopping,
)

#: Spec names of the stopping rules (``[stopping]`` keys).
STOPPING_RULES: dict[str, type[StoppingRule]] = {
    "median": MedianStopping,
    "improvement": ImprovementStopping,
    "threshold": ThresholdStopping,
    "budget": BudgetStopping,
}

# [run] keys -> (the types they take, what to write in the message)
_RUN_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "n_jobs": ((int,), "an int (>= 1, or -1 for every core)"),
    "experiment_root": ((str,), "a folder path (relative to the current directory)"),
    "track_experiments": ((bool,), "true or false"),
    "resume": ((bool,), "true or false"),
    "study_name": ((str,), "a string"),
    "gpus_per_trial": ((int, float), "a number (0, a fraction below 1, or a whole number)"),
    "cpus_per_trial": ((int, float), "a number of cores"),
    "devices": ((list,), "a list of GPU ids, e.g. [0, 1]"),
    "trial_timeout": ((int, float), "a number of seconds"),
    "max_retries": ((int,), "an int >= 0"),
    "executor": ((str,), "a Dask scheduler address, e.g. 'tcp://host:8786'"),
    "verbose": ((bool, int), "true (a line per trial), false (quiet) or 0/1"),
}

def _is_int(value: Any, low: int | None = None) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and (low is None or value >= low)
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _unknown(key: str, prefix: str, allowed: Any, what: str) -> str:
    return f"{prefix}{key}: unknown {what}; {did_you_mean(key, allowed)}"


def _yaml_number_hint(value: Any) -> str:
    """Why a string that looks like a number is not one (quotes, or YAML's reading of 1e-5)."""
    if not isinstance(value, str):
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    if "e" in value.lower() and "." not in value:
        return f" (text, not a number: YAML reads {value} as text; write it with a dot, e.g. 1.0e-5)"
    return " (text, not a number: remove the quotes)"


def _table(data: Mapping[str, Any], name: str, errors: list[str]) -> Mapping[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errors.append(f"{name}: must be a table ([{name}] with key = value lines), got "
                      f"{type(value).__name__}.")
        return {}
    return value


def _parse_space(value: Any, errors: list[str]) -> dict[str, Dimension]:
    if value is None:
        errors.append(
            "space: missing. Add a [space] table, e.g. "
            "\"training.lr\" = { type = \"real\", low = 1e-5, high = 1e-2, log = true }."
        )
        return {}
    if not isinstance(value, Mapping) or not value:
        errors.append("space: must be a non-empty table of dotted keys to dimensions.")
        return {}
    dims: dict[str, Dimension] = {}
    for key, spec in _flatten_space(value, ""):
        dim = _dimension(key, spec, errors)
        if dim is None:
            continue
        try:
            dim.check(key)  # the dimension alone; its message names the key (conditions below)
        except HpcoreError as exc:
            errors.append(f"space.{key}: {exc}")
            continue
        dims[key] = dim
    if len(dims) == len(list(_flatten_space(value, ""))):
        try:
            SearchSpace(dims)  # overlapping keys, conditions (when=)
        except HpcoreError as exc:
            errors.append(f"space: {exc}")
    return dims


def _flatten_space(value: Mapping[str, Any], prefix: str) -> list[tuple[str, Any]]:
    """Dotted keys to dimension specs; a table without a string ``type`` is a nesting level."""
    out: list[tuple[str, Any]] = []
    for key, spec in value.items():
        name = f"{prefix}{key}"
        if isinstance(spec, Mapping) and not isinstance(spec.get("type"), str):
            if not spec:
                out.append((name, spec))
            else:
                out.extend(_flatten_space(spec, name + "."))
        else:
            out.append((name, spec))
    return out


def _dimension(key: str, spec: Any, errors: list[str]) -> Dimension | None:
    where = f"space.{key}"
    if isinstance(spec, list):
        return Categorical(spec)
    if not isinstance(spec, Mapping):
        errors.append(
            f"{where}: {spec!r} is a fixed value; put it in [base_config], or search it with a "
            "list of choices or a table such as { type = \"real\", low = 0.0, high = 1.0 }."
        )
        return None
    problems = dimension_problems(spec, where, _yaml_number_hint)
    errors.extend(problems)
    return None if problems else dimension_from_json(key, spec)


def _parse_enqueue(
    value: Any,
    space: dict[str, Dimension] | None,
    errors: list[str],
    reserved: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """``enqueue``: configurations to run first, each checked against ``space`` (None: the
    space has problems of its own, reported instead); ``reserved``: keys the search sets
    itself, with why."""
    if value is None:
        return []
    configs = [value] if isinstance(value, Mapping) else value
    if not isinstance(configs, list) or not all(isinstance(c, Mapping) for c in configs):
        errors.append(
            "enqueue: must be a list of tables of dotted keys to values, e.g. "
            "enqueue = [{ \"training.lr\" = 1e-3, \"model.width\" = 256 }], or [[enqueue]] "
            f"tables; got {value!r}."
        )
        return []
    if space is None:
        return [dict(c) for c in configs]
    checked = SearchSpace(space)
    out = []
    for i, config in enumerate(configs):
        try:
            out.append(checked.check_partial(config, reserved))
        except HpcoreError as exc:
            errors.append(f"enqueue[{i}]: {exc}")
    return out


def _parse_run(table: Mapping[str, Any], errors: list[str]) -> dict[str, Any]:
    run: dict[str, Any] = {}
    for key, value in table.items():
        if key not in _RUN_KEYS:
            errors.append(_unknown(str(key), "run.", _RUN_KEYS, "key of [run]"))
            continue
        types, what = _RUN_KEYS[key]
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            errors.append(f"run.{key}: must be {what}, got {value!r}{_yaml_number_hint(value)}.")
            continue
        if isinstance(value, float) and not math.isfinite(value):
            errors.append(f"run.{key}: must be finite, got {value!r}.")
            continue
        run[key] = value
    if "n_jobs" in run and not (run["n_jobs"] >= 1 or run["n_jobs"] == -1):
        errors.append(f"run.n_jobs: must be >= 1, or -1 for every core; got {run['n_jobs']!r}.")
    if "max_retries" in run and run["max_retries"] < 0:
        errors.append(f"run.max_retries: must be >= 0, got {run['max_retries']!r}.")
    if "trial_timeout" in run and not run["trial_timeout"] > 0:
        errors.append(f"run.trial_timeout: must be > 0 seconds, got {run['trial_timeout']!r}; "
                      "leave it out for no timeout.")
    return run


def _parse_stopping(table: Mapping[str, Any], errors: list[str]) -> list[StoppingRule]:
    rules: list[StoppingRule] = []
    for name, args in table.items():
        cls = STOPPING_RULES.get(name)
        if cls is None:
            errors.append(_unknown(str(name), "stopping.", STOPPING_RULES, "stopping rule"))
            continue
        if args is True:
            args = {}
        if not isinstance(args, Mapping):
            errors.append(f"stopping.{name}: must be a table of the rule's arguments, e.g. "
                          f"{name} = {{ {_example_args(cls)} }} (or {{}} for the defaults), "
                          f"got {args!r}.")
            continue
        allowed = [f.name for f in fields(cls) if f.init and f.name != "mode"]
        bad = [k for k in args if k not in allowed]
        for k in bad:
            errors.append(_unknown(str(k), f"stopping.{name}.", allowed, f"argument of {name}"))
        if bad:
            continue
        try:
            rules.append(cls(**args))
        except HpcoreError as exc:
            errors.append(f"stopping.{name}: {exc}")
    return rules


def _example_args(cls: type) -> str:
    return ", ".join(
        f"{f.name} = {'...' if f.default is None else repr(f.default)}"
        for f in fields(cls) if f.init and f.name != "mode" and not callable(f.default)
    )


def _parse_budget(value: Any, errors: list[str]) -> SearchBudget | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        errors.append("search_budget: must be a table with max_seconds, max_trials and/or target.")
        return None
    allowed = [f.name for f in fields(SearchBudget)]
    bad = [k for k in value if k not in allowed]
    for k in bad:
        errors.append(_unknown(str(k), "search_budget.", allowed, "key of [search_budget]"))
    if bad:
        return None
    try:
        return SearchBudget(**value)
    except HpcoreError as exc:
        errors.append(f"search_budget: {exc}")
        return None


