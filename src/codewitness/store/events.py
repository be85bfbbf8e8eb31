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
from datetime import UTC, datetime
from typing import Any, TypedDict, TypeVar

from sqlalchemy import ColumnElement, Select, Table, Text, func, select, type_coerce

from codewitness.facts import BadRecord, Histogram
from codewitness.store import Store, schema

__all__ = [
    "AggregatePoint",
    "BreachRow",
    "ExceptionRow",
    "FunctionTotals",
    "SampleRow",
    "Scope",
    "aggregate_points",
    "breach_counts",
    "breach_rows",
    "exception_rows",
    "function_totals",
    "latency_quantiles",
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
    store: Store,
    scope: Scope,
    *,
    functions: list[str] | None = None,
    newest: int | None = None,
    on_skip: Callable[[str], None] | None = None,
) -> list[AggregatePoint]:
    """The stored intervals in scope, oldest first (an interval with an unreadable histogram is skipped).

    Args:
        store: an open store.
        scope: which intervals.
        functions: only these functions' intervals.
        newest: only the latest this many intervals.
        on_skip: called with the reason for each interval left out.
    """
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
    query = scope.where(select(*columns), agg, agg.c.interval_end)
    if functions is not None:
        query = query.where(agg.c.function.in_(functions))
    if newest is not None:
        query = query.order_by(agg.c.interval_start.desc()).limit(newest)
    else:
        query = query.order_by(agg.c.interval_start)
    points: list[AggregatePoint] = []
    with store.read() as conn:
        for row in conn.execute(query):
            try:
                histogram = Histogram.from_json(_json(row.histogram))
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
    if newest is not None:
        points.reverse()
    return points


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text  # a driver that decoded it already
    try:
        return json.loads(text)
    except ValueError:
        raise BadRecord("not JSON") from None


class _EventHead(TypedDict):
    """What every exception and breach row starts with."""

    id: str
    time: str
    function: str
    origin: str
    service: str
    revision: str | None


class ExceptionRow(_EventHead):
    """One captured exception with its redacted inputs and innermost frame."""

    type: str
    message: str
    arguments: dict[str, Any]
    stack: list[Any]
    where: str | None
    generation_ids: list[str]
    models: list[str]


class BreachRow(_EventHead):
    """One invariant breach: the rule, the inputs and the result."""

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


_Row = TypeVar("_Row")


def _page(
    store: Store, table: Table, scope: Scope, limit: int, offset: int, row: Callable[[Any], _Row]
) -> tuple[list[_Row], int]:
    """One page of ``table``'s events in scope, newest first, each made by ``row``; and how many there are in all."""
    time = table.c.time
    query = scope.where(select(table), table, time).order_by(time.desc(), table.c.id).limit(limit).offset(offset)
    with store.read() as conn:
        total = int(conn.execute(scope.where(select(func.count()).select_from(table), table, time)).scalar_one())
        return [row(r) for r in conn.execute(query).mappings()], total


def _where(stack: Any) -> str | None:
    top = stack[-1] if isinstance(stack, list) and stack and isinstance(stack[-1], dict) else None
    return f"{top.get('file')}:{top.get('line')}" if top else None


def _head(r: Any) -> _EventHead:
    return {
        "id": r["id"],
        "time": r["time"].isoformat(),
        "function": r["function"],
        "origin": r["origin"],
        "service": r["service"],
        "revision": r["revision"],
    }


def _exception_row(r: Any) -> ExceptionRow:
    return {
        **_head(r),
        "type": r["type"],
        "message": r["message"],
        "arguments": r["arguments"],
        "stack": r["stack"] if isinstance(r["stack"], list) else [],
        "where": _where(r["stack"]),
        "generation_ids": list(r["generation_ids"]),
        "models": list(r["models"]),
    }


def _breach_row(r: Any) -> BreachRow:
    return {
        **_head(r),
        "rule": r["rule"],
        "kind": r["rule_kind"],
        "expression": r["expression"],
        "mode": r["mode"],
        "arguments": r["arguments"],
        "result": r["result"],
        "detail": r["detail"],
    }


def _sample_row(r: Any) -> SampleRow:
    return {
        "id": r["id"],
        "time": r["time"].isoformat(),
        "function": r["function"],
        "service": r["service"],
        "revision": r["revision"],
        "duration_ms": round(int(r["duration_ns"]) / 1e6, 6),
        "arguments": r["arguments"],
        "result": r["result"],
    }


def exception_rows(store: Store, scope: Scope, *, limit: int, offset: int = 0) -> tuple[list[ExceptionRow], int]:
    """Exceptions in scope, newest first: one page and how many there are in all."""
    return _page(store, schema.runtime_exceptions, scope, limit, offset, _exception_row)


