"""What a coding agent should know about one function before it changes it, in one compact answer.

:func:`function_brief` builds on :func:`codewitness.views.function.function_context` (origin at a
revision, runtime summary, generations in the ledger) and adds what an agent fixing the function
needs: the prompts that wrote it, the trend against the previous revision (error rate, p95), the
newest exceptions with their redacted inputs and stacks, broken invariants, review verdicts and
regression cases, and the blast radius (entry points reaching it, test coverage of its lines).

Example:
    >>> brief = function_brief(store, "app/calc.py:12", root=Path("."))  # doctest: +SKIP
    >>> brief.to_dict()["generations"][0]["prompt"]  # doctest: +SKIP
    'Add ratio(a, b) to app/calc.py'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from codewitness.errors import CodewitnessError
from codewitness.views.reach import Reach, ReachJson, origin_label

if TYPE_CHECKING:
    from codewitness.attribution.cache import AttributionCache
    from codewitness.store import Store
    from codewitness.store.problems import Rows
    from codewitness.views.function import FunctionContext

__all__ = ["FunctionBrief", "FunctionBriefJson", "function_brief"]

#: How much of each prompt a brief carries.
PROMPT_CHARS = 1500
#: How many exceptions, breaches and review items a brief lists.
RECENT = 5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


class TrendJson(TypedDict):
    """The newest revision beside the previous one."""

    revision: str | None
    previous: str | None
    calls: int
    previous_calls: int
    error_rate: float
    previous_error_rate: float
    p95_ms: float
    previous_p95_ms: float


class BriefGenerationJson(TypedDict):
    """A generation that wrote the function."""

    id: str
    agent: str
    model: str
    session_id: str | None
    prompt_name: str | None
    prompt_version: int | None
    prompt: str
    created_at: str


class BriefExceptionJson(TypedDict):
    """A recent exception, with the inputs that caused it and where it was raised."""

    time: str
    type: str
    message: str
    arguments: Any
    stack: list[str]
    revision: str | None


class ReviewsJson(TypedDict):
    """Review verdicts on sampled calls of the function."""

    open: int
    ok: int
    wrong: int
    regression_cases: int
    wrong_examples: list[dict[str, Any]]


class FunctionBriefJson(TypedDict):
    """The ``function_context`` answer."""

    function: str
    path: str | None
    start_line: int | None
    end_line: int | None
    revision: str | None
    origin: str
    ai_share: float | None
    human_edit_share: float | None
    origin_source: str
    models: list[str]
    agents: list[str]
    generation_ids: list[str]
    generations: list[BriefGenerationJson]
    runtime: dict[str, Any] | None
    trend: TrendJson | None
    exceptions: list[BriefExceptionJson]
    breaches: list[dict[str, Any]]
    reviews: ReviewsJson
    reach: ReachJson | None
    behavior: dict[str, Any] | None
    note: str | None


@dataclass(frozen=True)
class FunctionBrief:
    """One function, as an agent about to change it should see it.

    Attributes:
        context: origin, runtime summary and generations (the shared function context).
        trend: the newest revision beside the previous one (``None`` with fewer than two).
        exceptions: the newest exceptions with inputs and stacks.
        reviews: review verdicts and regression cases.
        reach: the blast radius (``None`` without a repository).
        note: what could not be read, and why an empty part is empty.
        behavior: its replay corpus, non-deterministic inputs and the baselines pinning it with
            their latest check (:func:`codewitness.views.behavior.function_behavior`; ``None``
            when nothing of the kind names it).
    """

    context: FunctionContext
    trend: TrendJson | None
    exceptions: tuple[BriefExceptionJson, ...]
    reviews: ReviewsJson
    reach: Reach | None
    note: str | None
    behavior: dict[str, Any] | None = None

    def to_dict(self) -> FunctionBriefJson:
        """The JSON form (prompts cut to :data:`PROMPT_CHARS`)."""
        ctx = self.context
        o = ctx.origin
        runtime = None
        if ctx.runtime is not None:
            r = ctx.runtime
            runtime = {
                k: r[k]
                for k in (
                    "calls",
                    "errors",
                    "error_rate",
                    "errors_by_type",
                    "p50_ms",
                    "p95_ms",
                    "p99_ms",
                    "max_ms",
                    "services",
                    "first_seen",
                    "last_seen",
                    "breach_count",
                )
            }
        return {
            "function": ctx.qualname,
            "path": ctx.path,
            "start_line": ctx.start_line,
            "end_line": ctx.end_line,
            "revision": ctx.revision,
            "origin": origin_label(o.ai_share) if o is not None else "unknown",
            "ai_share": round(o.ai_share, 4) if o is not None else None,
            "human_edit_share": round(o.human_edit_share, 4) if o is not None else None,
            "origin_source": ctx.origin_source,
            "models": list(o.models) if o is not None else [],
            "agents": list(o.agents) if o is not None else [],
            "generation_ids": list(o.generation_ids) if o is not None else [],
            "generations": [
                {
                    "id": g.id,
                    "agent": g.agent,
                    "model": g.model,
                    "session_id": g.session_id,
                    "prompt_name": g.prompt_name,
                    "prompt_version": g.prompt_version,
                    "prompt": _cut(g.prompt, PROMPT_CHARS),
                    "created_at": g.created_at.isoformat(),
                }
                for g in ctx.generations
            ],
            "runtime": runtime,
            "trend": self.trend,
            "exceptions": list(self.exceptions),
            "breaches": [dict(b) for b in ctx.breaches],
            "reviews": self.reviews,
            "reach": self.reach.to_dict() if self.reach is not None else None,
            "behavior": self.behavior,
            "note": self.note,
        }


def _trend(store: Store, rows: Rows, function: str) -> TrendJson | None:
    from codewitness.store.problems import FUNCTION_REVISIONS
    from codewitness.store.queries import revision_p95
    from codewitness.views.problems import revision_changes

    change = revision_changes(rows(FUNCTION_REVISIONS, since=_EPOCH, function=function)).get(function)
    if change is None:
        return None
    p95 = revision_p95(store, function, [change.revision, change.previous])
    return {
        "revision": change.revision,
        "previous": change.previous,
        "calls": change.calls,
        "previous_calls": change.previous_calls,
        "error_rate": round(change.error_rate, 6),
        "previous_error_rate": round(change.previous_error_rate, 6),
        "p95_ms": p95.get(change.revision, 0.0),
        "previous_p95_ms": p95.get(change.previous, 0.0),
    }


def _exceptions(rows: Rows, function: str) -> list[BriefExceptionJson]:
    from codewitness.store.problems import RECENT_EXCEPTIONS
    from codewitness.views.problems import stored_json, stored_time

    found: list[BriefExceptionJson] = []
    for row in rows(RECENT_EXCEPTIONS, since=_EPOCH, function=function, limit=RECENT):
        stack = stored_json(row["stack"])
        frames = [
            f"{f.get('file')}:{f.get('line')} in {f.get('function')}"
            for f in (stack if isinstance(stack, list) else [])
            if isinstance(f, dict)
        ]
        found.append(
            {
                "time": stored_time(row["time"]),
                "type": row["type"],
                "message": row["message"],
                "arguments": stored_json(row["arguments"]),
                "stack": frames[-8:],
                "revision": row["revision"],
            }
        )
    return found


def _reviews(store: Store, function: str) -> ReviewsJson:
    from codewitness.store.invariants import regression_cases, review_items

    items = [i for i in review_items(store, status="all") if i["function"] == function]
    counts = {"open": 0, "ok": 0, "wrong": 0}
    for item in items:
        counts[item["verdict"] or "open"] += 1
    wrong = [
        {"time": str(i["time"]), "arguments": i["arguments"], "result": i["result"], "note": i["note"]}
        for i in items
        if i["verdict"] == "wrong"
    ][-RECENT:]
    cases = sum(1 for c in regression_cases(store) if c["function"] == function)
    return {**counts, "regression_cases": cases, "wrong_examples": wrong}  # type: ignore[typeddict-item]


def function_brief(
    store: Store,
    target: str,
    *,
    root: Path | None = None,
    rev: str = "HEAD",
    cache: AttributionCache | None = None,
) -> FunctionBrief:
    """Everything an agent should know about one function before changing it.

    Args:
        store: an open store.
        target: ``module.qualname`` or ``path:LINE`` (repository-relative).
        root: the repository (origin at ``rev``, blast radius); ``None`` reads origin from runtime facts.
        rev: the revision to attribute.
        cache: an attribution cache.

    Raises:
        InputError: a bad target, a line outside the file or outside any function.
        NotFoundError: nothing is known about the function.
        GitError: git failed.
    """
    from codewitness.views.function import function_context
    from codewitness.views.reach import reach

    ctx = function_context(store, target, root=root, rev=rev, cache=cache)
    notes = []
    reached = None
    if root is not None and ctx.origin_source == "attribution":
        try:
            # The commit the context was read at: the same revision, and no second lookup of it.
            reached = reach(root, [ctx.qualname], rev=ctx.revision or rev, cache=cache).get(ctx.qualname)
        except CodewitnessError as exc:
            notes.append(f"blast radius not read: {exc}")
    elif root is None:
        notes.append("not inside the repository: origin from the sensor's manifest, no blast radius")
    if ctx.runtime is None:
        notes.append(
            "no runtime facts for this function: run the app with the sensor "
            "(codewitness run -- python app.py), then `codewitness ingest`"
        )
    trend: TrendJson | None = None
    exceptions: tuple[BriefExceptionJson, ...] = ()
    if ctx.runtime is not None:
        from codewitness.store.problems import store_rows

        with store_rows(store) as rows:
            trend, exceptions = _trend(store, rows, ctx.qualname), tuple(_exceptions(rows, ctx.qualname))
    from codewitness.views.behavior import function_behavior

    return FunctionBrief(
        context=ctx,
        trend=trend,
        exceptions=exceptions,
        reviews=_reviews(store, ctx.qualname),
        reach=reached,
        note="; ".join(notes) or None,
        behavior=function_behavior(store, ctx.qualname),
    )
