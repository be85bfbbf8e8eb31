"""The daily summary of the runtime intervals: what "since 30 days" reads instead of every interval.

A store keeps one interval row per function, process and interval (10 s by default); asking
which functions got worse over a month summed a million of them. Migration 0013 adds two tables
that hold the same sums per UTC day (the day an interval *started*):

* ``runtime_days``: per day, function, file and revision: calls, counted errors, time, and when
  the newest of those intervals started;
* ``runtime_day_errors``: per day, function and exception type: the errors the sensor counted
  (from the intervals that had any).

They are kept exact: :func:`add_intervals` adds the intervals ingest stores, in the same
transaction (:mod:`codewitness.store.runtime`); whatever rewrites or deletes intervals
(retention's rollups and deletions, :mod:`codewitness.store.retention`) calls :func:`rebuild` for
the function and days it touched, in its own transaction; the migration rebuilds every day once.
A read for "since T" takes whole days from here, from
:func:`~codewitness.store.problems.whole_days_from` (``T``) on, and the
intervals of the part-day before it from ``runtime_aggregates``: the answer is the one the
intervals alone give (tests/store/test_days.py compares them on generated data).

Sums saturate at 2**63-1 rather than overflow (more than 292 years of time in one day).

Example:
    >>> with store.write() as conn:  # doctest: +SKIP
    ...     rebuild(conn, start=datetime(2026, 11, 1, tzinfo=UTC), function="shop.pricing.total")
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, String, cast, delete, select

from codewitness.facts import INT64_MAX
from codewitness.store import schema
from codewitness.store.problems import day_of
from codewitness.store.types import LosslessText

__all__ = ["add_intervals", "rebuild"]

#: Interval rows read at a time when rebuilding.
_BATCH = 20_000
#: The columns of an interval that the summary is made of.
_COLUMNS = ("function", "path", "revision", "interval_start", "calls", "error_count", "total_ns", "errors")

DayKey = tuple[datetime, str, str | None, str | None]
ErrorKey = tuple[datetime, str, str]


def _add(a: int, b: int) -> int:
    return min(INT64_MAX, a + b)


class _Tally:
    """What a set of intervals adds to the summary, by day key."""

    def __init__(self) -> None:
        self.days: dict[DayKey, list[Any]] = {}
        self.errors: dict[ErrorKey, int] = {}
        self._starts: dict[Any, tuple[datetime, datetime]] = {}  # a batch's intervals share a few starts

    def add(self, row: Mapping[Any, Any]) -> None:
        value = row["interval_start"]
        known = self._starts.get(value)
        if known is None:
            if len(self._starts) > 4096:
                self._starts.clear()
            start = _aware(value)
            known = self._starts[value] = (start, day_of(start))
        start, day = known
        function = row["function"]
        key = (day, function, row["path"], row["revision"])
        sums = self.days.get(key)
        calls, error_count, total_ns = int(row["calls"]), int(row["error_count"]), int(row["total_ns"])
        if sums is None:
            self.days[key] = [calls, error_count, total_ns, start]
        else:
            sums[0] = _add(sums[0], calls)
            sums[1] = _add(sums[1], error_count)
            sums[2] = _add(sums[2], total_ns)
            if start > sums[3]:
                sums[3] = start
        if error_count > 0:  # as the intervals are read for error counts: those that had any
            by_type = row["errors"]
            if isinstance(by_type, str):
                try:
                    by_type = json.loads(by_type)
                except ValueError:
                    return
            if not isinstance(by_type, dict):
                return
            for name, n in by_type.items():
                if isinstance(n, int):
                    error_key = (day, function, name)
                    self.errors[error_key] = _add(self.errors.get(error_key, 0), n)


@functools.lru_cache(maxsize=4096)
def _day_id(path: str | None, revision: str | None) -> str:
    """What tells a function's rows of one day apart: a digest of its file and revision (either may be
    NULL, which a key cannot hold; NULL and "" stay apart, a NULL being the one that starts with \\x00)."""
    parts = ("\x00" if path is None else path, "\x00" if revision is None else revision)
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8", "backslashreplace"), digest_size=16).hexdigest()


@functools.lru_cache(maxsize=4096)
def _type_id(name: str) -> str:
    """The key of an exception type's name (which may be long, and hold NUL)."""
    return hashlib.blake2b(name.encode("utf-8", "backslashreplace"), digest_size=16).hexdigest()


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _added(table: str, column: str) -> str:
    """``column`` plus the value being added, stopping at 2**63-1 (never an overflow error)."""
    return (
        f"{column} = CASE WHEN excluded.{column} > {INT64_MAX} - {table}.{column} THEN {INT64_MAX} "
        f"ELSE {table}.{column} + excluded.{column} END"
    )


_DAY_COLUMNS = ("day", "function", "id", "path", "revision", "calls", "error_count", "total_ns", "last_start")
_ERROR_COLUMNS = ("day", "function", "type_id", "type", "count")
#: The PostgreSQL array type each column's values are sent as (one array per column).
_ARRAYS = {"day": "timestamptz", "last_start": "timestamptz", "calls": "bigint", "error_count": "bigint"}
_ARRAYS |= {"total_ns": "bigint", "count": "bigint"}


