"""A train function whose module takes seconds to import (like one that imports torch).

A process that unpickles :func:`quick` imports this module first and
sleeps :data:`IMPORT_SECONDS`; the function itself returns at once. The
executors must not charge that start-up to the trial's ``trial_timeout``.
"""

from __future__ import annotations

import time

IMPORT_SECONDS = 4.0

time.sleep(IMPORT_SECONDS)


def quick(config):
    """Returns ``x`` at once."""
    return config["x"]
