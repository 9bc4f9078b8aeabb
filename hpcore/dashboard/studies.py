"""Finding the studies under the dashboard's roots, and one feed per study.

A root is an experiment root (it holds ``hpcore.db``) or a folder of them:
studies are looked for down to :data:`MAX_DEPTH` folders below it, never
through a symbolic link (a link could lead anywhere on the machine) and
never into a study's own ``trials/`` folder. Each study is known to pages by
an opaque id (a hash of its path): no path from a URL reaches the file
system.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

from ..storage import DB_NAME
from .feed import StudyFeed

__all__ = ["Studies", "find_studies", "MAX_DEPTH"]

MAX_DEPTH = 3
_RESCAN_S = 2.0  # how often the roots are looked through again for new studies


def find_studies(roots: list[Path], max_depth: int = MAX_DEPTH) -> list[Path]:
    """Every experiment root at or below ``roots`` (depth-limited, links not followed)."""
    found: list[Path] = []
    for root in roots:
        _walk(root, max_depth, found)
    return found


def _walk(folder: Path, depth: int, found: list[Path]) -> None:
    db = folder / DB_NAME
    if db.is_file() and not db.is_symlink():
        found.append(folder)
        return  # a study's subfolders are its trials and its outputs
    if depth <= 0:
        return
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:  # unreadable, vanished, not a folder
        return
    for e in entries:
        if e.is_dir(follow_symlinks=False) and not e.name.startswith("."):
            _walk(Path(e.path), depth - 1, found)


def study_id(path: Path) -> str:
    """The opaque id pages use for the study at ``path``."""
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]


class Studies:
    """The studies under the dashboard's roots, found again every few seconds."""

    def __init__(self, roots: list[str | os.PathLike[str]]) -> None:
        self.roots = [Path(r).absolute() for r in roots]
        for r in self.roots:
            if not r.is_dir():
                raise FileNotFoundError(
                    f"dashboard root {str(r)!r} is not a folder: give experiment roots "
                    "(or folders holding them)."
                )
        self._feeds: dict[str, StudyFeed] = {}
        self._paths: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._scanned = -float("inf")

    def scan(self, force: bool = False) -> None:
        """Look for studies again (at most every few seconds unless ``force``)."""
        with self._lock:
            if not force and time.monotonic() - self._scanned < _RESCAN_S:
                return
            self._scanned = time.monotonic()
            for path in find_studies(self.roots):
                sid = study_id(path)
                if sid not in self._feeds:
                    self._paths[sid] = path
                    self._feeds[sid] = StudyFeed(path, sid, self._label(path))

    def ids(self) -> list[str]:
        self.scan()
        with self._lock:
            return list(self._feeds)

    def feed(self, sid: str) -> StudyFeed | None:
        """The study's feed, or None for an id no root holds."""
        self.scan()
        with self._lock:
            return self._feeds.get(sid)

    def label(self, sid: str) -> str:
        """The study's folder as people read it: relative to its root where it can be."""
        return self._label(self._paths[sid])

    def _label(self, path: Path) -> str:
        for root in self.roots:
            try:
                rel = path.relative_to(root)
            except ValueError:
                continue
            return str(Path(root.name) / rel) if str(rel) != "." else root.name
        return str(path)
