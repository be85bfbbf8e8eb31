"""Live problems: which functions fail, break their invariants, or got worse with the newest revision.

A function has a live problem when, since a time:

* it raised (captured exceptions, with the inputs of the newest one);
* an invariant of it broke (with the inputs and result of the newest breach);
* **regression**: at the newest revision seen it fails more often than at the revision before
  (error rate above twice the old rate and at least one point higher), both with at least
  :data:`MIN_CALLS` calls;
* **slowdown**: at the newest revision its mean latency is at least :data:`SLOWDOWN_RATIO` times
  the previous revision's, both with at least :data:`MIN_CALLS` calls.

:func:`problems_view` ranks every function of the store (the MCP ``problems`` tool);
:func:`file_problems` answers for the functions of a few files (the agent hook, before an
edit). Both read through :mod:`codewitness.store.problems`, so the hook runs on ``sqlite3``
alone: this module imports only the standard library.

Example:
    >>> with store_rows(store) as rows:  # doctest: +SKIP
    ...     view = problems_view(rows, since=datetime(2026, 11, 1, tzinfo=UTC))
    >>> [(f.function, f.kinds) for f in view.functions]  # doctest: +SKIP
    [('shop.pricing.total', ('exception', 'regression'))]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType

from codewitness.capture._lean import NamedTuple
from codewitness.store.problems import (
    ANY_RUNTIME,
    BREACH_COUNTS,
    EXCEPTION_COUNTS,
    FUNCTION_FACTS,
    LATEST_BREACH,
    LATEST_EXCEPTION,
    REVISION_TOTALS,
)

TYPE_CHECKING = False  # typing costs the agent hook milliseconds: the JSON shapes exist for type checkers only
if TYPE_CHECKING:
    from typing import Any, Literal, TypedDict

    from codewitness.store.problems import Rows

    #: ``ai``: written by an agent, edited or not (``ai`` and ``mixed``); ``any``: every function.
    OriginFilter = Literal["ai", "mixed", "human", "unknown", "any"]

    class RevisionChangeJson(TypedDict):
        """How the newest revision compares with the one before."""

        revision: str | None
        previous: str | None
        calls: int
        previous_calls: int
        error_rate: float
        previous_error_rate: float
        mean_ms: float
        previous_mean_ms: float

    class LatestExceptionJson(TypedDict):
        """The newest exception of a function, with the inputs that caused it."""

        time: str
        type: str
        message: str
        arguments: Any
        where: str | None
        revision: str | None
        service: str

    class LatestBreachJson(TypedDict):
        """The newest broken invariant of a function, with its inputs and result."""

        time: str
        rule: str
        kind: str
        expression: str
        arguments: Any
        result: Any
        detail: str | None

    class FunctionProblemsJson(TypedDict):
        """One function in the ``problems`` answer."""

        function: str
        path: str | None
        line: int | None
        origin: str
        ai_share: float
        generation_ids: list[str]
        models: list[str]
        problems: list[str]
        exceptions: int
        exception_types: dict[str, int]
        latest_exception: LatestExceptionJson | None
        breaches: int
        breach_rules: dict[str, int]
        latest_breach: LatestBreachJson | None
        revisions: RevisionChangeJson | None

    class ProblemsViewJson(TypedDict):
        """The ``problems`` answer."""

        since: str
        origin: str
        functions: list[FunctionProblemsJson]
        total: int
        note: str | None


__all__ = [
    "MIN_CALLS",
    "ORIGINS",
    "SLOWDOWN_RATIO",
    "FunctionProblems",
    "ProblemsView",
    "RevisionChange",
    "file_problems",
    "problems_view",
    "revision_changes",
    "stored_json",
    "stored_time",
]

#: Calls each of two revisions needs before their error rates or latencies are compared.
MIN_CALLS = 20
#: How much slower (mean latency) the newest revision must be to count as a slowdown.
SLOWDOWN_RATIO = 1.5

#: The origin filters: ``ai`` is written by an agent, edited or not (``ai`` and ``mixed``); ``any`` is every function.
ORIGINS: tuple[OriginFilter, ...] = ("ai", "mixed", "human", "unknown", "any")

_NO_RUNTIME = (
    "the store has no runtime facts: run the application with the sensor "
    "(codewitness run -- python app.py), then `codewitness ingest`"
)


def stored_time(value: Any) -> str:
    """A stored time as ISO 8601 in UTC (SQLite gives text, PostgreSQL a datetime)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)).isoformat()
    return str(value)


def stored_json(value: Any) -> Any:
    """A stored JSON value (text on SQLite, decoded already on PostgreSQL)."""
    if isinstance(value, str):
        # The hook's lean decoder: json would pull in re, and the hook reads this before every edit.
        from codewitness.capture._lean import loads

        try:
            return loads(value)
        except ValueError:
            return value
    return value




