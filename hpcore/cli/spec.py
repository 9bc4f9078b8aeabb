"""Searches described in a file: the spec behind ``hpcore run spec.toml``.

A spec holds everything a search script would: the search class, the base
config, the search space, the metric, the train function (as
``module:function``), how to run trials and the stopping rules. TOML is read
with the standard library's ``tomllib``; YAML (the same structure) needs
PyYAML. The whole file is checked before anything runs, and every problem
is reported at once, each naming its key and the fix.

.. code-block:: toml

    search = "bayesian"            # grid | random | bayesian | hyperband
    train = "train:train_fn"       # module:function, importable from the current directory
    metric = "val_loss"
    mode = "min"
    n_trials = 30
    seed = 0

    [options]                      # the search class's own arguments
    n_initial_points = 8

    [base_config]
    training = { lr = 1e-3, epochs = 20 }

    [space]
    "training.lr" = { type = "real", low = 1e-5, high = 1e-2, log = true }
    "training.batch_size" = { type = "integer", low = 16, high = 256, log = true }
    "model.activation" = ["relu", "gelu"]

    [run]                          # the arguments of search.run
    n_jobs = 2
    experiment_root = "experiments/spec"

    [stopping]
    median = { grace_steps = 5, min_trials = 5 }

    [search_budget]
    max_seconds = 3600

:func:`load_spec` reads and checks a file into a :class:`Spec`;
:func:`build_search` makes the search object; :func:`load_train_fn` imports
the train function (the current directory goes first on ``sys.path``, and
spawned workers inherit it); :func:`run_spec` does all three and runs.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError, HpcoreError
from ..space import Categorical, Dimension, Integer, Real, SearchSpace
from ..stopping import (
    BudgetStopping,
    ImprovementStopping,
    MedianStopping,
    SearchBudget,
    StoppingRule,
    ThresholdStopping,
)

__all__ = ["Spec", "SpecError", "load_spec", "parse_spec", "build_search", "load_train_fn",
           "run_spec", "SEARCHES", "STOPPING_RULES"]


class SpecError(ConfigError):
    """A spec file is missing, unreadable or wrong; the message lists every problem."""


#: Spec names of the search classes (``search = "..."``).
SEARCHES = ("grid", "random", "bayesian", "hyperband")

#: Spec names of the stopping rules (``[stopping]`` keys).
STOPPING_RULES: dict[str, type[StoppingRule]] = {
    "median": MedianStopping,
    "improvement": ImprovementStopping,
    "threshold": ThresholdStopping,
    "budget": BudgetStopping,
}

_TOP = ("search", "train", "metric", "mode", "n_trials", "seed")
_TABLES = ("options", "base_config", "space", "run", "stopping", "search_budget")

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

# Dimension tables in [space]: type -> allowed keys (required ones first).
_DIM_KEYS = {
    "real": ("low", "high", "log", "grid_points"),
    "integer": ("low", "high", "log"),
    "categorical": ("choices",),
}
_DIM_REQUIRED = {"real": ("low", "high"), "integer": ("low", "high"), "categorical": ("choices",)}

# The arguments every search takes from the top level, not from [options].
_COMMON = ("base_config", "search_space", "metric", "mode", "n_trials", "random_state")
# Where those (and run's arguments) go instead of [options].
_MOVED = {
    "base_config": "a [base_config] table",
    "search_space": "a [space] table",
    "space": "a [space] table",
    "metric": "metric = ... at the top level",
    "mode": "mode = ... at the top level",
    "n_trials": "n_trials = ... at the top level",
    "random_state": "seed = ... at the top level",
    "seed": "seed = ... at the top level",
    **{k: f"{k} = ... in [run]" for k in _RUN_KEYS},
}


@dataclass
class Spec:
    """A checked spec, ready for :func:`build_search` and :func:`run_spec`.

    Attributes
    ----------
    path : pathlib.Path or None
        The file it came from (``None`` for :func:`parse_spec` on a dict).
    search : str
        One of :data:`SEARCHES`.
    train : str
        ``"module:function"``.
    metric, mode, n_trials, seed
        As for the search classes (``seed`` is ``random_state``).
    options : dict
        The search class's own arguments (``n_initial_points``, ``shuffle``...).
    base_config : dict
    space : dict of str to Dimension
        By dotted key.
    run : dict
        Keyword arguments of ``search.run`` (``n_jobs``, ``experiment_root``...).
    stopping : list of StoppingRule
    search_budget : SearchBudget or None
    """

    path: Path | None
    search: str
    train: str
    metric: str | None = None
    mode: str = "min"
    n_trials: int | None = None
    seed: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    base_config: dict[str, Any] = field(default_factory=dict)
    space: dict[str, Dimension] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    stopping: list[StoppingRule] = field(default_factory=list)
    search_budget: SearchBudget | None = None

    @property
    def source(self) -> str:
        return str(self.path) if self.path is not None else "spec"


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def load_spec(path: str | os.PathLike[str]) -> Spec:
    """Read and check a spec file (``.toml``, or ``.yaml``/``.yml`` with PyYAML).

    Raises
    ------
    SpecError
        The file is missing or unreadable, or the spec has problems: the
        message lists each one with its key and the fix.
    """
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"no spec file at {str(p)!r}: check the path.")
    suffix = p.suffix.lower()
    text = p.read_text(encoding="utf-8")
    if suffix == ".toml":
        toml = _tomllib(p)
        try:
            data = toml.loads(text)
        except toml.TOMLDecodeError as exc:
            raise SpecError(f"{p}: not valid TOML: {exc}.") from None
    elif suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise SpecError(
                f"{p}: reading a YAML spec needs PyYAML: pip install pyyaml "
                "(or write the spec as TOML, which needs nothing)."
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpecError(f"{p}: not valid YAML: {exc}") from None
    else:
        raise SpecError(
            f"{p}: unknown spec format {suffix or '(no extension)'!r}; name the file "
            "*.toml (or *.yaml / *.yml with PyYAML installed)."
        )
    return parse_spec(data, p)


def _tomllib(p: Path) -> Any:
    """The standard library's ``tomllib`` (Python 3.11+), or ``tomli`` (its backport)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise SpecError(
                f"{p}: reading TOML needs Python 3.11 or later, or the tomli package on "
                "Python 3.10: pip install tomli."
            ) from None
    return tomllib


