"""Runtime summaries: calls, errors and latency per function, and AI-written code beside human code.

:func:`runtime_view` reads the per-function summaries of :func:`codewitness.store.queries.summarize`
for one scope (a function or glob, a service, a revision, a time), orders them, keeps the first
``limit``, and rolls up *all* matching functions (not only those kept) by origin and by model.

Example:
    >>> view = runtime_view(store, service="shop", sort="errors", limit=5)  # doctest: +SKIP
    >>> [(g.label, g.calls, g.errors) for g in view.groups]  # doctest: +SKIP
    [('AI-written', 1002, 3), ('human/unknown', 40, 0)]
    >>> view.functions[0]["function"], view.total  # doctest: +SKIP
    ('shop.pricing.total', 12)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal, get_args

from codewitness.errors import UsageError
from codewitness.store.queries import BreachSummary, ExceptionSummary, FunctionRuntime, summarize

if TYPE_CHECKING:
    from codewitness.store import Store

__all__ = [
    "SORTS",
    "BreachSummary",
    "ExceptionSummary",
    "FunctionRuntime",
    "OriginGroup",
    "RuntimeView",
    "Sort",
    "runtime_view",
]

#: ``origin``: AI-written first, then busiest first (the default); the others: largest first.
Sort = Literal["origin", "calls", "errors", "p95"]
SORTS: tuple[Sort, ...] = get_args(Sort)

#: The two sides of the AI/human rollup.
AI_WRITTEN = "AI-written"
HUMAN_OR_UNKNOWN = "human/unknown"


@dataclass(frozen=True)
class OriginGroup:
    """Calls and errors summed over the functions of one side of the rollup.

    Attributes:
        label: ``"AI-written"`` (origin ``ai`` or ``mixed``) or ``"human/unknown"``.
        functions: how many functions.
        calls: their calls.
        errors: their calls that raised.
    """

    label: str
    functions: int
    calls: int
    errors: int

    @property
    def error_rate(self) -> float:
        """Errors per call (0 without calls)."""
        return self.errors / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class RuntimeView:
    """What one ``runtime`` question answers.

    Attributes:
        functions: the summaries kept, in the order asked for (the ``runtime --json`` list).
        total: how many functions matched before ``limit``.
        groups: the AI/human rollup over every matching function, AI-written first.
        models: model -> how many matching functions it wrote (a function may count for several).
        skipped: why stored intervals were left out (unreadable ones), with counts.
    """

    functions: tuple[FunctionRuntime, ...]
    total: int
    groups: tuple[OriginGroup, ...] = ()
    models: Mapping[str, int] = field(default_factory=dict)
    skipped: Mapping[str, int] = field(default_factory=dict)


_ORDER: dict[str, Callable[[FunctionRuntime], tuple[float, str]]] = {
    "calls": lambda s: (-s["calls"], s["function"]),
    "errors": lambda s: (-s["errors"], s["function"]),
    "p95": lambda s: (-s["p95_ms"], s["function"]),
}


def _rollup(summaries: Sequence[FunctionRuntime]) -> tuple[tuple[OriginGroup, ...], dict[str, int]]:
    sums: dict[str, list[int]] = {}
    models: dict[str, int] = {}
    for s in summaries:
        label = AI_WRITTEN if s["origin"] in ("ai", "mixed") else HUMAN_OR_UNKNOWN
        n = sums.setdefault(label, [0, 0, 0])
        n[0] += 1
        n[1] += s["calls"]
        n[2] += s["errors"]
        for model in s["models"]:
            models[model] = models.get(model, 0) + 1
    groups = tuple(OriginGroup(label, *sums[label]) for label in (AI_WRITTEN, HUMAN_OR_UNKNOWN) if label in sums)
    return groups, dict(sorted(models.items()))


def runtime_view(
    store: Store,
    *,
    function: str | None = None,
    since: datetime | None = None,
    service: str | None = None,
    revision: str | None = None,
    sort: str = "origin",
    limit: int | None = None,
) -> RuntimeView:
    """Summaries for one scope, ordered and limited, with the AI/human rollup.

    Args:
        store: an open store.
        function: an exact ``module.qualname`` or a glob (``shop.pricing.*``).
        since: only facts at or after this time.
        service: only this service's facts (otherwise every service's are summed).
        revision: only facts of this revision.
        sort: one of :data:`SORTS`.
        limit: keep at most this many functions (the rollup still covers all of them).

    Raises:
        UsageError: an unknown ``sort`` or a ``limit`` below 1.
    """
    if sort not in SORTS:
        raise UsageError(f"--sort is one of {', '.join(SORTS)}; not {sort!r}")
    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be at least 1; got {limit}")
    skipped: dict[str, int] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    summaries = summarize(store, function=function, since=since, service=service, revision=revision, on_skip=skip)
    if sort in _ORDER:
        summaries.sort(key=_ORDER[sort])
    groups, models = _rollup(summaries)
    kept = summaries if limit is None else summaries[:limit]
    return RuntimeView(functions=tuple(kept), total=len(summaries), groups=groups, models=models, skipped=skipped)
