"""Keeping runtime facts within bounds: intervals rolled up by age, old events pruned, sizes, vacuum.

The sensor sends one aggregate row per function, process and interval (10 s by default): a busy
service watched whole writes millions a day. :func:`prune` merges intervals older than each
rollup step's age into one row per span (``1d:1m``: older than a day, one row per minute; then
``7d:1h``), per function, service, revision and host. Merging adds counts: calls, errors by type
and every latency histogram bucket are kept exactly, so any quantile of a merged row is the one
the intervals it replaced give together (within the histogram's own 2%). A merged row has
``rollup`` = the span in seconds, ``pid`` 0 when it merged several processes, the newest
interval's origin and generations, and an id derived from what it covers, so that merging again
(late intervals of the same span) replaces it. Captured events (exceptions, breaches, samples,
sensor health) older than the events age are deleted, and intervals older than the aggregates
age too, when one is set. The daily summary of the intervals (:mod:`codewitness.store.days`)
follows every merge and deletion in the same transaction, so what it answers stays what the
intervals left give.

:func:`stats` says what the store holds and how big it is; :func:`vacuum` gives the space of
deleted rows back to the file system (SQLite rewrites the file; PostgreSQL ``VACUUM``).

Example:
    >>> steps = parse_rollups(["1d:1m", "7d:1h"])
    >>> result = prune(store, Retention(rollups=steps, events=timedelta(days=30)))  # doctest: +SKIP
    >>> result.merged, result.written  # doctest: +SKIP
    (86400, 1440)
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, delete, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from codewitness._time import parse_age
from codewitness.config import RetentionSection
from codewitness.errors import InputError
from codewitness.facts import INT64_MAX, Histogram
from codewitness.model import utcnow
from codewitness.store import Store, schema
from codewitness.store.days import rebuild
from codewitness.store.problems import day_of, whole_days_from

__all__ = [
    "PruneResult",
    "Retention",
    "Rollup",
    "StoreStats",
    "TableStats",
    "parse_rollups",
    "prune",
    "retention_of",
    "stats",
    "vacuum",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY = 86_400
#: Rows deleted or inserted per statement.
_CHUNK = 500


@dataclass(frozen=True)
class Rollup:
    """One step: intervals older than ``after`` are merged into rows of ``span`` each."""

    after: timedelta
    span: timedelta

    @property
    def span_s(self) -> int:
        """The span in whole seconds."""
        return int(self.span.total_seconds())


def parse_rollups(steps: Iterable[str]) -> tuple[Rollup, ...]:
    """``AGE:SPAN`` texts (``1d:1m``) as rollup steps, the finest span first.

    Raises:
        InputError: a step that is not ``AGE:SPAN``, a span shorter than a second, or spans that do not
            nest (each must be a whole multiple of the one before, and divide a day or be whole days).
    """
    found: list[Rollup] = []
    for text in steps:
        age, sep, span = text.partition(":")
        if not sep:
            raise InputError(f"rollup step {text!r}: use AGE:SPAN, such as 1d:1m or 7d:1h")
        step = Rollup(parse_age(age), parse_age(span))
        if step.span_s < 1:
            raise InputError(f"rollup step {text!r}: the span must be at least a second")
        if _DAY % step.span_s and step.span_s % _DAY:
            raise InputError(f"rollup step {text!r}: the span must divide a day or be whole days")
        found.append(step)
    found.sort(key=lambda r: r.span)
    for finer, coarser in itertools.pairwise(found):
        if coarser.span_s % finer.span_s or coarser.after < finer.after:
            raise InputError(
                "rollup steps must nest: each span a whole multiple of the finer one, applied at an older age"
            )
    return tuple(found)


@dataclass(frozen=True)
class Retention:
    """What :func:`prune` applies."""

    rollups: tuple[Rollup, ...] = ()
    #: Captured events older than this are deleted (``None``: kept).
    events: timedelta | None = None
    #: Intervals and invariant counts older than this are deleted (``None``: kept).
    aggregates: timedelta | None = None


def retention_of(section: RetentionSection) -> Retention:
    """The retention the configuration's ``retention`` section asks for.

    Raises:
        InputError: its rollup steps do not nest (see :func:`parse_rollups`).
    """
    return Retention(
        rollups=parse_rollups(section.rollup),
        events=parse_age(section.events) if section.events else None,
        aggregates=parse_age(section.aggregates) if section.aggregates else None,
    )


@dataclass
class PruneResult:
    """What one :func:`prune` did."""

    #: Interval rows merged away (replaced by the rows written).
    merged: int = 0
    #: Merged rows written.
    written: int = 0
    #: Exception captures merged away into a newer capture of the same failure in the same span.
    captures_merged: int = 0
    #: Rows deleted for their age, by table.
    deleted: dict[str, int] = field(default_factory=dict)


def prune(store: Store, retention: Retention, *, now: datetime | None = None) -> PruneResult:
    """Roll intervals up by age and delete what is past its retention (see the module docstring).

    Work is done a function and a day at a time, one transaction each, so a sensor's ingest is
    never held up for long. Running it again with nothing new to do changes nothing.

    Raises:
        StoreError: the store cannot be written.
    """
    now = now or utcnow()
    result = PruneResult()
    earlier: list[int] = [0]
    for step in retention.rollups:
        merged, written = _rollup(store, step.span_s, now - step.after, tuple(earlier))
        result.merged += merged
        result.written += written
        result.captures_merged += _rollup_captures(store, step.span_s, now - step.after)
        earlier.append(step.span_s)
    if retention.events is not None:
        cutoff = now - retention.events
        for table, column in (
            (schema.runtime_exceptions, schema.runtime_exceptions.c.time),
            (schema.runtime_samples, schema.runtime_samples.c.time),
            (schema.runtime_breaches, schema.runtime_breaches.c.time),
            (schema.runtime_sensor_health, schema.runtime_sensor_health.c.interval_start),
            (schema.runtime_unwatched, schema.runtime_unwatched.c.time),
        ):
            result.deleted[table.name] = _delete_before(store, table, column, cutoff)
    if retention.aggregates is not None:
        cutoff = now - retention.aggregates
        result.deleted[schema.runtime_aggregates.name] = _delete_intervals_before(store, cutoff)
        invariant_counts = schema.runtime_invariant_counts
        result.deleted[invariant_counts.name] = _delete_before(store, invariant_counts, invariant_counts.c.time, cutoff)
    return result


def _delete_before(store: Store, table: Table, column: Any, cutoff: datetime) -> int:
    deleted = 0
    while True:
        with store.write() as conn:
            ids = conn.execute(select(table.c.id).where(column < cutoff).limit(10 * _CHUNK)).scalars().all()
            if not ids:
                return deleted
            for start in range(0, len(ids), _CHUNK):
                conn.execute(delete(table).where(table.c.id.in_(ids[start : start + _CHUNK])))
            deleted += len(ids)


def _delete_intervals_before(store: Store, cutoff: datetime) -> int:
    """Delete the intervals that ended before ``cutoff``, a function and a day at a time, each day's
    summary (:mod:`codewitness.store.days`) made again from what is left in the same transaction."""
    agg = schema.runtime_aggregates
    old = agg.c.interval_end < cutoff
    with store.read() as conn:
        functions = conn.execute(
            select(agg.c.function, func.min(agg.c.interval_start)).where(old).group_by(agg.c.function)
        ).all()
    deleted = 0
    for function, first in functions:
        start: datetime | None = _aware(first)
        while start is not None:
            low = day_of(start)
            high = low + timedelta(days=1)
            with store.write() as conn:
                in_day = (agg.c.function == function, old, agg.c.interval_start >= low, agg.c.interval_start < high)
                ids = conn.execute(select(agg.c.id).where(*in_day)).scalars().all()
                for at in range(0, len(ids), _CHUNK):
                    conn.execute(delete(agg).where(agg.c.id.in_(ids[at : at + _CHUNK])))
                deleted += len(ids)
                rebuild(conn, start=low, end=high, function=function)
                following = conn.execute(
                    select(func.min(agg.c.interval_start)).where(
                        agg.c.function == function, old, agg.c.interval_start >= high
                    )
                ).scalar()
            start = _aware(following) if following is not None else None
    return deleted


def _rollup(store: Store, span: int, cutoff: datetime, finer: tuple[int, ...]) -> tuple[int, int]:
    """Merge intervals (``rollup`` in ``finer``) that start before ``cutoff`` into ``span``-second rows."""
    agg = schema.runtime_aggregates
    fresh = (agg.c.rollup.in_(finer), agg.c.interval_start < cutoff)
    with store.read() as conn:
        functions = conn.execute(
            select(agg.c.function, func.min(agg.c.interval_start)).where(*fresh).group_by(agg.c.function)
        ).all()
    chunk = max(span, _DAY)
    merged = written = 0
    for function, first in functions:
        start: datetime | None = _aware(first)
        while start is not None and start < cutoff:
            low = _floor(start, chunk)
            high = min(low + timedelta(seconds=chunk), cutoff)
            with store.write() as conn:
                m, w = _merge_chunk(conn, function, span, finer, low, high)
                if m:  # the merged rows may start on another day, or name another file: the summary follows
                    rebuild(conn, start=day_of(low), end=whole_days_from(high), function=function)
                merged += m
                written += w
                following = conn.execute(
                    select(func.min(agg.c.interval_start)).where(
                        agg.c.function == function, *fresh, agg.c.interval_start >= high
                    )
                ).scalar()
            start = _aware(following) if following is not None else None
    return merged, written


def _rollup_captures(store: Store, span: int, cutoff: datetime) -> int:
    """Keep one capture per failure and ``span`` among exceptions older than ``cutoff``: the newest,
    its ``count`` the sum of the captures it replaces (so ``SUM(count)`` stays exact)."""
    exc = schema.runtime_exceptions
    with store.read() as conn:
        functions = conn.execute(
            select(exc.c.function, func.min(exc.c.time)).where(exc.c.time < cutoff).group_by(exc.c.function)
        ).all()
    chunk = max(span, _DAY)
    merged = 0
    for function, first in functions:
        start: datetime | None = _aware(first)
        while start is not None and start < cutoff:
            low = _floor(start, chunk)
            high = min(low + timedelta(seconds=chunk), cutoff)
            with store.write() as conn:
                merged += _merge_captures(conn, function, span, low, high)
                following = conn.execute(
                    select(func.min(exc.c.time)).where(
                        exc.c.function == function, exc.c.time >= high, exc.c.time < cutoff
                    )
                ).scalar()
            start = _aware(following) if following is not None else None
    return merged


def _merge_captures(conn: Connection, function: str, span: int, low: datetime, high: datetime) -> int:
    exc = schema.runtime_exceptions
    rows = conn.execute(
        select(
            exc.c.id, exc.c.service, exc.c.revision, exc.c.host, exc.c.fingerprint, exc.c.type, exc.c.message,
            exc.c.time, exc.c.count,
        ).where(exc.c.function == function, exc.c.time >= low, exc.c.time < high)
    ).all()  # fmt: skip
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        bucket = int((_aware(row.time) - _EPOCH).total_seconds()) // span * span
        # A capture from a sensor before fingerprints is known by its type and message.
        failure = row.fingerprint or (row.type, row.message)
        groups.setdefault((row.service, row.revision, row.host, failure, bucket), []).append(row)
    gone: list[str] = []
    for members in groups.values():
        if len(members) == 1:
            continue
        newest = max(members, key=lambda m: (_aware(m.time), m.id))
        total = min(INT64_MAX, sum(int(m.count) for m in members))
        conn.execute(exc.update().where(exc.c.id == newest.id).values(count=total))
        gone.extend(m.id for m in members if m.id != newest.id)
    for start in range(0, len(gone), _CHUNK):
        conn.execute(delete(exc).where(exc.c.id.in_(gone[start : start + _CHUNK])))
    return len(gone)


def _merge_chunk(
    conn: Connection, function: str, span: int, finer: tuple[int, ...], low: datetime, high: datetime
) -> tuple[int, int]:
    """Merge one function's intervals starting in ``[low, high)`` into ``span``-second rows."""
    agg = schema.runtime_aggregates
    rows = conn.execute(
        select(agg).where(
            agg.c.function == function,
            agg.c.rollup.in_((*finer, span)),
            agg.c.interval_start >= low,
            agg.c.interval_start < high,
        )
    ).mappings()
    groups: dict[tuple[str, str | None, str, int], list[Any]] = {}
    for row in rows:
        bucket = int((_aware(row["interval_start"]) - _EPOCH).total_seconds()) // span * span
        groups.setdefault((row["service"], row["revision"], row["host"], bucket), []).append(row)
    gone: list[str] = []
    fresh: list[dict[str, Any]] = []
    for key, members in groups.items():
        if len(members) == 1 and members[0]["rollup"] == span:
            continue  # merged before, nothing new
        fresh.append(_merged(function, span, key, members))
        gone.extend(m["id"] for m in members)
    for start in range(0, len(gone), _CHUNK):
        conn.execute(delete(agg).where(agg.c.id.in_(gone[start : start + _CHUNK])))
    for start in range(0, len(fresh), _CHUNK):
        conn.execute(agg.insert(), fresh[start : start + _CHUNK])
    return len(gone), len(fresh)


