"""Reads and writes behind insights: statements per request, latency by load, revisions, acknowledgements.

Insights are not stored: :mod:`codewitness.views.insights` computes them when read from the
runtime facts read here -- the ``dependency`` and ``route`` records of the flow integrations
(migration 0012) and the functions' interval aggregates. What a person says about one (seen,
with a note) is stored in ``insight_acks``, newest first.

Example:
    >>> [(g.function, g.statement, g.calls) for g in statement_groups(store, since=week_ago)]  # doctest: +SKIP
    [('shop.orders.load_items', 'SELECT name FROM items WHERE id = ?', 500)]
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select

from codewitness.facts import BadRecord, Histogram
from codewitness.model import utcnow
from codewitness.store import Store, schema

__all__ = [
    "Ack",
    "FunctionOrigin",
    "RevisionTotals",
    "RouteLoad",
    "StatementGroup",
    "acknowledge",
    "acks",
    "function_origins",
    "revision_generations",
    "revision_histograms",
    "revision_totals",
    "route_loads",
    "statement_groups",
]


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


@dataclass(frozen=True)
class StatementGroup:
    """One statement (or outbound call) of one issuing function in one route, summed over intervals.

    Attributes:
        function: the innermost watched function that issued it (``None``: none was on the stack).
        route: the route template of the requests (``None``: not routed, or not a request).
        method: the requests' method.
        system: ``sqlite``, ``postgresql``, ... or ``http``.
        statement: the statement, literals out (or ``GET host/path``).
        fingerprint: its id.
        calls: executions inside requests.
        requests: requests that ran it.
        repeated: requests that ran it more than once.
        max_per_request: the most executions in one request.
        total_ns: time spent in it.
        errors: executions that failed.
        details: system-specific counts (statuses, calls without a timeout).
        first_seen: the first interval's start.
        last_seen: the last interval's end.
        services: the services that reported it.
    """

    function: str | None
    route: str | None
    method: str | None
    system: str
    statement: str
    fingerprint: str
    calls: int
    requests: int
    repeated: int
    max_per_request: int
    total_ns: int
    errors: int
    details: dict[str, int]
    first_seen: datetime
    last_seen: datetime
    services: tuple[str, ...]


def statement_groups(store: Store, *, since: datetime | None = None, min_repeated: int = 1) -> list[StatementGroup]:
    """Statements per (issuing function, route, method, fingerprint), from ``since``, that at least
    ``min_repeated`` requests ran more than once."""
    d = schema.runtime_dependencies
    keys = (d.c.function, d.c.route, d.c.method, d.c.system, d.c.fingerprint)
    query = (
        select(
            *keys,
            func.max(d.c.statement),
            func.sum(d.c.calls),
            func.sum(d.c.requests),
            func.sum(d.c.repeated),
            func.max(d.c.max_per_request),
            func.sum(d.c.total_ns),
            func.sum(d.c.errors),
            func.min(d.c.interval_start),
            func.max(d.c.interval_end),
        )
        .group_by(*keys)
        .having(func.sum(d.c.repeated) >= min_repeated)
    )
    if since is not None:
        query = query.where(d.c.interval_start >= since)
    found: list[StatementGroup] = []
    with store.read() as conn:
        rows = conn.execute(query).all()
        extra = _details_and_services(conn, since, [tuple(r[:5]) for r in rows])
    for row in rows:
        key = tuple(row[:5])
        details, services = extra.get(key, ({}, ()))
        found.append(
            StatementGroup(
                function=row[0],
                route=row[1],
                method=row[2],
                system=row[3],
                fingerprint=row[4],
                statement=row[5],
                calls=int(row[6] or 0),
                requests=int(row[7] or 0),
                repeated=int(row[8] or 0),
                max_per_request=int(row[9] or 0),
                total_ns=int(row[10] or 0),
                errors=int(row[11] or 0),
                details=details,
                first_seen=_aware(row[12]),
                last_seen=_aware(row[13]),
                services=services,
            )
        )
    return found


def _details_and_services(
    conn: Any, since: datetime | None, keys: list[tuple[Any, ...]]
) -> dict[tuple[Any, ...], tuple[dict[str, int], tuple[str, ...]]]:
    """The summed ``details`` and the services of each group (JSON is summed here, not in SQL)."""
    if not keys:
        return {}
    d = schema.runtime_dependencies
    wanted = set(keys)
    query = select(d.c.function, d.c.route, d.c.method, d.c.system, d.c.fingerprint, d.c.details, d.c.service).where(
        d.c.fingerprint.in_(sorted({k[4] for k in keys}))
    )
    if since is not None:
        query = query.where(d.c.interval_start >= since)
    out: dict[tuple[Any, ...], tuple[dict[str, int], set[str]]] = {}
    for row in conn.execute(query):
        key = tuple(row[:5])
        if key not in wanted:
            continue
        details, services = out.setdefault(key, ({}, set()))
        services.add(row[6])
        for name, n in (_json(row[5]) or {}).items():
            if type(n) is int:
                details[name] = details.get(name, 0) + n
    return {k: (v[0], tuple(sorted(v[1]))) for k, v in out.items()}


@dataclass(frozen=True)
class RouteLoad:
    """One route's requests by how many were in flight, summed over intervals.

    Attributes:
        route: the route template.
        method: the method.
        function: the route's handler.
        requests: requests in all.
        errors: server errors.
        by_load: in-flight label (``1``, ``2``, ``3-4``, ...) -> ``(requests, total_ns)``.
        first_seen: the first interval's start.
        last_seen: the last interval's end.
    """

    route: str | None
    method: str | None
    function: str | None
    requests: int
    errors: int
    by_load: dict[str, tuple[int, int]]
    first_seen: datetime
    last_seen: datetime


def route_loads(store: Store, *, since: datetime | None = None) -> list[RouteLoad]:
    """Every route's requests by load (requests in flight as each began), from ``since``."""
    r = schema.runtime_routes
    query = select(
        r.c.route, r.c.method, r.c.function, r.c.requests, r.c.errors, r.c.concurrency, r.c.interval_start,
        r.c.interval_end,
    )  # fmt: skip
    if since is not None:
        query = query.where(r.c.interval_start >= since)
    acc: dict[tuple[Any, ...], dict[str, Any]] = {}
    with store.read() as conn:
        for route, method, function, requests, errors, concurrency, start, end in conn.execute(query):
            one = acc.setdefault(
                (route, method, function),
                {"requests": 0, "errors": 0, "by_load": {}, "first": _aware(start), "last": _aware(end)},
            )
            one["requests"] += int(requests or 0)
            one["errors"] += int(errors or 0)
            one["first"] = min(one["first"], _aware(start))
            one["last"] = max(one["last"], _aware(end))
            for label, pair in (_json(concurrency) or {}).items():
                if isinstance(pair, list) and len(pair) == 2:
                    n, ns = one["by_load"].get(label, (0, 0))
                    one["by_load"][label] = (n + int(pair[0]), ns + int(pair[1]))
    return [
        RouteLoad(key[0], key[1], key[2], v["requests"], v["errors"], v["by_load"], v["first"], v["last"])
        for key, v in acc.items()
    ]


