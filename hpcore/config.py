"""Dotted keys into a nested base config.

A trial's config is a deep copy of ``base_config`` with the trial's values
set at dotted keys: ``'training.lr'`` sets ``config['training']['lr']`` in a
mapping, or ``config.training.lr`` in a dataclass. Mappings and dataclasses
nest freely; the base is never mutated.

A key that passes through a value that is neither (``'training.lr.x'``
where ``lr`` is a float) is a :class:`~hpcore.errors.ConfigError`. A missing
field of a dataclass is always an error, since a dataclass lists its fields
and a new one would be a typo. A key missing from a mapping is refused
before any trial runs by :func:`check_config_keys` (with a did-you-mean),
unless the search was told ``allow_new_keys=True`` or the key goes into an
empty mapping (an empty base config, or an empty section such as
``{'model': {}}``, is there to be filled by the search); :func:`apply_params`
itself creates it (as a new ``dict`` for intermediate levels).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from .errors import ConfigError, did_you_mean

__all__ = ["apply_params", "get_path", "has_path", "check_config_keys", "flatten_config"]


def _is_dataclass_instance(obj: Any) -> bool:
    return dataclasses.is_dataclass(obj) and not isinstance(obj, type)


def _describe(obj: Any) -> str:
    return f"{type(obj).__name__} {obj!r}" if len(repr(obj)) < 60 else type(obj).__name__


def _set(node: Any, key: str, parts: list[str], depth: int, value: Any) -> Any:
    """Set ``value`` at ``parts[depth:]`` inside ``node`` (already a private copy)."""
    part = parts[depth]
    last = depth == len(parts) - 1
    where = ".".join(parts[:depth]) or "base_config"
    if isinstance(node, Mapping):
        if not isinstance(node, MutableMapping):
            node = dict(node)
        child = value if last else _set(node.get(part, {}), key, parts, depth + 1, value)
        node[part] = child
        return node
    if _is_dataclass_instance(node):
        names = {f.name for f in dataclasses.fields(node)}
        if part not in names:
            raise ConfigError(
                f"key '{key}': dataclass {type(node).__name__} at '{where}' has no field "
                f"'{part}' (fields: {sorted(names)}). Check the spelling of the key."
            )
        child = value if last else _set(getattr(node, part), key, parts, depth + 1, value)
        object.__setattr__(node, part, child)  # also works on frozen dataclasses
        return node
    raise ConfigError(
        f"key '{key}': '{where}' is a {_describe(node)}, not a mapping or dataclass, so "
        f"'{part}' cannot be set inside it. Fix the key or make '{where}' a dict."
    )


def apply_params(base_config: Any, params: Mapping[str, Any]) -> Any:
    """Return a deep copy of ``base_config`` with ``params`` set at their dotted keys.

    Parameters
    ----------
    base_config : mapping, dataclass or None
        The nested config; ``None`` means an empty dict.
    params : mapping
        Dotted keys to values, e.g. ``{'training.lr': 1e-3}``.

    Returns
    -------
    The new config, of the same type as ``base_config``.

    Raises
    ------
    ConfigError
        If a key passes through a value that is not a mapping or dataclass,
        or names a field a dataclass does not have.
    """
    if base_config is None:
        base_config = {}
    elif isinstance(base_config, Mapping) and not isinstance(base_config, MutableMapping):
        base_config = dict(base_config)  # read-only mappings (MappingProxyType) cannot be copied
    config: Any = copy.deepcopy(base_config)
    if not isinstance(config, Mapping) and not _is_dataclass_instance(config):
        raise ConfigError(
            f"base_config must be a dict (or another mapping) or a dataclass instance, got "
            f"{type(base_config).__name__}."
        )
    for key, value in params.items():
        config = _set(config, key, key.split("."), 0, copy.deepcopy(value))
    return config


def get_path(config: Any, key: str) -> Any:
    """Read the value at a dotted key of a nested mapping/dataclass config."""
    node = config
    for part in key.split("."):
        node = node[part] if isinstance(node, Mapping) else getattr(node, part)
    return node


def check_config_keys(
    base_config: Any, params: Mapping[str, Any], allow_new_keys: bool = False
) -> None:
    """Raise ``ConfigError`` now if ``params`` cannot be applied to ``base_config``.

    Used before the first trial, with any one point of the space, so that a
    bad key fails the search before anything runs. A key that is not in
    ``base_config`` is refused, with the closest existing key, unless
    ``allow_new_keys``: a typo (``'train.lrr'`` for ``'training.lr'``) would
    otherwise search nothing, every trial running the base value. An empty
    mapping, the whole config or one section of it, takes any key.
    """
    apply_params(base_config, params)
    if allow_new_keys or base_config is None:
        return
    new = [key for key in params if not has_path(base_config, key)]
    if new:
        known = [k for k, _ in flatten_config(base_config)]
        lines = "\n".join(f"  - '{k}': {did_you_mean(k, known)}" for k in new)
        raise ConfigError(
            f"{len(new)} searched key{'s are' if len(new) > 1 else ' is'} not in base_config:"
            f"\n{lines}\nFix the spelling, or pass allow_new_keys=True to the search (in a "
            f"spec file: allow_new_keys = true in [options]) to add new keys on purpose."
        )


def has_path(config: Any, key: str) -> bool:
    """Whether the dotted ``key`` names a value of ``config``, or a place in an empty
    mapping of it (a section left empty for the search to fill)."""
    node = config
    for part in key.split("."):
        if isinstance(node, Mapping):
            if not node:
                return True
            if part not in node:
                return False
            node = node[part]
        elif _is_dataclass_instance(node) and part in {f.name for f in dataclasses.fields(node)}:
            node = getattr(node, part)
        else:
            return False
    return True


def flatten_config(config: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    """Yield ``(dotted_key, leaf)`` pairs of a nested mapping/dataclass config."""
    if isinstance(config, Mapping):
        items: Iterable[tuple[Any, Any]] = config.items()
    elif _is_dataclass_instance(config):
        items = ((f.name, getattr(config, f.name)) for f in dataclasses.fields(config))
    else:
        yield prefix.rstrip("."), config
        return
    for k, v in items:
        yield from flatten_config(v, f"{prefix}{k}.")
