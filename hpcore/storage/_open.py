"""Opening the database file of an experiment root, whatever the root holds.

An experiment root may be shared, copied, downloaded, half-restored or on a
read-only mount. :class:`~hpcore.storage.Storage` opens its ``hpcore.db``
through the functions here, so that:

* a root that is a file, or a ``hpcore.db`` that is a symbolic link, is
  refused before anything is written (a link would make the driver write
  the database, and SQLite its ``-wal`` file, wherever it points);
* a new database appears complete or not at all: it is built under a
  temporary name and published with one ``link``, so a reader
  (``hpcore status``, ``hpcore.load``) never meets an empty one;
* a reader creates no file: a study no driver is writing is opened
  ``immutable`` (SQLite then makes no ``-wal`` or ``-shm`` beside it), which
  is also how a study on a read-only file system can be read at all;
* a damaged file (garbage, a truncated copy) is one clear
  :class:`StudyDamagedError` naming the file, not a bare ``sqlite3`` error.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import HpcoreError
from .lock import lock_held

__all__ = ["StudyDamagedError", "check_root", "create_database", "reader_uri", "damaged_errors"]


class StudyDamagedError(HpcoreError):
    """The study database is damaged or is not an hpcore database."""


def check_root(root: Path, db: Path, writing: bool) -> None:
    """Refuse a root that is not a folder, and (``writing``) a database that is a link."""
    if root.exists() and not root.is_dir():
        raise HpcoreError(
            f"experiment root {str(root)!r} is a file, not a folder: give the folder of a "
            "search (or a new path for a new one)."
        )
    if writing and db.is_symlink():
        raise HpcoreError(
            f"{str(db)!r} is a symbolic link (to {os.readlink(db)}); hpcore never writes "
            "through a link in an experiment root. Put the database itself there (copy it "
            "in place of the link) or use another experiment_root."
        )
    for side in (db.with_name(db.name + s) for s in ("-wal", "-shm", "-journal")):
        # SQLite writes these beside the database, through a link as readily as not.
        try:
            mode = os.lstat(side).st_mode  # once: a driver may remove it at any moment
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(mode):
            what = "a symbolic link" if stat.S_ISLNK(mode) else "not a file"
            raise HpcoreError(
                f"{str(side)!r} is {what}; SQLite would write through it. Remove it (a "
                "study's side files are rebuilt from the database) and run again."
            )


def create_database(db: Path, schema: Iterable[str]) -> None:
    """Create ``db`` with ``schema`` unless it exists: built aside, then published whole."""
    if db.exists():
        return
    tmp = db.with_name(f".{db.name}.{os.getpid()}.new")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for statement in schema:
            conn.execute(statement)
        conn.execute("COMMIT")
    finally:
        conn.close()
    try:
        os.link(tmp, db)  # never replaces: a database another process published wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def reader_uri(db: Path, root: Path) -> str:
    """The URI a reader opens ``db`` with: ``immutable`` when no driver can be writing it.

    With no ``-wal`` file and no live driver (or a read-only file system), the
    file is as the last driver left it: ``immutable=1`` reads it creating
    nothing. Otherwise a driver's ``-wal`` and ``-shm`` exist already and
    ``mode=ro`` reads through them.
    """
    uri = db.absolute().as_uri() + "?mode=ro"
    wal = db.with_name(db.name + "-wal")
    if not wal.exists() and (_read_only_fs(root) or not lock_held(root)):
        uri += "&immutable=1"
    return uri


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _is_damage(exc: BaseException) -> bool:
    # OperationalError (locked, busy, cannot open) and IntegrityError are not damage.
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(
        exc, (sqlite3.OperationalError, sqlite3.IntegrityError, sqlite3.ProgrammingError)
    )


@contextlib.contextmanager
def damaged_errors(db: Path) -> Iterator[None]:
    """Turn SQLite's "not a database" and "malformed" into a :class:`StudyDamagedError`."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if not _is_damage(exc):
            raise
        raise StudyDamagedError(
            f"{str(db)!r} is damaged or is not an hpcore database (SQLite: {exc}). Restore "
            "it from a backup (the trial folders beside it are untouched), or move it away "
            "and run the search with resume=False to start a new study there."
        ) from None
