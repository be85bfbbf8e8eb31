"""File origins: who wrote each line of one file at one revision (what ``codewitness blame`` shows).

This view imports only the attribution engine (git and the standard library), so the command
line can answer ``codewitness blame FILE`` without loading the database layer when the
attribution cache is read through :mod:`codewitness.store.lite`.

Example:
    >>> origins = file_origins(Path("."), "shop/pricing.py")  # doctest: +SKIP
    >>> origins.lines[0].origin.kind, origins.to_dict()["lines"][0]["generations"]  # doctest: +SKIP
    ('ai', ['gen_bce685ec1a2817389667'])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from codewitness.attribution.blame import Attributor, LineAttribution, relative_path

if TYPE_CHECKING:
    from codewitness.attribution.cache import AttributionCache

__all__ = ["FileOrigins", "FileOriginsJson", "LineOriginJson", "file_origins"]


class LineOriginJson(TypedDict):
    """One line in ``blame --json``."""

    line: int
    origin: str
    confidence: float
    evidence: str
    agent: str | None
    model: str | None
    session: str | None
    generations: list[str]
    commit: str
    author: str
    text: str


class FileOriginsJson(TypedDict):
    """The ``blame --json`` document."""

    path: str
    revision: str
    skipped: str | None
    lines: list[LineOriginJson]
    warnings: dict[str, int]


@dataclass(frozen=True)
class FileOrigins:
    """Every line of one file at one revision, with its origin.

    Attributes:
        path: the repository-relative path.
        revision: the commit id attributed.
        lines: one entry per line, in order (empty for a skipped file).
        skipped: why the file was not attributed (``"binary"``, ``"empty"``, ...), or ``None``.
        warnings: skipped evidence (a corrupt note, a shallow clone), with how often.
    """

    path: str
    revision: str
    lines: tuple[LineAttribution, ...]
    skipped: str | None = None
    warnings: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> FileOriginsJson:
        """The JSON document (``codewitness blame --json``)."""
        return {
            "path": self.path,
            "revision": self.revision,
            "skipped": self.skipped,
            "lines": [
                {
                    "line": ln.line,
                    "origin": ln.origin.kind,
                    "confidence": ln.origin.confidence,
                    "evidence": ln.origin.evidence,
                    "agent": ln.origin.agent,
                    "model": ln.origin.model,
                    "session": ln.origin.session_id,
                    "generations": list(ln.origin.generation_ids),
                    "commit": ln.commit,
                    "author": ln.author,
                    "text": ln.text,
                }
                for ln in self.lines
            ],
            "warnings": dict(self.warnings),
        }


def file_origins(
    root: Path, path: str | Path, rev: str = "HEAD", *, cache: AttributionCache | None = None
) -> FileOrigins:
    """Attribute one file.

    Args:
        root: any folder inside the repository.
        path: the file: a ``str`` is relative to the repository root (``/``-separated); a
            :class:`~pathlib.Path` is absolute or relative to the current folder.
        rev: the revision.
        cache: the attribution cache to read and fill (default: this call only).

    Raises:
        GitError: not a repository, or git failed.
        NotFoundError: ``rev`` is not a commit.
        InputError: ``path`` is not a file at ``rev``, or lies outside the repository.
    """
    with Attributor(root, rev, cache=cache) as engine:
        if isinstance(path, Path):
            path = relative_path(engine.root, path)
        result = engine.attribute_path(path)
        warnings = dict(engine.warnings)
    return FileOrigins(path=path, revision=engine.commit, lines=result.lines, skipped=result.skipped, warnings=warnings)
