"""Runtime rows read one by one: interval points for charts, exceptions, breaches, samples.

:mod:`codewitness.store.queries` sums intervals into one summary per function; the dashboard
also needs them over time (a chart's points) and the events themselves, newest first, a page at
a time. The same scope filters apply everywhere: function (exact name), since, service, revision,
and origin (``ai``, ``mixed``, ``human``, ``unknown``; ``ai+mixed`` for AI-written).

Example:
    >>> rows, total = exception_rows(store, origin="ai", limit=20)  # doctest: +SKIP
    >>> rows[0]["type"], total  # doctest: +SKIP
    ('TypeError', 1)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import ColumnElement, Select, Table, Text, func, select, type_coerce

from codewitness.sensor.aggregate import Histogram
from codewitness.store import Store, schema
from codewitness.store.runtime import BadRecord, _histogram

__all__ = [
    "AggregatePoint",
    "BreachRow",
    "ExceptionRow",
    "SampleRow",
    "Scope",
    "aggregate_points",
    "breach_rows",
    "exception_rows",
    "runtime_sources",
    "sample_rows",
]

#: ``origin=`` values a scope accepts: one origin, or ``ai+mixed`` for every AI-written function.
ORIGINS = ("ai", "mixed", "human", "unknown", "ai+mixed")


@dataclass(frozen=True)
class Scope:
    """Which runtime rows to read (every field optional)."""

    function: str | None = None
    since: datetime | None = None
    service: str | None = None
    revision: str | None = None
    origin: str | None = None

    def where(self, query: Select[Any], table: Table, time: Any) -> Select[Any]:
        """``query`` narrowed to this scope."""
        conditions: list[ColumnElement[bool]] = []
        if self.function is not None:
            conditions.append(table.c.function == self.function)
        if self.since is not None:
            conditions.append(time >= self.since)
        if self.service is not None:
            conditions.append(table.c.service == self.service)
        if self.revision is not None:
            conditions.append(table.c.revision == self.revision)
        if self.origin is not None:
            wanted = ("ai", "mixed") if self.origin == "ai+mixed" else (self.origin,)
            conditions.append(table.c.origin.in_(wanted))
        return query.where(*conditions) if conditions else query


@dataclass(frozen=True)
class AggregatePoint:
    """One stored interval of one function."""

    function: str
    origin: str
    start: datetime
    calls: int
    errors: int
    errors_by_type: dict[str, int]
    histogram: Histogram
    total_ns: int


def aggregate_points(
    store: Store, scope: Scope, *, on_skip: Callable[[str], None] | None = None
) -> list[AggregatePoint]:
    """The stored intervals in scope, oldest first (an interval with an unreadable histogram is skipped)."""
    agg = schema.runtime_aggregates
    # The JSON columns come back as text and are decoded here: errors only for intervals that had
    # some (most have none), which halves the decoding of a chart's thousand intervals.
    columns = (
        agg.c.function,
        agg.c.origin,
        agg.c.interval_start,
        agg.c.calls,
        agg.c.error_count,
        type_coerce(agg.c.errors, Text).label("errors"),
        type_coerce(agg.c.histogram, Text).label("histogram"),
        agg.c.total_ns,
    )
    query = scope.where(select(*columns).order_by(agg.c.interval_start), agg, agg.c.interval_end)
    points: list[AggregatePoint] = []
    with store.read() as conn:
        for row in conn.execute(query):
            try:
                histogram = _histogram(_json(row.histogram))
                errors = int(row.error_count)
                by_type = _json(row.errors) if errors else {}
                if not isinstance(by_type, dict):
                    raise BadRecord("errors: not an object of counts")
            except BadRecord as bad:
                if on_skip is not None:
                    on_skip(str(bad))
                continue
            points.append(
                AggregatePoint(
                    function=row.function,
                    origin=row.origin,
                    start=row.interval_start,
                    calls=int(row.calls),
                    errors=errors,
                    errors_by_type=by_type,
                    histogram=histogram,
                    total_ns=int(row.total_ns),
                )
            )
    return points


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text  # a driver that decoded it already
    try:
        return json.loads(text)
    except ValueError:
        raise BadRecord("not JSON") from None


class ExceptionRow(TypedDict):
    """One captured exception with its redacted inputs and innermost frame."""

    id: str
    time: str
    function: str
    origin: str
    service: str
    revision: str | None
    type: str
    message: str
    arguments: dict[str, Any]
    stack: list[Any]
    where: str | None
    generation_ids: list[str]
    models: list[str]


class BreachRow(TypedDict):
    """One invariant breach: the rule, the inputs and the result."""

    id: str
    time: str
    function: str
    origin: str
    service: str
    revision: str | None
    rule: str
    kind: str
    expression: str
    mode: str
    arguments: dict[str, Any]
    result: Any
    detail: str | None


class SampleRow(TypedDict):
    """One sampled call: inputs, output, duration."""

    id: str
    time: str
    function: str
    service: str
    revision: str | None
    duration_ms: float
    arguments: dict[str, Any]
    result: Any


def _count(conn: Any, table: Table, scope: Scope, time: Any) -> int:
    query = scope.where(select(func.count()).select_from(table), table, time)
    return int(conn.execute(query).scalar_one())


def _where(stack: Any) -> str | None:
    top = stack[-1] if isinstance(stack, list) and stack and isinstance(stack[-1], dict) else None
    return f"{top.get('file')}:{top.get('line')}" if top else None


def exception_rows(store: Store, scope: Scope, *, limit: int, offset: int = 0) -> tuple[list[ExceptionRow], int]:
    """Exceptions in scope, newest first: one page and how many there are in all."""
    exc = schema.runtime_exceptions
    query = scope.where(select(exc), exc, exc.c.time).order_by(exc.c.time.desc(), exc.c.id).limit(limit).offset(offset)
    with store.read() as conn:
        total = _count(conn, exc, scope, exc.c.time)
        rows: list[ExceptionRow] = [
            {
                "id": r["id"],
                "time": r["time"].isoformat(),
                "function": r["function"],
                "origin": r["origin"],
                "service": r["service"],
                "revision": r["revision"],
                "type": r["type"],
                "message": r["message"],
                "arguments": r["arguments"],
                "stack": r["stack"] if isinstance(r["stack"], list) else [],
                "where": _where(r["stack"]),
                "generation_ids": list(r["generation_ids"]),
                "models": list(r["models"]),
            }
            for r in conn.execute(query).mappings()
        ]
    return rows, total


def breach_rows(store: Store, scope: Scope, *, limit: int, offset: int = 0) -> tuple[list[BreachRow], int]:
    """Invariant breaches in scope, newest first: one page and how many there are in all."""
    br = schema.runtime_breaches
    query = scope.where(select(br), br, br.c.time).order_by(br.c.time.desc(), br.c.id).limit(limit).offset(offset)
    with store.read() as conn:
        total = _count(conn, br, scope, br.c.time)
        rows: list[BreachRow] = [
            {
                "id": r["id"],
                "time": r["time"].isoformat(),
                "function": r["function"],
                "origin": r["origin"],
                "service": r["service"],
                "revision": r["revision"],
                "rule": r["rule"],
                "kind": r["rule_kind"],
                "expression": r["expression"],
                "mode": r["mode"],
                "arguments": r["arguments"],
                "result": r["result"],
                "detail": r["detail"],
            }
            for r in conn.execute(query).mappings()
        ]
    return rows, total


def sample_rows(store: Store, scope: Scope, *, limit: int, offset: int = 0) -> tuple[list[SampleRow], int]:
    """Sampled calls in scope, newest first: one page and how many there are in all."""
    s = schema.runtime_samples
    query = scope.where(select(s), s, s.c.time).order_by(s.c.time.desc(), s.c.id).limit(limit).offset(offset)
    with store.read() as conn:
        total = _count(conn, s, scope, s.c.time)
        rows: list[SampleRow] = [
            {
                "id": r["id"],
                "time": r["time"].isoformat(),
                "function": r["function"],
                "service": r["service"],
                "revision": r["revision"],
                "duration_ms": round(int(r["duration_ns"]) / 1e6, 6),
                "arguments": r["arguments"],
                "result": r["result"],
            }
            for r in conn.execute(query).mappings()
        ]
    return rows, total


def runtime_sources(store: Store) -> tuple[list[str], list[str]]:
    """The services and the revisions that reported aggregates (for filters), sorted."""
    agg = schema.runtime_aggregates
    with store.read() as conn:
        services = sorted(conn.execute(select(agg.c.service).distinct()).scalars())
        revisions = sorted(r for r in conn.execute(select(agg.c.revision).distinct()).scalars() if r)
    return services, revisions
