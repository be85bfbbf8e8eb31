"""Runtime over time and side by side: a function's chart points, AI-written beside human code.

* :func:`runtime_series` -- one function's intervals merged into at most ``buckets`` equal time
  buckets: calls, errors, p50/p95/p99 from the merged histograms, errors by type.
* :func:`runtime_sides` -- calls, error rate, p95 (over the merged histograms of the latest
  :data:`P95_WINDOW` intervals in scope) and breaches of AI-written functions (origin ``ai`` or
  ``mixed``) beside human/unknown ones; calls and errors are summed by the database.

Example:
    >>> series = runtime_series(store, "shop.pricing.total", buckets=60)  # doctest: +SKIP
    >>> [p["calls"] for p in series.points][:3], series.errors_by_type  # doctest: +SKIP
    ([401, 0, 12], {'TypeError': [1, 0, 0]})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

from codewitness.facts import Histogram
from codewitness.store.events import FunctionTotals, Scope, aggregate_points, breach_rows, function_totals

if TYPE_CHECKING:
    from codewitness.store import Store

__all__ = ["OriginSide", "RuntimeSeries", "SeriesPoint", "runtime_series", "runtime_sides"]

#: The AI/human p95 is read from the merged histograms of at most the latest this many intervals.
P95_WINDOW = 20_000

AI_WRITTEN = "AI-written"
HUMAN_OR_UNKNOWN = "human/unknown"


class SeriesPoint(TypedDict):
    """One bucket of a function's runtime (``start``: the bucket's start, ISO 8601)."""

    start: str
    calls: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


class RuntimeSeriesJson(TypedDict):
    """The JSON form of :class:`RuntimeSeries`."""

    function: str
    bucket_seconds: float
    points: list[SeriesPoint]
    errors_by_type: dict[str, list[int]]


@dataclass(frozen=True)
class RuntimeSeries:
    """A function's runtime over time.

    Attributes:
        function: ``module.qualname``.
        bucket_seconds: the width of one bucket.
        points: the buckets, oldest first (empty buckets included, so the time axis is even).
        errors_by_type: exception type -> errors per bucket (aligned with ``points``).
    """

    function: str
    bucket_seconds: float
    points: tuple[SeriesPoint, ...]
    errors_by_type: dict[str, list[int]] = field(default_factory=dict)

    def to_dict(self) -> RuntimeSeriesJson:
        """The JSON form."""
        return {
            "function": self.function,
            "bucket_seconds": self.bucket_seconds,
            "points": list(self.points),
            "errors_by_type": self.errors_by_type,
        }


def _ms(h: Histogram, q: float) -> float:
    return round(h.quantile(q) / 1e6, 6) if h.count else 0.0


def runtime_series(
    store: Store,
    function: str,
    *,
    since: datetime | None = None,
    service: str | None = None,
    revision: str | None = None,
    buckets: int = 60,
) -> RuntimeSeries:
    """One function's intervals in at most ``buckets`` equal buckets from its first to its last interval."""
    points = aggregate_points(store, Scope(function=function, since=since, service=service, revision=revision))
    if not points:
        return RuntimeSeries(function, 0.0, ())
    first = points[0].start
    last = max(p.start for p in points)
    span = (last - first).total_seconds()
    count = max(1, min(buckets, len(points)))
    width = span / count if span > 0 else 1.0
    calls = [0] * count
    errors = [0] * count
    histograms = [Histogram() for _ in range(count)]
    by_type: dict[str, list[int]] = {}
    for p in points:
        index = min(int((p.start - first).total_seconds() / width), count - 1)
        calls[index] += p.calls
        errors[index] += p.errors
        histograms[index].merge(p.histogram)
        for name, n in p.errors_by_type.items():
            by_type.setdefault(name, [0] * count)[index] += n
    series = tuple(
        SeriesPoint(
            start=datetime.fromtimestamp(first.timestamp() + i * width, first.tzinfo).isoformat(),
            calls=calls[i],
            errors=errors[i],
            p50_ms=_ms(histograms[i], 0.5),
            p95_ms=_ms(histograms[i], 0.95),
            p99_ms=_ms(histograms[i], 0.99),
        )
        for i in range(count)
    )
    return RuntimeSeries(function, width, series, dict(sorted(by_type.items())))


class OriginSideJson(TypedDict):
    """One side of the AI/human comparison."""

    label: str
    functions: int
    calls: int
    errors: int
    error_rate: float
    p95_ms: float
    breaches: int


@dataclass(frozen=True)
class OriginSide:
    """Calls, errors, latency and breaches summed over one side's functions."""

    label: str
    functions: int
    calls: int
    errors: int
    p95_ms: float
    breaches: int

    @property
    def error_rate(self) -> float:
        """Errors per call (0 without calls)."""
        return self.errors / self.calls if self.calls else 0.0

    def to_dict(self) -> OriginSideJson:
        """The JSON form."""
        return {
            "label": self.label,
            "functions": self.functions,
            "calls": self.calls,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 6),
            "p95_ms": self.p95_ms,
            "breaches": self.breaches,
        }


def runtime_sides(
    store: Store,
    *,
    since: datetime | None = None,
    service: str | None = None,
    revision: str | None = None,
    totals: list[FunctionTotals] | None = None,
) -> tuple[OriginSide, OriginSide]:
    """AI-written functions (origin ``ai``/``mixed``) beside human/unknown ones.

    Args:
        store: an open store.
        since: only intervals that ended at or after this time.
        service: only this service's facts.
        revision: only this revision's facts.
        totals: :func:`~codewitness.store.events.function_totals` for this scope, when the caller has them.
    """
    scope = Scope(since=since, service=service, revision=revision)
    functions = {AI_WRITTEN: 0, HUMAN_OR_UNKNOWN: 0}
    sums = {AI_WRITTEN: [0, 0], HUMAN_OR_UNKNOWN: [0, 0]}
    for t in function_totals(store, scope) if totals is None else totals:
        label = AI_WRITTEN if t["origin"] in ("ai", "mixed") else HUMAN_OR_UNKNOWN
        functions[label] += 1
        sums[label][0] += t["calls"]
        sums[label][1] += t["errors"]
    histograms = {AI_WRITTEN: Histogram(), HUMAN_OR_UNKNOWN: Histogram()}
    for p in aggregate_points(store, scope, newest=P95_WINDOW):
        histograms[AI_WRITTEN if p.origin in ("ai", "mixed") else HUMAN_OR_UNKNOWN].merge(p.histogram)
    _rows, all_breaches = breach_rows(store, Scope(since=since, service=service, revision=revision), limit=1)
    _rows, ai_breaches = breach_rows(
        store, Scope(since=since, service=service, revision=revision, origin="ai+mixed"), limit=1
    )
    counted = {AI_WRITTEN: ai_breaches, HUMAN_OR_UNKNOWN: all_breaches - ai_breaches}
    ai, human = (
        OriginSide(
            label,
            functions[label],
            sums[label][0],
            sums[label][1],
            _ms(histograms[label], 0.95),
            counted.get(label, 0),
        )
        for label in (AI_WRITTEN, HUMAN_OR_UNKNOWN)
    )
    return ai, human