def parse_spec(data: Any, path: str | os.PathLike[str] | None = None) -> Spec:
    """Check a spec already read into a dict (see the module docstring for its keys).

    Raises
    ------
    SpecError
        Listing every problem found, each with its key and the fix.
    """
    p = None if path is None else Path(path)
    where = str(p) if p is not None else "spec"
    if not isinstance(data, Mapping):
        raise SpecError(
            f"{where}: a spec is a table of keys (search, train, [space], ...), got "
            f"{type(data).__name__}."
        )
    errors: list[str] = []
    for key in data:
        if key not in _TOP and key not in _TABLES:
            errors.append(_unknown(str(key), "", (*_TOP, *_TABLES), "top-level key"))

    search = data.get("search")
    if search is None:
        errors.append(f"search: missing. Set search = one of {list(SEARCHES)}.")
    elif not isinstance(search, str) or _search_name(search) is None:
        errors.append(f"search: must be one of {list(SEARCHES)}, got {search!r}.")
    search_name = _search_name(search) if isinstance(search, str) else None

    train = data.get("train")
    if train is None:
        errors.append(
            "train: missing. Set train = \"module:function\", e.g. \"train:train_fn\" for "
            "train_fn in train.py in the current directory."
        )
    elif not isinstance(train, str) or not _valid_target(train):
        errors.append(
            f"train: must be \"module:function\" (dotted names, e.g. \"mypkg.train:fit\"), "
            f"got {train!r}."
        )

    metric = data.get("metric")
    if metric is not None and not isinstance(metric, str):
        errors.append(f"metric: must be the name of a returned value (a string), got {metric!r}.")
    mode = data.get("mode", "min")
    if mode not in ("min", "max"):
        errors.append(f"mode: must be \"min\" or \"max\", got {mode!r}.")
    n_trials = data.get("n_trials")
    if n_trials is not None and not _is_int(n_trials, 1):
        errors.append(f"n_trials: must be an int >= 1, got {n_trials!r}.")
    seed = data.get("seed")
    if seed is not None and not _is_int(seed):
        errors.append(f"seed: must be an int, got {seed!r}.")

    options = _table(data, "options", errors)
    if search_name is not None:
        allowed = _option_names(search_name)
        for key in options:
            if key in _MOVED:
                errors.append(f"options.{key}: not an option; set it as {_MOVED[key]}.")
            elif key not in allowed:
                errors.append(_unknown(key, "options.", allowed, f"option of {search_name} search"))

    base_config = _table(data, "base_config", errors)
    space = _parse_space(data.get("space"), errors)
    run = _parse_run(_table(data, "run", errors), errors)
    stopping = _parse_stopping(_table(data, "stopping", errors), errors)
    budget = _parse_budget(data.get("search_budget"), errors)

    if errors:
        lines = "\n".join(f"  - {e}" for e in errors)
        n = len(errors)
        raise SpecError(f"{where}: {n} problem{'s' if n > 1 else ''} in the spec:\n{lines}")
    return Spec(
        path=p,
        search=search_name,  # type: ignore[arg-type]
        train=train,  # type: ignore[arg-type]
        metric=metric,
        mode=mode,
        n_trials=None if n_trials is None else int(n_trials),
        seed=None if seed is None else int(seed),
        options=dict(options),
        base_config=dict(base_config),
        space=space,
        run=run,
        stopping=stopping,
        search_budget=budget,
    )


