"""Re-export of :mod:`hpcore.bindings.ray` (the documented import name)."""

from hpcore.bindings.ray import HpcoreSearcher, convert_ray_space

__all__ = ["HpcoreSearcher", "convert_ray_space"]
