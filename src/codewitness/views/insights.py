"""Insights: what got slower, chattier or flakier in the running code, named by function and origin.

Computed when read from the runtime facts (nothing is stored but a person's acknowledgement):

* **n_plus_one** -- a function (or, when no watched function issued it, a route's handler) runs the
  same SQL ``SELECT`` many times in one request: at least :data:`N_PLUS_ONE_MIN` times in some
  request, in most requests that ran it (the loop that should be one query with ``IN``/a join);
* **chatty** -- the same for another statement (an ``INSERT`` in a loop) or an outbound HTTP call;
* **slower** -- a function's p95 latency at its newest revision against the revision before, when
  both have :data:`MIN_CALLS` calls, the new p95 is at least :data:`SLOWER_RATIO` times the old, and
  their 95% confidence intervals (distribution-free, from the order statistics of the histograms)
  do not overlap; it names the generations new at that revision, the change that did it;
* **error_jump** -- a function's error rate at its newest revision against the one before: at
  least twice as high, one point higher, and significant (a one-sided two-proportion z-test, z >=
  :data:`ERROR_Z`), both with :data:`MIN_CALLS` calls;
* **scaling** -- a route whose mean latency with many requests in flight is at least
  :data:`SCALING_RATIO` times its latency alone (both load levels with :data:`MIN_REQUESTS`
  requests): the bottleneck that only shows under load.

Each insight names the function, its origin (``ai``/``mixed``/``human``, generations, models), the
route where there is one, and its evidence, and has an id from what it is about (``ins_`` and 16
hex digits, the same on every machine), which :func:`acknowledge_insight` marks as seen.

Example:
    >>> found = insights(store, since=datetime(2026, 11, 1, tzinfo=UTC))  # doctest: +SKIP
    >>> [(i.kind, i.function, i.route) for i in found.insights]  # doctest: +SKIP
    [('n_plus_one', 'shop.orders.load_items', '/orders/{order_id}')]
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from codewitness.errors import InputError, NotFoundError
from codewitness.facts import Histogram
from codewitness.store.insights import (
    Ack,
    FunctionOrigin,
    RouteLoad,
    StatementGroup,
    acknowledge,
    acks,
    function_origins,
    revision_generations,
    revision_histograms,
    revision_totals,
    route_loads,
    statement_groups,
)

if TYPE_CHECKING:
    from codewitness.store import Store

__all__ = [
    "ERROR_Z",
    "KINDS",
    "MIN_CALLS",
    "MIN_REQUESTS",
    "N_PLUS_ONE_MIN",
    "SCALING_RATIO",
    "SLOWER_RATIO",
    "Insight",
    "InsightJson",
    "InsightList",
    "acknowledge_insight",
    "insights",
    "quantile_interval",
]

#: The kinds of insight, in the order they are listed.
KINDS = ("n_plus_one", "chatty", "slower", "error_jump", "scaling")
#: Executions of one statement in one request from which it counts as N+1 (or chatty).
N_PLUS_ONE_MIN = 5
#: Calls a revision needs before its latency or error rate is compared.
MIN_CALLS = 30
#: How much slower (p95) a revision must be to be reported.
SLOWER_RATIO = 1.2
#: The z score from which an error-rate jump is reported (about 1 in 740 by chance, one-sided).
ERROR_Z = 3.0
#: Requests a load level needs before it is compared.
MIN_REQUESTS = 20
#: How much slower (mean) a route must be under load than alone to be reported.
SCALING_RATIO = 2.0
#: The z of the 95% confidence intervals of quantiles.
_Z95 = 1.96


class AckJson(TypedDict):
    """A person's acknowledgement."""

    note: str | None
    acknowledged_at: str


class InsightJson(TypedDict):
    """One insight (an item of ``insights --json``)."""

    id: str
    kind: str
    title: str
    function: str | None
    route: str | None
    method: str | None
    origin: str
    ai_share: float
    generation_ids: list[str]
    models: list[str]
    path: str | None
    line: int | None
    revision: str | None
    evidence: dict[str, Any]
    first_seen: str | None
    last_seen: str | None
    acknowledged: AckJson | None


