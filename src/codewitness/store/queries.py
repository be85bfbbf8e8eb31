"""Reading runtime facts back: one summary per function over the stored intervals.

:func:`summarize` merges interval aggregates into one record per function -- calls, errors,
latency quantiles from the merged histograms -- with the recent exceptions (and their inputs)
and invariant breaches. The result is the ``runtime --json`` shape (:class:`FunctionRuntime`);
:mod:`codewitness.views.runtime` sorts, limits and rolls it up for every face.

Example:
    >>> summarize(store, function="shop.pricing.quote", service="shop")[0]["p95_ms"]  # doctest: +SKIP
    0.031
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import RowMapping, Select, Table, select

from codewitness.facts import BadRecord, Histogram
from codewitness.store import Store, schema

__all__ = ["BreachSummary", "ExceptionSummary", "FunctionRuntime", "revision_p95", "summarize"]


class ExceptionSummary(TypedDict):
    """One recent exception of a function (``where`` is ``file:line`` of the innermost frame)."""

    time: str
    type: str
    message: str
    arguments: dict[str, Any]
    where: str | None


class BreachSummary(TypedDict):
    """One recent invariant breach of a function."""

    time: str
    rule: str
    kind: str
    expression: str
    arguments: dict[str, Any]
    result: Any
    detail: str | None


class FunctionRuntime(TypedDict):
    """What is known of one function at runtime (one item of ``runtime --json``).

    ``origin``, ``ai_share``, ``models`` and ``generation_ids`` come from the manifest the sensor
    ran with; ``services`` are those that reported it. Times are ISO 8601 strings.
    """

    function: str
    origin: str
    ai_share: float
    calls: int
    errors: int
    errors_by_type: dict[str, int]
    models: list[str]
    generation_ids: list[str]
    services: list[str]
    path: str | None
    line: int | None
    first_seen: str
    last_seen: str
    exceptions: list[ExceptionSummary]
    breach_count: int
    breaches: list[BreachSummary]
    error_rate: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float


@dataclass
class _Acc:
    """One function's running totals while the rows are read."""

    function: str
    origin: str
    ai_share: float
    models: list[str]
    generation_ids: list[str]
    services: list[str]
    path: str | None
    line: int | None
    first_seen: str
    last_seen: str
    calls: int = 0
    errors: int = 0
    total_ns: int = 0
    max_ns: int = 0
    breach_count: int = 0
    errors_by_type: dict[str, int] = field(default_factory=dict)
    exceptions: list[ExceptionSummary] = field(default_factory=list)
    breaches: list[BreachSummary] = field(default_factory=list)
    histogram: Histogram = field(default_factory=Histogram)

    @classmethod
    def from_aggregate(cls, row: RowMapping) -> _Acc:
        return cls(
            function=row["function"],
            origin=row["origin"],
            ai_share=row["ai_share"],
            models=[],
            generation_ids=[],
            services=[],
            path=row["path"],
            line=row["line"],
            first_seen=row["interval_start"].isoformat(),
            last_seen=row["interval_end"].isoformat(),
        )

    @classmethod
    def from_event(cls, row: RowMapping) -> _Acc:
        # A guarded function the sensor does not time (a decorator alone) is known by its events.
        when = row["time"].isoformat()
        return cls(
            function=row["function"],
            origin=row["origin"],
            ai_share=row["ai_share"],
            models=list(row["models"]),
            generation_ids=list(row["generation_ids"]),
            services=[row["service"]],
            path=row["path"],
            line=row["line"],
            first_seen=when,
            last_seen=when,
        )

    def result(self) -> FunctionRuntime:
        calls, h = self.calls, self.histogram
        return {
            "function": self.function,
            "origin": self.origin,
            "ai_share": self.ai_share,
            "calls": calls,
            "errors": self.errors,
            "errors_by_type": self.errors_by_type,
            "models": self.models,
            "generation_ids": self.generation_ids,
            "services": self.services,
            "path": self.path,
            "line": self.line,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "exceptions": self.exceptions,
            "breach_count": self.breach_count,
            "breaches": self.breaches,
            "error_rate": round(self.errors / calls, 6) if calls else 0.0,
            "p50_ms": round(h.quantile(0.5) / 1e6, 6),
            "p95_ms": round(h.quantile(0.95) / 1e6, 6),
            "p99_ms": round(h.quantile(0.99) / 1e6, 6),
            "max_ms": round(self.max_ns / 1e6, 6),
            "mean_ms": round(self.total_ns / calls / 1e6, 6) if calls else 0.0,
        }


def _matches(name: str, pattern: str | None) -> bool:
    if pattern is None:
        return True
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return name == pattern


def _where(
    query: Select[Any],
    table: Table,
    time: Any,
    *,
    function: str | None,
    since: datetime | None,
    service: str | None,
    revision: str | None,
) -> Select[Any]:
    if function is not None and not any(ch in function for ch in "*?["):
        query = query.where(table.c.function == function)
    if since is not None:
        query = query.where(time >= since)
    if service is not None:
        query = query.where(table.c.service == service)
    if revision is not None:
        query = query.where(table.c.revision == revision)
    return query


