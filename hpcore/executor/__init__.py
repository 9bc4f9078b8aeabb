"""Executors: where trials run."""

from .base import Executor, TrialOutcome, TrialTask
from .dask import DaskExecutor  # imports dask only when one is made
from .local import LocalProcessExecutor
from .serial import SerialExecutor

__all__ = [
    "Executor",
    "TrialTask",
    "TrialOutcome",
    "SerialExecutor",
    "LocalProcessExecutor",
    "DaskExecutor",
]
