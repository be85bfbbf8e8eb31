"""A function's dossier: everything its dashboard page shows, in one read.

* provenance: for each generation that wrote it -- the prompt version and model, the raw output,
  the diff from that output to what was committed, the commits that carry it -- and the lines
  a person wrote or changed since (with their commit and author);
* runtime over time (:func:`~codewitness.views.timeline.runtime_series`);
* its latest exceptions with their redacted inputs, invariant breaches and sampled calls.

Example:
    >>> d = function_dossier(store, "shop.pricing.refund", root=Path("."))  # doctest: +SKIP
    >>> d.links[0].generation.model, len(d.exceptions), d.series.points[-1]["calls"]  # doctest: +SKIP
    ('claude-sonnet-4-5-20250929', 0, 2)
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from codewitness.errors import CodewitnessError
from codewitness.store.events import BreachRow, ExceptionRow, SampleRow, Scope, breach_rows, exception_rows, sample_rows
from codewitness.views.function import FunctionContext, function_context
from codewitness.views.timeline import RuntimeSeries, runtime_series

if TYPE_CHECKING:
    from codewitness.attribution.blame import LineAttribution
    from codewitness.attribution.cache import AttributionCache
    from codewitness.model import Generation
    from codewitness.store import Store

__all__ = ["FunctionDossier", "GenerationLink", "HumanEdit", "function_dossier"]


class HumanEdit(TypedDict):
    """A line of the function a person wrote (``human``) or changed (``mixed``)."""

    line: int
    origin: str
    commit: str
    author: str
    text: str


@dataclass(frozen=True)
class GenerationLink:
    """One generation behind the function, and how its output became the committed code.

    Attributes:
        generation: the ledger's record.
        diff: a unified diff from the raw output to the function as committed ("" when equal or unknown).
        commits: the commits the ledger links to the generation.
        kept: the function's lines still exactly as this generation wrote them.
        edited: the function's lines of this generation a person changed.
    """

    generation: Generation
    diff: str
    commits: tuple[str, ...]
    kept: int
    edited: int


@dataclass(frozen=True)
class FunctionDossier:
    """What the function page shows (see the module docstring)."""

    context: FunctionContext
    lines: tuple[LineAttribution, ...]
    links: tuple[GenerationLink, ...]
    human_edits: tuple[HumanEdit, ...]
    series: RuntimeSeries
    exceptions: tuple[ExceptionRow, ...]
    exception_count: int
    breaches: tuple[BreachRow, ...]
    breach_count: int
    samples: tuple[SampleRow, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the ``function --json`` document and the rest."""
        return {
            **self.context.to_dict(),
            "provenance": [
                {
                    "generation": link.generation.id,
                    "model": link.generation.model,
                    "agent": link.generation.agent,
                    "prompt_name": link.generation.prompt_name,
                    "prompt_version": link.generation.prompt_version,
                    "params": dict(link.generation.params),
                    "output": link.generation.output,
                    "diff_to_committed": link.diff,
                    "commits": list(link.commits),
                    "kept": link.kept,
                    "edited": link.edited,
                }
                for link in self.links
            ],
            "human_edits": list(self.human_edits),
            "series": self.series.to_dict(),
            "recent_exceptions": list(self.exceptions),
            "exception_count": self.exception_count,
            "recent_breaches": list(self.breaches),
            "breach_count": self.breach_count,
            "samples": list(self.samples),
        }


def _diff(output: str, committed: list[str], label: str, generation_id: str) -> str:
    lines = difflib.unified_diff(
        output.splitlines(keepends=False),
        committed,
        fromfile=f"{generation_id} (raw output)",
        tofile=label,
        lineterm="",
    )
    return "\n".join(lines)


def function_dossier(
    store: Store,
    target: str,
    *,
    root: Path | None = None,
    cache: AttributionCache | None = None,
    since: Any = None,
    service: str | None = None,
    revision: str | None = None,
    recent: int = 10,
    buckets: int = 60,
) -> FunctionDossier:
    """Everything about one function (``module.qualname`` or ``path:LINE``).

    Args:
        store: an open store.
        target: the function.
        root: the repository (for origin, source and provenance); ``None``: runtime facts only.
        cache: an attribution cache.
        since: runtime facts since then.
        service: one service's runtime facts.
        revision: one revision's runtime facts.
        recent: how many exceptions, breaches and samples to include.
        buckets: at most this many points in the runtime series.

    Raises:
        InputError: a bad target.
        NotFoundError: nothing is known about the function.
    """
    from codewitness.ledger import commits_of

    context = function_context(store, target, root=root, cache=cache)
    lines: tuple[LineAttribution, ...] = ()
    if root is not None and context.path and context.start_line and context.end_line and context.revision:
        from codewitness.views.files import file_origins

        try:
            origins = file_origins(root, context.path, context.revision, cache=cache)
            lines = origins.lines[context.start_line - 1 : context.end_line]
        except CodewitnessError:
            lines = ()
    committed = [ln.text for ln in lines]
    label = f"{context.path}@{(context.revision or '')[:12]}"
    links = []
    for g in context.generations:
        mine = [ln for ln in lines if g.id in ln.origin.generation_ids]
        links.append(
            GenerationLink(
                generation=g,
                diff=_diff(g.output, committed, label, g.id) if committed else "",
                commits=tuple(commits_of(store, g.id)),
                kept=sum(1 for ln in mine if ln.origin.kind == "ai"),
                edited=sum(1 for ln in mine if ln.origin.kind == "mixed"),
            )
        )
    edits: tuple[HumanEdit, ...] = tuple(
        {"line": ln.line, "origin": ln.origin.kind, "commit": ln.commit, "author": ln.author, "text": ln.text}
        for ln in lines
        if ln.origin.kind in ("human", "mixed") and ln.text.strip()
    )
    scope = Scope(function=context.qualname, since=since, service=service, revision=revision)
    exceptions, exception_count = exception_rows(store, scope, limit=recent)
    breaches, breach_count = breach_rows(store, scope, limit=recent)
    samples, _ = sample_rows(store, scope, limit=recent)
    return FunctionDossier(
        context=context,
        lines=lines,
        links=tuple(links),
        human_edits=edits,
        series=runtime_series(
            store, context.qualname, since=since, service=service, revision=revision, buckets=buckets
        ),
        exceptions=tuple(exceptions),
        exception_count=exception_count,
        breaches=tuple(breaches),
        breach_count=breach_count,
        samples=tuple(samples),
    )
