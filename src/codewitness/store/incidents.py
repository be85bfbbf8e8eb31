"""Reads and writes behind incidents: grouped exception and breach rows, error counts, calls by month, tags.

An incident is not stored: :mod:`codewitness.views.incidents` groups the runtime exceptions and
breaches read here by fingerprint. What a person says about one (its cause, a note, a link to
the post-mortem) is stored in ``incident_tags`` (migration 0008), newest tag first.

Example:
    >>> add_tag(store, "inc_5d41402abc4b2a76", cause="ai", note="off by one in the generated loop")  # doctest: +SKIP
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import String, cast, func, select

from codewitness.errors import InputError
from codewitness.model import utcnow
from codewitness.store import Store, schema

__all__ = [
    "CAUSES",
    "Cause",
    "ErrorCount",
    "EventGroup",
    "PeriodCalls",
    "Tag",
    "add_tag",
    "breach_groups",
    "breach_samples",
    "calls_by_period",
    "error_counts",
    "exception_groups",
    "exception_samples",
    "tags",
]

Cause = Literal["ai", "human", "unknown"]
CAUSES: tuple[Cause, ...] = get_args(Cause)

_URL = re.compile(r"^https?://[^\s]+$")
#: Functions named in one statement.
_CHUNK = 500


@dataclass(frozen=True)
class EventGroup:
    """Exception (or breach) rows that share every grouped column.

    Attributes:
        function: ``module.qualname``.
        key: the exception type, or the broken rule.
        stack: the captured stack as stored (JSON text), for exceptions; ``""`` for breaches.
        revision: the revision that reported them.
        service: the service that reported them.
        origin: the function's origin in the sensor's manifest.
        ai_share: its AI share.
        generation_ids: its generations (JSON text or a decoded list).
        models: their models (likewise).
        path: its file.
        line: its first line.
        period: ``YYYY-MM`` of the rows, when grouped by month.
        count: how many rows.
        first: the earliest row's time.
        last: the newest row's time.
    """

    function: str
    key: str
    stack: str
    revision: str | None
    service: str
    origin: str
    ai_share: float
    generation_ids: Any
    models: Any
    path: str | None
    line: int | None
    period: str | None
    count: int
    first: datetime
    last: datetime


def _period(store: Store, column: Any) -> Any:
    if store.dialect == "sqlite":
        return func.substr(column, 1, 7)
    return func.to_char(func.timezone("UTC", column), "YYYY-MM")


def _groups(
    store: Store, table: Any, key: Any, stack: Any, since: datetime | None, by_month: bool, count: Any
) -> Iterator[Any]:
    columns = [
        table.c.function,
        key.label("key"),
        stack.label("stack"),
        table.c.revision,
        table.c.service,
        table.c.origin,
        table.c.ai_share,
        cast(table.c.generation_ids, String).label("generation_ids"),
        cast(table.c.models, String).label("models"),
        table.c.path,
        table.c.line,
    ]
    grouped = list(columns)
    if by_month:
        period = _period(store, table.c.time).label("period")
        columns.append(period)
        grouped.append(period)
    query = select(
        *columns,
        count.label("count"),
        func.min(table.c.time).label("first"),
        func.max(table.c.time).label("last"),
    ).group_by(*grouped)
    if since is not None:
        query = query.where(table.c.time >= since)
    with store.read() as conn:
        yield from conn.execute(query).mappings().all()


def _event_group(row: Any) -> EventGroup:
    return EventGroup(
        function=row["function"],
        key=row["key"],
        stack=row["stack"],
        revision=row["revision"],
        service=row["service"],
        origin=row["origin"],
        ai_share=float(row["ai_share"]),
        generation_ids=row["generation_ids"],
        models=row["models"],
        path=row["path"],
        line=row["line"],
        period=row.get("period"),
        count=int(row["count"]),
        first=_aware(row["first"]),
        last=_aware(row["last"]),
    )


def _aware(value: Any) -> datetime:
    from datetime import UTC

    if isinstance(value, str):  # min()/max() of a SQLite time column come back as text
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def exception_groups(store: Store, *, since: datetime | None = None, by_month: bool = False) -> list[EventGroup]:
    """Captured exceptions grouped by function, type, exact stack, revision, service and origin; the
    count is of the occurrences the captures stand for (each counts its interval's repeats)."""
    t = schema.runtime_exceptions
    rows = _groups(store, t, t.c.type, cast(t.c.stack, String), since, by_month, func.sum(t.c.count))
    return [_event_group(row) for row in rows]


def breach_groups(store: Store, *, since: datetime | None = None, by_month: bool = False) -> list[EventGroup]:
    """Broken invariants grouped by function, rule, revision, service and origin."""
    from sqlalchemy import literal

    t = schema.runtime_breaches
    rows = _groups(store, t, t.c.rule, literal(""), since, by_month, func.count())
    return [_event_group(row) for row in rows]


@dataclass(frozen=True)
class ErrorCount:
    """Calls of one function that raised one exception type, as the sensor counted them (every one,
    not only the captured samples)."""

    function: str
    type: str
    count: int


def error_counts(
    store: Store, *, since: datetime | None = None, functions: Collection[str] | None = None
) -> list[ErrorCount]:
    """Counted errors per function and exception type, over the intervals that had any (of ``functions``
    only, when given).

    The whole days since ``since`` are read from the daily summary (:mod:`codewitness.store.days`),
    the part-day before them from the intervals, down the index of each function.
    """
    import json

    from codewitness.store.problems import whole_days_from

    t, days = schema.runtime_aggregates, schema.runtime_day_errors
    whole = whole_days_from(since) if since is not None else None
    # The same few maps again and again ({"ValueError": 1}): the database counts each, each is read once.
    errors = cast(t.c.errors, String)
    part_day = select(t.c.function, errors.label("errors"), func.count().label("n")).where(t.c.error_count > 0)
    summed = select(days.c.function, days.c.type, func.sum(days.c.count)).group_by(days.c.function, days.c.type)
    if since is not None:
        part_day = part_day.where(t.c.interval_start >= since, t.c.interval_start < whole)
        summed = summed.where(days.c.day >= whole)
    part_day = part_day.group_by(t.c.function, errors)
    names = sorted(set(functions)) if functions is not None else None
    chunks = [None] if names is None else [names[i : i + _CHUNK] for i in range(0, len(names), _CHUNK)]
    totals: dict[tuple[str, str], int] = {}
    with store.read() as conn:
        for chunk in chunks:
            query = summed if chunk is None else summed.where(days.c.function.in_(chunk))
            for function, name, n in conn.execute(query):
                totals[(function, name)] = totals.get((function, name), 0) + int(n)
        if whole is None or since == whole:
            return [ErrorCount(f, name, n) for (f, name), n in sorted(totals.items())]
        queries = [part_day if chunk is None else part_day.where(t.c.function.in_(chunk)) for chunk in chunks]
        for function, text, times in (row for query in queries for row in conn.execute(query)):
            try:
                by_type = json.loads(text)
            except ValueError:
                continue
            if not isinstance(by_type, dict):
                continue
            for name, n in by_type.items():
                if isinstance(n, int):
                    totals[(function, name)] = totals.get((function, name), 0) + n * times
    return [ErrorCount(f, name, n) for (f, name), n in sorted(totals.items())]


@dataclass(frozen=True)
class PeriodCalls:
    """Calls of the functions of one origin in one month."""

    period: str
    origin: str
    calls: int


def calls_by_period(store: Store, *, since: datetime | None = None) -> list[PeriodCalls]:
    """Calls per month (``YYYY-MM``, UTC) and origin."""
    t = schema.runtime_aggregates
    period = _period(store, t.c.interval_start).label("period")
    query = select(period, t.c.origin, func.sum(t.c.calls).label("calls")).group_by(period, t.c.origin)
    if since is not None:
        query = query.where(t.c.interval_start >= since)
    with store.read() as conn:
        return [PeriodCalls(p, o, int(n or 0)) for p, o, n in conn.execute(query)]


@dataclass(frozen=True)
class Tag:
    """What a person said about an incident."""

    incident_id: str
    cause: str
    note: str | None
    link: str | None
    tagged_at: datetime


def add_tag(store: Store, incident_id: str, *, cause: str, note: str | None = None, link: str | None = None) -> Tag:
    """Record a person's verdict on an incident (the newest tag is the one shown).

    Raises:
        InputError: an unknown cause, or a link that is not an http(s) URL.
    """
    if cause not in CAUSES:
        raise InputError(f"--cause is one of {', '.join(CAUSES)}; not {cause!r}")
    if link is not None and not _URL.match(link):
        raise InputError(f"--link must be an http:// or https:// URL; got {link!r}")
    tag = Tag(incident_id, cause, note or None, link, utcnow())
    with store.write() as conn:
        conn.execute(
            schema.incident_tags.insert().values(
                id=uuid.uuid4().hex,
                incident_id=incident_id,
                cause=cause,
                note=tag.note,
                link=link,
                tagged_at=tag.tagged_at,
            )
        )
    return tag


def tags(store: Store, incident_ids: list[str] | None = None) -> dict[str, list[Tag]]:
    """Tags per incident, newest first (of the given incidents, or of all)."""
    t = schema.incident_tags
    query = select(t).order_by(t.c.tagged_at.desc(), t.c.id)
    if incident_ids is not None:
        query = query.where(t.c.incident_id.in_(incident_ids))
    found: dict[str, list[Tag]] = {}
    with store.read() as conn:
        for row in conn.execute(query).mappings():
            found.setdefault(row["incident_id"], []).append(
                Tag(row["incident_id"], row["cause"], row["note"], row["link"], row["tagged_at"])
            )
    return found


def exception_samples(store: Store, function: str, type_name: str, *, limit: int = 500) -> list[dict[str, Any]]:
    """The newest captured exceptions of one function and type (time, message, arguments, stack, where
    from, id)."""
    t = schema.runtime_exceptions
    query = (
        select(t.c.time, t.c.message, t.c.arguments, t.c.stack, t.c.revision, t.c.service, t.c.id)
        .where(t.c.function == function, t.c.type == type_name)
        .order_by(t.c.time.desc())
        .limit(limit)
    )
    with store.read() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def breach_samples(store: Store, function: str, rule: str, *, limit: int = 500) -> list[dict[str, Any]]:
    """The newest breaches of one function's rule (time, expression, arguments, result, detail, where from, id)."""
    t = schema.runtime_breaches
    query = (
        select(t.c.time, t.c.rule_kind, t.c.expression, t.c.arguments, t.c.result, t.c.detail)
        .add_columns(t.c.revision, t.c.service, t.c.id)
        .where(t.c.function == function, t.c.rule == rule)
        .order_by(t.c.time.desc())
        .limit(limit)
    )
    with store.read() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]
