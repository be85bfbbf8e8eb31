"""The reads behind "what is wrong with the code right now": one SQL text, two ways to run it.

:mod:`codewitness.views.problems` ranks functions by their live problems (exceptions, broken
invariants, revisions that made them fail or slow down). It asks for rows through a
:class:`Rows` reader, which runs the same SQL either on an open
:class:`~codewitness.store.Store` (SQLite or PostgreSQL, through SQLAlchemy) or on a plain
``sqlite3`` connection (:func:`sqlite_rows`): the agent hook asks before every edit and cannot
afford to import SQLAlchemy. This module imports neither SQLAlchemy nor anything heavy until a
store reader is made.

Every query is bounded by time (``:since``, on an indexed time column) and optionally by one
file (``:path``, on the ``path`` indexes of migration 0008).

Example:
    >>> rows = sqlite_rows(conn)  # or: with store_rows(store) as rows:  # doctest: +SKIP
    >>> rows(EXCEPTION_COUNTS, since=datetime(2026, 11, 1, tzinfo=UTC), path="shop/pricing.py")  # doctest: +SKIP
    [{'function': 'shop.pricing.total', 'type': 'ValueError', 'n': 100, 'last': '2026-11-01 12:00:09.5'}]
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

TYPE_CHECKING = False  # typing and contextlib cost the agent hook milliseconds it reads this through
if TYPE_CHECKING:
    import sqlite3
    from typing import Any

    from sqlalchemy import Connection

    from codewitness.store import Store

__all__ = [
    "ANY_RUNTIME",
    "BREACH_COUNTS",
    "EXCEPTION_COUNTS",
    "FUNCTION_FACTS",
    "FUNCTION_REVISIONS",
    "GENERATION_PROMPT",
    "LATEST_BREACH",
    "LATEST_EXCEPTION",
    "RECENT_EXCEPTIONS",
    "REVISION_TOTALS",
    "Query",
    "Rows",
    "day_of",
    "sqlite_rows",
    "sqlite_time",
    "store_rows",
    "whole_days_from",
]

_DAY = timedelta(days=1)


class Query:
    """One read: the SQL without a file filter, and with ``path = :path`` (or ``in_file``, when one
    file is better read another way)."""

    def __init__(self, select: str, where: str, *, tail: str = "", in_file: str | None = None) -> None:
        self.everywhere = f"{select} WHERE {where} {tail}".strip() if where else select
        self.in_file = in_file or (f"{select} WHERE {where} AND path = :path {tail}".strip() if where else select)

    def sql(self, path: str | None) -> str:
        """The SQL text for all files, or for one."""
        return self.everywhere if path is None else self.in_file


#: Captured exceptions per function and type since ``:since``.
EXCEPTION_COUNTS = Query(
    "SELECT function, type, origin, COUNT(*) AS n, MAX(time) AS last FROM runtime_exceptions",
    "time >= :since",
    tail="GROUP BY function, type, origin",
)
#: Broken invariants per function and rule since ``:since``.
BREACH_COUNTS = Query(
    "SELECT function, rule, origin, COUNT(*) AS n, MAX(time) AS last FROM runtime_breaches",
    "time >= :since",
    tail="GROUP BY function, rule, origin",
)


def _newest_start_in_file() -> str:
    """When the newest interval of the group ``g`` in ``:path`` started: one seek down the covering
    index (path, function, revision, interval_start, ...). A NULL revision is matched with IS NULL."""
    seek = (
        "(SELECT a.interval_start FROM runtime_aggregates a WHERE a.path = :path AND a.function = g.function "
        "AND a.revision {revision} ORDER BY a.interval_start DESC LIMIT 1)"
    )
    return (
        f"CASE WHEN g.revision IS NULL THEN {seek.format(revision='IS NULL')} "
        f"ELSE {seek.format(revision='= g.revision')} END"
    )


def _revision_totals_in_file() -> str:
    return (
        f"SELECT g.function, g.revision, g.calls, g.errors, g.total_ns, {_newest_start_in_file()} AS last "  # noqa: S608 - constant
        "FROM (SELECT path, function, revision, SUM(calls) AS calls, SUM(error_count) AS errors, "
        "SUM(total_ns) AS total_ns FROM runtime_aggregates WHERE interval_start >= :since AND path = :path "
        "GROUP BY path, function, revision) g"
    )


_REVISION_TOTALS_BY_DAY = (
    # The part-day before the first whole day, from the intervals...
    "SELECT function, revision, SUM(calls) AS calls, SUM(error_count) AS errors, SUM(total_ns) AS total_ns, "
    "MAX(interval_start) AS last FROM runtime_aggregates WHERE interval_start >= :since AND interval_start < :whole "
    "GROUP BY path, function, revision "
    # ...and the whole days from the daily summary (migration 0013).
    "UNION ALL SELECT function, revision, SUM(calls), SUM(error_count), SUM(total_ns), MAX(last_start) "
    "FROM runtime_days WHERE day >= :whole GROUP BY path, function, revision"
)

#: Calls, errors and time per function, revision (and file: a function that moved has a row for
#: each) in intervals that started since ``:since``, and when the newest interval started (``last``).
#: Everywhere, a function, revision and file may have two rows (the part-day, the whole days), added
#: together by :func:`codewitness.views.problems.revision_changes` as it does for files.
#:
#: Everywhere, the whole days come from the daily summary (:mod:`codewitness.store.days`): a
#: month of 1,000,000 intervals took 235 ms to sum; the summary's 32,000 rows take 15-25 ms, and
#: the part-day of intervals before them up to some 20 more (a whole day's 33,000). In one file
#: (the agent hook, before every edit, on a store it does not migrate) the sums walk the
#: intervals, in the order of the covering index by file, function and revision (no sort); the
#: newest interval of each group is then one index seek. Comparing text columns (times, origins)
#: on every interval cost twice as much: 45 against 25 ms for one file's 100,000 intervals.
REVISION_TOTALS = Query(_REVISION_TOTALS_BY_DAY, "", in_file=_revision_totals_in_file())

_EVENT_COLUMNS = "function, origin, ai_share, generation_ids, models, path, line, service, revision, time"
#: The newest captured exception of ``:function`` since ``:since``.
LATEST_EXCEPTION = Query(
    f"SELECT {_EVENT_COLUMNS}, type, message, arguments, stack FROM runtime_exceptions",  # noqa: S608 - constant columns
    "function = :function AND time >= :since",
    tail="ORDER BY time DESC LIMIT 1",
)
#: The newest broken invariant of ``:function`` since ``:since``.
LATEST_BREACH = Query(
    f"SELECT {_EVENT_COLUMNS}, rule, rule_kind, expression, arguments, result, detail "  # noqa: S608 - constant
    "FROM runtime_breaches",
    "function = :function AND time >= :since",
    tail="ORDER BY time DESC LIMIT 1",
)
#: What the newest interval of ``:function`` says about it (origin, generations, file, when it started).
FUNCTION_FACTS = Query(
    "SELECT function, origin, ai_share, generation_ids, models, path, line, interval_start AS last "
    "FROM runtime_aggregates",
    "function = :function AND interval_start >= :since",
    tail="ORDER BY interval_start DESC LIMIT 1",
)

#: Calls, errors and time of ``:function`` per revision, in intervals that started since ``:since``.
FUNCTION_REVISIONS = Query(
    "SELECT function, revision, SUM(calls) AS calls, SUM(error_count) AS errors, SUM(total_ns) AS total_ns, "
    "MIN(interval_start) AS first, MAX(interval_end) AS last FROM runtime_aggregates",
    "function = :function AND interval_start >= :since",
    tail="GROUP BY function, revision",
)
#: The newest captured exceptions of ``:function`` since ``:since`` (``:limit`` of them), stacks included.
RECENT_EXCEPTIONS = Query(
    f"SELECT {_EVENT_COLUMNS}, type, message, arguments, stack FROM runtime_exceptions",  # noqa: S608 - constant columns
    "function = :function AND time >= :since",
    tail="ORDER BY time DESC LIMIT :limit",
)

#: The ledger's record of generation ``:generation``: agent, model and prompt (``:since`` is not used).
GENERATION_PROMPT = Query(
    "SELECT g.id AS id, g.agent AS agent, g.model AS model, g.prompt_name AS prompt_name, "
    "g.prompt_version AS prompt_version, p.text AS prompt FROM generations g JOIN prompts p ON p.hash = g.prompt_hash",
    "g.id = :generation",
)

#: Whether the store holds any runtime fact at all (``n`` is 0 or more); ``:since`` is not used.
ANY_RUNTIME = Query(
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM runtime_aggregates) OR EXISTS (SELECT 1 FROM runtime_exceptions) "
    "OR EXISTS (SELECT 1 FROM runtime_breaches) THEN 1 ELSE 0 END AS n",
    "",
)

#: Runs a :class:`Query` with named parameters (``since``, ``path``, ``function``; ``whole`` is
#: made from ``since``, see :func:`whole_days_from`); rows as dicts.
Rows = Callable[..., "list[dict[str, Any]]"]


def sqlite_time(value: datetime) -> str:
    """A time as SQLite holds it in the store (UTC, ISO text with a space, microseconds)."""
    return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def day_of(when: datetime) -> datetime:
    """The UTC midnight that starts ``when``'s day (the days of :mod:`codewitness.store.days`)."""
    utc = when.astimezone(UTC)
    return datetime(utc.year, utc.month, utc.day, tzinfo=UTC)