def _search_name(text: str) -> str | None:
    name = text.strip().lower()
    name = name[: -len("search")] if name.endswith("search") and name != "search" else name
    return name if name in SEARCHES else None


def _valid_target(text: str) -> bool:
    module, sep, attr = text.partition(":")
    return bool(sep) and all(
        part.isidentifier() for part in (*module.split("."), *attr.split("."))
    )


def _is_int(value: Any, low: int | None = None) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and (low is None or value >= low)
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _unknown(key: str, prefix: str, allowed: Any, what: str) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(sorted(allowed))}."
    return f"{prefix}{key}: unknown {what}; {hint}"


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


def _option_names(search: str) -> tuple[str, ...]:
    """The ``[options]`` a search accepts: its constructor's own arguments."""
    from ..search import BayesianSearch, GridSearch, HyperbandSearch, RandomSearch

    cls = {"grid": GridSearch, "random": RandomSearch, "bayesian": BayesianSearch,
           "hyperband": HyperbandSearch}[search]
    names = [
        n for n, p in inspect.signature(cls.__init__).parameters.items()
        if n != "self" and n not in _COMMON and p.kind is not p.VAR_KEYWORD
    ]
    if search == "bayesian":  # **strategy_options go to BayesianStrategy
        from ..strategies.bayesian import BayesianStrategy

        names += [
            n for n in inspect.signature(BayesianStrategy.__init__).parameters
            if n not in ("self", "space", "seed") and n not in names
        ]
    return tuple(names)


# ---------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------


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
            SearchSpace({key: dim})  # checks the dimension; its message names the key
        except HpcoreError as exc:
            errors.append(f"space.{key}: {exc}")
            continue
        dims[key] = dim
    if len(dims) == len(list(_flatten_space(value, ""))):
        try:
            SearchSpace(dims)  # overlapping keys
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
    kind = spec.get("type")
    if kind is None:
        errors.append(f"{where}: an empty table; give {{ type = \"real\" | \"integer\" | "
                      "\"categorical\", ... }.")
        return None
    if kind not in _DIM_KEYS:
        errors.append(f"{where}.type: must be one of {list(_DIM_KEYS)}, got {kind!r}.")
        return None
    ok = True
    for k in spec:
        if k != "type" and k not in _DIM_KEYS[kind]:
            errors.append(_unknown(str(k), f"{where}.", _DIM_KEYS[kind], f"key for type {kind!r}"))
            ok = False
    for k in _DIM_REQUIRED[kind]:
        if k not in spec:
            errors.append(f"{where}: a {kind} needs {' and '.join(_DIM_REQUIRED[kind])}; "
                          f"{k} is missing.")
            ok = False
    for k in ("low", "high"):
        if k in spec and not _is_number(spec[k]):
            errors.append(f"{where}.{k}: must be a number, got {spec[k]!r}"
                          f"{_yaml_number_hint(spec[k])}.")
            ok = False
    if "log" in spec and not isinstance(spec["log"], bool):
        errors.append(f"{where}.log: must be true or false, got {spec['log']!r}.")
        ok = False
    if "choices" in spec and not isinstance(spec["choices"], list):
        errors.append(f"{where}.choices: must be a list, got {spec['choices']!r}.")
        ok = False
    if not ok:
        return None
    if kind == "real":
        return Real(spec["low"], spec["high"], log=spec.get("log", False),
                    grid_points=spec.get("grid_points"))
    if kind == "integer":
        return Integer(spec["low"], spec["high"], log=spec.get("log", False))
    return Categorical(spec["choices"])


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


