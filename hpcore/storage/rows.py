"""How trial records and study values become SQLite rows and come back equal.

Values
------
JSON columns are ``TEXT`` (a column declared ``JSON`` would get SQLite's
NUMERIC affinity, which turns the text ``"3"`` into the integer 3) and hold
tagged JSON, so that what is written comes back equal, types included:
ints stay ints, floats stay floats (``1.0`` too, and ``nan``/``inf``/``-inf``
as ``{"__hpcore__": "float", "v": "nan"}``), tuples stay tuples, dicts with
non-string keys keep them. numpy scalars and arrays are stored as the Python
values of ``tolist()``; any other object is stored as its ``repr`` and comes
back as that string. The ``REAL`` value columns hold ``nan`` as the text
``'nan'`` (SQLite would store a NaN as NULL), so ``None`` and ``nan`` stay
apart.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..trial import FrozenTrial, TrialState

#: 2 added the vector of values and the constraint violations of each trial, and
#: the objectives of the study (several objectives, constraints); a version-1
#: database is migrated when a writer opens it and read as is by a reader.
SCHEMA_VERSION = 2

# ---------------------------------------------------------------------------
# Tagged JSON
# ---------------------------------------------------------------------------

_TAG = "__hpcore__"


def _enc(v: Any) -> Any:
    """``v`` as plain JSON values, with tagged objects for what JSON would change."""
    t = type(v)
    if t is float:  # the common cases first, by exact type
        return v if math.isfinite(v) else {_TAG: "float", "v": repr(v)}
    if t is str or t is int or t is bool or v is None:
        return v
    if isinstance(v, (str, int)):  # subclasses: IntEnum, bool-like, str enums
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else {_TAG: "float", "v": repr(float(v))}
    if isinstance(v, list):
        return [_enc(x) for x in v]
    if isinstance(v, tuple):
        return {_TAG: "tuple", "v": [_enc(x) for x in v]}
    if isinstance(v, dict):
        if _TAG not in v and all(type(k) is str for k in v):
            return {k: _enc(x) for k, x in v.items()}
        return {_TAG: "dict", "v": [[_enc(k), _enc(x)] for k, x in v.items()]}
    tolist = getattr(v, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return _enc(tolist())
    return {_TAG: "repr", "v": repr(v)}


def _hook(d: dict[str, Any]) -> Any:
    tag = d.get(_TAG)
    if tag is None or len(d) != 2:
        return d
    v = d["v"]
    if tag == "float":
        return float(v)
    if tag == "tuple":
        return tuple(v)
    if tag == "dict":
        return {k: x for k, x in v}
    if tag == "repr":
        return v
    return d


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def _dumps(v: Any) -> str:
    return _ENCODER.encode(_enc(v))


_PLAIN = json.JSONDecoder()
_TAGGED = json.JSONDecoder(object_hook=_hook)


def _loads(s: str | None) -> Any:
    # One decoder each, made once (json.loads with a hook builds one per call),
    # and the hook only where a tag is: the common case stays in C.
    if s is None:
        return None
    return (_TAGGED if _TAG in s else _PLAIN).raw_decode(s)[0]


def _real(v: float | None) -> float | str | None:
    """A value for a ``REAL`` column: NaN as the text 'nan' (SQLite would store NULL)."""
    if v is None:
        return None
    v = float(v)
    return "nan" if v != v else v


def _unreal(v: float | str | None) -> float | None:
    return float(v) if isinstance(v, str) else v


def _text(s: str | None) -> str | None:
    """``s`` encodable as UTF-8 (lone surrogates, as from undecodable output, escaped)."""
    if s is None or s.isascii():
        return s
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")
    return s


# ---------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------

_SCHEMA = (
    """CREATE TABLE study (
        id INTEGER PRIMARY KEY CHECK (id = 0),
        name TEXT NOT NULL,
        strategy TEXT NOT NULL,
        settings TEXT NOT NULL,      -- JSON
        seed TEXT,                   -- JSON (a seed may not fit in 64 bits)
        metric TEXT,
        mode TEXT NOT NULL,
        base_config TEXT,            -- JSON
        space TEXT NOT NULL,         -- JSON
        space_fingerprint TEXT NOT NULL,
        created REAL NOT NULL,
        objectives TEXT              -- JSON, NULL for one objective without constraints
    )""",
    """CREATE TABLE trials (
        trial_id INTEGER PRIMARY KEY,
        params TEXT NOT NULL,        -- JSON
        state TEXT NOT NULL,
        value REAL,                  -- NaN as the text 'nan' (in every REAL column)
        metrics TEXT,                -- JSON, NULL when empty
        error TEXT,
        traceback TEXT,
        start REAL,                  -- Unix time
        "end" REAL,
        duration REAL,               -- "end" - start, for SQL users
        devices TEXT,                -- JSON list, NULL when empty
        host TEXT,
        attempts INTEGER NOT NULL DEFAULT 1,
        output TEXT,
        "values" TEXT,               -- JSON list, NULL for one objective (see value)
        constraints TEXT             -- JSON list of violations, NULL without constraints
    )""",
    """CREATE TABLE reports (
        trial_id INTEGER NOT NULL,
        step INTEGER,
        value REAL,                  -- NaN as the text 'nan'
        metrics TEXT,                -- JSON of the other entries, NULL when none
        time REAL                    -- Unix time
    )""",
    "CREATE INDEX reports_trial ON reports (trial_id)",
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT                   -- JSON
    )""",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)