def breach_rows(store: Store, scope: Scope, *, limit: int, offset: int = 0) -> tuple[list[BreachRow], int]:
    """Invariant breaches in scope, newest first: one page and how many there are in all."""
    return _page(store, schema.runtime_breaches, scope, limit, offset, _breach_row)


def sample_rows(store: Store, scope: Scope, *, limit: int, offset: int = 0) -> tuple[list[SampleRow], int]:
    """Sampled calls in scope, newest first: one page and how many there are in all."""
    return _page(store, schema.runtime_samples, scope, limit, offset, _sample_row)


def runtime_sources(store: Store) -> tuple[list[str], list[str]]:
    """The services and the revisions that reported aggregates (for filters), sorted."""
    agg = schema.runtime_aggregates
    with store.read() as conn:
        services = sorted(conn.execute(select(agg.c.service).distinct()).scalars())
        revisions = sorted(r for r in conn.execute(select(agg.c.revision).distinct()).scalars() if r)
    return services, revisions


class FunctionTotals(TypedDict):
    """One function's runtime summed in the database (no latency: that needs the histograms)."""

    function: str
    origin: str
    ai_share: float
    generation_ids: list[str]
    models: list[str]
    path: str | None
    line: int | None
    calls: int
    errors: int
    first_seen: str
    last_seen: str
    services: list[str]


def function_totals(store: Store, scope: Scope) -> list[FunctionTotals]:
    """Calls, errors, first and last interval per function, summed by the database (cheap on large stores).

    The origin, share, generations and models are those of one interval of the function (the
    manifest the sensor ran with; the same in every interval unless the code was redeployed).
    """
    agg = schema.runtime_aggregates
    sums = scope.where(
        select(
            agg.c.function,
            func.sum(agg.c.calls).label("calls"),
            func.sum(agg.c.error_count).label("errors"),
            func.min(agg.c.interval_start).label("first"),
            func.max(agg.c.interval_end).label("last"),
            func.max(agg.c.id).label("sample"),
        ).group_by(agg.c.function),
        agg,
        agg.c.interval_end,
    )
    services = scope.where(select(agg.c.function, agg.c.service).distinct(), agg, agg.c.interval_end)
    with store.read() as conn:
        totals = conn.execute(sums).all()
        by_service: dict[str, list[str]] = {}
        for row in conn.execute(services):
            by_service.setdefault(row.function, []).append(row.service)
        details = {}
        ids = [t.sample for t in totals]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            query = select(
                agg.c.id,
                agg.c.origin,
                agg.c.ai_share,
                agg.c.generation_ids,
                agg.c.models,
                agg.c.path,
                agg.c.line,
            ).where(agg.c.id.in_(chunk))
            details.update({r.id: r for r in conn.execute(query)})
    out: list[FunctionTotals] = []
    for t in totals:
        d = details[t.sample]
        out.append(
            {
                "function": t.function,
                "origin": d.origin,
                "ai_share": float(d.ai_share),
                "generation_ids": list(d.generation_ids),
                "models": list(d.models),
                "path": d.path,
                "line": d.line,
                "calls": int(t.calls or 0),
                "errors": int(t.errors or 0),
                "first_seen": _aware(t.first).isoformat(),
                "last_seen": _aware(t.last).isoformat(),
                "services": sorted(by_service.get(t.function, [])),
            }
        )
    return out


def _aware(value: Any) -> datetime:
    """A group's MIN/MAX time: the column type is not applied to aggregates on every backend."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def breach_counts(store: Store, scope: Scope) -> dict[str, int]:
    """Breaches per function in scope."""
    br = schema.runtime_breaches
    query = scope.where(select(br.c.function, func.count().label("n")).group_by(br.c.function), br, br.c.time)
    with store.read() as conn:
        return {row.function: int(row.n) for row in conn.execute(query)}


def latency_quantiles(
    store: Store, scope: Scope, functions: list[str], qs: tuple[float, ...] = (0.95,)
) -> dict[str, tuple[float, ...]]:
    """Latency quantiles in milliseconds of the named functions, from their merged histograms."""
    merged: dict[str, Histogram] = {}
    for start in range(0, len(functions), 200):
        chunk = functions[start : start + 200]
        for name in chunk:
            merged.setdefault(name, Histogram())
        for point in aggregate_points(store, scope, functions=chunk):
            merged[point.function].merge(point.histogram)
    return {name: tuple(round(h.quantile(q) / 1e6, 6) if h.count else 0.0 for q in qs) for name, h in merged.items()}
