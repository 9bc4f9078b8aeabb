"""The SQLite study store: recording a finished trial, and reading a study back.

Trials are those of ``benchmarks/storage_overhead.py`` (the script behind
the storage numbers in ``docs/benchmarks.md``): 10 parameters of mixed
types and 100 reports (step, value, time and one more metric), as a trial
of a 100-epoch training run would have.
"""

import os
import shutil
import tempfile

from benchmarks.storage_overhead import make_trial
from hpcore.storage import DB_NAME, Storage

N_PARAMS = 10
N_REPORTS = 100
#: Trials in the study that is read back.
N_STUDY = 1000


class FinishTrial:
    """``Storage.finish_trial`` of one started trial: one transaction that writes the
    trial's row and its 100 reports (``synchronous=NORMAL``: no fsync).

    ``setup`` makes a fresh store in a temporary folder and starts the
    trial; the store is removed after each call.
    """

    number = 1  # each call needs a started, unfinished trial

    def setup(self):
        self.dir = tempfile.mkdtemp(prefix="hpcore-bench-storage-")
        self.storage = Storage(self.dir)
        self.trial = make_trial(0, N_PARAMS, N_REPORTS)
        self.storage.start_trial(self.trial.trial_id, self.trial.params, self.trial.start)

    def teardown(self):
        self.storage.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def time_finish_trial(self):
        self.storage.finish_trial(self.trial)


class _Study:
    """Base of the benchmarks on a stored study of ``N_STUDY`` finished trials.

    ``setup_cache`` builds the study once per asv run, in asv's cache
    folder (the subclasses share it: asv keys it by its source line).
    """

    timeout = 120

    def setup_cache(self):
        root = os.path.abspath("study")
        with Storage(root) as s:
            for i in range(N_STUDY):
                t = make_trial(i, N_PARAMS, N_REPORTS)
                s.start_trial(t.trial_id, t.params, t.start)
                s.finish_trial(t)
        return root

    setup_cache.timeout = 300


class ReadStudy(_Study):
    """Opening the study and reading every trial back, with its reports or without.

    What a resumed search does before its first new trial: open the store
    as the driver (study lock, WAL, schema check) and load every trial.
    """

    params = [True, False]
    param_names = ["with_reports"]

    def time_open_and_read(self, root, with_reports):
        with Storage(root) as s:
            s.trials(with_reports=with_reports)

    def peakmem_open_and_read(self, root, with_reports):
        with Storage(root) as s:
            s.trials(with_reports=with_reports)


class StudySize(_Study):
    """The size of the stored study."""

    def track_study_mib(self, root):
        """Size of ``hpcore.db`` holding the study: deterministic, it changes with the schema."""
        return os.path.getsize(os.path.join(root, DB_NAME)) / 2**20

    track_study_mib.unit = "MiB"
