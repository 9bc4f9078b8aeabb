"""What identifies a study (:class:`StudyInfo`) and how a resumed one may differ from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from .rows import _dumps, _loads

__all__ = ["StudyInfo", "StudyMismatchError", "describe_differences", "describe_objectives",
           "resumable_differences", "same_setting"]


class StudyMismatchError(ConfigError):
    """The study stored under an experiment root is not the one being resumed:
    its search space, metric or mode differs."""


@dataclass
class StudyInfo:
    """What identifies a study, stored once when it is created.

    Attributes
    ----------
    name : str
        A label for people (the experiment's name).
    strategy : str
        The search class, e.g. ``"BayesianSearch"``.
    settings : dict
        JSON-able settings of the strategy (``n_initial_points``, ...).
    seed : int or None
        The search's random state.
    metric : str or None
        The metric optimised.
    mode : str
        ``"min"`` or ``"max"``.
    base_config : object
        The base config, JSON-able (converted by the caller).
    space : dict
        A JSON-able description of the search space.
    space_fingerprint : str
        :meth:`hpcore.space.SearchSpace.fingerprint` of the space.
    created : float
        Unix time of creation, filled by :meth:`Storage.create_study`.
    objectives : dict or None
        :meth:`hpcore.objectives.Objectives.to_json`: the metrics and modes
        of several objectives and the constraints; ``None`` for one
        objective without constraints (then ``metric`` and ``mode`` say all).
    """

    name: str
    strategy: str
    settings: dict[str, Any]
    seed: int | None
    metric: str | None
    mode: str
    base_config: Any
    space: dict[str, Any]
    space_fingerprint: str
    created: float = 0.0
    objectives: dict[str, Any] | None = None


def describe_objectives(info: StudyInfo) -> str:
    """``'val_loss (min), latency_ms (min); subject to mem <= 16'`` for a study."""
    if info.objectives is None:
        return f"{info.metric or 'value'} ({info.mode})"
    o = info.objectives
    what = ", ".join(f"{m} ({mode})" for m, mode in zip(o["metrics"], o["modes"]))
    return what + ("; subject to " + ", ".join(o["constraints"]) if o.get("constraints") else "")


def _short(v: Any, limit: int = 60) -> str:
    r = repr(v)
    return r if len(r) <= limit else r[: limit - 3] + "..."


def describe_differences(old: Any, new: Any, prefix: str = "", limit: int = 8) -> list[str]:
    """Human-readable differences between two JSON-like values, by dotted key."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in list(old) + [k for k in new if k not in old]:
            key = f"{prefix}.{k}" if prefix else str(k)
            if k not in new:
                out.append(f"{key} removed (was {_short(old[k])})")
            elif k not in old:
                out.append(f"{key} added ({_short(new[k])})")
            else:
                out.extend(describe_differences(old[k], new[k], key, limit))
            if len(out) >= limit:
                return out[:limit] + ["..."]
        return out
    if same_setting(old, new):
        return []
    return [f"{prefix or 'value'}: {_short(old)} -> {_short(new)}"]


def same_setting(a: Any, b: Any) -> bool:
    """Equality that holds NaN equal to NaN (for comparing stored settings)."""
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same_setting(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_setting(a[k], b[k]) for k in a)
    return bool(a == b)


def resumable_differences(old: StudyInfo, info: StudyInfo, root: Any, n: int) -> list[str]:
    """How ``info`` differs from the stored study ``old`` (of ``n`` trials, under ``root``),
    one readable line per allowed difference (see :meth:`Storage.check_study`).

    Raises
    ------
    StudyMismatchError
        If the space, the metric, the mode or the objectives differ.
    """
    errors: list[str] = []
    if old.space_fingerprint != info.space_fingerprint:
        what = describe_differences(old.space, _loads(_dumps(info.space)))
        errors.append(
            f"the search space differs (fingerprint {old.space_fingerprint} -> "
            f"{info.space_fingerprint}" + (f": {'; '.join(what)})" if what else ")")
        )
    if old.metric != info.metric:
        errors.append(f"the metric differs ({old.metric!r} -> {info.metric!r})")
    if old.mode != info.mode:
        errors.append(f"the mode differs ({old.mode!r} -> {info.mode!r})")
    if not errors and not same_setting(old.objectives, _loads(_dumps(info.objectives))):
        errors.append(
            f"the objectives differ ({describe_objectives(old)} -> {describe_objectives(info)})"
        )
    if errors:
        raise StudyMismatchError(
            f"the study stored in {root} does not match this search: "
            f"{'; '.join(errors)}. Its {n} trial(s) cannot be resumed: pass resume=False "
            "to discard the stored trials, or use a new experiment_root."
        )
    allowed: list[str] = []
    told = f"the {n} stored trial(s) are told to the new strategy"
    if old.strategy != info.strategy:
        allowed.append(f"strategy changed ({old.strategy} -> {info.strategy}); {told}")
    settings = describe_differences(old.settings, _loads(_dumps(info.settings)))
    if settings:
        allowed.append(f"strategy settings changed ({'; '.join(settings)}); {told}")
    if not same_setting(old.seed, _loads(_dumps(info.seed))):
        allowed.append(f"seed changed ({old.seed!r} -> {info.seed!r})")
    base = describe_differences(old.base_config, _loads(_dumps(info.base_config)))
    if base:
        allowed.append(
            f"base_config changed ({'; '.join(base)}); the stored trials ran with the old one"
        )
    if old.name != info.name:
        allowed.append(f"name changed ({old.name!r} -> {info.name!r})")
    return allowed
