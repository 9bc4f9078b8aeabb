"""Trials on a Dask cluster: the driver's side (:mod:`.client`) and the worker's (:mod:`.worker`).

Importing this package loads no Dask: :class:`DaskExecutor` imports
``distributed`` when one is made.
"""

from .client import DaskExecutor

__all__ = ["DaskExecutor"]
