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
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NotRequired, TypedDict

from sqlalchemy import (
    Connection,
    RowMapping,
    Select,
    Table,
    Text,
    cast,
    func,
    select,
)
from sqlalchemy.exc import OperationalError

from codewitness.facts import INT64_MAX, LAST_BUCKET, BadRecord, Histogram
from codewitness.store import Store, schema

__all__ = ["BreachSummary", "ExceptionSummary", "FunctionRuntime", "UnwatchedSummary", "revision_p95", "summarize"]


class ExceptionSummary(TypedDict):
    """One recent exception of a function (``where`` is ``file:line`` of the innermost frame)."""

    time: str
    type: str
    message: str
    arguments: dict[str, Any]
    where: str | None


class UnwatchedSummary(TypedDict):
    """Why the sensor stopped counting a function's calls (its newest ``unwatched`` record):
    ``reason`` ``cheap`` with the ``calls`` and ``mean_ns`` of the interval that decided it."""

    reason: str
    time: str
    calls: int
    mean_ns: int


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
    #: Only for a function the sensor stopped watching (its calls since are not counted).
    unwatched: NotRequired[UnwatchedSummary]


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
    unwatched: UnwatchedSummary | None = None

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
        summary: FunctionRuntime = {
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
        if self.unwatched is not None:
            summary["unwatched"] = self.unwatched
        return summary


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

    The database does the summing (calls, errors, latency histograms bucket by bucket, errors by
    type) and picks each function's newest exceptions and breaches, so the answer costs a few
    rows per function, however many intervals are stored. A function with a stored interval the
    sums cannot trust (a histogram that is not a map of bucket numbers to counts, stored by an
    older version) is read row by row instead, and that interval is left out.

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
    scope: dict[str, Any] = {"function": function, "since": since, "service": service, "revision": revision}
    with store.read() as conn:
        found, doubtful = _summed(conn, scope)
        if doubtful is None or doubtful:
            found.update(_read_rows(conn, scope, doubtful, on_skip))
        _add_exceptions(conn, scope, found, exceptions_per_function)
        _add_breaches(conn, scope, found, exceptions_per_function)
        _add_unwatched(conn, scope, found)
    origin_rank = {"ai": 0, "mixed": 1, "human": 2, "unknown": 3}
    ordered = sorted(found.values(), key=lambda a: (origin_rank.get(a.origin, 4), -a.calls, a.function))
    return [acc.result() for acc in ordered]


def _summed(conn: Connection, scope: dict[str, Any]) -> tuple[dict[str, _Acc], set[str] | None]:
    """Each function's intervals summed; and the functions to read row by row instead.

    The database sums the counts; the histograms and error maps are merged here from their JSON
    text (no row objects, no per-value checks once a map's keys and values pass in bulk). A
    function goes to the second set when one of its histograms is not a map of bucket numbers to
    counts from 0 to 2**63-1, or an error map not one of counts; every function does (``None``)
    when SQLite's sum of a column leaves 64 bits.
    """
    agg = schema.runtime_aggregates
    pattern = scope["function"]
    totals = _where(
        select(
            agg.c.function,
            func.sum(agg.c.calls),
            func.sum(agg.c.error_count),
            func.sum(agg.c.total_ns),
            func.max(agg.c.max_ns),
            func.min(agg.c.interval_start),
            func.max(agg.c.interval_end),
        ).group_by(agg.c.function),
        agg,
        agg.c.interval_end,
        **scope,
    )
    found: dict[str, _Acc] = {}
    try:
        for name, calls, errors, total_ns, max_ns, first, last in conn.execute(totals):
            if _matches(name, pattern):
                found[name] = _Acc(
                    function=name,
                    origin="unknown",
                    ai_share=0.0,
                    models=[],
                    generation_ids=[],
                    services=[],
                    path=None,
                    line=None,
                    first_seen=first.isoformat(),
                    last_seen=last.isoformat(),
                    calls=int(calls),
                    errors=int(errors),
                    total_ns=int(total_ns),
                    max_ns=int(max_ns),
                )
    except OperationalError as exc:  # SQLite: "integer overflow" (PostgreSQL sums as numeric)
        if "overflow" not in str(exc):
            raise
        return {}, None
    _describe(conn, scope, found)
    doubtful = _merge_maps(conn, scope, found)
    for name in doubtful:
        found.pop(name, None)
    return found, doubtful


_BUCKET_KEYS = frozenset(str(index) for index in range(LAST_BUCKET + 1))


def _counts(value: Any) -> bool:
    """Whether ``value``'s values are all integers from 0 to 2**63-1 (checked in bulk)."""
    counts = value.values()
    return not counts or (set(map(type, counts)) == {int} and min(counts) >= 0 and max(counts) <= INT64_MAX)


def _merge_maps(conn: Connection, scope: dict[str, Any], found: dict[str, _Acc]) -> set[str]:
    """Merge each found function's histograms and errors by type into it; the functions one of
    whose maps is not as :meth:`Histogram.from_json` and ingest would have it."""
    agg = schema.runtime_aggregates
    query = _where(
        select(agg.c.function, cast(agg.c.histogram, Text), cast(agg.c.errors, Text)), agg, agg.c.interval_end, **scope
    )
    buckets: dict[str, dict[str, int]] = {name: {} for name in found}
    errors: dict[str, dict[str, int]] = {name: {} for name in found}
    error_maps: dict[str, dict[str, int] | None] = {}  # the same few texts again and again ("{}" most)
    doubtful: set[str] = set()
    loads = json.loads
    for name, histogram_text, errors_text in conn.execute(query):
        merged = buckets.get(name)
        if merged is None or name in doubtful:
            continue
        histogram = loads(histogram_text)
        if not (type(histogram) is dict and histogram.keys() <= _BUCKET_KEYS and _counts(histogram)):
            doubtful.add(name)
            continue
        for key, n in histogram.items():
            merged[key] = merged.get(key, 0) + n
        if errors_text not in error_maps:
            read = loads(errors_text)
            error_maps[errors_text] = read if type(read) is dict and _counts(read) else None
        by_type = error_maps[errors_text]
        if by_type is None:
            doubtful.add(name)
            continue
        if by_type:
            into = errors[name]
            for error_type, n in by_type.items():
                into[error_type] = into.get(error_type, 0) + n
    for name, acc in found.items():
        acc.histogram = Histogram({int(key): n for key, n in buckets[name].items()})
        acc.errors_by_type = dict(sorted(errors[name].items()))
    return doubtful


def _describe(conn: Connection, scope: dict[str, Any], found: dict[str, _Acc]) -> None:
    """What each function is (origin, AI share, place, models, generations, services): from each
    distinct description its intervals carry, the newest origin and the oldest place."""
    agg = schema.runtime_aggregates
    models, generation_ids = cast(agg.c.models, Text), cast(agg.c.generation_ids, Text)
    described = _where(
        select(
            agg.c.function,
            agg.c.service,
            agg.c.origin,
            agg.c.ai_share,
            agg.c.path,
            agg.c.line,
            models,
            generation_ids,
            func.min(agg.c.interval_start),
            func.max(agg.c.interval_start),
        ).group_by(
            agg.c.function, agg.c.service, agg.c.origin, agg.c.ai_share, agg.c.path, agg.c.line, models, generation_ids
        ),
        agg,
        agg.c.interval_end,
        **scope,
    )
    oldest: dict[str, datetime] = {}
    newest: dict[str, datetime] = {}
    for name, service, origin, ai_share, path, line, model_text, generation_text, first, last in conn.execute(
        described
    ):
        acc = found.get(name)
        if acc is None:
            continue
        acc.models = sorted({*acc.models, *json.loads(model_text)})
        acc.generation_ids = sorted({*acc.generation_ids, *json.loads(generation_text)})
        acc.services = sorted({*acc.services, service})
        if name not in newest or last > newest[name]:
            newest[name] = last
            acc.origin, acc.ai_share = origin, ai_share
        if name not in oldest or first < oldest[name]:
            oldest[name] = first
            acc.path, acc.line = path, line


def _read_rows(
    conn: Connection, scope: dict[str, Any], names: set[str] | None, on_skip: Callable[[str], None] | None
) -> dict[str, _Acc]:
    """The intervals of ``names`` (``None``: of every function in scope) read and checked one by one,
    each unreadable one reported and left out."""
    agg = schema.runtime_aggregates
    query = _where(select(agg).order_by(agg.c.interval_start), agg, agg.c.interval_end, **scope)
    if names is not None:
        query = query.where(agg.c.function.in_(sorted(names)))
    found: dict[str, _Acc] = {}
    for row in conn.execute(query).mappings():
        name = row["function"]
        if not _matches(name, scope["function"]):
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
        acc.last_seen = max(acc.last_seen, row["interval_end"].isoformat())
        acc.histogram.merge(histogram)
    for acc in found.values():
        acc.errors_by_type = dict(sorted(acc.errors_by_type.items()))
    return found


def _newest(table: Table, time: Any, scope: dict[str, Any], keep: int) -> Select[Any]:
    """The scope's rows of ``table``, the newest ``keep`` of each function, with each function's count."""
    ranked = _where(
        select(
            table,
            func.row_number().over(partition_by=table.c.function, order_by=time.desc()).label("newness"),
            func.count().over(partition_by=table.c.function).label("of_function"),
        ),
        table,
        time,
        **scope,
    ).subquery()
    return select(ranked).where(ranked.c.newness <= keep).order_by(ranked.c.function, ranked.c.newness)


def _add_exceptions(conn: Connection, scope: dict[str, Any], found: dict[str, _Acc], keep: int) -> None:
    exc = schema.runtime_exceptions
    for row in conn.execute(_newest(exc, exc.c.time, scope, keep)).mappings():
        acc = found.get(row["function"])
        if acc is None:
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


def _add_breaches(conn: Connection, scope: dict[str, Any], found: dict[str, _Acc], keep: int) -> None:
    breach = schema.runtime_breaches
    for row in conn.execute(_newest(breach, breach.c.time, scope, keep)).mappings():
        name = row["function"]
        if not _matches(name, scope["function"]):
            continue
        acc = found.get(name)
        if acc is None:
            acc = found[name] = _Acc.from_event(row)
        acc.breach_count = row["of_function"]
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


def _add_unwatched(conn: Connection, scope: dict[str, Any], found: dict[str, _Acc]) -> None:
    """Each function's newest ``unwatched`` record in scope (one with no interval in scope is listed too)."""
    table = schema.runtime_unwatched
    for row in conn.execute(_newest(table, table.c.time, scope, 1)).mappings():
        name = row["function"]
        if not _matches(name, scope["function"]):
            continue
        acc = found.get(name)
        if acc is None:
            acc = found[name] = _Acc.from_event(row)
        acc.unwatched = {
            "reason": row["reason"],
            "time": row["time"].isoformat(),
            "calls": row["calls"],
            "mean_ns": row["mean_ns"],
        }


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