# ---------------------------------------------------------------------------
# Building and running
# ---------------------------------------------------------------------------


def build_search(spec: Spec) -> Any:
    """The search object the spec describes (nothing runs).

    Raises
    ------
    SpecError
        The search class refused its arguments (a dotted key missing from
        ``base_config``, a grid over a ``Real`` without ``grid_points``, a
        bad option value...); the message says which.
    """
    from ..search import BayesianSearch, GridSearch, HyperbandSearch, RandomSearch

    cls = {"grid": GridSearch, "random": RandomSearch, "bayesian": BayesianSearch,
           "hyperband": HyperbandSearch}[spec.search]
    kwargs: dict[str, Any] = dict(
        base_config=spec.base_config,
        search_space=spec.space,
        metric=spec.metric,
        mode=spec.mode,
        random_state=spec.seed,
        **spec.options,
    )
    if spec.n_trials is not None:
        kwargs["n_trials"] = spec.n_trials
    try:
        return cls(**kwargs)
    except (HpcoreError, TypeError, ValueError) as exc:
        raise SpecError(
            f"{spec.source}: the {spec.search} search cannot be built from this spec: {exc}"
        ) from exc


def load_train_fn(spec: Spec) -> Callable[..., Any]:
    """Import ``spec.train`` (``module:function``), with the current directory on ``sys.path``.

    The directory goes first on ``sys.path``; worker processes started by
    ``spawn`` inherit the path, so they import the same module.

    Raises
    ------
    SpecError
        The module cannot be imported, has no such attribute, or it is not callable.
    """
    module_name, _, attr = spec.train.partition(":")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise SpecError(
                f"{spec.source}: train = {spec.train!r}: no module {exc.name!r} in the current "
                f"directory ({cwd}) or on sys.path. Run hpcore from the folder that holds "
                f"{module_name.split('.')[0]}.py, or install the package."
            ) from exc
        raise SpecError(
            f"{spec.source}: train = {spec.train!r}: importing {module_name!r} failed: {exc}"
        ) from exc
    except Exception as exc:
        raise SpecError(
            f"{spec.source}: train = {spec.train!r}: importing {module_name!r} raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    for part in attr.split("."):
        if not hasattr(obj, part):
            own = sorted(
                n for n, v in vars(obj).items()
                if inspect.isfunction(v) and not n.startswith("_")
                and v.__module__ == getattr(obj, "__name__", None)
            )[:10]
            raise SpecError(
                f"{spec.source}: train = {spec.train!r}: {module_name!r} has no attribute "
                f"{part!r}" + (f"; its functions: {', '.join(own)}." if own else ".")
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise SpecError(
            f"{spec.source}: train = {spec.train!r} is a {type(obj).__name__}, not a function."
        )
    return obj


def run_kwargs(spec: Spec, verbose: int | bool | None = None) -> dict[str, Any]:
    """The keyword arguments of ``search.run`` for this spec (``verbose`` if not in [run])."""
    kwargs = dict(spec.run)
    kwargs.setdefault("verbose", verbose)
    if spec.stopping:
        kwargs["stopping"] = spec.stopping
    if spec.search_budget is not None:
        kwargs["search_budget"] = spec.search_budget
    return kwargs


def run_spec(spec: Spec, verbose: int | bool | None = None) -> Any:
    """Build the search, import the train function, and run it; returns the search.

    Everything is checked before the first trial: the spec by
    :func:`load_spec`, the search by :func:`build_search`, the function by
    :func:`load_train_fn` and the run's arguments by ``search.run`` itself.
    ``verbose`` applies unless the spec's ``[run]`` sets it.
    """
    search = build_search(spec)
    train_fn = load_train_fn(spec)
    kwargs = run_kwargs(spec, verbose)
    n_jobs = kwargs.pop("n_jobs", 1)
    search.run(train_fn, n_jobs, **kwargs)
    return search