@dataclass(frozen=True)
class Insight:
    """One finding about the running code (see the module docstring).

    Attributes:
        id: ``ins_`` and 16 hex digits, from what it is about.
        kind: one of :data:`KINDS`.
        title: one line saying what was found.
        function: the function it is about (``module.qualname``), when known.
        route: the route it happened in, when it is about requests.
        method: that route's method.
        origin: the function's origin (``ai``, ``mixed``, ``human``, ``unknown``).
        ai_share: its AI share.
        generation_ids: the generations behind it (for ``slower`` and ``error_jump``: those new at
            the revision that changed it, else all of the function's).
        models: their models.
        path: the function's file, as the sensor's manifest gave it.
        line: its first line.
        revision: the revision it is about (``slower``, ``error_jump``).
        evidence: the numbers it rests on (per kind; see :meth:`to_dict`).
        first_seen: the first interval behind it.
        last_seen: the last one.
        acknowledged: the newest acknowledgement, when a person marked it seen.
    """

    id: str
    kind: str
    title: str
    function: str | None
    route: str | None
    method: str | None
    origin: str
    ai_share: float
    generation_ids: tuple[str, ...]
    models: tuple[str, ...]
    path: str | None
    line: int | None
    revision: str | None
    evidence: dict[str, Any]
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    acknowledged: Ack | None = None

    def to_dict(self) -> InsightJson:
        """The JSON form."""
        ack = self.acknowledged
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "function": self.function,
            "route": self.route,
            "method": self.method,
            "origin": self.origin,
            "ai_share": round(self.ai_share, 4),
            "generation_ids": list(self.generation_ids),
            "models": list(self.models),
            "path": self.path,
            "line": self.line,
            "revision": self.revision,
            "evidence": self.evidence,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "acknowledged": (
                {"note": ack.note, "acknowledged_at": ack.acknowledged_at.isoformat()} if ack is not None else None
            ),
        }


class InsightListJson(TypedDict):
    """``insights --json``."""

    insights: list[InsightJson]
    acknowledged_hidden: int
    note: str | None


@dataclass(frozen=True)
class InsightList:
    """The insights found, and why the list may be empty or short."""

    insights: tuple[Insight, ...]
    acknowledged_hidden: int = 0
    note: str | None = None

    def to_dict(self) -> InsightListJson:
        """The JSON form."""
        return {
            "insights": [i.to_dict() for i in self.insights],
            "acknowledged_hidden": self.acknowledged_hidden,
            "note": self.note,
        }


def insight_id(kind: str, *about: str | None) -> str:
    """The id of the insight of ``kind`` about these things (function, route, statement, revision)."""
    text = "\x00".join((kind, *(part or "" for part in about)))
    return "ins_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


_UNKNOWN = FunctionOrigin("unknown", 0.0, (), (), None, None)


@dataclass
class _Found:
    """An insight before its function's origin is known."""

    kind: str
    key: tuple[str | None, ...]
    title: str
    function: str | None
    route: str | None = None
    method: str | None = None
    revision: str | None = None
    generations: tuple[str, ...] | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    first_seen: datetime | None = None
    last_seen: datetime | None = None


# -- N+1 and chatty ----------------------------------------------------------------------------


def _handlers(loads: Iterable[RouteLoad]) -> dict[tuple[str | None, str | None], str]:
    """Each route's handler, for statements no watched function issued."""
    return {(r.route, r.method): r.function for r in loads if r.function}


def _repeats(groups: Iterable[StatementGroup], handlers: dict[tuple[str | None, str | None], str]) -> list[_Found]:
    found: list[_Found] = []
    for g in groups:
        if g.requests == 0 or g.max_per_request < N_PLUS_ONE_MIN or g.repeated * 2 < g.requests:
            continue
        select = g.system != "http" and g.statement.lstrip("( ").upper().startswith(("SELECT", "WITH"))
        kind = "n_plus_one" if select else "chatty"
        function = g.function or handlers.get((g.route, g.method))
        per_request = g.calls / g.requests
        what = "query" if g.system != "http" else "outbound call"
        where = f" in {g.method or ''} {g.route}".rstrip() if g.route else ""
        found.append(
            _Found(
                kind=kind,
                key=(g.function, g.route, g.method, g.fingerprint),
                title=(
                    f"{function or 'unknown code'} runs the same {what} {per_request:.1f} times per request"
                    f" (up to {g.max_per_request}){where}"
                ),
                function=function,
                route=g.route,
                method=g.method,
                evidence={
                    "system": g.system,
                    "statement": g.statement,
                    "per_request": round(per_request, 2),
                    "max_per_request": g.max_per_request,
                    "requests": g.requests,
                    "repeated_in": g.repeated,
                    "calls": g.calls,
                    "total_ms": round(g.total_ns / 1e6, 3),
                    "errors": g.errors,
                    "issued_by": "watched function" if g.function else "route handler (no watched function issued it)",
                    **({"details": g.details} if g.details else {}),
                },
                first_seen=g.first_seen,
                last_seen=g.last_seen,
            )
        )
    return found