def _rows_from(dialect: str, columns: tuple[str, ...]) -> str:
    """Where an upsert's rows come from: ``VALUES`` of one row (SQLite, sent by ``executemany``), or
    on PostgreSQL the rows of one array per column, in the order given (``unnest``), so that a
    batch's rows go in one statement instead of one each through the driver's pipeline."""
    if dialect == "sqlite":
        return f"VALUES ({', '.join(['?'] * len(columns))})"
    arrays = ", ".join(f"%s::{_ARRAYS.get(c, 'text')}[]" for c in columns)
    names = ", ".join(columns)
    return f"SELECT {names} FROM unnest({arrays}) WITH ORDINALITY AS rows ({names}, n) ORDER BY n"  # noqa: S608 - constant


def _upserts(dialect: str) -> tuple[str, str]:
    """The two ``INSERT ... ON CONFLICT DO UPDATE`` statements that add to the summary, as DB-API SQL
    (compiled once: at ingest rates SQLAlchemy's per-row binding costs more than the database's
    work, as :class:`~codewitness.store.runtime.BulkInsert` says). SQLite's take one row's
    parameters; PostgreSQL's one array per column (:func:`_rows_from`)."""
    newest = "max" if dialect == "sqlite" else "greatest"  # SQLite's max() of two values
    days = (
        f"INSERT INTO runtime_days ({', '.join(_DAY_COLUMNS)}) {_rows_from(dialect, _DAY_COLUMNS)} "
        "ON CONFLICT (day, function, id) DO UPDATE SET "
        + ", ".join(_added("runtime_days", c) for c in ("calls", "error_count", "total_ns"))
        + f", last_start = {newest}(runtime_days.last_start, excluded.last_start)"
    )
    errors = (
        f"INSERT INTO runtime_day_errors ({', '.join(_ERROR_COLUMNS)}) {_rows_from(dialect, _ERROR_COLUMNS)} "
        f"ON CONFLICT (day, function, type_id) DO UPDATE SET {_added('runtime_day_errors', 'count')}"
    )
    return days, errors


def _send(conn: Connection, statement: str, rows: list[tuple[Any, ...]]) -> None:
    """Run an upsert of :func:`_upserts` for ``rows``."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(statement, rows)
    else:
        conn.exec_driver_sql(statement, tuple(list(column) for column in zip(*rows, strict=True)))


def _time_binder(dialect: str) -> Any:
    """How a time is bound: as :class:`~codewitness.store.types.UTCDateTime` stores it (naive UTC
    text on SQLite, the aware datetime on PostgreSQL)."""
    if dialect != "sqlite":
        return lambda value: value
    seen: dict[datetime, str] = {}  # the rows of a batch share a few times

    def bind(value: datetime) -> str:
        text = seen.get(value)
        if text is None:
            text = seen[value] = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        return text

    return bind


def _name_binder(conn: Connection) -> Any:
    """How an exception type's name is bound: as :class:`~codewitness.store.types.LosslessText`
    stores it (PostgreSQL text cannot hold NUL, which a name the sensor counted may)."""
    if conn.dialect.name == "sqlite":
        return lambda name: name
    lossless = LosslessText()
    return lambda name: lossless.process_bind_param(name, conn.dialect)


def add_intervals(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Add interval rows just stored (``runtime_aggregates`` rows as ingest made them) to the summary,
    inside the caller's transaction."""
    tally = _Tally()
    for row in rows:
        tally.add(row)
    _write(conn, tally)


def _write(conn: Connection, tally: _Tally) -> None:
    dialect = conn.dialect.name
    add_days, add_errors = _upserts(dialect)
    bind = _time_binder(dialect)
    # In key order: two writers adding to the same rows (PostgreSQL, several ingesting processes)
    # then lock them in the same order, and one waits for the other instead of deadlocking.
    days = [
        (bind(day), function, _day_id(path, revision), path, revision, calls, error_count, total_ns, bind(last))
        for (day, function, path, revision), (calls, error_count, total_ns, last) in tally.days.items()
    ]
    days.sort(key=lambda row: row[:3])
    if days:
        _send(conn, add_days, days)
    name_of = _name_binder(conn)
    errors = sorted(
        (bind(day), function, _type_id(name), name_of(name), n) for (day, function, name), n in tally.errors.items()
    )
    if errors:
        _send(conn, add_errors, errors)


def rebuild(
    conn: Connection, *, start: datetime | None = None, end: datetime | None = None, function: str | None = None
) -> None:
    """Make the summary of the days from ``start`` to ``end`` (UTC midnights; ``None``: unbounded),
    of one ``function`` or of all, again from the intervals, inside the caller's transaction."""
    agg, days, errors = schema.runtime_aggregates, schema.runtime_days, schema.runtime_day_errors
    for table in (days, errors):
        gone = delete(table)
        if start is not None:
            gone = gone.where(table.c.day >= start)
        if end is not None:
            gone = gone.where(table.c.day < end)
        if function is not None:
            gone = gone.where(table.c.function == function)
        conn.execute(gone)
    query = select(*(cast(agg.c.errors, String).label("errors") if c == "errors" else agg.c[c] for c in _COLUMNS))
    if start is not None:
        query = query.where(agg.c.interval_start >= start)
    if end is not None:
        query = query.where(agg.c.interval_start < end)
    if function is not None:
        query = query.where(agg.c.function == function)
    tally = _Tally()
    result = conn.execute(query.execution_options(yield_per=_BATCH)).mappings()  # streamed, not held whole
    for row in result:
        tally.add(row)
    _write(conn, tally)
