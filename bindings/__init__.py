"""hpcore inside other HPO tools, under a name that cannot clash: ``hpcore.bindings``.

``hpcore.bindings.optuna``
    :class:`~hpcore.bindings.optuna.HpcoreSampler`, an Optuna sampler
    (``pip install "hpcore[optuna]"``).
``hpcore.bindings.ray``
    :class:`~hpcore.bindings.ray.HpcoreSearcher`, a Ray Tune searcher
    (``pip install "hpcore[ray]"``).
``hpcore.bindings.mlflow``
    :class:`~hpcore.bindings.mlflow.MLflowTracker`, logs a search to MLflow
    (``pip install "hpcore[mlflow]"``).

Each adapter uses only hpcore's public API and imports its tool when the
adapter module is imported, never when ``hpcore`` or ``hpcore.bindings`` is:
``hpcore.bindings.HpcoreSampler`` loads Optuna on first access, and
neither Ray nor MLflow. The top-level ``bindings`` package re-exports the
same objects (the layout of the design card); the documented import is
this one.
"""

from __future__ import annotations

__all__ = ["HpcoreSampler", "HpcoreSearcher", "MLflowTracker"]

_LAZY = {
    "HpcoreSampler": "hpcore.bindings.optuna",
    "HpcoreSearcher": "hpcore.bindings.ray",
    "MLflowTracker": "hpcore.bindings.mlflow",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
