"""Executors: where trials run."""

from .base import Executor, TrialOutcome, TrialTask
from .local import LocalProcessExecutor
from .serial import SerialExecutor

__all__ = ["Executor", "TrialTask", "TrialOutcome", "SerialExecutor", "LocalProcessExecutor"]
