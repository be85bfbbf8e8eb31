"""Runtime facts in the store: loading sensor records.

:func:`ingest` takes the records the sensor wrote (spool lines or HTTP batches) and inserts the
ones the store does not have yet -- records carry their own ids, so loading the same batch twice
adds nothing. Reading them back is :mod:`codewitness.store.queries`.

Example:
    >>> counts = ingest(store, records)  # doctest: +SKIP
    >>> counts.inserted, counts.duplicates
    (12, 0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.exc import DataError, IntegrityError, StatementError

from codewitness.model import utcnow
from codewitness.sensor.aggregate import LAST_BUCKET, Histogram
from codewitness.store import Store, _first_line, schema

__all__ = ["BadRecord", "IngestCounts", "ingest", "ingest_spool"]

_TABLES: dict[str, Table] = {
    "aggregate": schema.runtime_aggregates,
    "exception": schema.runtime_exceptions,
    "sample": schema.runtime_samples,
    "sensor": schema.runtime_sensor_health,
    "breach": schema.runtime_breaches,
    "invariant": schema.runtime_invariant_counts,
    "review": schema.review_items,
}
_CHUNK = 500


@dataclass
class IngestCounts:
    """What one ingest did: rows inserted per kind, records already present, records refused.

    ``reasons`` counts the refused records by why they were refused (``"calls: not an integer
    from 0 to 2**63-1"``, ...), for a one-line report.
    """

    inserted: int = 0
    duplicates: int = 0
    bad: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: IngestCounts) -> None:
        """Fold ``other`` into this one."""
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        self.bad += other.bad
        for kind, n in other.by_kind.items():
            self.by_kind[kind] = self.by_kind.get(kind, 0) + n
        for reason, n in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n

    def refuse(self, reason: str, n: int = 1) -> None:
        """Count ``n`` records refused for ``reason``."""
        self.bad += n
        self.reasons[reason] = self.reasons.get(reason, 0) + n


# -- validation ------------------------------------------------------------------------------
#
# A record comes from a spool file or an HTTP body: anything may be in it. Each value is checked
# against the column it goes to (an integer column's range, a time, a histogram's buckets), so
# that one bad record is refused on its own instead of failing the transaction that holds every
# other record of its segment. Free-form values (arguments, results, stacks) are kept as they
# are, except what a database cannot hold: a NaN or infinite number becomes its name as a
# string, and text columns get lone surrogates written out (``\udc80``) and, where the column
# cannot hold it, NUL as ``\x00``.

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
#: The deepest nesting of lists and objects kept in a free-form value (the sensor's snapshots
#: are a few levels deep); deeper is refused before any later reader can trip over it.
MAX_VALUE_DEPTH = 64
#: Integers in free-form values up to this many bits (Python's int/str conversion limit is
#: 4300 digits, about 14,000 bits).
MAX_INT_BITS = 14_000


class BadRecord(ValueError):
    """A record that cannot be stored; the message (without the record's values) says why."""


_MISSING: Any = object()


def _get(record: Mapping[str, Any], key: str, default: Any = _MISSING) -> Any:
    if key in record:
        return record[key]
    if default is _MISSING:
        raise BadRecord(f"missing field {key!r}")
    return default


def _int(record: Mapping[str, Any], key: str, bounds: tuple[int, int] = (0, INT64[1]), default: Any = _MISSING) -> int:
    value = _get(record, key, default)
    low, high = bounds
    if type(value) is not int or not low <= value <= high:
        shown = "2**63-1" if high == INT64[1] else "2**31-1" if high == INT32[1] else str(high)
        raise BadRecord(f"{key}: not an integer from {low} to {shown}")
    return value


def _safe_text(value: str, *, nul: bool = True) -> str:
    """``value`` as every backend can store it (see above); ``nul``: the column can hold NUL."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    if not nul and "\x00" in value:
        value = value.replace("\x00", "\\x00")
    return value


def _str(record: Mapping[str, Any], key: str, limit: int, default: Any = _MISSING) -> str:
    value = _get(record, key, default)
    if not isinstance(value, str):
        raise BadRecord(f"{key}: not a string")
    return _safe_text(value, nul=False)[:limit]


def _opt_str(record: Mapping[str, Any], key: str, limit: int) -> str | None:
    value = record.get(key)
    return None if value is None or value == "" else _str(record, key, limit)


def _long_text(record: Mapping[str, Any], key: str, default: Any = _MISSING) -> str:
    value = _get(record, key, default)
    if not isinstance(value, str):
        raise BadRecord(f"{key}: not a string")
    return _safe_text(value)


def _time(record: Mapping[str, Any], key: str) -> datetime:
    value = _get(record, key)
    if not isinstance(value, str):
        raise BadRecord(f"{key}: not an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadRecord(f"{key}: not an ISO 8601 time") from None


def _value(value: Any, key: str, depth: int = 0) -> Any:
    """A free-form JSON value as the store can hold it (see above); :class:`BadRecord` otherwise."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise BadRecord(f"{key}: a number too large to store")
        return value
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (math.inf, -math.inf):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if depth >= MAX_VALUE_DEPTH:
        raise BadRecord(f"{key}: nested deeper than {MAX_VALUE_DEPTH} levels")
    if isinstance(value, list):
        return [_value(item, key, depth + 1) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise BadRecord(f"{key}: an object key that is not a string")
        return {k: _value(item, key, depth + 1) for k, item in value.items()}
    raise BadRecord(f"{key}: not a JSON value")


def _object(record: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = record.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRecord(f"{key}: not an object")
    result: dict[str, Any] = _value(value, key)
    return result


def _text_list(record: Mapping[str, Any], key: str) -> list[str]:
    value = record.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRecord(f"{key}: not a list of strings")
    return [_safe_text(v) for v in value]


def _counts(record: Mapping[str, Any], key: str) -> dict[str, int]:
    """A ``{name: count}`` object (errors by type)."""
    value = _get(record, key)
    if not isinstance(value, dict):
        raise BadRecord(f"{key}: not an object of counts")
    out: dict[str, int] = {}
    for name, n in value.items():
        if type(n) is not int or not 0 <= n <= INT64[1]:
            raise BadRecord(f"{key}: a count that is not an integer from 0 to 2**63-1")
        out[_safe_text(name)[:500]] = n
    if sum(out.values()) > INT64[1]:
        raise BadRecord(f"{key}: counts add up to more than 2**63-1")
    return out


def _histogram(value: Any) -> Histogram:
    """A stored or exported histogram, checked: buckets 0..LAST_BUCKET, counts 0..2**63-1."""
    if not isinstance(value, dict):
        raise BadRecord("histogram: not an object")
    buckets: dict[int, int] = {}
    for key, n in value.items():
        if not (isinstance(key, str) and key.isascii() and key.isdigit()):
            raise BadRecord("histogram: a bucket that is not a number")
        index = int(key) if len(key) <= 6 else LAST_BUCKET + 1
        if index > LAST_BUCKET:
            raise BadRecord(f"histogram: a bucket out of range (0 to {LAST_BUCKET})")
        if type(n) is not int or not 0 <= n <= INT64[1]:
            raise BadRecord("histogram: a count that is not an integer from 0 to 2**63-1")
        buckets[index] = buckets.get(index, 0) + n
    return Histogram(buckets)


def _source(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": _str(record, "id", 64),
        "service": _str(record, "service", 200),
        "revision": _opt_str(record, "revision", 200),
        "host": _str(record, "host", 255),
        "pid": _int(record, "pid", INT32),
    }


def _function(record: Mapping[str, Any]) -> dict[str, Any]:
    share = record.get("ai_share") or 0.0
    if type(share) not in (int, float) or not 0.0 <= share <= 1.0:
        raise BadRecord("ai_share: not a number from 0 to 1")
    line = record.get("line") or None
    return {
        "function": _str(record, "function", 1000),
        "origin": _opt_str(record, "origin", 20) or "unknown",
        "ai_share": float(share),
        "generation_ids": _text_list(record, "generation_ids"),
        "models": _text_list(record, "models"),
        "path": _opt_str(record, "path", 1000),
        "line": None if line is None else _int(record, "line", (1, INT32[1])),
    }


def _row(record: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The table row for one record.

    Raises:
        BadRecord: the record is malformed or holds a value its column cannot (the message
            says which field and why, never the value).
    """
    if not isinstance(record, Mapping):
        raise BadRecord("not an object")
    kind = _get(record, "kind")
    if not isinstance(kind, str) or kind not in _TABLES:
        raise BadRecord("kind: not one of " + ", ".join(_TABLES))
    row = _source(record)
    row["ingested_at"] = now
    if kind == "aggregate":
        errors = _counts(record, "errors")
        histogram = _histogram(_get(record, "histogram"))
        calls = _int(record, "calls")
        if histogram.count != calls:
            raise BadRecord("histogram: its counts do not add up to calls")
        row.update(
            _function(record),
            interval_start=_time(record, "start"),
            interval_end=_time(record, "end"),
            calls=calls,
            error_count=sum(errors.values()),
            errors=errors,
            histogram=histogram.to_json(),
            total_ns=_int(record, "total_ns"),
            max_ns=_int(record, "max_ns"),
        )
    elif kind == "exception":
        stack = record.get("stack") or []
        if not isinstance(stack, list):
            raise BadRecord("stack: not a list")
        row.update(
            _function(record),
            time=_time(record, "time"),
            type=_str(record, "type", 500),
            message=_long_text(record, "message", ""),
            stack=_value(stack, "stack"),
            arguments=_object(record, "arguments"),
        )
    elif kind == "sample":
        row.update(
            _function(record),
            time=_time(record, "time"),
            duration_ns=_int(record, "duration_ns"),
            arguments=_object(record, "arguments"),
            result=_value(record.get("result"), "result"),
        )
    elif kind == "sensor":
        row.update(
            interval_start=_time(record, "start"),
            interval_end=_time(record, "end"),
            dropped_events=_int(record, "dropped_events", default=0),
            suppressed_exceptions=_int(record, "suppressed_exceptions", default=0),
            internal_errors=_object(record, "internal_errors"),
            exporters=_object(record, "exporters"),
        )
    elif kind == "breach":
        detail = record.get("detail")
        row.update(
            _function(record),
            time=_time(record, "time"),
            rule=_str(record, "rule", 500),
            rule_kind=_str(record, "rule_kind", 20),
            expression=_long_text(record, "expression", ""),
            mode=_str(record, "mode", 10, "record"),
            arguments=_object(record, "arguments"),
            result=_value(record.get("result"), "result"),
            detail=None if detail is None else _long_text(record, "detail"),
        )
    elif kind == "invariant":
        row.update(
            time=_time(record, "time"),
            function=_str(record, "function", 1000),
            rule=_str(record, "rule", 500),
            rule_kind=_str(record, "rule_kind", 20),
            expression=_long_text(record, "expression", ""),
            rule_source=_str(record, "source", 20, "decorator"),
            passed=_int(record, "passed"),
            breached=_int(record, "breached"),
            errors=_int(record, "errors", default=0),
        )
    else:  # review
        row.update(
            _function(record),
            time=_time(record, "time"),
            rule=_str(record, "rule", 1000, ""),
            arguments=_object(record, "arguments"),
            result=_value(record.get("result"), "result"),
        )
    return row


def ingest(store: Store, records: Iterable[Mapping[str, Any]]) -> IngestCounts:
    """Insert the records the store does not hold yet, in one transaction.

    A record that is malformed, or holds a value the store cannot (an integer beyond its
    column, a histogram bucket out of range, a time out of range), is refused on its own and
    counted with its reason; the other records are stored. Should the database still refuse a
    row, that row alone is refused the same way.

    Args:
        store: an open store.
        records: sensor records (dicts with ``kind`` and ``id``).

    Returns:
        How many were inserted (per kind), already present, or refused (and why).

    Raises:
        StoreError: the store cannot be written.
    """
    counts = IngestCounts()
    now = utcnow()
    rows: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in _TABLES}
    for record in records:
        try:
            row = _row(record, now)
        except BadRecord as exc:
            counts.refuse(str(exc))
            continue
        except Exception as exc:  # a record that trips our own checks is still one record
            counts.refuse(f"unreadable ({type(exc).__name__})")
            continue
        bucket = rows[record["kind"]]
        if row["id"] in bucket:
            counts.duplicates += 1
        bucket[row["id"]] = row
    with store.write() as conn:
        for kind, by_id in rows.items():
            if by_id:
                added = _insert_new(conn, _TABLES[kind], by_id, counts)
                counts.inserted += added
                if added:
                    counts.by_kind[kind] = counts.by_kind.get(kind, 0) + added
    return counts


def ingest_spool(
    store: Store,
    folder: Path,
    *,
    on_segment: Callable[[list[dict[str, Any]]], None] | None = None,
) -> tuple[IngestCounts, int]:
    """Load every segment of a sensor spool folder, oldest first, one transaction per segment.

    Args:
        store: an open store.
        folder: the spool folder the sensor wrote.
        on_segment: called with each segment's records before they are stored (progress, summaries).

    Returns:
        The summed counts (unreadable lines counted as ``bad``, with their reason) and how many
        segments were read.
    """
    from codewitness.sensor.export import read_spool

    total = IngestCounts()
    segments = 0
    for _path, records, bad in read_spool(folder):
        segments += 1
        if on_segment is not None:
            on_segment(records)
        counts = ingest(store, records)
        if bad:
            counts.refuse("not a JSON record with a kind and an id", bad)
        total.add(counts)
    return total, segments


def _insert_new(conn: Connection, table: Table, by_id: dict[str, dict[str, Any]], counts: IngestCounts) -> int:
    """Insert the rows whose ids the table lacks; returns how many were inserted.

    Rows the table already has are counted as duplicates. The rows go in one statement inside a
    savepoint; should the database refuse it, each row is tried on its own and the refused ones
    are counted as bad, so one row never costs the others.
    """
    ids = list(by_id)
    present: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        present.update(conn.execute(select(table.c.id).where(table.c.id.in_(chunk))).scalars())
    counts.duplicates += len(present)
    fresh = [row for key, row in by_id.items() if key not in present]
    if not fresh:
        return 0
    try:
        with conn.begin_nested():
            conn.execute(table.insert(), fresh)
        return len(fresh)
    except (DataError, IntegrityError, StatementError, ValueError, OverflowError):
        pass
    added = 0
    for row in fresh:
        try:
            with conn.begin_nested():
                conn.execute(table.insert(), [row])
            added += 1
        except (DataError, IntegrityError, StatementError, ValueError, OverflowError) as exc:
            counts.refuse(f"refused by the database ({_first_line(exc)})")
    return added
