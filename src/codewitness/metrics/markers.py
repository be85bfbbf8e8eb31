"""Change markers: what changed in the window that a drop in quality may be tied to.

Three kinds, oldest first:

* ``model`` -- an agent's generations switch to another model (from the ledger);
* ``prompt`` -- a managed prompt gets a new version (from the ledger);
* ``context`` -- a commit changes an agent context file (``CLAUDE.md``, ``AGENTS.md``,
  ``.cursorrules``, ``.cursor/rules/*``, ``GEMINI.md``, ...: ``metrics.context_files``), from git history.

Example:
    >>> [m.kind for m in change_markers(store, Path("."), settings, window)]  # doctest: +SKIP
    ['prompt', 'context', 'model']
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codewitness.config import MetricsSection
from codewitness.metrics.samples import Window

if TYPE_CHECKING:
    from codewitness.model import Generation
    from codewitness.store import Store

__all__ = ["Marker", "change_markers"]


@dataclass(frozen=True)
class Marker:
    """One change in the window.

    Attributes:
        time: when it happened.
        kind: ``model``, ``prompt`` or ``context``.
        detail: what changed, in one line.
        ref: the commit (``context``), ``NAME@VERSION`` (``prompt``) or the first generation on the new model.
        part: the part of the window (trend point) it falls in.
    """

    time: datetime
    kind: str
    detail: str
    ref: str
    part: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the ``markers`` of ``metrics --json``)."""
        return {
            "time": self.time.isoformat(),
            "kind": self.kind,
            "detail": self.detail,
            "ref": self.ref,
            "part": self.part,
        }


def _model_changes(generations: list[Generation], window: Window) -> list[Marker]:
    found: list[Marker] = []
    last: dict[str, str] = {}
    for g in sorted(generations, key=lambda g: (g.created_at, g.id)):
        before = last.get(g.agent)
        if before is not None and before != g.model:
            detail = f"{g.agent}: {before} -> {g.model}"
            found.append(Marker(g.created_at, "model", detail, g.id, window.part(g.created_at)))
        last[g.agent] = g.model
    return found


def change_markers(
    store: Store, root: Path, settings: MetricsSection, window: Window, generations: list[Generation] | None = None
) -> list[Marker]:
    """The model, prompt version and context file changes in ``window``, oldest first.

    Args:
        store: the ledger.
        root: the repository (context files are read from its history; none outside git).
        settings: ``metrics.context_files`` names the files.
        window: the span looked at.
        generations: the window's generations when the caller has them already.
    """
    from codewitness import ledger

    if generations is None:
        generations = ledger.find(store, since=window.since)
    markers = _model_changes(generations, window)
    for name, _latest, _changed, _uses in ledger.prompt_names(store):
        for version in ledger.prompt_history(store, name):
            if version.version > 1 and window.since <= version.created_at <= window.until:
                label = f" ({version.label})" if version.label else ""
                markers.append(
                    Marker(
                        version.created_at,
                        "prompt",
                        f"prompt {name} version {version.version}{label}",
                        version.ref,
                        window.part(version.created_at),
                    )
                )
    markers.extend(_context_changes(root, settings, window))
    return sorted(markers, key=lambda m: (m.time, m.kind, m.ref))


def _context_changes(root: Path, settings: MetricsSection, window: Window) -> list[Marker]:
    from codewitness._git import git_available, log_paths

    if not git_available() or not (root / ".git").exists():
        return []
    found = []
    for commit in log_paths(root, window.since.isoformat(), settings.context_files):
        when = datetime.fromisoformat(commit.time)
        if when > window.until:
            continue
        detail = f"{', '.join(commit.files)} changed by {commit.author}: {commit.subject}"
        found.append(Marker(when, "context", detail, commit.sha, window.part(when)))
    return found
