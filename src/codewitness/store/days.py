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

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, String, case, cast, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from codewitness.facts import INT64_MAX
from codewitness.store import schema
from codewitness.store.problems import day_of

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

    def add(self, row: Mapping[Any, Any]) -> None:
        start = _aware(row["interval_start"])
        day = day_of(start)
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

    def day_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "id": _day_id(key),
                "day": key[0],
                "function": key[1],
                "path": key[2],
                "revision": key[3],
                "calls": sums[0],
                "error_count": sums[1],
                "total_ns": sums[2],
                "last_start": sums[3],
            }
            for key, sums in self.days.items()
        ]

    def error_rows(self) -> list[dict[str, Any]]:
        return [{"day": day, "function": f, "type": name, "count": n} for (day, f, name), n in self.errors.items()]


def _day_id(key: DayKey) -> str:
    day, function, path, revision = key
    # NULL and "" stay apart: a NULL is the one field that starts with \x00.
    parts = (
        day.strftime("%Y-%m-%d"),
        function,
        "\x00" if path is None else path,
        "\x00" if revision is None else revision,
    )
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8", "backslashreplace"), digest_size=16).hexdigest()


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _saturating(old: Any, new: Any) -> Any:
    return case((new > INT64_MAX - old, INT64_MAX), else_=old + new)


def _upserts(conn: Connection) -> tuple[Any, Any]:
    """The two ``INSERT ... ON CONFLICT DO UPDATE`` statements that add to the summary."""
    dialect = conn.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    newest = func.greatest if dialect == "postgresql" else func.max  # SQLite's max() of two values
    days, errors = schema.runtime_days, schema.runtime_day_errors
    add_days = insert(days)
    add_days = add_days.on_conflict_do_update(
        index_elements=[days.c.day, days.c.function, days.c.id],
        set_={
            "calls": _saturating(days.c.calls, add_days.excluded.calls),
            "error_count": _saturating(days.c.error_count, add_days.excluded.error_count),
            "total_ns": _saturating(days.c.total_ns, add_days.excluded.total_ns),
            "last_start": newest(days.c.last_start, add_days.excluded.last_start),
        },
    )
    add_errors = insert(errors)
    add_errors = add_errors.on_conflict_do_update(
        index_elements=[errors.c.day, errors.c.function, errors.c.type],
        set_={"count": _saturating(errors.c.count, add_errors.excluded["count"])},
    )
    return add_days, add_errors


def add_intervals(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Add interval rows just stored (``runtime_aggregates`` rows as ingest made them) to the summary,
    inside the caller's transaction."""
    tally = _Tally()
    for row in rows:
        tally.add(row)
    _write(conn, tally)


def _write(conn: Connection, tally: _Tally) -> None:
    add_days, add_errors = _upserts(conn)
    # In key order: two writers adding to the same rows (PostgreSQL, several ingesting processes)
    # then lock them in the same order, and one waits for the other instead of deadlocking.
    day_rows = sorted(tally.day_rows(), key=lambda r: (r["day"], r["function"], r["id"]))
    if day_rows:
        conn.execute(add_days, day_rows)
    error_rows = sorted(tally.error_rows(), key=lambda r: (r["day"], r["function"], r["type"]))
    if error_rows:
        conn.execute(add_errors, error_rows)


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
