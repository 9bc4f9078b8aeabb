"""A train function whose module never finishes importing in a worker process.

In the test process it imports at once; in an hpcore worker (process name
``hpcore-worker``) the import sleeps for ten minutes, like a worker stuck
starting up. If ``HANGS_ON_IMPORT_MARKERS`` names a folder, a SIGTERM that
reaches such a worker leaves a file ``sigterm-<pid>`` there before it exits.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time


def _on_sigterm(signum, frame):
    folder = os.environ.get("HANGS_ON_IMPORT_MARKERS")
    if folder:
        open(os.path.join(folder, f"sigterm-{os.getpid()}"), "w").close()
    os._exit(0)


if multiprocessing.current_process().name == "hpcore-worker":
    signal.signal(signal.SIGTERM, _on_sigterm)
    time.sleep(600)


def quick(config):
    """Returns ``x`` at once (never reached in a worker)."""
    return config["x"]
