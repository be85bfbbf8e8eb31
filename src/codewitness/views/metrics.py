"""The quality metrics of one window, as every face shows them.

:func:`metrics_view` gathers the eight metrics (:mod:`codewitness.metrics`) over the window, overall
and, with ``by``, per model, agent, prompt or author; the change markers of the window beside them;
and the tokens and cost of its generations. It renders nothing: ``codewitness metrics`` prints it,
``alerts check`` judges it, ``export otel`` sends it.

Example:
    >>> view = metrics_view(store, Path("."), settings, since="14d", by="model", offline=True)  # doctest: +SKIP
    >>> [(m.id, m.status) for m in view.metrics][:2]  # doctest: +SKIP
    [('hallucination_rate', 'ok'), ('compilation_success_rate', 'n/a')]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codewitness.config import MetricsSection
from codewitness.errors import UsageError
from codewitness.metrics.compute import MetricResult, evaluate
from codewitness.metrics.cost import CostReport, cost_report
from codewitness.metrics.markers import Marker, change_markers
from codewitness.metrics.samples import GROUPINGS, Gathered, Window, gather
from codewitness.model import utcnow

if TYPE_CHECKING:
    from codewitness.store import Store

__all__ = ["GroupMetrics", "MetricsView", "metrics_view", "window_of"]


@dataclass(frozen=True)
class GroupMetrics:
    """The metrics of one group (a model, an agent, a prompt or an author)."""

    group: str
    metrics: tuple[MetricResult, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"group": self.group, "metrics": [m.to_dict() for m in self.metrics]}


@dataclass(frozen=True)
class MetricsView:
    """The answer of ``codewitness metrics``.

    Attributes:
        window: the span and its trend parts.
        by: the grouping, or ``None``.
        metrics: every enabled metric over the whole window, in report order.
        groups: with ``by``, the metrics per group, the group with most samples first.
        markers: model, prompt version and context file changes in the window, oldest first.
        cost: tokens and cost of the window's generations.
        generations: how many generations the ledger holds for the window.
    """

    window: Window
    by: str | None
    metrics: tuple[MetricResult, ...]
    groups: tuple[GroupMetrics, ...]
    markers: tuple[Marker, ...]
    cost: CostReport
    generations: int

    @property
    def breaches(self) -> tuple[MetricResult, ...]:
        """The metrics on the bad side of their threshold."""
        return tuple(m for m in self.metrics if m.status == "breach")

    def to_dict(self) -> dict[str, Any]:
        """The ``metrics --json`` document."""
        return {
            "window": {
                "since": self.window.since.isoformat(),
                "until": self.window.until.isoformat(),
                "points": self.window.points,
            },
            "generations": self.generations,
            "by": self.by,
            "metrics": [m.to_dict() for m in self.metrics],
            "groups": [g.to_dict() for g in self.groups],
            "markers": [m.to_dict() for m in self.markers],
            "cost": self.cost.to_dict(),
        }


def window_of(settings: MetricsSection, since: str | None) -> Window:
    """The window for ``since`` (an age or a date; ``metrics.window`` when ``None``), ending now.

    Raises:
        InputError: ``since`` cannot be read, or lies in the future.
    """
    from codewitness._time import parse_since
    from codewitness.errors import InputError

    now = utcnow()
    start = parse_since(since or settings.window, now)
    if start >= now:
        raise InputError(f"--since {since or settings.window!r} is not in the past")
    return Window(since=start, until=now, points=settings.trend_points)


def _groups(by: str, gathered: dict[str, Gathered], settings: MetricsSection, window: Window) -> list[GroupMetrics]:
    counts: Counter[str] = Counter()
    for found in gathered.values():
        for sample in found.samples:
            for value in sample.keys.get(by, ()):
                counts[value] += sample.side == "now"
    groups = []
    for value, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        results = tuple(
            evaluate(metric_id, found, settings, window, [s for s in found.samples if value in s.keys.get(by, ())])
            for metric_id, found in gathered.items()
        )
        groups.append(GroupMetrics(value, results))
    return groups


def metrics_view(
    store: Store,
    root: Path,
    settings: MetricsSection,
    *,
    since: str | None = None,
    by: str | None = None,
    offline: bool = False,
) -> MetricsView:
    """Compute the quality metrics of the window ending now.

    Args:
        store: the ledger and the recorded test runs.
        root: the repository (attribution, the merge gate's findings, context file history).
        settings: ``[tool.codewitness.metrics]``.
        since: the window's start (``14d``, ``2026-11-01``); ``metrics.window`` when ``None``.
        by: ``model``, ``agent``, ``prompt`` or ``author`` to compute each metric per group too.
        offline: the merge gate answers from its package-index cache only.

    Raises:
        UsageError: an unknown ``by``.
        InputError: an unreadable ``since``.
    """
    from codewitness.store.metrics import commit_links

    if by is not None and by not in GROUPINGS:
        raise UsageError(f"--by is one of {', '.join(GROUPINGS)}; not {by!r}")
    window = window_of(settings, since)
    gathered = gather(store, root, settings, window, offline=offline)
    results = tuple(evaluate(metric_id, found, settings, window) for metric_id, found in gathered.items())
    from codewitness import ledger

    generations = ledger.find(store, since=window.since)
    links = commit_links(store, [g.id for g in generations])
    commits = {gid: [link.commit for link in found] for gid, found in links.items()}
    return MetricsView(
        window=window,
        by=by,
        metrics=results,
        groups=tuple(_groups(by, gathered, settings, window)) if by else (),
        markers=tuple(change_markers(store, root, settings, window, generations)),
        cost=cost_report(generations, settings.prices, commits),
        generations=len(generations),
    )