class RevisionChange(NamedTuple):
    """Calls, error rate and mean latency of the newest revision beside the previous one's."""

    revision: str | None
    previous: str | None
    calls: int
    previous_calls: int
    errors: int
    previous_errors: int
    total_ns: int
    previous_total_ns: int

    @property
    def error_rate(self) -> float:
        """Errors per call at the newest revision."""
        return self.errors / self.calls if self.calls else 0.0

    @property
    def previous_error_rate(self) -> float:
        """Errors per call at the previous revision."""
        return self.previous_errors / self.previous_calls if self.previous_calls else 0.0

    @property
    def mean_ms(self) -> float:
        """Mean latency at the newest revision, in milliseconds."""
        return self.total_ns / self.calls / 1e6 if self.calls else 0.0

    @property
    def previous_mean_ms(self) -> float:
        """Mean latency at the previous revision, in milliseconds."""
        return self.previous_total_ns / self.previous_calls / 1e6 if self.previous_calls else 0.0

    @property
    def comparable(self) -> bool:
        """Both revisions ran often enough to compare."""
        return self.calls >= MIN_CALLS and self.previous_calls >= MIN_CALLS

    @property
    def regressed(self) -> bool:
        """The newest revision fails clearly more often."""
        old, new = self.previous_error_rate, self.error_rate
        return self.comparable and new > max(2 * old, old + 0.01)

    @property
    def slowed(self) -> bool:
        """The newest revision is clearly slower on average."""
        return self.comparable and self.previous_mean_ms > 0 and self.mean_ms >= SLOWDOWN_RATIO * self.previous_mean_ms

    def to_dict(self) -> RevisionChangeJson:
        """The JSON form (rates and times rounded)."""
        return {
            "revision": self.revision,
            "previous": self.previous,
            "calls": self.calls,
            "previous_calls": self.previous_calls,
            "error_rate": round(self.error_rate, 6),
            "previous_error_rate": round(self.previous_error_rate, 6),
            "mean_ms": round(self.mean_ms, 6),
            "previous_mean_ms": round(self.previous_mean_ms, 6),
        }








_NONE: Mapping[str, int] = MappingProxyType({})


class FunctionProblems(NamedTuple):
    """One function's live problems.

    Attributes:
        function: ``module.qualname``.
        path: its file, repository-relative, as the sensor's manifest gave it.
        line: its first line, when known.
        origin: ``ai``, ``mixed``, ``human`` or ``unknown`` (from the newest record).
        ai_share: the share of its lines an agent wrote.
        generation_ids: the generations that wrote it.
        models: the models of those generations.
        exception_types: captured exceptions by type.
        latest_exception: the newest one, with its (redacted) inputs.
        breach_rules: broken invariants by rule.
        latest_breach: the newest one, with inputs and result.
        revisions: the newest revision beside the previous one, when two were seen.
    """

    function: str
    path: str | None
    line: int | None
    origin: str
    ai_share: float
    generation_ids: tuple[str, ...]
    models: tuple[str, ...]
    exception_types: Mapping[str, int] = _NONE
    latest_exception: LatestExceptionJson | None = None
    breach_rules: Mapping[str, int] = _NONE
    latest_breach: LatestBreachJson | None = None
    revisions: RevisionChange | None = None

    @property
    def exceptions(self) -> int:
        """Captured exceptions."""
        return sum(self.exception_types.values())

    @property
    def breaches(self) -> int:
        """Broken invariants."""
        return sum(self.breach_rules.values())

    @property
    def kinds(self) -> tuple[str, ...]:
        """Which problems it has: ``exception``, ``breach``, ``regression``, ``slowdown``."""
        found = []
        if self.exceptions:
            found.append("exception")
        if self.breaches:
            found.append("breach")
        if self.revisions is not None and self.revisions.regressed:
            found.append("regression")
        if self.revisions is not None and self.revisions.slowed:
            found.append("slowdown")
        return tuple(found)

    def to_dict(self) -> FunctionProblemsJson:
        """The JSON form."""
        return {
            "function": self.function,
            "path": self.path,
            "line": self.line,
            "origin": self.origin,
            "ai_share": round(self.ai_share, 4),
            "generation_ids": list(self.generation_ids),
            "models": list(self.models),
            "problems": list(self.kinds),
            "exceptions": self.exceptions,
            "exception_types": dict(self.exception_types),
            "latest_exception": self.latest_exception,
            "breaches": self.breaches,
            "breach_rules": dict(self.breach_rules),
            "latest_breach": self.latest_breach,
            "revisions": self.revisions.to_dict() if self.revisions is not None and self.revisions.comparable else None,
        }




