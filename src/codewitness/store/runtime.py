"""Runtime facts in the store: loading sensor records, and per-function summaries.

:func:`ingest` takes the records the sensor wrote (spool lines or HTTP batches) and inserts the
ones the store does not have yet -- records carry their own ids, so loading the same batch twice
adds nothing. :func:`summarize` merges interval aggregates into one view per function: calls,
errors, latency quantiles from the merged histograms, and recent exceptions with their inputs.

Example:
    >>> counts = ingest(store, records)  # doctest: +SKIP
    >>> counts.inserted, counts.duplicates
    (12, 0)
    >>> summarize(store, function="shop.pricing.quote")[0]["p95_ms"]  # doctest: +SKIP
    0.031
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, select

from codewitness.model import utcnow
from codewitness.sensor.aggregate import Histogram
from codewitness.store import Store, schema

__all__ = ["IngestCounts", "ingest", "summarize"]

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
    """What one ingest did: rows inserted per kind, records already present, records refused."""

    inserted: int = 0
    duplicates: int = 0
    bad: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def add(self, other: IngestCounts) -> None:
        """Fold ``other`` into this one."""
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        self.bad += other.bad
        for kind, n in other.by_kind.items():
            self.by_kind[kind] = self.by_kind.get(kind, 0) + n


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError("a time must be an ISO 8601 string")
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _text_list(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError("expected a list")
    return [str(v) for v in value]


def _source(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(record["id"])[:64],
        "service": str(record["service"])[:200],
        "revision": None if record.get("revision") is None else str(record["revision"])[:200],
        "host": str(record["host"])[:255],
        "pid": int(record["pid"]),
    }


def _function(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "function": str(record["function"])[:1000],
        "origin": str(record.get("origin") or "unknown")[:20],
        "ai_share": float(record.get("ai_share") or 0.0),
        "generation_ids": _text_list(record.get("generation_ids")),
        "models": _text_list(record.get("models")),
        "path": record.get("path") or None,
        "line": int(record["line"]) if record.get("line") else None,
    }


def _row(record: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The table row for one record; raises KeyError/TypeError/ValueError when it is malformed."""
    kind = record["kind"]
    row = _source(record)
    row["ingested_at"] = now
    if kind == "aggregate":
        errors = {str(k): int(v) for k, v in dict(record["errors"]).items()}
        histogram = Histogram.from_json(record["histogram"])
        calls = int(record["calls"])
        if calls < 0 or histogram.count != calls:
            raise ValueError("histogram count does not match calls")
        row.update(
            _function(record),
            interval_start=_time(record["start"]),
            interval_end=_time(record["end"]),
            calls=calls,
            error_count=sum(errors.values()),
            errors=errors,
            histogram=histogram.to_json(),
            total_ns=int(record["total_ns"]),
            max_ns=int(record["max_ns"]),
        )
    elif kind == "exception":
        row.update(
            _function(record),
            time=_time(record["time"]),
            type=str(record["type"])[:500],
            message=str(record.get("message", "")),
            stack=list(record.get("stack") or []),
            arguments=dict(record.get("arguments") or {}),
        )
    elif kind == "sample":
        row.update(
            _function(record),
            time=_time(record["time"]),
            duration_ns=int(record["duration_ns"]),
            arguments=dict(record.get("arguments") or {}),
            result=record.get("result"),
        )
    elif kind == "sensor":
        row.update(
            interval_start=_time(record["start"]),
            interval_end=_time(record["end"]),
            dropped_events=int(record.get("dropped_events", 0)),
            suppressed_exceptions=int(record.get("suppressed_exceptions", 0)),
            internal_errors=dict(record.get("internal_errors") or {}),
            exporters=dict(record.get("exporters") or {}),
        )
    elif kind == "breach":
        row.update(
            _function(record),
            time=_time(record["time"]),
            rule=str(record["rule"])[:500],
            rule_kind=str(record["rule_kind"])[:20],
            expression=str(record.get("expression", "")),
            mode=str(record.get("mode", "record"))[:10],
            arguments=dict(record.get("arguments") or {}),
            result=record.get("result"),
            detail=None if record.get("detail") is None else str(record["detail"]),
        )
    elif kind == "invariant":
        row.update(
            time=_time(record["time"]),
            function=str(record["function"])[:1000],
            rule=str(record["rule"])[:500],
            rule_kind=str(record["rule_kind"])[:20],
            expression=str(record.get("expression", "")),
            rule_source=str(record.get("source", "decorator"))[:20],
            passed=int(record["passed"]),
            breached=int(record["breached"]),
            errors=int(record.get("errors", 0)),
        )
    elif kind == "review":
        row.update(
            _function(record),
            time=_time(record["time"]),
            rule=str(record.get("rule", ""))[:1000],
            arguments=dict(record.get("arguments") or {}),
            result=record.get("result"),
        )
    else:
        raise ValueError(f"unknown record kind {kind!r}")
    return row


