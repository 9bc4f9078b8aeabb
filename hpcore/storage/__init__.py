"""Everything a study keeps on disk under its experiment root.

* :mod:`.database`: the SQLite study store (``hpcore.db``): the study, its
  trials and their reports, the driver's lock;
* :mod:`.folders`: the trial folders and the ``best`` link;
* :mod:`.study`: reading a stored study back (:func:`load`).

Models are saved and loaded by :func:`save_model` and :func:`load_model`
(defined in :mod:`hpcore._io`, which trial processes use too).
"""

from .._io import MODEL_PICKLE, MODEL_TORCH, load_model, save_model
from .database import (
    DB_NAME,
    LOCK_NAME,
    SCHEMA_VERSION,
    Storage,
    StudyInfo,
    StudyLockedError,
    StudyMismatchError,
)
from .folders import Tracker
from .study import StudyResults, load

__all__ = [
    "DB_NAME",
    "LOCK_NAME",
    "SCHEMA_VERSION",
    "MODEL_PICKLE",
    "MODEL_TORCH",
    "Storage",
    "StudyInfo",
    "StudyLockedError",
    "StudyMismatchError",
    "StudyResults",
    "Tracker",
    "load",
    "load_model",
    "save_model",
]
