"""The embedded SQLite store of a study: ``<experiment_root>/hpcore.db``.

One study lives under one root. The driver (the process running the search)
opens :class:`Storage` with the study lock and records each trial as it
starts and as it ends, every change in one transaction, so a driver killed at
any moment leaves a consistent database: SQLite's write-ahead log either has
a transaction's commit record or ignores the whole transaction. Readers
(``hpcore.load``, the command line) open it ``readonly`` while a driver runs.

Files under the root
--------------------
``hpcore.db`` (with ``hpcore.db-wal`` and ``hpcore.db-shm`` while open)
    Tables ``study`` (one row), ``trials``, ``reports`` (the curve each trial
    reported, indexed by ``trial_id``) and ``meta`` (key/value for the
    driver); ``PRAGMA user_version`` is the schema version.
``.hpcore.lock``
    ``flock``-ed by the driver for as long as it runs, holding its pid and
    host. The kernel drops the lock when the process dies however it dies
    (``kill -9`` included), so a dead driver never blocks the next one. The
    file is opened close-on-exec: spawned workers do not inherit the lock,
    but a child made by a bare ``fork()`` would hold it as long as it lives.

Durability
----------
WAL with ``synchronous=NORMAL``: a committed transaction survives the
death of the process, ``kill -9`` included (the failure that matters for a
search); a power cut or an OS crash may lose the last few commits, never
the consistency of the file, and lost trials are simply run again on
resume. ``FULL`` would fsync the log at every commit: in
``benchmarks/storage_overhead.py`` on a 2-core VM's ext4 it took a trial's
record (start + finish, 100 reports) from 0.43 to 0.83 ms, and an fsync
costs far more on spinning or network disks, for no gain against a crash
of the process.

How records and values become rows: :mod:`.rows`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import HpcoreError
from ..trial import FrozenTrial, TrialState, best_of
from ._open import StudyDamagedError, check_root, create_database, damaged_errors, reader_uri
from .info import StudyInfo, StudyMismatchError, describe_objectives, resumable_differences
from .lock import LOCK_NAME, StudyLockedError, acquire_lock, lock_held
from .rows import (
    _INSERT_REPORT,
    _MIGRATE_1,
    _SCHEMA,
    _START_TRIAL,
    _TRIAL_COLS,
    _TRIAL_COLS_1,
    _UPSERT_TRIAL,
    SCHEMA_VERSION,
    _dumps,
    _loads,
    _real,
    _report,
    _report_row,
    _text,
    _trial,
)

__all__ = [
    "DB_NAME",
    "LOCK_NAME",
    "SCHEMA_VERSION",
    "Storage",
    "StudyDamagedError",
    "StudyInfo",
    "StudyLockedError",
    "StudyMismatchError",
]

DB_NAME = "hpcore.db"

_BUSY_TIMEOUT_S = 10.0
class Storage:
    """The SQLite store of the study under ``root``.

    Parameters
    ----------
    root : str or os.PathLike
        The experiment root. Created if needed (not when ``readonly``).
    lock : bool, default True
        Take the study lock (the driver does): an exclusive, non-blocking
        ``flock`` on ``<root>/.hpcore.lock``, held until :meth:`close`.
        Ignored when ``readonly``.
    readonly : bool, default False
        Open the database read-only and take no lock (``hpcore.load``, the
        command line). A driver may be writing at the same time; each read
        sees one consistent snapshot.

    Raises
    ------
    StudyLockedError
        If another live process holds the lock (``lock=True``).
    FileNotFoundError
        If ``readonly`` and there is no database under ``root``.
    HpcoreError
        If the database was written by a newer hpcore (a newer schema).

    Notes
    -----
    Every method may be called from any thread; calls are serialised.
    Methods that write raise ``PermissionError`` on a ``readonly`` store.
    """

    def __init__(
        self, root: str | os.PathLike[str], *, lock: bool = True, readonly: bool = False
    ) -> None:
        self.root = Path(root)
        self.path = self.root / DB_NAME
        self.readonly = readonly
        self._mutex = threading.RLock()
        self._lock_file: Any = None
        self._conn: sqlite3.Connection | None = None
        check_root(self.root, self.path, writing=not readonly)
        if readonly:
            if not self.path.is_file():
                raise FileNotFoundError(
                    f"no hpcore study under {str(self.root)!r}: {str(self.path)!r} does not "
                    "exist. Check the path, or run a search with this experiment_root first."
                )
            self._conn = self._connect(reader_uri(self.path, self.root), uri=True)
            try:
                with damaged_errors(self.path):
                    self._check_schema()
            except BaseException:
                self.close()
                raise
            return
        self.root.mkdir(parents=True, exist_ok=True)
        if lock:
            self._lock_file = acquire_lock(self.root)
        try:
            create_database(self.path, _SCHEMA)
            self._conn = self._connect(str(self.path))
            with damaged_errors(self.path):
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = NORMAL")
                self._check_schema()
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _connect(target: str, uri: bool = False) -> sqlite3.Connection:
        # Autocommit mode: transactions are opened explicitly by _write/_read.
        return sqlite3.connect(
            target,
            uri=uri,
            timeout=_BUSY_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=False,
        )

    def _check_schema(self) -> None:
        assert self._conn is not None
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        self._trial_cols = _TRIAL_COLS_1 if version == 1 else _TRIAL_COLS
        self._version = version
        if version == SCHEMA_VERSION:
            return
        if version == 1:
            if not self.readonly:
                self._migrate()
            return
        if version > SCHEMA_VERSION:
            raise HpcoreError(
                f"{str(self.path)!r} was written by a newer hpcore (schema version {version}; "
                f"this one reads version {SCHEMA_VERSION}). Upgrade hpcore to open it."
            )
        if self.readonly:
            raise HpcoreError(
                f"{str(self.path)!r} holds no hpcore study (an empty database, schema "
                f"version {version})."
            )
        with self._write() as c:
            # Another writer without the lock may have created it meanwhile.
            if c.execute("PRAGMA user_version").fetchone()[0] == 0:
                for statement in _SCHEMA:
                    c.execute(statement)

    def _migrate(self) -> None:
        """A version-1 database (before several objectives) gains the new columns."""
        with self._write() as c:
            if c.execute("PRAGMA user_version").fetchone()[0] == 1:  # not done meanwhile
                for statement in _MIGRATE_1:
                    c.execute(statement)
        self._trial_cols = _TRIAL_COLS
        self._version = SCHEMA_VERSION

    # -- the lock -------------------------------------------------------------
    def driver_alive(self) -> bool:
        """Whether a live process holds the study lock (this store, or another process)."""
        return self._lock_file is not None or lock_held(self.root)

    # -- life -----------------------------------------------------------------
    def close(self) -> None:
        """Close the database and release the lock. Calling it again does nothing."""
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._lock_file is not None:
                with contextlib.suppress(OSError):
                    self._lock_file.truncate(0)
                self._lock_file.close()  # releases the flock
                self._lock_file = None

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "readonly" if self.readonly else ("locked" if self._lock_file else "unlocked")
        state = "closed" if self._conn is None else mode
        return f"Storage({str(self.root)!r}, {state})"

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``), rolled back on any exception."""
        if self.readonly:
            raise PermissionError(f"{self!r} was opened readonly; it cannot be written")
        with self._mutex, damaged_errors(self.path):
            c = self._connection()
            c.execute("BEGIN IMMEDIATE")
            try:
                yield c
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside sees the same snapshot."""
        with self._mutex, damaged_errors(self.path):
            c = self._connection()
            c.execute("BEGIN")
            try:
                yield c
            finally:
                if c.in_transaction:
                    c.execute("COMMIT")

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise sqlite3.ProgrammingError(f"{self!r} is closed")
        return self._conn

    # -- the study ------------------------------------------------------------
    def load_study(self) -> StudyInfo | None:
        """The stored study, or ``None`` if none was created (or it was deleted)."""
        with self._read() as c:
            return self._load_study(c)

    def _load_study(self, c: sqlite3.Connection) -> StudyInfo | None:
        objectives = "objectives" if self._version >= 2 else "NULL"
        row = c.execute(
            "SELECT name, strategy, settings, seed, metric, mode, base_config, space, "
            f"space_fingerprint, created, {objectives} FROM study"
        ).fetchone()
        if row is None:
            return None
        name, strategy, settings, seed, metric, mode, base, space, fp, created, objs = row
        return StudyInfo(
            name=name,
            strategy=strategy,
            settings=_loads(settings),
            seed=_loads(seed),
            metric=metric,
            mode=mode,
            base_config=_loads(base),
            space=_loads(space),
            space_fingerprint=fp,
            created=created,
            objectives=_loads(objs),
        )

    def create_study(self, info: StudyInfo) -> None:
        """Store ``info`` as the study of this root and set ``info.created`` to now.

        Raises
        ------
        FileExistsError
            If a study is already stored (resume it with :meth:`check_study`,
            or discard it with :meth:`delete_study` first).
        """
        with self._write() as c:
            if c.execute("SELECT 1 FROM study").fetchone() is not None:
                raise FileExistsError(
                    f"a study is already stored in {str(self.path)!r}; check_study() it to "
                    "resume, or delete_study() to start afresh"
                )
            created = time.time()
            c.execute(
                "INSERT INTO study (id, name, strategy, settings, seed, metric, mode, "
                "base_config, space, space_fingerprint, created, objectives) "
                "VALUES (0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    info.name,
                    info.strategy,
                    _dumps(info.settings),
                    _dumps(info.seed),
                    info.metric,
                    info.mode,
                    _dumps(info.base_config),
                    _dumps(info.space),
                    info.space_fingerprint,
                    created,
                    None if info.objectives is None else _dumps(info.objectives),
                ),
            )
        info.created = created

    def check_study(self, info: StudyInfo) -> list[str]:
        """Check that ``info`` describes the stored study, before resuming it.

        The search space (by fingerprint), the metric and the mode must be
        the same: the stored values would not mean the same thing otherwise.
        The strategy, its settings, the seed, the base config and the name
        may change: the stored trials are then told to the new strategy as
        if it had suggested them.

        Returns
        -------
        list of str
            The allowed differences, one readable line each (empty if none),
            for the caller to show.

        Raises
        ------
        StudyMismatchError
            If the space, the metric or the mode differs; the message says
            what (old -> new) and how to start afresh.
        LookupError
            If no study is stored.
        """
        with self._read() as c:
            old = self._load_study(c)
            n = c.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
        if old is None:
            raise LookupError(f"no study is stored in {str(self.path)!r}; create_study() first")
        return resumable_differences(old, info, self.root, n)

    def delete_study(self) -> None:
        """Remove the study, all its trials, their reports and the meta entries."""
        with self._write() as c:
            for table in ("reports", "trials", "meta", "study"):
                c.execute(f"DELETE FROM {table}")

    # -- trials ---------------------------------------------------------------
    def recover_running(self) -> list[int]:
        """Mark the trials left ``running`` by a dead driver as ``interrupted``.

        The driver calls it right after opening (it holds the lock, so no
        other driver can be running them).

        Returns
        -------
        list of int
            Their ids, in order.
        """
        with self._write() as c:
            ids = [
                r[0]
                for r in c.execute(
                    "SELECT trial_id FROM trials WHERE state = ? ORDER BY trial_id",
                    (TrialState.RUNNING.value,),
                )
            ]
            c.execute(
                "UPDATE trials SET state = ? WHERE state = ?",
                (TrialState.INTERRUPTED.value, TrialState.RUNNING.value),
            )
        return ids

    def start_trial(
        self, trial_id: int, params: dict[str, Any], start: float, attempt: int = 0
    ) -> None:
        """Record trial ``trial_id`` as running.

        A trial already stored as ``running`` or ``interrupted`` (a re-run on
        resume, a retry) is reset: its result fields and previous reports
        are cleared.

        Parameters
        ----------
        trial_id : int
            The trial's id.
        params : dict
            Its searched values.
        start : float
            Unix time it starts.
        attempt : int, default 0
            0 for the first run; it is stored as ``attempts = attempt + 1``.

        Raises
        ------
        ValueError
            If the trial is stored as finished (finished trials are never
            run again).
        """
        with self._write() as c:
            row = c.execute("SELECT state FROM trials WHERE trial_id = ?", (trial_id,)).fetchone()
            if row is not None and TrialState(row[0]).is_finished:
                raise ValueError(
                    f"trial {trial_id} is stored as {row[0]}; a finished trial is never run again"
                )
            if row is not None:
                c.execute("DELETE FROM reports WHERE trial_id = ?", (trial_id,))
            c.execute(_START_TRIAL, (trial_id, _dumps(params), _real(start), attempt + 1))

    def finish_trial(self, trial: FrozenTrial) -> None:
        """Write every field of ``trial`` and its reports, in one transaction.

        The trial's reports replace any stored for it (live ones from
        :meth:`add_reports` included). The trial need not have been started.
        """
        devices = _dumps(list(trial.devices)) if trial.devices else None
        row = (
            trial.trial_id,
            _dumps(trial.params),
            TrialState(trial.state).value,
            _real(trial.value),
            _dumps(trial.metrics) if trial.metrics else None,
            _text(trial.error),
            _text(trial.traceback),
            _real(trial.start),
            _real(trial.end),
            _real(trial.duration),
            devices,
            trial.host,
            trial.attempts,
            _text(trial.output),
            None if trial.values is None or len(trial.values) < 2 else _dumps(list(trial.values)),
            None if trial.constraints is None else _dumps(list(trial.constraints)),
        )
        reports = [_report_row(trial.trial_id, r) for r in trial.reports]
        with self._write() as c:
            c.execute(_UPSERT_TRIAL, row)
            c.execute("DELETE FROM reports WHERE trial_id = ?", (trial.trial_id,))
            c.executemany(_INSERT_REPORT, reports)

    def add_reports(self, trial_id: int, reports: list[dict[str, Any]]) -> None:
        """Append live reports of a running trial (one transaction).

        The run loop keeps the curves of running trials here as they come
        (``hpcore status`` and ``hpcore.load`` see them); :meth:`finish_trial`
        replaces them with the trial's full curve.
        """
        rows = [_report_row(trial_id, r) for r in reports]
        with self._write() as c:
            c.executemany(_INSERT_REPORT, rows)

    def trials(self, with_reports: bool = True) -> list[FrozenTrial]:
        """Every stored trial, ordered by ``trial_id``.

        In a ``readonly`` store, a trial stored as ``running`` is shown as
        ``interrupted`` unless a live driver holds the study lock: its driver
        died and it will be run again on resume.

        Parameters
        ----------
        with_reports : bool, default True
            Load the reports too (``reports`` is empty otherwise).
        """
        with self._read() as c:
            rows = c.execute(f"SELECT {self._trial_cols} FROM trials ORDER BY trial_id").fetchall()
            by_id: dict[int, list[dict[str, Any]]] = {}
            if with_reports:
                current, reports = None, []
                for tid, step, value, metrics, t in c.execute(
                    "SELECT trial_id, step, value, metrics, time FROM reports "
                    "ORDER BY trial_id, rowid"
                ):
                    # _report() inlined: this loop is most of the time of a resume.
                    r: dict[str, Any] = {} if step is None else {"step": step}
                    if t is not None:
                        r["time"] = t if type(t) is float else float(t)
                    if value is not None:
                        r["value"] = value if type(value) is float else float(value)
                    if metrics is not None:
                        r.update(_loads(metrics))
                    if tid != current:
                        current, reports = tid, by_id.setdefault(tid, [])
                    reports.append(r)
        out = [_trial(row, by_id.get(row[0], [])) for row in rows]
        if self.readonly and any(t.state is TrialState.RUNNING for t in out):
            if not self.driver_alive():
                out = [replace(t, state=TrialState.INTERRUPTED)
                       if t.state is TrialState.RUNNING else t for t in out]
        return out

    def n_trials(self) -> int:
        """The number of stored trials, whatever their state."""
        with self._read() as c:
            return int(c.execute("SELECT COUNT(*) FROM trials").fetchone()[0])

    def best_trial(self) -> FrozenTrial | None:
        """The completed or early-stopped trial with the best finite value by the study's mode.

        Ties go to the earliest ``trial_id``. Failed trials and non-finite
        values are never best. ``None`` if no trial qualifies.

        Raises
        ------
        LookupError
            If no study is stored (its mode is needed).
        """
        with self._read() as c:
            study = self._load_study(c)
            if study is None:
                raise LookupError(
                    f"no study is stored in {str(self.path)!r}; best_trial() needs its mode"
                )
        if study.objectives is not None and len(study.objectives["metrics"]) > 1:
            raise ValueError(
                f"the study in {str(self.root)!r} has several objectives "
                f"({describe_objectives(study)}): no single trial is best; "
                "hpcore.load(root).best_trials is its Pareto front"
            )
        # The one best-trial rule (hpcore.trial.best_of), on the trials without their curves.
        best = best_of(self.trials(with_reports=False), study.mode)
        if best is None:
            return None
        with self._read() as c:
            rows = c.execute(
                "SELECT step, value, metrics, time FROM reports WHERE trial_id = ? ORDER BY rowid",
                (best.trial_id,),
            )
            return replace(best, reports=[_report(*r) for r in rows])

    # -- meta -----------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON-able, tagged like the rest) under ``key``."""
        with self._write() as c:
            c.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, _dumps(value)),
            )

    def get_meta(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default``."""
        with self._read() as c:
            row = c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else _loads(row[0])
