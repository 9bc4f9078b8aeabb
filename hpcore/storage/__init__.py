"""Everything a study keeps on disk under its experiment root.

* :mod:`.database`: the SQLite study store (``hpcore.db``): the study, its
  trials and their reports; :mod:`.rows` how records become rows and back,
  :mod:`.info` what identifies a study, :mod:`.lock` the driver's lock,
  :mod:`._open` how the file is opened whatever the root holds (links,
  damage, read-only mounts);
* :mod:`.folders`: the trial folders and the ``best`` link;
* :mod:`.study`: reading a stored study back (:func:`load`).

Models are saved and loaded by :func:`save_model` and :func:`load_model`
(defined in :mod:`hpcore._io`, which trial processes use too).
"""

from .._io import MODEL_PICKLE, MODEL_TORCH, load_model, save_model
from ._open import StudyDamagedError
from .database import DB_NAME, Storage
from .folders import Tracker
from .info import StudyInfo, StudyMismatchError
from .lock import LOCK_NAME, StudyLockedError
from .rows import SCHEMA_VERSION
from .study import StudyResults, load

__all__ = [
    "DB_NAME",
    "LOCK_NAME",
    "SCHEMA_VERSION",
    "MODEL_PICKLE",
    "MODEL_TORCH",
    "Storage",
    "StudyInfo",
    "StudyDamagedError",
    "StudyLockedError",
    "StudyMismatchError",
    "StudyResults",
    "Tracker",
    "load",
    "load_model",
    "save_model",
]
