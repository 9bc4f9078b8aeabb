"""Re-export of :mod:`hpcore.bindings.optuna` (the documented import name)."""

from hpcore.bindings.optuna import RELATIVE_PARAMS_KEY, HpcoreSampler

__all__ = ["HpcoreSampler", "RELATIVE_PARAMS_KEY"]
