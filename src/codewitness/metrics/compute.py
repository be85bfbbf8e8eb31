"""From samples to one value per metric: its status against the threshold and its trend over the window.

A metric with fewer samples than ``metrics.min_samples`` (or none at all) is ``n/a`` and says how many
it had and why -- never a number made from too little. The aggregation depends on the metric:

* the three rates and context adherence: the mean of the samples (0/1 for the rates);
* security vulnerability rate: findings per generation (the mean count);
* cognitive complexity drift: the mean complexity of AI functions at HEAD over the mean at the
  window's first revision, minus one;
* generation latency p95: the 95th percentile (nearest rank);
* human edit distance: the median share.

Example:
    >>> result = evaluate("latency_p95", gathered, settings, window)  # doctest: +SKIP
    >>> result.value, result.status  # doctest: +SKIP
    (6120.0, 'breach')
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from codewitness.config import MetricsSection
from codewitness.metrics.definitions import format_value, metric, threshold
from codewitness.metrics.samples import Gathered, Sample, Window

__all__ = ["MetricResult", "Status", "TrendPoint", "aggregate", "evaluate", "percentile"]

Status = Literal["ok", "breach", "n/a"]


@dataclass(frozen=True)
class TrendPoint:
    """The metric over one part of the window (``value`` ``None`` when that part had no samples)."""

    start: datetime
    end: datetime
    value: float | None
    samples: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "value": _rounded(self.value),
            "samples": self.samples,
        }


@dataclass(frozen=True)
class MetricResult:
    """One metric in one window (and one group, when grouped).

    Attributes:
        id: the metric id.
        value: the aggregate, or ``None`` when ``status`` is ``n/a``.
        samples: how many samples it had.
        threshold: the configured limit.
        status: ``ok``, ``breach`` (on the bad side of the limit) or ``n/a``.
        trend: the metric per part of the window, oldest first.
        direction: ``up``, ``down`` or ``flat`` from the first part with a value to the last; ``None``
            with fewer than two such parts.
        reason: why it is ``n/a``.
        notes: what was left out, and the measure used (context adherence).
        method: the measure (``embedding`` or ``lexical``) where there is a choice.
        worst: the samples that make a breach, as refs (up to 10), for the evidence.
    """

    id: str
    value: float | None
    samples: int
    threshold: float
    status: Status
    trend: tuple[TrendPoint, ...] = ()
    direction: str | None = None
    reason: str | None = None
    notes: tuple[str, ...] = ()
    method: str | None = None
    worst: tuple[str, ...] = field(default=())

    @property
    def title(self) -> str:
        """The metric's name for people."""
        return metric(self.id).title

    def shown(self) -> str:
        """The value as people read it (``n/a (3 samples)`` when not measured)."""
        if self.value is None:
            return f"n/a ({self.samples} sample{'' if self.samples == 1 else 's'})"
        return format_value(metric(self.id).unit, self.value, signed=self.id == "complexity_drift")

    def limit_shown(self) -> str:
        """The threshold with its side: ``> 2.0%`` alerts above, ``< 98.0%`` below."""
        m = metric(self.id)
        side = ">" if m.direction == "max" else "<"
        return f"{side} {format_value(m.unit, self.threshold, signed=self.id == 'complexity_drift')}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the items of ``metrics --json``)."""
        m = metric(self.id)
        return {
            "id": self.id,
            "title": m.title,
            "unit": m.unit,
            "value": _rounded(self.value),
            "samples": self.samples,
            "threshold": self.threshold,
            "alert_when": "above" if m.direction == "max" else "below",
            "status": self.status,
            "direction": self.direction,
            "trend": [p.to_dict() for p in self.trend],
            "reason": self.reason,
            "notes": list(self.notes),
            "method": self.method,
            "worst": list(self.worst),
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by nearest rank: a value that was observed, never interpolated."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _mean(samples: Sequence[Sample]) -> float:
    return sum(s.value for s in samples) / len(samples)


def _drift(samples: Sequence[Sample], start: Sequence[Sample]) -> float | None:
    if not samples or not start:
        return None
    before = _mean(start)
    if before == 0:
        return None
    return _mean(samples) / before - 1


_AGGREGATES: dict[str, Callable[[Sequence[Sample]], float]] = {
    "hallucination_rate": _mean,
    "compilation_success_rate": _mean,
    "test_pass_rate": _mean,
    "security_vulnerability_rate": _mean,
    "context_adherence": _mean,
    "latency_p95": lambda s: percentile([x.value for x in s], 95),
    "human_edit_distance": lambda s: float(statistics.median(x.value for x in s)),
}


def aggregate(metric_id: str, samples: Sequence[Sample]) -> float | None:
    """The metric's value over ``samples`` (``None`` without samples); complexity drift needs both sides."""
    if metric_id == "complexity_drift":
        return _drift([s for s in samples if s.side == "now"], [s for s in samples if s.side == "start"])
    now = [s for s in samples if s.side == "now"]
    return _AGGREGATES[metric_id](now) if now else None


def _worst(metric_id: str, samples: Sequence[Sample]) -> tuple[str, ...]:
    m = metric(metric_id)
    if metric_id == "complexity_drift":
        return ()
    ordered = sorted(samples, key=lambda s: (-s.value if m.direction == "max" else s.value, s.ref))
    if metric_id in ("hallucination_rate", "security_vulnerability_rate"):
        ordered = [s for s in ordered if s.value > 0]
    elif metric_id in ("compilation_success_rate", "test_pass_rate"):
        ordered = [s for s in ordered if s.value < 1]
    return tuple(dict.fromkeys(s.ref for s in ordered))[:10]


def evaluate(
    metric_id: str,
    gathered: Gathered,
    settings: MetricsSection,
    window: Window,
    samples: Sequence[Sample] | None = None,
) -> MetricResult:
    """The result of one metric from its gathered samples (or the subset ``samples`` of one group)."""
    chosen = list(gathered.samples if samples is None else samples)
    now = [s for s in chosen if s.side == "now"]
    limit = threshold(settings, metric_id)
    common: dict[str, Any] = {"notes": tuple(gathered.notes), "method": gathered.method, "threshold": limit}
    if gathered.problem is not None:
        return MetricResult(metric_id, None, len(now), status="n/a", reason=gathered.problem, **common)
    if len(now) < settings.min_samples:
        why = f"{len(now)} sample(s) in the window; at least {settings.min_samples} are needed (metrics.min_samples)"
        return MetricResult(metric_id, None, len(now), status="n/a", reason=why, **common)
    value = aggregate(metric_id, chosen)
    if value is None:
        return MetricResult(
            metric_id,
            None,
            len(now),
            status="n/a",
            reason="no AI functions with a measured complexity at the window's start",
            **common,
        )
    trend = _trend(metric_id, chosen, window)
    status: Status = "breach" if metric(metric_id).breaches(value, limit) else "ok"
    return MetricResult(
        metric_id,
        value,
        len(now),
        status=status,
        trend=trend,
        direction=_direction(trend),
        worst=_worst(metric_id, now) if status == "breach" else (),
        **common,
    )


def _trend(metric_id: str, samples: Sequence[Sample], window: Window) -> tuple[TrendPoint, ...]:
    if metric_id == "complexity_drift":
        return ()  # two revisions are compared, not a series of samples in time
    parts: list[list[Sample]] = [[] for _ in range(window.points)]
    for s in samples:
        parts[window.part(s.when)].append(s)
    return tuple(
        TrendPoint(start, end, aggregate(metric_id, part), len(part))
        for (start, end), part in zip(window.bounds(), parts, strict=True)
    )


def _direction(trend: Sequence[TrendPoint]) -> str | None:
    values = [p.value for p in trend if p.value is not None]
    if len(values) < 2:
        return None
    first, last = values[0], values[-1]
    scale = max(abs(first), abs(last), 1e-9)
    if abs(last - first) / scale < 0.01:
        return "flat"
    return "up" if last > first else "down"
