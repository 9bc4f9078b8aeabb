"""Executors: where trials run."""

from ._run import Job, Objective, run_trial
from .base import Executor
from .dask import DaskExecutor  # imports dask only when one is made
from .local import LocalProcessExecutor
from .serial import SerialExecutor

__all__ = [
    "Executor",
    "Objective",
    "Job",
    "run_trial",
    "SerialExecutor",
    "LocalProcessExecutor",
    "DaskExecutor",
]