# -- revisions: slower, error jump -------------------------------------------------------------


def quantile_interval(histogram: Histogram, q: float, z: float = _Z95) -> tuple[float, float, float]:
    """The ``q``-quantile of ``histogram`` and its confidence interval (low, value, high), in its unit.

    Distribution-free: the interval runs between the order statistics at ranks
    ``n*q -/+ z*sqrt(n*q*(1-q))``, read as bucket midpoints.
    """
    n = histogram.count
    if n == 0:
        return (0.0, 0.0, 0.0)
    spread = z * math.sqrt(n * q * (1 - q))
    low_rank = max(1, math.floor(n * q - spread))
    high_rank = min(n, math.ceil(n * q + spread) + 1)
    return (_at_rank(histogram, low_rank), histogram.quantile(q), _at_rank(histogram, high_rank))


def _at_rank(histogram: Histogram, rank: int) -> float:
    from codewitness.facts import bucket_value

    seen = 0
    for index in sorted(histogram.buckets):
        seen += histogram.buckets[index]
        if seen >= rank:
            return bucket_value(index)
    return bucket_value(max(histogram.buckets))


def _revision_pairs(store: Store, since: datetime | None) -> dict[str, tuple[Any, Any]]:
    """Per function: its newest revision's totals beside those of the revision before."""
    by_function: dict[str, list[Any]] = {}
    for totals in revision_totals(store, since=since):
        by_function.setdefault(totals.function, []).append(totals)
    pairs: dict[str, tuple[Any, Any]] = {}
    for function, revisions in by_function.items():
        if len(revisions) >= 2:
            ordered = sorted(revisions, key=lambda t: t.last_seen, reverse=True)
            pairs[function] = (ordered[0], ordered[1])
    return pairs


def _new_generations(store: Store, function: str, new: str | None, old: str | None) -> tuple[str, ...]:
    generations = revision_generations(store, function, [new, old])
    now, before = generations.get(new, []), set(generations.get(old, []))
    fresh = tuple(g for g in now if g not in before)
    return fresh or tuple(now)


def _revisions(store: Store, since: datetime | None) -> list[_Found]:
    found: list[_Found] = []
    for function, (new, old) in sorted(_revision_pairs(store, since).items()):
        if new.calls < MIN_CALLS or old.calls < MIN_CALLS:
            continue
        change = f"{old.revision or '(none)'} -> {new.revision or '(none)'}"
        slower = _slower(store, function, new, old, since)
        if slower is not None:
            slower.title = f"{function} got slower at {new.revision}: {slower.title} ({change})"
            found.append(slower)
        jump = _error_jump(function, new, old)
        if jump is not None:
            found.append(jump)
    for item in found:
        item.generations = _new_generations(store, item.function or "", item.revision, item.evidence["previous"])
    return found


