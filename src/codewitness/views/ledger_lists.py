"""The ledger as lists a person browses: generations a page at a time, one generation in full,
one prompt's versions with what changed between them.

Example:
    >>> page = generation_list(store, model="claude-sonnet-4-5-20250929", limit=20)  # doctest: +SKIP
    >>> page.items[0]["id"], page.total  # doctest: +SKIP
    ('gen_bce685ec1a2817389667', 2)
    >>> prompt_detail(store, "pricing").diffs[0].text.splitlines()[0]  # doctest: +SKIP
    '--- pricing@1'
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from codewitness.errors import CodewitnessError
from codewitness.views.paging import Page, check_window

if TYPE_CHECKING:
    from codewitness.ledger import PromptVersion
    from codewitness.model import Checkpoint, Generation
    from codewitness.store import Store
    from codewitness.views.generations import GenerationFate

__all__ = [
    "GenerationDetail",
    "GenerationRow",
    "PromptDetail",
    "PromptDiff",
    "generation_detail",
    "generation_list",
    "generation_row",
    "prompt_detail",
]


class GenerationRow(TypedDict):
    """One generation in a list (no prompt text or output)."""

    id: str
    agent: str
    model: str
    prompt_name: str | None
    prompt_version: int | None
    prompt_hash: str
    session_id: str | None
    created_at: str
    files: list[str]
    input_tokens: int | None
    output_tokens: int | None
    output_lines: int


def generation_row(g: Generation) -> GenerationRow:
    """The list form of one generation."""
    return {
        "id": g.id,
        "agent": g.agent,
        "model": g.model,
        "prompt_name": g.prompt_name,
        "prompt_version": g.prompt_version,
        "prompt_hash": g.prompt_hash,
        "session_id": g.session_id,
        "created_at": g.created_at.isoformat(),
        "files": [f"{f.path}:{f.start}-{f.end}" for f in g.files],
        "input_tokens": g.input_tokens,
        "output_tokens": g.output_tokens,
        "output_lines": len(g.output.splitlines()),
    }


def generation_list(
    store: Store,
    *,
    model: str | None = None,
    agent: str | None = None,
    prompt: str | None = None,
    file: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[GenerationRow]:
    """Generations matching every filter, newest first, one page.

    Raises:
        UsageError: a bad page window.
    """
    from codewitness.ledger import find

    check_window(limit, offset)
    found = find(store, model=model, agent=agent, prompt=prompt, file=file, since=since)
    return Page.of([generation_row(g) for g in found], limit=limit, offset=offset)


@dataclass(frozen=True)
class GenerationDetail:
    """One generation in full: the record, its captured edits, its commits, and what became of it.

    Attributes:
        generation: the ledger's record (prompt, parameters, raw output).
        checkpoints: the agent edits captured for it, oldest first.
        commits: the commits the ledger links to it.
        fate: what is left of its lines at HEAD (``None`` without a repository).
    """

    generation: Generation
    checkpoints: tuple[Checkpoint, ...]
    commits: tuple[str, ...]
    fate: GenerationFate | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        g = self.generation
        return {
            **generation_row(g),
            "prompt": g.prompt,
            "params": dict(g.params),
            "output": g.output,
            "request_id": g.request_id,
            "latency_ms": g.latency_ms,
            "checkpoints": [
                {
                    "id": c.id,
                    "path": c.path,
                    "added": [list(r) for r in c.added],
                    "removed": [list(r) for r in c.removed],
                    "created_at": c.created_at.isoformat(),
                }
                for c in self.checkpoints
            ],
            "commits": list(self.commits),
            "fate": self.fate.to_dict() if self.fate is not None else None,
        }


def generation_detail(store: Store, ref: str, *, root: Path | None = None) -> GenerationDetail:
    """One generation by id (or unique prefix), with its fate at HEAD when ``root`` is a repository.

    Raises:
        NotFoundError: no such generation.
        InputError: an ambiguous prefix.
    """
    from codewitness.ledger import checkpoints_of, commits_of, get
    from codewitness.views.generations import generation_fate

    generation = get(store, ref)
    fate = None
    if root is not None:
        try:
            fate = generation_fate(root, generation.id, generation=generation)
        except CodewitnessError:
            fate = None  # no commits yet, or git failed: the record alone is still worth showing
    return GenerationDetail(
        generation=generation,
        checkpoints=tuple(checkpoints_of(store, generation.id)),
        commits=tuple(commits_of(store, generation.id)),
        fate=fate,
    )


@dataclass(frozen=True)
class PromptDiff:
    """What changed from one version of a prompt to the next (a unified diff)."""

    old: int
    new: int
    text: str


@dataclass(frozen=True)
class PromptDetail:
    """One prompt name: its versions oldest first, the diff between each pair, how often it changed.

    Attributes:
        name: the prompt name.
        versions: every version with its text and use count.
        diffs: version n -> n+1, for each n.
        days_per_change: the mean days between versions (``None`` with one version).
    """

    name: str
    versions: tuple[PromptVersion, ...]
    diffs: tuple[PromptDiff, ...]
    days_per_change: float | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "name": self.name,
            "changes": len(self.versions) - 1,
            "days_per_change": self.days_per_change,
            "versions": [
                {
                    "version": v.version,
                    "label": v.label,
                    "created_at": v.created_at.isoformat(),
                    "prompt_hash": v.prompt_hash,
                    "generations": v.uses,
                    "text": v.text,
                }
                for v in self.versions
            ],
            "diffs": [{"old": d.old, "new": d.new, "diff": d.text} for d in self.diffs],
        }


def prompt_detail(store: Store, name: str) -> PromptDetail:
    """The versions of prompt ``name`` with their diffs.

    Raises:
        NotFoundError: no prompt has that name.
    """
    from codewitness.ledger import prompt_diff, prompt_history

    versions = tuple(prompt_history(store, name))
    diffs = tuple(
        PromptDiff(a.version, b.version, prompt_diff(store, a.ref, b.ref)) for a, b in itertools.pairwise(versions)
    )
    days = None
    if len(versions) > 1:
        span = (versions[-1].created_at - versions[0].created_at).total_seconds() / 86400
        days = round(span / (len(versions) - 1), 3)
    return PromptDetail(name=name, versions=versions, diffs=diffs, days_per_change=days)