@dataclass(frozen=True)
class RevisionTotals:
    """One function's calls and errors at one revision."""

    function: str
    revision: str | None
    calls: int
    errors: int
    first_seen: datetime
    last_seen: datetime


def revision_totals(store: Store, *, since: datetime | None = None) -> list[RevisionTotals]:
    """Calls and errors per function and revision, from ``since``."""
    a = schema.runtime_aggregates
    query = select(
        a.c.function,
        a.c.revision,
        func.sum(a.c.calls),
        func.sum(a.c.error_count),
        func.min(a.c.interval_start),
        func.max(a.c.interval_end),
    ).group_by(a.c.function, a.c.revision)
    if since is not None:
        query = query.where(a.c.interval_start >= since)
    with store.read() as conn:
        return [
            RevisionTotals(f, rev, int(c or 0), int(e or 0), _aware(first), _aware(last))
            for f, rev, c, e, first, last in conn.execute(query)
        ]


def revision_histograms(
    store: Store, function: str, revisions: Sequence[str | None], *, since: datetime | None = None
) -> dict[str | None, Histogram]:
    """The merged latency histogram of ``function`` at each revision (unreadable intervals skipped)."""
    a = schema.runtime_aggregates
    wanted = [r for r in revisions if r is not None]
    conditions = [a.c.revision.in_(wanted)]
    if None in revisions:
        conditions.append(a.c.revision.is_(None))
    query = select(a.c.revision, a.c.histogram).where(a.c.function == function, or_(*conditions))
    if since is not None:
        query = query.where(a.c.interval_start >= since)
    merged: dict[str | None, Histogram] = {}
    with store.read() as conn:
        for revision, histogram in conn.execute(query):
            try:
                parsed = Histogram.from_json(_json(histogram))
            except BadRecord:
                continue
            merged.setdefault(revision, Histogram()).merge(parsed)
    return merged


