"""The eight quality metrics: what each measures, in what unit, and which side of its threshold is bad.

One table, :data:`METRICS`, in report order. A metric's threshold is the config key of the same
name in ``[tool.codewitness.metrics]`` (:func:`threshold`); ``direction`` says whether the value
must stay at or below it (``max``) or at or above it (``min``).

Example:
    >>> metric("hallucination_rate").breaches(0.025, 0.02)
    True
    >>> metric("test_pass_rate").breaches(0.96, 0.95)
    False
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from codewitness.config import METRIC_IDS, MetricsSection

__all__ = ["METRICS", "Metric", "format_value", "metric", "threshold"]

Unit = Literal["share", "count", "ms", "score"]


@dataclass(frozen=True)
class Metric:
    """One quality metric.

    Attributes:
        id: the stable id (also its config key and its OpenTelemetry name suffix).
        title: a short name for people.
        unit: ``share`` (0..1, shown as %), ``count`` (per generation), ``ms`` or ``score`` (0..1).
        direction: ``max`` -- the value must not exceed the threshold; ``min`` -- it must not fall below.
        sample: what one sample is.
        source: where the samples come from, for the empty-answer explanations.
    """

    id: str
    title: str
    unit: Unit
    direction: Literal["max", "min"]
    sample: str
    source: str

    def breaches(self, value: float, limit: float) -> bool:
        """Whether ``value`` is on the bad side of ``limit``."""
        return value > limit if self.direction == "max" else value < limit


METRICS: tuple[Metric, ...] = (
    Metric(
        "hallucination_rate",
        "hallucination rate",
        "share",
        "max",
        "AI function",
        "AI-written functions at HEAD whose generations fall in the window, checked by the merge gate (deps, apis)",
    ),
    Metric(
        "compilation_success_rate",
        "compilation success rate",
        "share",
        "min",
        "generation",
        "generations whose files parse as the agent left them and as committed (Python, JSON, TOML)",
    ),
    Metric(
        "test_pass_rate",
        "test pass rate (first pass)",
        "share",
        "min",
        "generation",
        "test runs stored by `pytest --codewitness-tests` after each generation, with tests that ran its functions",
    ),
    Metric(
        "security_vulnerability_rate",
        "security vulnerability rate",
        "count",
        "max",
        "generation",
        "security findings (CW3xx) on AI lines at HEAD, per generation of the window still in the code",
    ),
    Metric(
        "complexity_drift",
        "cognitive complexity drift",
        "share",
        "max",
        "AI function",
        "the mean cognitive complexity of AI-written functions at HEAD against the window's first revision",
    ),
    Metric(
        "context_adherence",
        "context adherence",
        "score",
        "min",
        "generation",
        "the similarity of each generation's prompt and its code",
    ),
    Metric(
        "latency_p95",
        "generation latency p95",
        "ms",
        "max",
        "generation",
        "generation latencies (Claude Code transcripts, `codewitness record --latency-ms`, API pipelines)",
    ),
    Metric(
        "human_edit_distance",
        "human edit distance",
        "share",
        "max",
        "generation",
        "the share of each committed generation's lines a person changed or removed before the commit",
    ),
)
assert tuple(m.id for m in METRICS) == METRIC_IDS  # one list of ids: config.METRIC_IDS

_BY_ID = {m.id: m for m in METRICS}


def metric(metric_id: str) -> Metric:
    """The metric with id ``metric_id`` (raises ``KeyError`` for an unknown id)."""
    return _BY_ID[metric_id]


def threshold(settings: MetricsSection, metric_id: str) -> float:
    """The configured threshold of ``metric_id``."""
    value: float = getattr(settings, metric_id)
    return value


def format_value(unit: Unit, value: float | None, *, signed: bool = False) -> str:
    """A value as people read it: ``2.5%``, ``0.25``, ``4210 ms``, ``0.71``; ``n/a`` for ``None``.

    ``signed`` shows the sign of a share (``+15.0%``), for a change.
    """
    if value is None:
        return "n/a"
    if unit == "share":
        return f"{value * 100:+.1f}%" if signed else f"{value * 100:.1f}%"
    if unit == "ms":
        return f"{value:.0f} ms"
    return f"{value:.2f}"