def whole_days_from(since: datetime) -> datetime:
    """The first UTC midnight at or after ``since`` (``:whole``): from there on, the daily summary
    answers for whole days.

    >>> whole_days_from(datetime(2026, 11, 1, 9, 30, tzinfo=UTC))
    datetime.datetime(2026, 11, 2, 0, 0, tzinfo=datetime.timezone.utc)
    """
    day = day_of(since)
    return day if day == since else day + _DAY


def sqlite_rows(conn: sqlite3.Connection) -> Rows:
    """A reader over a ``sqlite3`` connection to the store (times and JSON come back as text)."""

    def rows(query: Query, *, since: datetime, path: str | None = None, **params: Any) -> list[dict[str, Any]]:
        bound = {"since": sqlite_time(since), "whole": sqlite_time(whole_days_from(since)), **params}
        if path is not None:
            bound["path"] = path
        cursor = conn.execute(query.sql(path), bound)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    return rows


class store_rows:
    """A reader over an open store, SQLite or PostgreSQL, on one read-only connection (one consistent
    snapshot) for as long as the ``with`` block lasts. Times come back as text or datetimes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._reading: Any = None

    def __enter__(self) -> Rows:
        from sqlalchemy import text

        self._reading = self.store.read()
        conn: Connection = self._reading.__enter__()
        sqlite = self.store.dialect == "sqlite"

        def rows(query: Query, *, since: datetime, path: str | None = None, **params: Any) -> list[dict[str, Any]]:
            whole = whole_days_from(since)
            bound: dict[str, Any] = {
                "since": sqlite_time(since) if sqlite else since,
                "whole": sqlite_time(whole) if sqlite else whole,
                **params,
            }
            if path is not None:
                bound["path"] = path
            return [dict(row) for row in conn.execute(text(query.sql(path)), bound).mappings()]

        return rows

    def __exit__(self, *exc: Any) -> None:
        reading, self._reading = self._reading, None
        if reading is not None:
            reading.__exit__(*exc)
