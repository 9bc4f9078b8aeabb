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

    [[enqueue]]                    # known configurations, run first (any number of them)
    "training.lr" = 1e-3
    "model.activation" = "gelu"    # keys left out come from the strategy

:func:`load_spec` reads and checks a file into a :class:`Spec`;
:func:`build_search` makes the search object; :func:`load_train_fn` imports
the train function (the current directory goes first on ``sys.path``, and
spawned workers inherit it); :func:`run_spec` does all three and runs.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ArgumentError, ConfigError, HpcoreError
from ..objectives import Objectives
from ..space import Dimension
from ..stopping import SearchBudget, StoppingRule
from .spec_sections import (
    _RUN_KEYS,
    STOPPING_RULES,
    _is_int,
    _parse_budget,
    _parse_enqueue,
    _parse_run,
    _parse_space,
    _parse_stopping,
    _table,
    _unknown,
)

__all__ = ["Spec", "SpecError", "load_spec", "parse_spec", "build_search", "load_train_fn",
           "run_spec", "SEARCHES", "STOPPING_RULES"]


class SpecError(ConfigError):
    """A spec file is missing, unreadable or wrong; the message lists every problem."""


#: Spec names of the search classes (``search = "..."``).
SEARCHES = ("grid", "random", "bayesian", "hyperband")

_TOP = ("search", "train", "metric", "mode", "constraints", "n_trials", "seed", "enqueue")
_TABLES = ("options", "base_config", "space", "run", "stopping", "search_budget")

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
    metric, mode, constraints, n_trials, seed
        As for the search classes (``seed`` is ``random_state``): ``metric``
        and ``mode`` may be lists (several objectives, docs/objectives.md),
        ``constraints`` a list of ``"metric <= bound"`` strings.
    options : dict
        The search class's own arguments (``n_initial_points``, ``shuffle``...).
    base_config : dict
    space : dict of str to Dimension
        By dotted key.
    run : dict
        Keyword arguments of ``search.run`` (``n_jobs``, ``experiment_root``...).
    stopping : list of StoppingRule
    search_budget : SearchBudget or None
    enqueue : list of dict
        Configurations to run first (``search.enqueue``), by dotted key.
    """

    path: Path | None
    search: str
    train: str
    metric: str | list[str] | None = None
    mode: str | list[str] = "min"
    n_trials: int | None = None
    seed: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    constraints: list[str] = field(default_factory=list)
    base_config: dict[str, Any] = field(default_factory=dict)
    space: dict[str, Dimension] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    stopping: list[StoppingRule] = field(default_factory=list)
    search_budget: SearchBudget | None = None
    enqueue: list[dict[str, Any]] = field(default_factory=list)

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
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start}); save the spec as UTF-8."
        ) from None
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
    mode = data.get("mode", "min")
    constraints = data.get("constraints")
    if isinstance(metric, list) or isinstance(mode, list) or constraints is not None:
        try:  # several objectives or constraints: the searches' own check
            Objectives.of(metric, mode, constraints)
        except ArgumentError as exc:
            errors.append(f"metric, mode, constraints: {exc}")
    else:
        if metric is not None and not isinstance(metric, str):
            errors.append(
                f"metric: must be the name of a returned value (a string), got {metric!r}."
            )
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
    n_errors = len(errors)
    space = _parse_space(data.get("space"), errors)
    enqueue = _parse_enqueue(data.get("enqueue"), space if len(errors) == n_errors else None,
                             errors, _not_enqueueable(search_name, options))
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
        constraints=list(constraints or ()),
        n_trials=None if n_trials is None else int(n_trials),
        seed=None if seed is None else int(seed),
        options=dict(options),
        base_config=dict(base_config),
        space=space,
        run=run,
        stopping=stopping,
        search_budget=budget,
        enqueue=enqueue,
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


def _not_enqueueable(search: str | None, options: Mapping[str, Any]) -> dict[str, str]:
    """Keys the search sets itself (Hyperband's ``resource_key``), with why."""
    key = options.get("resource_key")
    if search != "hyperband" or not isinstance(key, str):
        return {}
    from ..search.hyperband import not_enqueueable

    return not_enqueueable(key)


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
    if spec.constraints:
        kwargs["constraints"] = spec.constraints
    if spec.n_trials is not None:
        kwargs["n_trials"] = spec.n_trials
    try:
        search = cls(**kwargs)
        if spec.enqueue:
            search.enqueue(spec.enqueue)
        return search
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
