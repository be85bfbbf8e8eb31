"""A generation and its fate: what became of the lines it wrote.

The commits whose attribution records (our notes, imported records, git-ai notes) credit lines
to the generation say what it *wrote*; blaming those files at a revision says what is left:

* ``kept``: lines still there exactly as the agent wrote them (origin ``ai``);
* ``edited``: lines still there that a person changed before committing them (origin ``mixed``);
* ``deleted``: the rest of what it wrote -- removed or rewritten by a later commit.

Within a commit the strongest record that names a file decides that file, as in attribution.

Example:
    >>> fate = generation_fate(Path("."), "gen_bce685ec1a2817389667")  # doctest: +SKIP
    >>> fate.written, fate.kept, fate.edited, fate.deleted  # doctest: +SKIP
    (13, 12, 1, 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from codewitness.attribution.blame import Attributor

if TYPE_CHECKING:
    from codewitness.attribution.cache import AttributionCache
    from codewitness.model import Generation

__all__ = ["CommitCredit", "FileFate", "GenerationFate", "GenerationFateJson", "generation_fate"]


class FileFateJson(TypedDict):
    """One file's share of a generation's fate."""

    path: str
    written: int
    kept: int
    edited: int
    deleted: int


class CommitCreditJson(TypedDict):
    """One commit that credits lines to the generation."""

    commit: str
    author: str
    time: str
    subject: str
    lines: int
    files: list[str]


class GenerationFateJson(TypedDict):
    """The ``generations fate --json`` document."""

    id: str
    revision: str
    recorded: bool
    agent: str | None
    model: str | None
    written: int
    kept: int
    edited: int
    deleted: int
    files: list[FileFateJson]
    commits: list[CommitCreditJson]


@dataclass(frozen=True)
class FileFate:
    """What became of the generation's lines in one file."""

    path: str
    written: int
    kept: int
    edited: int

    @property
    def deleted(self) -> int:
        """Written lines no longer at the revision (removed or rewritten later)."""
        return max(self.written - self.kept - self.edited, 0)


@dataclass(frozen=True)
class CommitCredit:
    """A commit whose record credits lines to the generation (``time``: author time, UTC)."""

    commit: str
    author: str
    time: datetime
    subject: str
    lines: int
    files: tuple[str, ...]


@dataclass(frozen=True)
class GenerationFate:
    """One generation, the commits that brought its lines in, and what is left at a revision.

    Attributes:
        id: the generation id.
        revision: the commit the fate is read at.
        generation: the ledger's record, when the ledger holds it (``None`` for a generation only
            known from notes, e.g. captured in another clone).
        agent: the agent, from the ledger or the records.
        model: the model, from the ledger or the records.
        files: per file, oldest path first.
        commits: the crediting commits, oldest first.
    """

    id: str
    revision: str
    generation: Generation | None
    agent: str | None
    model: str | None
    files: tuple[FileFate, ...]
    commits: tuple[CommitCredit, ...]

    @property
    def written(self) -> int:
        """Lines the records credit to the generation."""
        return sum(f.written for f in self.files)

    @property
    def kept(self) -> int:
        """Lines still at the revision as the agent wrote them."""
        return sum(f.kept for f in self.files)

    @property
    def edited(self) -> int:
        """Lines still at the revision that a person changed before committing."""
        return sum(f.edited for f in self.files)

    @property
    def deleted(self) -> int:
        """Lines removed or rewritten after the commit."""
        return sum(f.deleted for f in self.files)

    def to_dict(self) -> GenerationFateJson:
        """The JSON document (``codewitness generations fate --json``)."""
        return {
            "id": self.id,
            "revision": self.revision,
            "recorded": self.generation is not None,
            "agent": self.agent,
            "model": self.model,
            "written": self.written,
            "kept": self.kept,
            "edited": self.edited,
            "deleted": self.deleted,
            "files": [
                {"path": f.path, "written": f.written, "kept": f.kept, "edited": f.edited, "deleted": f.deleted}
                for f in self.files
            ],
            "commits": [
                {
                    "commit": c.commit,
                    "author": c.author,
                    "time": c.time.isoformat(),
                    "subject": c.subject,
                    "lines": c.lines,
                    "files": list(c.files),
                }
                for c in self.commits
            ],
        }


def generation_fate(
    root: Path,
    generation_id: str,
    rev: str = "HEAD",
    *,
    generation: Generation | None = None,
    cache: AttributionCache | None = None,
) -> GenerationFate:
    """What became of the lines of ``generation_id`` at ``rev``.

    Args:
        root: any folder inside the repository.
        generation_id: the full generation id.
        rev: the revision to read the fate at.
        generation: the ledger's record of it, when there is one.
        cache: an attribution cache.

    Raises:
        GitError: not a repository, or git failed.
        NotFoundError: ``rev`` is not a commit.
    """
    written: dict[str, int] = {}
    credits: list[CommitCredit] = []
    agent = generation.agent if generation else None
    model = generation.model if generation else None
    with Attributor(root, rev, cache=cache) as engine:
        evidence = engine.evidence
        reachable = engine.reachable()
        for sha in sorted({*evidence.notes, *evidence.imports, *evidence.gitai} & reachable):
            decided: set[str] = set()
            lines = 0
            files: list[str] = []
            for _kind, note in evidence.records(sha):
                for path, entries in note.files.items():
                    if path in decided:
                        continue
                    decided.add(path)
                    mine = [e for e in entries if generation_id in e.generation_ids and e.origin in ("ai", "mixed")]
                    count = sum(e.line_count for e in mine)
                    if not count:
                        continue
                    written[path] = written.get(path, 0) + count
                    lines += count
                    files.append(path)
                    agent = agent or next((e.agent for e in mine if e.agent), None)
                    model = model or next((e.model for e in mine if e.model), None)
            if lines:
                info = evidence.commit(sha)
                credits.append(
                    CommitCredit(
                        commit=sha,
                        author=info.author_name,
                        time=datetime.fromtimestamp(info.author_time, UTC),
                        subject=info.message.strip().split("\n", 1)[0],
                        lines=lines,
                        files=tuple(sorted(files)),
                    )
                )
        kept = dict.fromkeys(written, 0)
        edited = dict.fromkeys(written, 0)
        present = [e for e in engine.files(sorted(written)) if e.path in written] if written else []
        for result in engine.attribute(present):
            for line in result.lines:
                if generation_id in line.origin.generation_ids:
                    if line.origin.kind == "ai":
                        kept[result.path] += 1
                    elif line.origin.kind == "mixed":
                        edited[result.path] += 1
        revision = engine.commit
    fates = tuple(FileFate(path, written[path], kept[path], edited[path]) for path in sorted(written))
    return GenerationFate(
        id=generation_id,
        revision=revision,
        generation=generation,
        agent=agent,
        model=model,
        files=fates,
        commits=tuple(sorted(credits, key=lambda c: (c.time, c.commit))),
    )