def ingest(store: Store, records: Iterable[Mapping[str, Any]]) -> IngestCounts:
    """Insert the records the store does not hold yet, in one transaction.

    Args:
        store: an open store.
        records: sensor records (dicts with ``kind`` and ``id``).

    Returns:
        How many were inserted (per kind), already present, or malformed and skipped.

    Raises:
        StoreError: the store cannot be written.
    """
    counts = IngestCounts()
    now = utcnow()
    rows: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in _TABLES}
    for record in records:
        try:
            row = _row(record, now)
        except (KeyError, TypeError, ValueError, AttributeError):
            counts.bad += 1
            continue
        bucket = rows[record["kind"]]
        if row["id"] in bucket:
            counts.duplicates += 1
        bucket[row["id"]] = row
    with store.write() as conn:
        for kind, by_id in rows.items():
            if by_id:
                added = _insert_new(conn, _TABLES[kind], by_id)
                counts.inserted += added
                counts.duplicates += len(by_id) - added
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
        The summed counts (unreadable lines counted as ``bad``) and how many segments were read.
    """
    from codewitness.sensor.export import read_spool

    total = IngestCounts()
    segments = 0
    for _path, records, bad in read_spool(folder):
        segments += 1
        if on_segment is not None:
            on_segment(records)
        counts = ingest(store, records)
        counts.bad += bad
        total.add(counts)
    return total, segments


def _insert_new(conn: Connection, table: Table, by_id: dict[str, dict[str, Any]]) -> int:
    ids = list(by_id)
    present: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        present.update(conn.execute(select(table.c.id).where(table.c.id.in_(chunk))).scalars())
    fresh = [row for key, row in by_id.items() if key not in present]
    if fresh:
        conn.execute(table.insert(), fresh)
    return len(fresh)


def _matches(name: str, pattern: str | None) -> bool:
    if pattern is None:
        return True
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return name == pattern


def summarize(
    store: Store,
    *,
    function: str | None = None,
    since: datetime | None = None,
    exceptions_per_function: int = 5,
) -> list[dict[str, Any]]:
    """One summary per function over the stored intervals (AI-written first, busiest first).

    Args:
        store: an open store.
        function: an exact ``module.qualname`` or a glob pattern (``shop.pricing.*``).
        since: only intervals that ended, and exceptions that happened, at or after this time.
        exceptions_per_function: how many recent exceptions to include per function.

    Returns:
        Dicts with ``function``, ``origin``, ``ai_share``, ``calls``, ``errors``, ``error_rate``,
        ``errors_by_type``, ``p50_ms``, ``p95_ms``, ``p99_ms``, ``max_ms``, ``mean_ms``,
        ``models``, ``generation_ids``, ``services``, ``first_seen``, ``last_seen`` and
        ``exceptions`` (newest first: ``time``, ``type``, ``message``, ``arguments``, ``where``).
    """
    agg = schema.runtime_aggregates
    exc = schema.runtime_exceptions
    query = select(agg).order_by(agg.c.interval_start)
    exc_query = select(exc).order_by(exc.c.time.desc())
    if function is not None and not any(ch in function for ch in "*?["):
        query = query.where(agg.c.function == function)
        exc_query = exc_query.where(exc.c.function == function)
    if since is not None:
        query = query.where(agg.c.interval_end >= since)
        exc_query = exc_query.where(exc.c.time >= since)
    summaries: dict[str, dict[str, Any]] = {}
    histograms: dict[str, Histogram] = {}
    with store.read() as conn:
        for row in conn.execute(query).mappings():
            name = row["function"]
            if not _matches(name, function):
                continue
            entry = summaries.get(name)
            if entry is None:
                entry = summaries[name] = _empty_summary(row)
                histograms[name] = Histogram()
            entry["calls"] += row["calls"]
            entry["errors"] += row["error_count"]
            for error_type, n in row["errors"].items():
                entry["errors_by_type"][error_type] = entry["errors_by_type"].get(error_type, 0) + n
            entry["_total_ns"] += row["total_ns"]
            entry["_max_ns"] = max(entry["_max_ns"], row["max_ns"])
            entry["origin"], entry["ai_share"] = row["origin"], row["ai_share"]
            for key in ("models", "generation_ids"):
                entry[key] = sorted({*entry[key], *row[key]})
            entry["services"] = sorted({*entry["services"], row["service"]})
            entry["last_seen"] = row["interval_end"].isoformat()
            histograms[name].merge(Histogram.from_json(row["histogram"]))
        for row in conn.execute(exc_query).mappings():
            entry = summaries.get(row["function"])
            if entry is None or len(entry["exceptions"]) >= exceptions_per_function:
                continue
            stack = row["stack"] or []
            top = stack[-1] if stack else {}
            entry["exceptions"].append(
                {
                    "time": row["time"].isoformat(),
                    "type": row["type"],
                    "message": row["message"],
                    "arguments": row["arguments"],
                    "where": f"{top.get('file')}:{top.get('line')}" if top else None,
                }
            )
        breach_query = select(schema.runtime_breaches).order_by(schema.runtime_breaches.c.time.desc())
        if since is not None:
            breach_query = breach_query.where(schema.runtime_breaches.c.time >= since)
        for row in conn.execute(breach_query).mappings():
            name = row["function"]
            if not _matches(name, function):
                continue
            entry = summaries.get(name)
            if entry is None:  # a guarded function the sensor does not time (a decorator alone)
                entry = summaries[name] = _empty_summary(row)
                histograms[name] = Histogram()
            entry["breach_count"] += 1
            if len(entry["breaches"]) < exceptions_per_function:
                entry["breaches"].append(
                    {
                        "time": row["time"].isoformat(),
                        "rule": row["rule"],
                        "kind": row["rule_kind"],
                        "expression": row["expression"],
                        "arguments": row["arguments"],
                        "result": row["result"],
                        "detail": row["detail"],
                    }
                )
    for name, entry in summaries.items():
        histogram = histograms[name]
        calls = entry["calls"]
        entry["error_rate"] = round(entry["errors"] / calls, 6) if calls else 0.0
        entry["p50_ms"] = round(histogram.quantile(0.5) / 1e6, 6)
        entry["p95_ms"] = round(histogram.quantile(0.95) / 1e6, 6)
        entry["p99_ms"] = round(histogram.quantile(0.99) / 1e6, 6)
        entry["max_ms"] = round(entry.pop("_max_ns") / 1e6, 6)
        entry["mean_ms"] = round(entry.pop("_total_ns") / calls / 1e6, 6) if calls else 0.0
    origin_rank = {"ai": 0, "mixed": 1, "human": 2, "unknown": 3}
    return sorted(summaries.values(), key=lambda e: (origin_rank.get(e["origin"], 4), -e["calls"], e["function"]))


def _empty_summary(row: Any) -> dict[str, Any]:
    return {
        "function": row["function"],
        "origin": row["origin"],
        "ai_share": row["ai_share"],
        "calls": 0,
        "errors": 0,
        "errors_by_type": {},
        "models": list(row["models"]) if "interval_start" not in row else [],
        "generation_ids": list(row["generation_ids"]) if "interval_start" not in row else [],
        "services": [row["service"]] if "interval_start" not in row else [],
        "path": row["path"],
        "line": row["line"],
        "first_seen": (row["interval_start"] if "interval_start" in row else row["time"]).isoformat(),
        "last_seen": (row["interval_end"] if "interval_end" in row else row["time"]).isoformat(),
        "exceptions": [],
        "breach_count": 0,
        "breaches": [],
        "_total_ns": 0,
        "_max_ns": 0,
    }
