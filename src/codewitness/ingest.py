"""Loading runtime records into the store: one validator and loader for every way they arrive.

The sensor's records come as spool segments (the files ``codewitness ingest`` and the pytest
plugin read), and as HTTP batches (decoded by the server). Each way ends in
:func:`ingest_batch`: every record is checked against the format (:mod:`codewitness.facts`) and
against the column it goes to; one bad record is refused on its own, counted with its reason,
and the rest are stored. Records carry their own ids, so loading the same batch twice adds nothing.

Example:
    >>> result = ingest_batch(store, decode_batch(body), source="http 10.0.0.7")  # doctest: +SKIP
    >>> result.inserted, result.duplicates, result.bad  # doctest: +SKIP
    (12, 0, 1)
    >>> total, segments = ingest_spool(store, Path(".codewitness/spool"))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from codewitness._read import read_bytes
from codewitness.facts import (
    INT64_MAX,
    LAST_BUCKET,
    SEGMENT_GLOB,
    BadRecord,
    Decoded,
    Histogram,
    Kind,
    decode_batch,
    finished_segment,
)
from codewitness.model import utcnow

if TYPE_CHECKING:
    from codewitness.store import Store

__all__ = ["IngestResult", "Segment", "ingest_batch", "ingest_spool", "read_spool"]

log = logging.getLogger("codewitness.ingest")

#: The largest spool segment read (the sensor closes one at ``sensor.spool_segment_bytes``, 4 MiB
#: by default, plus at most one batch).
SEGMENT_MAX_BYTES = 1 << 30
#: A finished segment with refused records is kept under its name with this before it.
REJECTED_PREFIX = "rejected-"

#: The refusal reason of a line that is not a record at all.
UNREADABLE = "not a JSON record with a kind and an id"


@dataclass
class IngestResult:
    """What one ingest did: rows inserted per kind, records already present, records refused.

    ``reasons`` counts the refused records by why they were refused (``"calls: not an integer
    from 0 to 2**63-1"``, ...), for a one-line report.
    """

    inserted: int = 0
    duplicates: int = 0
    bad: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    #: Spool segments deleted once stored, and set aside for their refused records
    #: (:func:`ingest_spool` with ``delete``).
    deleted: int = 0
    rejected: int = 0

    def add(self, other: IngestResult) -> None:
        """Fold ``other`` into this one."""
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        self.bad += other.bad
        self.deleted += other.deleted
        self.rejected += other.rejected
        for kind, n in other.by_kind.items():
            self.by_kind[kind] = self.by_kind.get(kind, 0) + n
        for reason, n in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n

    def refuse(self, reason: str, n: int = 1) -> None:
        """Count ``n`` records refused for ``reason``."""
        self.bad += n
        self.reasons[reason] = self.reasons.get(reason, 0) + n


def ingest_batch(store: Store, records: Iterable[Mapping[str, Any]] | Decoded, *, source: str) -> IngestResult:
    """Insert the records the store does not hold yet, in one transaction.

    Batches loaded at the same time from several threads (the server's requests) may share that
    transaction (:func:`codewitness.store.runtime.write_rows`); each is still stored whole or not
    at all, with its own result.

    A record that is malformed, or holds a value the store cannot (an integer beyond its
    column, a histogram bucket out of range, a time out of range), is refused on its own and
    counted with its reason; the other records are stored. Should the database still refuse a
    row, that row alone is refused the same way.

    Args:
        store: an open store.
        records: the records of one batch, or a decoded batch (:func:`codewitness.facts.decode_batch`),
            whose unreadable lines are counted as refused.
        source: where the batch came from (a segment's path, ``http <client>``), named in the log
            line about refused records.

    Returns:
        How many were inserted (per kind), already present, or refused (and why).

    Raises:
        StoreError: the store cannot be written.
    """
    from codewitness.store.runtime import write_rows

    result = IngestResult()
    unreadable = 0
    if isinstance(records, Decoded):
        records, unreadable = records
    now = utcnow()
    rows: dict[Kind, dict[str, dict[str, Any]]] = {kind: {} for kind in Kind}
    flows: dict[str, dict[str, Any]] = {}
    for record in records:
        try:
            kind, row = _row(record, now)
            flow = _flow_row(record, kind, row) if isinstance(record, Mapping) and "flow" in record else None
        except BadRecord as exc:
            result.refuse(str(exc))
            continue
        except Exception as exc:  # a record that trips our own checks is still one record
            result.refuse(f"unreadable ({type(exc).__name__})")
            continue
        by_id = rows[kind]
        if row["id"] in by_id:
            result.duplicates += 1
        by_id[row["id"]] = row
        if flow is not None:
            flows[row["id"]] = flow
    written = write_rows(store, rows, flows)
    result.inserted += sum(written.inserted.values())
    result.by_kind.update({kind.value: n for kind, n in written.inserted.items() if n})
    result.duplicates += written.duplicates
    for reason in written.refused:
        result.refuse(reason)
    if unreadable:
        result.refuse(UNREADABLE, unreadable)
    if result.bad:
        log.debug("codewitness: %s: %d record(s) refused: %s", source, result.bad, result.reasons)
    return result


class Segment(NamedTuple):
    """One spool segment: its file and its decoded batch."""

    path: Path
    records: list[dict[str, Any]]
    unreadable: int


def read_spool(folder: str | Path) -> Iterator[Segment]:
    """Each segment of a spool folder, oldest first (a segment that cannot be read is passed over).

    A half-written last line (the process died mid-write) or any line that is not a record is
    counted in ``unreadable``, never fatal.
    """
    for path in sorted(Path(folder).glob(SEGMENT_GLOB)):
        data, _problem = read_bytes(path, SEGMENT_MAX_BYTES, follow=False)
        if data is None:  # gone, unreadable, too large, or not a regular file (a FIFO would block)
            continue
        yield Segment(path, *decode_batch(data))


def ingest_spool(
    store: Store,
    folder: Path,
    *,
    on_segment: Callable[[list[dict[str, Any]]], None] | None = None,
    delete: bool = False,
) -> tuple[IngestResult, int]:
    """Load every segment of a sensor spool folder, oldest first, one transaction per segment.

    Args:
        store: an open store.
        folder: the spool folder the sensor wrote.
        on_segment: called with each segment's records before they are stored (progress, summaries).
        delete: delete each segment once it is stored, when its sensor has closed it for good (it
            holds a lock on the one it writes: that one is read, and kept for the next ingest). A
            finished segment with refused records or unreadable lines is kept, renamed
            ``rejected-<name>`` so that it is not read again.

    Returns:
        The summed result (unreadable lines counted as refused, with their reason; ``deleted``
        and ``rejected``: the segments deleted and set aside) and how many segments were read.

    Raises:
        StoreError: the store cannot be written (the segment being stored is kept).
    """
    total = IngestResult()
    segments = 0
    for path in sorted(Path(folder).glob(SEGMENT_GLOB)):
        with finished_segment(path) as finished:
            data, _problem = read_bytes(path, SEGMENT_MAX_BYTES, follow=False)
            if data is None:  # gone, unreadable, too large, or not a regular file (a FIFO would block)
                continue
            records, unreadable = decode_batch(data)
            segments += 1
            if on_segment is not None:
                on_segment(records)
            result = ingest_batch(store, Decoded(records, unreadable), source=str(path))
            total.add(result)
            if delete and finished:
                try:
                    if result.bad:
                        path.rename(path.with_name(REJECTED_PREFIX + path.name))
                        total.rejected += 1
                    else:
                        path.unlink()
                        total.deleted += 1
                except OSError:
                    log.debug("codewitness: %s was stored but could not be deleted", path, exc_info=True)
    return total, segments


# -- validation ----------------------------------------------------------------------------
#
# A record comes from a spool file or an HTTP body: anything may be in it. Each value is checked
# against the column it goes to (an integer column's range, a time, a histogram's buckets), so
# that one bad record is refused on its own instead of failing the transaction that holds every
# other record of its segment. Free-form values (arguments, results, stacks) are kept as they
# are, except what a database cannot hold: a NaN or infinite number becomes its name as a
# string, and text columns get lone surrogates written out (``\udc80``) and, where the column
# cannot hold it, NUL as ``\x00``.

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), INT64_MAX)
#: The deepest nesting of lists and objects kept in a free-form value (the sensor's snapshots
#: are a few levels deep); deeper is refused before any later reader can trip over it.
MAX_VALUE_DEPTH = 64
#: Integers in free-form values up to this many bits (Python's int/str conversion limit is
#: 4300 digits, about 14,000 bits).
MAX_INT_BITS = 14_000


_KINDS = {kind.value: kind for kind in Kind}


def _kind(value: Any) -> Kind:
    kind = _KINDS.get(value) if isinstance(value, str) else None
    if kind is None:
        raise BadRecord("kind: not one of " + ", ".join(_KINDS))
    return kind


_MISSING: Any = object()


def _get(record: Mapping[str, Any], key: str, default: Any = _MISSING) -> Any:
    if key in record:
        return record[key]
    if default is _MISSING:
        raise BadRecord(f"missing field {key!r}")
    return default


def _int(record: Mapping[str, Any], key: str, bounds: tuple[int, int] = (0, INT64[1]), default: Any = _MISSING) -> int:
    value = record[key] if key in record else _get(record, key, default)
    low, high = bounds
    if type(value) is not int or not low <= value <= high:
        shown = "2**63-1" if high == INT64[1] else "2**31-1" if high == INT32[1] else str(high)
        raise BadRecord(f"{key}: not an integer from {low} to {shown}")
    return value


def _safe_text(value: str, *, nul: bool = True) -> str:
    """``value`` as every backend can store it (see above); ``nul``: the column can hold NUL."""
    if not value.isascii():  # ASCII always encodes
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    if not nul and "\x00" in value:
        value = value.replace("\x00", "\\x00")
    return value


def _str(record: Mapping[str, Any], key: str, limit: int, default: Any = _MISSING) -> str:
    return _short_text(record[key] if key in record else _get(record, key, default), key, limit)


def _opt_str(record: Mapping[str, Any], key: str, limit: int) -> str | None:
    value = record.get(key)
    return None if value is None or value == "" else _short_text(value, key, limit)


def _short_text(value: Any, key: str, limit: int) -> str:
    """A string field's value for a column that cannot hold NUL, cut at ``limit`` characters."""
    if not isinstance(value, str):
        raise BadRecord(f"{key}: not a string")
    text: str = value if value.isascii() and "\x00" not in value else _safe_text(value, nul=False)
    return text[:limit]


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


def _value(value: Any, key: str) -> Any:
    """A free-form JSON value as the store can hold it (see above); :class:`BadRecord` otherwise.

    A value that is already so (the usual case) is returned as it is; any other is rebuilt or
    refused by :func:`_stored_value`.
    """
    return value if _plain(value) else _stored_value(value, key)


def _plain(value: Any) -> bool:
    """Whether ``value`` is a JSON value the store holds as it is: only ``dict`` (with ``str``
    keys), ``list``, ``str``, ``bool``, ``None``, ``int`` within :data:`MAX_INT_BITS` and finite
    ``float`` (exactly these types, no subclasses), nested at most :data:`MAX_VALUE_DEPTH` deep.

    This is :func:`_stored_value` for the values JSON decoding makes, without its copy: one loop
    over an explicit stack of containers, each item dispatched on its exact type.
    """
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        container, depth = pending.pop()
        kind = type(container)
        if kind is dict:
            for name in container:
                if type(name) is not str:
                    return False
            items = container.values()
        elif kind is list:
            items = container
        else:  # a scalar at the top
            items = (container,)
            depth -= 1
        if depth >= MAX_VALUE_DEPTH:
            return False
        for item in items:
            kind = type(item)
            if kind is str or item is None or kind is bool:
                continue
            if kind is int:
                if item.bit_length() > MAX_INT_BITS:
                    return False
            elif kind is float:
                if not math.isfinite(item):
                    return False
            elif kind is dict or kind is list:
                pending.append((item, depth + 1))
            else:
                return False
    return True


def _stored_value(value: Any, key: str, depth: int = 0) -> Any:
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
        return [_stored_value(item, key, depth + 1) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise BadRecord(f"{key}: an object key that is not a string")
        return {k: _stored_value(item, key, depth + 1) for k, item in value.items()}
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
    return [v if v.isascii() else _safe_text(v) for v in value]


def _counts(record: Mapping[str, Any], key: str) -> dict[str, int]:
    """A ``{name: count}`` object (errors by type)."""
    value = _get(record, key)
    if not isinstance(value, dict):
        raise BadRecord(f"{key}: not an object of counts")
    out: dict[str, int] = {}
    for name, n in value.items():
        if type(n) is not int or not 0 <= n <= INT64[1]:
            raise BadRecord(f"{key}: a count that is not an integer from 0 to 2**63-1")
        out[(name if name.isascii() else _safe_text(name))[:500]] = n
    if sum(out.values()) > INT64[1]:
        raise BadRecord(f"{key}: counts add up to more than 2**63-1")
    return out


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


def _row(record: Mapping[str, Any], now: datetime) -> tuple[Kind, dict[str, Any]]:
    """The kind and table row of one record.

    Raises:
        BadRecord: the record is malformed or holds a value its column cannot (the message
            says which field and why, never the value).
    """
    if not isinstance(record, Mapping):
        raise BadRecord("not an object")
    kind = _kind(_get(record, "kind"))
    row = _source(record)
    row["ingested_at"] = now
    if kind is Kind.AGGREGATE:
        errors = _counts(record, "errors")
        histogram, count = _histogram(record)
        calls = _int(record, "calls")
        if count != calls:
            raise BadRecord("histogram: its counts do not add up to calls")
        row.update(
            _function(record),
            interval_start=_time(record, "start"),
            interval_end=_time(record, "end"),
            calls=calls,
            error_count=sum(errors.values()),
            errors=errors,
            histogram=histogram,
            total_ns=_int(record, "total_ns"),
            max_ns=_int(record, "max_ns"),
        )
    elif kind is Kind.EXCEPTION:
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
            fingerprint=_opt_str(record, "fingerprint", 32),
            count=_int(record, "count", (1, INT64[1]), default=1),
        )
    elif kind is Kind.SAMPLE:
        row.update(
            _function(record),
            time=_time(record, "time"),
            duration_ns=_int(record, "duration_ns"),
            arguments=_object(record, "arguments"),
            result=_value(record.get("result"), "result"),
            **_replayable(record),
            shape=_opt_str(record, "shape", 500),
            shape_calls=None if record.get("shape_calls") is None else _int(record, "shape_calls"),
            source=_opt_str(record, "source", 20) or "sensor",
            output=_opt_object(record, "output"),
        )
    elif kind is Kind.HEALTH:
        row.update(
            interval_start=_time(record, "start"),
            interval_end=_time(record, "end"),
            dropped_events=_int(record, "dropped_events", default=0),
            suppressed_exceptions=_int(record, "suppressed_exceptions", default=0),
            internal_errors=_object(record, "internal_errors"),
            exporters=_object(record, "exporters"),
        )
    elif kind is Kind.BREACH:
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
    elif kind is Kind.INVARIANT:
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
    elif kind is Kind.REVIEW:
        replayable = _replayable(record)
        replayable.pop("input_digest")
        row.update(
            _function(record),
            time=_time(record, "time"),
            rule=_str(record, "rule", 1000, ""),
            arguments=_object(record, "arguments"),
            result=_value(record.get("result"), "result"),
            **replayable,
        )
    elif kind is Kind.ROUTE:
        histogram, count = _histogram(record)
        requests = _int(record, "requests")
        if count != requests:
            raise BadRecord("histogram: its counts do not add up to requests")
        row.update(
            _maybe_function(record),
            interval_start=_time(record, "start"),
            interval_end=_time(record, "end"),
            flow_kind=_str(record, "flow", 20),
            method=_nullable_str(record, "method", 20),
            route=_nullable_str(record, "route", 1000),
            requests=requests,
            errors=_int(record, "errors"),
            statuses=_counts(record, "statuses"),
            histogram=histogram,
            total_ns=_int(record, "total_ns"),
            max_ns=_int(record, "max_ns"),
            concurrency=_concurrency(record),
        )
    elif kind is Kind.UNWATCHED:
        row.update(
            _function(record),
            time=_time(record, "time"),
            reason=_str(record, "reason", 40),
            calls=_int(record, "calls"),
            mean_ns=_int(record, "mean_ns"),
        )
    else:  # Kind.DEPENDENCY
        row.update(
            _maybe_function(record),
            interval_start=_time(record, "start"),
            interval_end=_time(record, "end"),
            route=_nullable_str(record, "route", 1000),
            method=_nullable_str(record, "method", 20),
            system=_str(record, "system", 40),
            statement=_long_text(record, "statement"),
            fingerprint=_str(record, "fingerprint", 64),
            calls=_int(record, "calls"),
            errors=_int(record, "errors"),
            total_ns=_int(record, "total_ns"),
            max_ns=_int(record, "max_ns"),
            rows=_int(record, "rows"),
            requests=_int(record, "requests"),
            repeated=_int(record, "repeated"),
            max_per_request=_int(record, "max_per_request"),
            details=_counts(record, "details") if record.get("details") is not None else {},
        )
    return kind, row


def _histogram(record: Mapping[str, Any]) -> tuple[dict[str, int], int]:
    """A record's histogram as stored (:meth:`Histogram.to_json` of :meth:`Histogram.from_json`), and
    its count.

    The sensor sends it in that form already (bucket numbers as written by ``str``, ascending):
    such a map is checked and kept as it is, with no histogram made of it and taken apart again.

    Raises:
        BadRecord: not a histogram (as :meth:`Histogram.from_json` says).
    """
    value = _get(record, "histogram")
    if type(value) is dict:
        count = 0
        last = -1
        for key, n in value.items():
            if not (type(key) is str and key.isascii() and key.isdigit() and len(key) <= 6):
                break
            index = int(key)
            if index <= last or index > LAST_BUCKET or (len(key) > 1 and key[0] == "0"):
                break
            if type(n) is not int or not 0 <= n <= INT64_MAX:
                break
            last = index
            count += n
        else:
            return value, count
    histogram = Histogram.from_json(value)  # any other form: made canonical, or refused with its reason
    return histogram.to_json(), histogram.count


def _nullable_str(record: Mapping[str, Any], key: str, limit: int) -> str | None:
    """A field that must be there but may be ``null`` (a route no router matched, a job's method)."""
    _get(record, key)
    return _opt_str(record, key, limit)


def _maybe_function(record: Mapping[str, Any]) -> dict[str, Any]:
    """The function fields of a record whose function may be unknown (``None``, never left out)."""
    if _get(record, "function") is None:
        return {
            "function": None,
            "origin": "unknown",
            "ai_share": 0.0,
            "generation_ids": [],
            "models": [],
            "path": None,
            "line": None,
        }
    return _function(record)


def _concurrency(record: Mapping[str, Any]) -> dict[str, list[int]]:
    """A route's ``{in flight: [requests, total_ns]}``."""
    value = _get(record, "concurrency")
    if not isinstance(value, dict):
        raise BadRecord("concurrency: not an object")
    out: dict[str, list[int]] = {}
    for label, pair in value.items():
        if not (isinstance(label, str) and len(label) <= 20):
            raise BadRecord("concurrency: a label that is not a short string")
        if not (isinstance(pair, list) and len(pair) == 2 and all(type(n) is int and 0 <= n <= INT64[1] for n in pair)):
            raise BadRecord("concurrency: not [requests, total_ns] integers from 0 to 2**63-1")
        out[_safe_text(label)] = list(pair)
    return out


#: The kinds of record that may carry the request they happened in.
_WITH_FLOW = frozenset({Kind.EXCEPTION, Kind.SAMPLE, Kind.BREACH, Kind.REVIEW})


def _flow_row(record: Mapping[str, Any], kind: Kind, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The :data:`~codewitness.store.runtime.FLOWS` row of an event's ``flow`` context, or ``None``.

    Raises:
        BadRecord: the context is not an object with the fields a flow has.
    """
    flow = record.get("flow")
    if flow is None or kind not in _WITH_FLOW:
        return None
    if not isinstance(flow, dict):
        raise BadRecord("flow: not an object")
    statements = flow.get("statements", [])
    if not isinstance(statements, list):
        raise BadRecord("flow: statements is not a list")
    return {
        "id": row["id"],
        "event_kind": kind.value,
        "time": row["time"],
        "service": row["service"],
        "revision": row["revision"],
        "function": row.get("function"),
        "request_id": _str(flow, "id", 200),
        "flow_kind": _str(flow, "kind", 20),
        "method": _opt_str(flow, "method", 20),
        "route": _opt_str(flow, "route", 1000),
        "flow": _value(flow, "flow"),
        "ingested_at": row["ingested_at"],
    }


def _opt_object(record: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    return None if record.get(key) is None else _object(record, key)


def _replayable(record: Mapping[str, Any]) -> dict[str, Any]:
    """The exact encoding of a call's inputs, its digest, or why it has none (samples, review items).

    An input that is not an object is refused with the record; a record with neither an input
    nor a reason is stored as not replayable (it came from a sensor that predates replay).
    """
    exact = _opt_object(record, "input")
    reason = _opt_str(record, "not_replayable", 2000)
    digest = _opt_str(record, "input_digest", 64)
    if exact is None and reason is None:
        reason = "recorded without an exact encoding (a sensor older than replay)"
    return {"input": exact, "input_digest": digest if exact is not None else None, "not_replayable": reason}