def _slower(store: Store, function: str, new: Any, old: Any, since: datetime | None) -> _Found | None:
    histograms = revision_histograms(store, function, [new.revision, old.revision], since=since)
    if new.revision not in histograms or old.revision not in histograms:
        return None
    new_low, new_p95, new_high = quantile_interval(histograms[new.revision], 0.95)
    old_low, old_p95, old_high = quantile_interval(histograms[old.revision], 0.95)
    if old_p95 <= 0 or new_p95 < SLOWER_RATIO * old_p95 or new_low <= old_high:
        return None
    return _Found(
        kind="slower",
        key=(function, new.revision),
        title=f"p95 {_ms(old_p95)} -> {_ms(new_p95)} ({new_p95 / old_p95:.1f}x)",
        function=function,
        revision=new.revision,
        evidence={
            "previous": old.revision,
            "p95_ms": round(new_p95 / 1e6, 4),
            "p95_ci_ms": [round(new_low / 1e6, 4), round(new_high / 1e6, 4)],
            "previous_p95_ms": round(old_p95 / 1e6, 4),
            "previous_p95_ci_ms": [round(old_low / 1e6, 4), round(old_high / 1e6, 4)],
            "ratio": round(new_p95 / old_p95, 3),
            "calls": new.calls,
            "previous_calls": old.calls,
        },
        first_seen=new.first_seen,
        last_seen=new.last_seen,
    )


def _error_jump(function: str, new: Any, old: Any) -> _Found | None:
    rate, before = new.errors / new.calls, old.errors / old.calls
    pooled = (new.errors + old.errors) / (new.calls + old.calls)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / new.calls + 1 / old.calls))
    z = (rate - before) / spread if spread > 0 else 0.0
    if rate < 2 * before or rate - before < 0.01 or z < ERROR_Z:
        return None
    return _Found(
        kind="error_jump",
        key=(function, new.revision),
        title=f"{function} fails more at {new.revision}: {before:.1%} -> {rate:.1%} of calls",
        function=function,
        revision=new.revision,
        evidence={
            "previous": old.revision,
            "error_rate": round(rate, 6),
            "previous_error_rate": round(before, 6),
            "z": round(z, 2),
            "calls": new.calls,
            "errors": new.errors,
            "previous_calls": old.calls,
            "previous_errors": old.errors,
        },
        first_seen=new.first_seen,
        last_seen=new.last_seen,
    )


# -- scaling -----------------------------------------------------------------------------------


def _load_order(label: str) -> int:
    head = label.split("-")[0].rstrip("+")
    return int(head) if head.isdigit() else 0


def _scaling(loads: Iterable[RouteLoad]) -> list[_Found]:
    found: list[_Found] = []
    for r in loads:
        levels = sorted(((_load_order(k), k, n, ns) for k, (n, ns) in r.by_load.items()), key=lambda x: x[0])
        alone = next((lv for lv in levels if lv[0] == 1 and lv[2] >= MIN_REQUESTS), None)
        loaded = [lv for lv in levels if lv[0] >= 3 and lv[2] >= MIN_REQUESTS]
        if alone is None or not loaded:
            continue
        top = loaded[-1]
        base, under = alone[3] / alone[2], top[3] / top[2]
        if base <= 0 or under < SCALING_RATIO * base:
            continue
        where = f"{r.method or ''} {r.route or '(no route)'}".strip()
        found.append(
            _Found(
                kind="scaling",
                key=(r.route, r.method),
                title=(
                    f"{where} slows down under load: mean {_ms(base)} alone, {_ms(under)} with {top[1]} in flight"
                    f" ({under / base:.1f}x)"
                ),
                function=r.function,
                route=r.route,
                method=r.method,
                evidence={
                    "mean_ms_by_in_flight": {label: round(ns / n / 1e6, 4) for _, label, n, ns in levels if n},
                    "requests_by_in_flight": {label: n for _, label, n, _ in levels},
                    "ratio": round(under / base, 3),
                    "requests": r.requests,
                    "errors": r.errors,
                },
                first_seen=r.first_seen,
                last_seen=r.last_seen,
            )
        )
    return found


def _ms(ns: float) -> str:
    ms = ns / 1e6
    return f"{ms:.3g} ms" if ms < 1000 else f"{ms / 1000:.3g} s"


# -- the list ----------------------------------------------------------------------------------


def _matches(origin: str, wanted: str | None) -> bool:
    if wanted is None or wanted == "any":
        return True
    if wanted == "ai":
        return origin in ("ai", "mixed")
    return origin == wanted


