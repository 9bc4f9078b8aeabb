"""Re-export of :mod:`hpcore.bindings.mlflow` (the documented import name)."""

from hpcore.bindings.mlflow import MLflowTracker, SearchCallback

__all__ = ["MLflowTracker", "SearchCallback"]
