"""Why is this line here: the generation and prompt that wrote it, the agent's output, later edits.

The line's origin comes from attribution at a revision (:mod:`codewitness.views.files`); the
generation -- agent, model, session, prompt, the text the agent wrote -- from the ledger when it
holds it; the commits that changed the line since, newest first, from ``git log -L``.

Example:
    >>> answer = why_line(store, Path("."), "shop/pricing.py", 12)  # doctest: +SKIP
    >>> answer.origin, answer.generations[0].prompt  # doctest: +SKIP
    ('ai', 'Add a refund function that never returns more than was paid')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from codewitness.errors import CodewitnessError, InputError

if TYPE_CHECKING:
    from codewitness._git import LineChange
    from codewitness.attribution.cache import AttributionCache
    from codewitness.model import Generation
    from codewitness.store import Store

__all__ = ["WhyJson", "WhyLine", "why_line"]

#: How much of a prompt and of an agent's output an answer carries.
EXCERPT_CHARS = 1200


def _excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


class WhyGenerationJson(TypedDict):
    """A generation that wrote the line."""

    id: str
    recorded: bool
    agent: str | None
    model: str | None
    session_id: str | None
    prompt_name: str | None
    prompt_version: int | None
    prompt: str | None
    output_excerpt: str | None
    created_at: str | None


class LineChangeJson(TypedDict):
    """A commit that changed the line."""

    commit: str
    author: str
    time: str
    subject: str


class WhyJson(TypedDict):
    """The ``why`` answer."""

    path: str
    line: int
    revision: str
    text: str
    origin: str
    confidence: float
    evidence: str
    commit: str
    author: str
    generations: list[WhyGenerationJson]
    changes: list[LineChangeJson]
    note: str | None


@dataclass(frozen=True)
class WhyLine:
    """One line's story.

    Attributes:
        path: repository-relative.
        line: 1-based, at ``revision``.
        revision: the commit read.
        text: the line.
        origin: ``ai``, ``mixed`` (an AI line a person edited), ``human`` or ``unknown``.
        confidence: how sure the evidence is.
        evidence: ``hook``, ``note``, ``trailer``, ``import``, ...
        commit: the commit the line's current text comes from.
        author: that commit's author.
        generation_ids: the generations that wrote it.
        generations: the ledger's records of them (missing ones left out).
        agent: the agent, from the attribution.
        model: the model, from the attribution.
        session_id: the agent session, from the attribution.
        changes: commits that changed the line, newest first.
        note: what could not be read.
    """

    path: str
    line: int
    revision: str
    text: str
    origin: str
    confidence: float
    evidence: str
    commit: str
    author: str
    generation_ids: tuple[str, ...]
    generations: tuple[Generation, ...]
    agent: str | None
    model: str | None
    session_id: str | None
    changes: tuple[LineChange, ...]
    note: str | None = None

    def to_dict(self) -> WhyJson:
        """The JSON form (prompts and outputs cut to :data:`EXCERPT_CHARS`)."""
        recorded = {g.id: g for g in self.generations}
        gens: list[WhyGenerationJson] = []
        for gid in self.generation_ids:
            g = recorded.get(gid)
            gens.append(
                {
                    "id": gid,
                    "recorded": g is not None,
                    "agent": g.agent if g else self.agent,
                    "model": g.model if g else self.model,
                    "session_id": g.session_id if g else self.session_id,
                    "prompt_name": g.prompt_name if g else None,
                    "prompt_version": g.prompt_version if g else None,
                    "prompt": _excerpt(g.prompt) if g else None,
                    "output_excerpt": _excerpt(g.output) if g else None,
                    "created_at": g.created_at.isoformat() if g else None,
                }
            )
        return {
            "path": self.path,
            "line": self.line,
            "revision": self.revision,
            "text": self.text,
            "origin": self.origin,
            "confidence": self.confidence,
            "evidence": self.evidence,
            "commit": self.commit,
            "author": self.author,
            "generations": gens,
            "changes": [
                {"commit": c.commit, "author": c.author, "time": c.time, "subject": c.subject} for c in self.changes
            ],
            "note": self.note,
        }


def why_line(
    store: Store,
    root: Path,
    path: str,
    line: int,
    *,
    rev: str = "HEAD",
    cache: AttributionCache | None = None,
) -> WhyLine:
    """Who wrote ``line`` of ``path`` at ``rev``, from which prompt, and what changed it since.

    Raises:
        InputError: line below 1 or past the end of the file, or a file not at ``rev``.
        GitError: not a repository.
        NotFoundError: ``rev`` is not a commit.
    """
    from codewitness import ledger
    from codewitness._git import line_history
    from codewitness.views.files import file_origins

    if line < 1:
        raise InputError(f"{path}:{line}: lines are numbered from 1")
    origins = file_origins(root, path, rev, cache=cache)
    if origins.skipped:
        raise InputError(f"{path} was not attributed at {rev}: {origins.skipped}")
    if line > len(origins.lines):
        raise InputError(f"{path} has {len(origins.lines)} lines at {rev}; line {line} is past its end")
    at = origins.lines[line - 1]
    generations = []
    for gid in at.origin.generation_ids:
        try:
            recorded = ledger.get(store, gid)
        except CodewitnessError:
            continue  # captured in another clone, or known from notes only
        if recorded.id == gid:
            generations.append(recorded)
    note = None
    try:
        changes = tuple(line_history(root, origins.revision, origins.path, line))
    except CodewitnessError as exc:
        changes, note = (), f"line history not read: {exc}"
    missing = [g for g in at.origin.generation_ids if g not in {r.id for r in generations}]
    if missing:
        extra = f"not in this ledger: {', '.join(missing)} (captured elsewhere, or known from notes only)"
        note = f"{note}; {extra}" if note else extra
    return WhyLine(
        path=origins.path,
        line=line,
        revision=origins.revision,
        text=at.text,
        origin=at.origin.kind,
        confidence=at.origin.confidence,
        evidence=at.origin.evidence,
        commit=at.commit,
        author=at.author,
        generation_ids=tuple(at.origin.generation_ids),
        generations=tuple(generations),
        agent=at.origin.agent,
        model=at.origin.model,
        session_id=at.origin.session_id,
        changes=changes,
        note=note,
    )