class ProblemsView(NamedTuple):
    """Functions with live problems, worst first.

    Attributes:
        since: the start of the window looked at.
        origin: the origin filter applied.
        functions: the functions kept (at most ``limit``).
        total: how many functions had problems before ``limit``.
        note: why the answer is empty, when it is.
    """

    since: datetime
    origin: str
    functions: tuple[FunctionProblems, ...]
    total: int
    note: str | None = None

    def to_dict(self) -> ProblemsViewJson:
        """The JSON form."""
        return {
            "since": self.since.isoformat(),
            "origin": self.origin,
            "functions": [f.to_dict() for f in self.functions],
            "total": self.total,
            "note": self.note,
        }


def _matches(origin: str, wanted: str) -> bool:
    if wanted == "any":
        return True
    if wanted == "ai":
        return origin in ("ai", "mixed")
    return origin == wanted


def revision_changes(rows: Iterable[dict[str, Any]]) -> dict[str, RevisionChange]:
    """Per function: its newest revision beside the one before (by when each was last seen)."""
    by_function: dict[str, dict[Any, dict[str, Any]]] = {}
    for row in rows:
        revisions = by_function.setdefault(row["function"], {})
        seen = revisions.get(row["revision"])
        if seen is None:
            revisions[row["revision"]] = dict(row)
            continue
        # The same revision in another file (the function moved): one revision, its counts added.
        for key in ("calls", "errors", "total_ns"):
            seen[key] = int(seen[key] or 0) + int(row[key] or 0)
        seen["last"] = max(seen["last"], row["last"], key=stored_time)
    changes: dict[str, RevisionChange] = {}
    for function, by_revision in by_function.items():
        if len(by_revision) < 2:
            continue
        ordered = sorted(by_revision.values(), key=lambda r: stored_time(r["last"]), reverse=True)
        new, old = ordered[0], ordered[1]
        changes[function] = RevisionChange(
            revision=new["revision"],
            previous=old["revision"],
            calls=int(new["calls"] or 0),
            previous_calls=int(old["calls"] or 0),
            errors=int(new["errors"] or 0),
            previous_errors=int(old["errors"] or 0),
            total_ns=int(new["total_ns"] or 0),
            previous_total_ns=int(old["total_ns"] or 0),
        )
    return changes


def _latest_exception(row: dict[str, Any]) -> LatestExceptionJson:
    stack = stored_json(row["stack"])
    top = stack[-1] if isinstance(stack, list) and stack and isinstance(stack[-1], dict) else None
    return {
        "time": stored_time(row["time"]),
        "type": row["type"],
        "message": row["message"],
        "arguments": stored_json(row["arguments"]),
        "where": f"{top.get('file')}:{top.get('line')}" if top else None,
        "revision": row["revision"],
        "service": row["service"],
    }


def _latest_breach(row: dict[str, Any]) -> LatestBreachJson:
    return {
        "time": stored_time(row["time"]),
        "rule": row["rule"],
        "kind": row["rule_kind"],
        "expression": row["expression"],
        "arguments": stored_json(row["arguments"]),
        "result": stored_json(row["result"]),
        "detail": row["detail"],
    }


class _Candidate:
    """What the grouped counts say about one function, before its details are read."""

    def __init__(self) -> None:
        self.origin = "unknown"
        self.seen = ""
        self.exceptions: dict[str, int] = {}
        self.breaches: dict[str, int] = {}
        self.change: RevisionChange | None = None

    def saw(self, origin: Any, last: Any) -> None:
        when = stored_time(last)
        if origin and when >= self.seen:
            self.origin, self.seen = str(origin), when

    def kinds(self) -> int:
        change = self.change
        worse = bool(change and change.regressed) + bool(change and change.slowed)
        return bool(self.exceptions) + bool(self.breaches) + worse

    def events(self) -> int:
        return sum(self.exceptions.values()) + sum(self.breaches.values())


