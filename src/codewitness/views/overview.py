"""The dashboard's first page: how much of the code agents wrote, and how that code behaves.

:func:`overview` gathers, from the store and the repository's attribution: the AI share now and
over the last commits (:func:`share_history`), AI-written beside human code at runtime (calls,
error rate, p95, breaches), the AI-written functions that fail most, the latest exceptions and
breaches, the agents and models that wrote the code, and how much there is of everything else.

Example:
    >>> view = overview(store, ReportMemo(Path(".")))  # doctest: +SKIP
    >>> view.ai_share, [p["ai_share"] for p in view.history]  # doctest: +SKIP
    (0.7, [0.0, 0.86, 0.7])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypedDict

from codewitness.errors import CodewitnessError
from codewitness.store.events import BreachRow, ExceptionRow, Scope, breach_rows, exception_rows
from codewitness.views.catalog import FunctionEntry, catalog_entries, with_latency
from codewitness.views.timeline import OriginSide, runtime_sides

if TYPE_CHECKING:
    from codewitness.store import Store
    from codewitness.views.catalog import ReportMemo

__all__ = ["Overview", "SharePoint", "overview", "share_history"]


class SharePoint(TypedDict):
    """The repository's AI share at one commit."""

    commit: str
    time: str
    subject: str
    lines: int
    ai_share: float


def share_history(memo: ReportMemo, store: Store, *, limit: int = 20) -> list[SharePoint]:
    """The AI share of the last ``limit`` commits on HEAD's first-parent line, oldest first.

    Each commit's report goes through the attribution cache, so only files a commit changed
    are attributed anew.
    """
    from codewitness._git import first_parent_log

    head = memo.commit()
    if head is None:
        return []
    points: list[SharePoint] = []
    for sha, when, subject in reversed(first_parent_log(memo.root, head, limit)):
        report = memo.report(store, sha)
        if report is None:
            continue
        points.append(
            {
                "commit": sha,
                "time": datetime.fromtimestamp(when, UTC).isoformat(),
                "subject": subject,
                "lines": report.totals.lines,
                "ai_share": round(report.totals.ai_share, 4),
            }
        )
    return points


class OverviewCounts(TypedDict):
    """How much the store and the repository hold."""

    functions: int
    ai_functions: int
    generations: int
    prompts: int
    open_review: int
    gate_runs: int


@dataclass(frozen=True)
class Overview:
    """What the overview page shows (see the module docstring).

    Attributes:
        revision: the commit attributed, or ``None`` without a repository.
        lines: non-blank lines at ``revision``.
        ai_share: their share written by agents (``ai`` + ``mixed``).
        history: the AI share over the last commits, oldest first.
        sides: AI-written and human/unknown code at runtime.
        failing: AI-written functions with errors or breaches, most errors first.
        exceptions: the latest exceptions.
        breaches: the latest invariant breaches.
        agents: agent -> AI lines at ``revision``.
        models: model -> AI lines at ``revision``.
        counts: see :class:`OverviewCounts`.
    """

    revision: str | None
    lines: int
    ai_share: float
    history: tuple[SharePoint, ...]
    sides: tuple[OriginSide, OriginSide]
    failing: tuple[FunctionEntry, ...]
    exceptions: tuple[ExceptionRow, ...]
    breaches: tuple[BreachRow, ...]
    agents: dict[str, int]
    models: dict[str, int]
    counts: OverviewCounts


def overview(
    store: Store,
    memo: ReportMemo | None,
    *,
    since: datetime | None = None,
    service: str | None = None,
    revision: str | None = None,
    recent: int = 8,
) -> Overview:
    """Everything the overview page shows, for one runtime scope.

    Args:
        store: an open store.
        memo: the repository's reports, or ``None`` when the server has no repository.
        since: runtime facts since then.
        service: one service's runtime facts.
        revision: one revision's runtime facts.
        recent: how many failing functions, exceptions and breaches to list.
    """
    from codewitness.ledger import find, prompt_names
    from codewitness.store.gate_runs import count_gate_runs
    from codewitness.views.review import review_queue

    report = None
    history: list[SharePoint] = []
    if memo is not None:
        try:
            report = memo.report(store)
            history = share_history(memo, store)
        except CodewitnessError:
            report, history = None, []
    scope = Scope(since=since, service=service, revision=revision)
    from codewitness.store.events import function_totals

    sums = function_totals(store, scope)
    entries = catalog_entries(store, report, since=since, service=service, revision=revision, totals=sums)
    ai_written = [e for e in entries if e["origin"] in ("ai", "mixed")]
    failing = sorted(
        (e for e in ai_written if e["errors"] or e["breaches"]),
        key=lambda e: (-e["errors"], -e["breaches"], e["function"]),
    )[:recent]
    with_latency(store, failing, since=since, service=service, revision=revision)
    exceptions, _ = exception_rows(store, scope, limit=recent)
    breaches, _ = breach_rows(store, scope, limit=recent)
    totals = report.totals if report is not None else None
    return Overview(
        revision=report.revision if report is not None else None,
        lines=totals.lines if totals else 0,
        ai_share=round(totals.ai_share, 4) if totals else 0.0,
        history=tuple(history),
        sides=runtime_sides(store, since=since, service=service, revision=revision, totals=sums),
        failing=tuple(failing),
        exceptions=tuple(exceptions),
        breaches=tuple(breaches),
        agents=dict(report.agents.most_common()) if report is not None else {},
        models=dict(report.models.most_common()) if report is not None else {},
        counts={
            "functions": len(entries),
            "ai_functions": len(ai_written),
            "generations": len(find(store)),
            "prompts": len(prompt_names(store)),
            "open_review": review_queue(store, status="open", limit=1).counts.get("open", 0),
            "gate_runs": count_gate_runs(store),
        },
    )