def _merged(function: str, span: int, key: tuple[str, str | None, str, int], members: Sequence[Any]) -> dict[str, Any]:
    service, revision, host, bucket = key
    newest = max(members, key=lambda m: _aware(m["interval_end"]))
    histogram = Histogram()
    errors: dict[str, int] = {}
    for m in members:
        histogram.merge(Histogram.from_json(m["histogram"]))
        for name, n in (m["errors"] or {}).items():
            errors[name] = errors.get(name, 0) + int(n)
    pids = {m["pid"] for m in members}
    digest = hashlib.blake2b(
        "\x1f".join((service, revision or "", host, function, str(bucket))).encode("utf-8", "backslashreplace"),
        digest_size=16,
    ).hexdigest()
    return {
        "id": f"rollup-{span}-{digest}",
        "service": service,
        "revision": revision,
        "host": host,
        "pid": pids.pop() if len(pids) == 1 else 0,
        "function": function,
        "origin": newest["origin"],
        "ai_share": newest["ai_share"],
        "generation_ids": newest["generation_ids"],
        "models": newest["models"],
        "path": newest["path"],
        "line": newest["line"],
        "interval_start": min(_aware(m["interval_start"]) for m in members),
        "interval_end": _aware(newest["interval_end"]),
        "calls": sum(int(m["calls"]) for m in members),
        "error_count": sum(int(m["error_count"]) for m in members),
        "errors": errors,
        "histogram": histogram.to_json(),
        "total_ns": min(INT64_MAX, sum(int(m["total_ns"]) for m in members)),
        "max_ns": max(int(m["max_ns"]) for m in members),
        "ingested_at": max(_aware(m["ingested_at"]) for m in members),
        "rollup": span,
    }