def insights(
    store: Store,
    *,
    since: datetime | None = None,
    kinds: Sequence[str] | None = None,
    origin: str | None = None,
    include_acknowledged: bool = False,
) -> InsightList:
    """Every insight the runtime facts since ``since`` support (see the module docstring).

    Args:
        store: an open store.
        since: only facts from then on (``None``: all).
        kinds: only these kinds (of :data:`KINDS`).
        origin: only insights about code of this origin (``ai`` includes ``mixed``; ``any``/``None``: all).
        include_acknowledged: also those a person acknowledged (hidden by default; counted).

    Raises:
        InputError: an unknown kind or origin.
    """
    wanted = tuple(kinds) if kinds else KINDS
    unknown = sorted(set(wanted) - set(KINDS))
    if unknown:
        raise InputError(f"unknown insight kind {', '.join(unknown)}; choose from {', '.join(KINDS)}")
    if origin not in (None, "any", "ai", "mixed", "human", "unknown"):
        raise InputError(f"--origin is ai, mixed, human, unknown or any; not {origin!r}")
    loads = route_loads(store, since=since) if {"n_plus_one", "chatty", "scaling"} & set(wanted) else []
    found: list[_Found] = []
    if {"n_plus_one", "chatty"} & set(wanted):
        found += _repeats(statement_groups(store, since=since), _handlers(loads))
    if {"slower", "error_jump"} & set(wanted):
        found += _revisions(store, since)
    if "scaling" in wanted:
        found += _scaling(loads)
    found = [f for f in found if f.kind in wanted]
    origins = function_origins(store, [f.function for f in found if f.function])
    seen = acks(store)
    result: list[Insight] = []
    hidden = 0
    for f in found:
        o = origins.get(f.function or "", _UNKNOWN)
        if not _matches(o.origin, origin):
            continue
        ident = insight_id(f.kind, *f.key)
        ack = seen.get(ident)
        if ack is not None and not include_acknowledged:
            hidden += 1
            continue
        result.append(
            Insight(
                id=ident,
                kind=f.kind,
                title=f.title,
                function=f.function,
                route=f.route,
                method=f.method,
                origin=o.origin,
                ai_share=o.ai_share,
                generation_ids=f.generations if f.generations is not None else o.generation_ids,
                models=o.models,
                path=o.path,
                line=o.line,
                revision=f.revision,
                evidence=f.evidence,
                first_seen=f.first_seen,
                last_seen=f.last_seen,
                acknowledged=ack,
            )
        )
    rank = {"ai": 0, "mixed": 1, "human": 2, "unknown": 3}
    result.sort(key=lambda i: (KINDS.index(i.kind), rank.get(i.origin, 4), i.function or "", i.route or "", i.id))
    return InsightList(tuple(result), hidden, _note(store, result, hidden, since))


def _note(store: Store, result: list[Insight], hidden: int, since: datetime | None) -> str | None:
    if result:
        return None
    if hidden:
        return f"no insights but {hidden} acknowledged one(s) (--all shows them)"
    window = f" since {since:%Y-%m-%d %H:%M} UTC" if since else ""
    facts = route_loads(store, since=since) or revision_totals(store, since=since)
    if not facts and not statement_groups(store, since=since, min_repeated=0):
        return (
            f"no runtime facts{window}: run the app with the sensor (codewitness run -- python app.py),"
            " then `codewitness ingest`"
        )
    return (
        f"no insights{window}: no statement ran {N_PLUS_ONE_MIN}+ times in one request, no function got slower or"
        f" failed more at its newest revision (each needs {MIN_CALLS} calls per revision), no route slowed under load"
    )


def acknowledge_insight(
    store: Store, insight: str, *, note: str | None = None, since: datetime | None = None
) -> Insight:
    """Mark an insight (its id, or a unique prefix of it) as seen; it is hidden from then on.

    Raises:
        InputError: the prefix matches several insights.
        NotFoundError: no current insight has that id.
    """
    everything = insights(store, since=since, include_acknowledged=True).insights
    matches = [i for i in everything if i.id == insight] or [i for i in everything if i.id.startswith(insight)]
    if not matches:
        raise NotFoundError(f"no insight {insight!r}: `codewitness insights --all` lists them")
    if len(matches) > 1:
        raise InputError(f"{insight!r} matches {len(matches)} insights; give more of the id")
    ack = acknowledge(store, matches[0].id, note=note)
    return replace(matches[0], acknowledged=ack)