def _candidates(
    rows: Rows, since: datetime, paths: Sequence[str | None], *, revisions: bool = True
) -> dict[str, _Candidate]:
    """Every function with a live problem in ``paths`` (``[None]``: everywhere), from grouped counts alone
    (without ``revisions``: exceptions and breaches only, the intervals not summed)."""
    found: dict[str, _Candidate] = {}
    totals: list[dict[str, Any]] = []
    for path in paths:
        for row in rows(EXCEPTION_COUNTS, since=since, path=path):
            c = found.setdefault(row["function"], _Candidate())
            c.exceptions[row["type"]] = c.exceptions.get(row["type"], 0) + int(row["n"])
            c.saw(row["origin"], row["last"])
        for row in rows(BREACH_COUNTS, since=since, path=path):
            c = found.setdefault(row["function"], _Candidate())
            c.breaches[row["rule"]] = c.breaches.get(row["rule"], 0) + int(row["n"])
            c.saw(row["origin"], row["last"])
        if revisions:
            totals += rows(REVISION_TOTALS, since=since, path=path)
    for name, change in revision_changes(totals).items():
        if change.regressed or change.slowed or name in found:
            c = found.setdefault(name, _Candidate())
            c.change = change
            # The origin of its newest interval (one seek), as an exception or breach would say it.
            for row in rows(FUNCTION_FACTS, since=since, function=name):
                c.saw(row["origin"], row["last"])
    return found


def _details(rows: Rows, since: datetime, name: str, c: _Candidate) -> FunctionProblems | None:
    """One candidate with its newest exception and breach, and where it is and who wrote it."""
    latest_exc = rows(LATEST_EXCEPTION, since=since, function=name) if c.exceptions else []
    latest_breach = rows(LATEST_BREACH, since=since, function=name) if c.breaches else []
    facts = latest_exc or latest_breach or rows(FUNCTION_FACTS, since=since, function=name)
    if not facts:
        return None
    fact = facts[0]
    return FunctionProblems(
        function=name,
        path=fact["path"],
        line=fact["line"],
        origin=fact["origin"],
        ai_share=float(fact["ai_share"]),
        generation_ids=tuple(stored_json(fact["generation_ids"]) or ()),
        models=tuple(stored_json(fact["models"]) or ()),
        exception_types=dict(sorted(c.exceptions.items(), key=lambda kv: (-kv[1], kv[0]))),
        latest_exception=_latest_exception(latest_exc[0]) if latest_exc else None,
        breach_rules=dict(sorted(c.breaches.items(), key=lambda kv: (-kv[1], kv[0]))),
        latest_breach=_latest_breach(latest_breach[0]) if latest_breach else None,
        revisions=c.change,
    )


def _collect(
    rows: Rows,
    since: datetime,
    paths: Sequence[str | None],
    *,
    origin: str = "any",
    limit: int | None = None,
    revisions: bool = True,
) -> tuple[list[FunctionProblems], int]:
    """The functions with live problems, worst first (at most ``limit``), and how many there were.

    Functions are ranked on their grouped counts; only those kept are read in detail.
    """
    candidates = {
        name: c
        for name, c in _candidates(rows, since, paths, revisions=revisions).items()
        if c.kinds() and _matches(c.origin, origin)
    }
    ranked = sorted(candidates, key=lambda name: (-candidates[name].kinds(), -candidates[name].events(), name))
    kept = ranked if limit is None else ranked[:limit]
    found = [f for f in (_details(rows, since, name, candidates[name]) for name in kept) if f is not None]
    return found, len(candidates)


def problems_view(rows: Rows, *, since: datetime, origin: str = "ai", limit: int = 20) -> ProblemsView:
    """Functions ranked by their live problems since ``since``: most kinds of problem first, then most events.

    Args:
        rows: a reader over the store (:func:`~codewitness.store.problems.store_rows`).
        since: the start of the window.
        origin: one of :data:`ORIGINS` (``ai``: written by an agent, edited or not).
        limit: keep at most this many functions.

    Raises:
        ValueError: an unknown ``origin`` or a ``limit`` below 1.
    """
    if origin not in ORIGINS:
        raise ValueError(f"origin is one of {', '.join(ORIGINS)}; not {origin!r}")
    if limit < 1:
        raise ValueError(f"limit must be at least 1; got {limit}")
    found, total = _collect(rows, since, [None], origin=origin, limit=limit)
    note = None
    if not found:
        if not rows(ANY_RUNTIME, since=since)[0]["n"]:
            note = _NO_RUNTIME
        else:
            scope = "" if origin == "any" else f" among {'AI-written' if origin == 'ai' else origin} functions"
            note = f"no exceptions, broken invariants, regressions or slowdowns since {since.isoformat()}{scope}"
    return ProblemsView(since=since, origin=origin, functions=tuple(found), total=total, note=note)


def file_problems(
    rows: Rows, paths: Sequence[str], *, since: datetime, revisions: bool = True
) -> list[FunctionProblems]:
    """The functions of ``paths`` (repository-relative) with live problems, worst first; ``[]`` when none.

    Without ``revisions``, exceptions and broken invariants only: the intervals are not summed, so
    no regression or slowdown is found (each problem is then read down an index, whatever the
    number of intervals).
    """
    return _collect(rows, since, list(dict.fromkeys(paths)), revisions=revisions)[0]