def revision_generations(store: Store, function: str, revisions: Sequence[str | None]) -> dict[str | None, list[str]]:
    """The generations that wrote ``function`` at each revision (from its newest interval there)."""
    a = schema.runtime_aggregates
    found: dict[str | None, list[str]] = {}
    with store.read() as conn:
        for revision in revisions:
            condition = a.c.revision.is_(None) if revision is None else a.c.revision == revision
            row = conn.execute(
                select(a.c.generation_ids)
                .where(a.c.function == function, condition)
                .order_by(a.c.interval_start.desc())
                .limit(1)
            ).first()
            if row is not None:
                ids = _json(row[0])
                found[revision] = [str(i) for i in ids] if isinstance(ids, list) else []
    return found


@dataclass(frozen=True)
class FunctionOrigin:
    """Who wrote a function, as the sensor's manifest said in its newest record."""

    origin: str
    ai_share: float
    generation_ids: tuple[str, ...]
    models: tuple[str, ...]
    path: str | None
    line: int | None


def function_origins(store: Store, functions: Sequence[str]) -> dict[str, FunctionOrigin]:
    """The origin of each of ``functions``, from its newest interval, route or statement record."""
    wanted = sorted({f for f in functions if f})
    found: dict[str, tuple[datetime, FunctionOrigin]] = {}
    if not wanted:
        return {}
    tables = (
        (schema.runtime_aggregates, schema.runtime_aggregates.c.interval_end),
        (schema.runtime_routes, schema.runtime_routes.c.interval_end),
        (schema.runtime_dependencies, schema.runtime_dependencies.c.interval_end),
    )
    with store.read() as conn:
        for table, when in tables:
            c = table.c
            newest = (
                select(c.function, func.max(when).label("newest"))
                .where(c.function.in_(wanted))
                .group_by(c.function)
                .subquery()
            )
            query = select(c.function, when, c.origin, c.ai_share, c.generation_ids, c.models, c.path, c.line).join(
                newest, (c.function == newest.c.function) & (when == newest.c.newest)
            )
            for function, at, origin, share, generations, models, path, line in conn.execute(query):
                at = _aware(at)
                if function in found and found[function][0] >= at:
                    continue
                found[function] = (
                    at,
                    FunctionOrigin(
                        origin=origin,
                        ai_share=float(share or 0.0),
                        generation_ids=tuple(_json(generations) or ()),
                        models=tuple(_json(models) or ()),
                        path=path,
                        line=line,
                    ),
                )
    return {function: origin for function, (_, origin) in found.items()}


@dataclass(frozen=True)
class Ack:
    """A person's acknowledgement of an insight."""

    insight_id: str
    note: str | None
    acknowledged_at: datetime


def acknowledge(store: Store, insight_id: str, *, note: str | None = None) -> Ack:
    """Record that a person saw an insight (the newest acknowledgement is the one shown)."""
    ack = Ack(insight_id, note or None, utcnow())
    with store.write() as conn:
        conn.execute(
            schema.insight_acks.insert().values(
                id=uuid.uuid4().hex, insight_id=insight_id, note=ack.note, acknowledged_at=ack.acknowledged_at
            )
        )
    return ack


def acks(store: Store) -> dict[str, Ack]:
    """The newest acknowledgement of each acknowledged insight."""
    t = schema.insight_acks
    found: dict[str, Ack] = {}
    with store.read() as conn:
        for row in conn.execute(select(t).order_by(t.c.acknowledged_at, t.c.id)).mappings():
            found[row["insight_id"]] = Ack(row["insight_id"], row["note"], row["acknowledged_at"])
    return found