def _floor(when: datetime, seconds: int) -> datetime:
    since = int((when - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=since // seconds * seconds)


def _aware(value: Any) -> datetime:
    if isinstance(value, str):  # MIN() of a SQLite time column comes back as text
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# -- what the store holds ------------------------------------------------------------------------


@dataclass(frozen=True)
class TableStats:
    """One runtime table: rows, the oldest and newest time, and its bytes when the database tells."""

    name: str
    rows: int
    oldest: datetime | None
    newest: datetime | None
    bytes: int | None


@dataclass(frozen=True)
class StoreStats:
    """What :func:`stats` found."""

    url: str
    #: The database's size on disk (SQLite: the file and its write-ahead log).
    bytes: int
    #: Of which free pages, reusable or given back by :func:`vacuum` (SQLite; 0 on PostgreSQL).
    free_bytes: int
    tables: tuple[TableStats, ...]
    #: Interval rows by ``rollup`` (0: as the sensor sent them; else the merged span in seconds).
    aggregates_by_rollup: dict[int, int]


_RUNTIME_TABLES: tuple[tuple[Table, Any], ...] = (
    (schema.runtime_aggregates, schema.runtime_aggregates.c.interval_start),
    (schema.runtime_exceptions, schema.runtime_exceptions.c.time),
    (schema.runtime_samples, schema.runtime_samples.c.time),
    (schema.runtime_breaches, schema.runtime_breaches.c.time),
    (schema.runtime_invariant_counts, schema.runtime_invariant_counts.c.time),
    (schema.runtime_sensor_health, schema.runtime_sensor_health.c.interval_start),
    (schema.review_items, schema.review_items.c.time),
)


def stats(store: Store) -> StoreStats:
    """Rows, time range and size of every runtime table, and the database's size."""
    with store.read() as conn:
        sizes = _table_bytes(store, conn)
        tables = []
        for table, column in _RUNTIME_TABLES:
            rows, oldest, newest = conn.execute(select(func.count(), func.min(column), func.max(column))).one()
            tables.append(
                TableStats(
                    name=table.name,
                    rows=int(rows),
                    oldest=_aware(oldest) if oldest is not None else None,
                    newest=_aware(newest) if newest is not None else None,
                    bytes=sizes.get(table.name),
                )
            )
        agg = schema.runtime_aggregates
        by_rollup = {int(r): int(n) for r, n in conn.execute(select(agg.c.rollup, func.count()).group_by(agg.c.rollup))}
        total, free = _database_bytes(store, conn)
    return StoreStats(store.safe_url, total, free, tuple(tables), by_rollup)


def _table_bytes(store: Store, conn: Connection) -> dict[str, int]:
    """Bytes per table with its indexes, where the database can say (PostgreSQL; SQLite built with dbstat)."""
    names = [table.name for table, _ in _RUNTIME_TABLES]
    if store.dialect == "postgresql":
        return {
            name: int(conn.exec_driver_sql("SELECT pg_total_relation_size(%s)", (name,)).scalar() or 0)
            for name in names
        }
    try:
        rows = conn.exec_driver_sql(
            "SELECT m.tbl_name, SUM(s.pgsize) FROM dbstat s JOIN sqlite_master m ON m.name = s.name GROUP BY m.tbl_name"
        ).all()
    except OperationalError:  # SQLite built without the dbstat table: sizes unknown
        return {}
    return {str(name): int(size) for name, size in rows if name in names}


def _database_bytes(store: Store, conn: Connection) -> tuple[int, int]:
    if store.dialect == "postgresql":
        return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar() or 0), 0
    page = int(conn.exec_driver_sql("PRAGMA page_size").scalar() or 0)
    free = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar() or 0)
    path = Path(make_url(store.url).database or "")
    return sum(_file_size(Path(f"{path}{suffix}")) for suffix in ("", "-wal")), free * page


def _file_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def vacuum(store: Store) -> tuple[int, int]:
    """Give the space of deleted rows back to the file system; the database's bytes before and after.

    SQLite rewrites the whole file (it needs that much free disk for a while, and waits for the
    write lock); PostgreSQL runs ``VACUUM (ANALYZE)`` on the runtime tables.

    Raises:
        StoreError: the store cannot be written.
    """
    with store.read() as conn:
        before, _ = _database_bytes(store, conn)
    if store.dialect == "postgresql":
        store.outside_transaction(*(f"VACUUM (ANALYZE) {table.name}" for table, _ in _RUNTIME_TABLES))
    else:
        store.outside_transaction("VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)")
    with store.read() as conn:
        after, _ = _database_bytes(store, conn)
    return before, after