def summarize(
    store: Store,
    *,
    function: str | None = None,
    since: datetime | None = None,
    service: str | None = None,
    revision: str | None = None,
    exceptions_per_function: int = 5,
    on_skip: Callable[[str], None] | None = None,
) -> list[FunctionRuntime]:
    """One summary per function over the stored intervals (AI-written first, busiest first).

    Args:
        store: an open store.
        function: an exact ``module.qualname`` or a glob pattern (``shop.pricing.*``).
        since: only intervals that ended, and exceptions and breaches that happened, at or after this time.
        service: only facts this service reported (facts of several services are summed otherwise).
        revision: only facts reported by this revision of the code.
        exceptions_per_function: how many recent exceptions (and breaches) to include per function.
        on_skip: called with the reason for each stored interval that cannot be read (one stored
            by an older version without today's checks, say); it is left out, never fatal.

    Returns:
        One :class:`FunctionRuntime` per function; exceptions and breaches newest first.
    """
    agg, exc, breach = schema.runtime_aggregates, schema.runtime_exceptions, schema.runtime_breaches
    scope: dict[str, Any] = {"function": function, "since": since, "service": service, "revision": revision}
    query = _where(select(agg).order_by(agg.c.interval_start), agg, agg.c.interval_end, **scope)
    exc_query = _where(select(exc).order_by(exc.c.time.desc()), exc, exc.c.time, **scope)
    breach_query = _where(select(breach).order_by(breach.c.time.desc()), breach, breach.c.time, **scope)
    found: dict[str, _Acc] = {}
    with store.read() as conn:
        for row in conn.execute(query).mappings():
            name = row["function"]
            if not _matches(name, function):
                continue
            try:
                histogram = Histogram.from_json(row["histogram"])
            except BadRecord as bad:
                if on_skip is not None:
                    on_skip(str(bad))
                continue
            acc = found.get(name)
            if acc is None:
                acc = found[name] = _Acc.from_aggregate(row)
            acc.calls += row["calls"]
            acc.errors += row["error_count"]
            for error_type, n in row["errors"].items():
                acc.errors_by_type[error_type] = acc.errors_by_type.get(error_type, 0) + n
            acc.total_ns += row["total_ns"]
            acc.max_ns = max(acc.max_ns, row["max_ns"])
            acc.origin, acc.ai_share = row["origin"], row["ai_share"]
            acc.models = sorted({*acc.models, *row["models"]})
            acc.generation_ids = sorted({*acc.generation_ids, *row["generation_ids"]})
            acc.services = sorted({*acc.services, row["service"]})
            acc.last_seen = row["interval_end"].isoformat()
            acc.histogram.merge(histogram)
        for row in conn.execute(exc_query).mappings():
            acc = found.get(row["function"])
            if acc is None or len(acc.exceptions) >= exceptions_per_function:
                continue
            stack = row["stack"]
            top = stack[-1] if isinstance(stack, list) and stack and isinstance(stack[-1], dict) else {}
            acc.exceptions.append(
                {
                    "time": row["time"].isoformat(),
                    "type": row["type"],
                    "message": row["message"],
                    "arguments": row["arguments"],
                    "where": f"{top.get('file')}:{top.get('line')}" if top else None,
                }
            )
        for row in conn.execute(breach_query).mappings():
            name = row["function"]
            if not _matches(name, function):
                continue
            acc = found.get(name)
            if acc is None:
                acc = found[name] = _Acc.from_event(row)
            acc.breach_count += 1
            if len(acc.breaches) < exceptions_per_function:
                acc.breaches.append(
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
    origin_rank = {"ai": 0, "mixed": 1, "human": 2, "unknown": 3}
    ordered = sorted(found.values(), key=lambda a: (origin_rank.get(a.origin, 4), -a.calls, a.function))
    return [acc.result() for acc in ordered]


def revision_p95(store: Store, function: str, revisions: Sequence[str | None]) -> dict[str | None, float]:
    """The p95 latency (ms) of ``function`` at each of ``revisions``, from their merged histograms, in one read.

    A revision with no readable interval is left out.
    """
    agg = schema.runtime_aggregates
    from sqlalchemy import or_

    wanted = [r for r in revisions if r is not None]
    conditions = [agg.c.revision.in_(wanted)] if wanted else []
    if None in revisions:
        conditions.append(agg.c.revision.is_(None))
    query = select(agg.c.revision, agg.c.histogram).where(agg.c.function == function, or_(*conditions))
    merged: dict[str | None, Histogram] = {}
    with store.read() as conn:
        for revision, histogram in conn.execute(query):
            try:
                parsed = Histogram.from_json(histogram)
            except BadRecord:
                continue
            merged.setdefault(revision, Histogram()).merge(parsed)
    return {revision: round(h.quantile(0.95) / 1e6, 6) for revision, h in merged.items()}
