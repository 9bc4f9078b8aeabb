"""The driver's lock on an experiment root: one search at a time.

The driver holds an exclusive ``flock`` on ``<root>/.hpcore.lock`` for as long
as it runs and writes its pid and host there. The kernel drops the lock when
the process dies however it dies (``kill -9`` included), so a dead driver
never blocks the next one. The file is opened close-on-exec: spawned workers
do not inherit the lock. Readers probe it with a shared lock, released at
once, to tell a live driver from a dead one.

An experiment root may have been copied or downloaded: the lock file is
opened without following a symbolic link and must be a regular file, so a
link planted there cannot make the driver truncate a file elsewhere, and a
FIFO cannot make a reader (``hpcore status``) wait for ever.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import stat
import time
from pathlib import Path
from typing import Any

from ..errors import HpcoreError

__all__ = ["LOCK_NAME", "StudyLockedError", "acquire_lock", "lock_held"]

LOCK_NAME = ".hpcore.lock"
# A reader probing the lock holds it for microseconds; a driver starting at
# that instant tries again this many times, _LOCK_RETRY_S apart, before it
# reports the study as locked.
_LOCK_RETRIES = 4
_LOCK_RETRY_S = 0.01


class StudyLockedError(HpcoreError):
    """Another live process holds the study lock of this experiment root.

    Attributes
    ----------
    root : str or None
        The experiment root.
    pid : int or None
        The holder's pid, as it wrote it in the lock file (``None`` if unknown).
    host : str or None
        The holder's host name.
    """

    def __init__(
        self,
        message: str,
        *,
        root: str | None = None,
        pid: int | None = None,
        host: str | None = None,
    ) -> None:
        super().__init__(message)
        self.root = root
        self.pid = pid
        self.host = host


# ---------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------


def acquire_lock(root: Path) -> Any:
    """Take the study lock of ``root``; the open lock file, to keep until the driver ends.

    Raises
    ------
    StudyLockedError
        Another live process holds it.
    """
    path = root / LOCK_NAME
    fd = _open(path, os.O_RDWR | os.O_CREAT)
    f = os.fdopen(fd, "r+b", buffering=0)
    try:
        for attempt in range(_LOCK_RETRIES + 1):
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == _LOCK_RETRIES:
                    raise _locked_error(root, f) from None
                time.sleep(_LOCK_RETRY_S * (attempt + 1))
        f.truncate(0)
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        f.write(json.dumps(holder).encode() + b"\n")
    except BaseException:
        f.close()
        raise
    return f


def _open(path: Path, flags: int) -> int:
    """Open the lock file, never through a link, never blocking, only a regular file."""
    try:
        fd = os.open(path, flags | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as exc:
        if os.path.islink(path):
            raise HpcoreError(
                f"{path} is a symbolic link (to {os.readlink(path)}); hpcore never writes "
                "through a link in an experiment root. Remove it (it holds nothing of the "
                "study's) and run again."
            ) from None
        raise exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise HpcoreError(
            f"{path} is not a regular file; hpcore keeps its lock there. Remove it (it holds "
            "nothing of the study's) and run again."
        )
    return fd


def _locked_error(root: Path, f: Any) -> StudyLockedError:
    f.seek(0)
    try:
        holder = json.loads(f.read() or b"{}")
    except ValueError:
        holder = {}
    pid, host = holder.get("pid"), holder.get("host")
    who = f"pid {pid} on host {host}" if pid is not None else "pid unknown"
    return StudyLockedError(
        f"another search ({who}) is running on {root}; wait for it to finish or use "
        "another experiment_root.",
        root=str(root),
        pid=pid,
        host=host,
    )


def lock_held(root: Path) -> bool:
    """Whether a live process holds the study lock of ``root`` (probed with a shared
    lock, released at once, so two readers never see each other as a driver)."""
    try:
        fd = _open(root / LOCK_NAME, os.O_RDONLY)
    except (OSError, HpcoreError):  # none, or a planted link or FIFO: not a driver's
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the probe's lock
    return False