#: Version 1 to 2, in one transaction with the version bump.
_MIGRATE_1 = (
    "ALTER TABLE study ADD COLUMN objectives TEXT",
    'ALTER TABLE trials ADD COLUMN "values" TEXT',
    "ALTER TABLE trials ADD COLUMN constraints TEXT",
    "PRAGMA user_version = 2",
)

_TRIAL_COLS = (
    'trial_id, params, state, value, metrics, error, traceback, start, "end", '
    'devices, host, attempts, output, "values", constraints'
)
#: The same from a version-1 database (read-only readers do not migrate it).
_TRIAL_COLS_1 = _TRIAL_COLS.replace('"values", constraints', "NULL, NULL")
_UPSERT_TRIAL = (
    "INSERT INTO trials (trial_id, params, state, value, metrics, error, traceback, "
    'start, "end", duration, devices, host, attempts, output, "values", constraints) '
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (trial_id) DO UPDATE SET params = excluded.params, "
    "state = excluded.state, value = excluded.value, metrics = excluded.metrics, "
    "error = excluded.error, traceback = excluded.traceback, start = excluded.start, "
    '"end" = excluded."end", duration = excluded.duration, devices = excluded.devices, '
    "host = excluded.host, attempts = excluded.attempts, output = excluded.output, "
    '"values" = excluded."values", constraints = excluded.constraints'
)
_START_TRIAL = (
    "INSERT INTO trials (trial_id, params, state, start, attempts) "
    "VALUES (?, ?, 'running', ?, ?) "
    "ON CONFLICT (trial_id) DO UPDATE SET params = excluded.params, state = 'running', "
    "value = NULL, metrics = NULL, error = NULL, traceback = NULL, start = excluded.start, "
    '"end" = NULL, duration = NULL, devices = NULL, host = NULL, '
    'attempts = excluded.attempts, output = NULL, "values" = NULL, constraints = NULL'
)
_INSERT_REPORT = "INSERT INTO reports (trial_id, step, value, metrics, time) VALUES (?, ?, ?, ?, ?)"
_INT64 = (-(2**63), 2**63)


def _report_row(trial_id: int, report: dict[str, Any]) -> tuple[Any, ...]:
    """Split a report into its columns; what does not fit one exactly goes to JSON."""
    extra = dict(report)
    step = extra.get("step")
    if type(step) is int and _INT64[0] <= step < _INT64[1]:
        del extra["step"]
    else:
        step = None
    value = extra.get("value")
    if type(value) is float:
        del extra["value"]
    else:
        value = None
    t = extra.get("time")
    if type(t) is float:
        del extra["time"]
    else:
        t = None
    return (trial_id, step, _real(value), _dumps(extra) if extra else None, _real(t))


def _report(step: Any, value: Any, metrics: str | None, t: Any) -> dict[str, Any]:
    r: dict[str, Any] = {}
    if step is not None:
        r["step"] = step
    if t is not None:
        r["time"] = _unreal(t)
    if value is not None:
        r["value"] = _unreal(value)
    if metrics is not None:
        r.update(_loads(metrics))
    return r


def _trial(row: tuple[Any, ...], reports: list[dict[str, Any]]) -> FrozenTrial:
    (trial_id, params, state, value, metrics, error, tb, start, end, devices, host,
     attempts, output, values, constraints) = row  # fmt: skip
    if values is not None:
        values = tuple(_loads(values))
    elif value is not None:
        values = (_unreal(value),)
    return FrozenTrial(
        trial_id=trial_id,
        params=_loads(params),
        state=TrialState(state),
        values=values,
        constraints=None if constraints is None else tuple(_loads(constraints)),
        metrics=_loads(metrics) if metrics is not None else {},
        error=error,
        traceback=tb,
        start=_unreal(start),
        end=_unreal(end),
        reports=reports,
        devices=tuple(_loads(devices)) if devices is not None else (),
        host=host,
        attempts=attempts,
        output=output,
    )
