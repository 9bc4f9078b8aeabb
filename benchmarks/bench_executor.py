"""Execution overhead: a whole ``RandomSearch.run`` of no-op trials, serial and on workers.

``train_fn`` returns at once, so everything timed is hpcore's own cost:
suggesting, building each trial's config, shipping the trial to a worker
and its result back, recording, telling the strategy. Nothing is stored
(no ``experiment_root``); ``bench_storage`` times the SQLite store.

**The worker start is inside the timing.** ``run(n_jobs=2)`` builds a
:class:`~hpcore.executor.LocalProcessExecutor` and spawns its two workers
(fresh interpreters that import hpcore and unpickle ``train_fn``) inside
``run``, and shuts them down before it returns; that is what a user's
``run`` pays. The per-trial cost without the start is the difference of
the two trial counts: ``(t(100) - t(10)) / 90``. ``n_jobs=1`` runs trials
in the driver (the serial executor): no processes at all.

``benchmarks/overhead_local.py`` sets these beside Optuna and a bare
process pool.
"""

import os
import sys

from hpcore import RandomSearch
from hpcore.space import Real

#: The folder that holds the ``benchmarks`` package.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def noop(config):
    """The trial: returns at once (module level, so workers can unpickle it)."""
    return config["x"]


class RunNoop:
    """``RandomSearch.run`` of ``n_trials`` no-op trials with ``n_jobs`` trials at once."""

    params = ([1, 2], [10, 100])
    param_names = ["n_jobs", "n_trials"]
    number = 1  # a search object is run once: setup makes a fresh one per call
    timeout = 120

    def setup(self, n_jobs, n_trials):
        # asv imports this module with an import hook, not through sys.path, so a
        # spawned worker (which starts with the driver's sys.path) could not unpickle
        # `noop`, pickled by reference as a user's train_fn in their own module is.
        self._sys_path = list(sys.path)
        sys.path.insert(0, _ROOT)
        self.search = RandomSearch({}, {"x": Real(0.0, 1.0)}, n_trials=n_trials, random_state=0)

    def teardown(self, n_jobs, n_trials):
        sys.path[:] = self._sys_path

    def time_run(self, n_jobs, n_trials):
        self.search.run(noop, n_jobs=n_jobs, verbose=0)
