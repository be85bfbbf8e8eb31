"""Pending capture: AI lines agents wrote that are not committed yet, per file (``codewitness status``).

Read from the project's capture journal (``.codewitness/pending.db``) and the work tree; a
commit turns them into a git note and they leave this view.

Example:
    >>> status = pending_status(Path("."))  # doctest: +SKIP
    >>> status.installed_agents, [(f["path"], f["ai_lines"]) for f in status.files]  # doctest: +SKIP
    (('claude',), [('shop/pricing.py', 14)])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

__all__ = ["PendingFile", "PendingStatus", "PendingStatusJson", "pending_status"]


class PendingFile(TypedDict):
    """One file with captured, uncommitted agent edits."""

    path: str
    ai_lines: int
    mixed_lines: int
    edits: int
    agents: list[str]
    models: list[str]


class PendingStatusJson(TypedDict):
    """The ``status --json`` document."""

    root: str
    installed_agents: list[str]
    pending: list[PendingFile]


@dataclass(frozen=True)
class PendingStatus:
    """Capture in one repository: which agents are hooked, and the pending files (by path)."""

    root: Path
    installed_agents: tuple[str, ...]
    files: tuple[PendingFile, ...]

    def to_dict(self) -> PendingStatusJson:
        """The JSON document (``codewitness status --json``)."""
        return {"root": str(self.root), "installed_agents": list(self.installed_agents), "pending": list(self.files)}


def pending_status(root: Path) -> PendingStatus:
    """The pending capture of the repository at ``root`` (its top folder)."""
    from codewitness._statedir import STATE_DIR, make_dirs
    from codewitness.capture.commit import pending_labels
    from codewitness.capture.journal import Journal
    from codewitness.capture.setup import installed_agents

    make_dirs(root / STATE_DIR)  # made here, not by the agent hooks, which never write into the work tree
    with Journal.open(root / STATE_DIR) as journal:
        labels = pending_labels(root, journal)
        edits = journal.edits()
    files: list[PendingFile] = []
    for path, file_labels in sorted(labels.items()):
        mine = [e for e in edits if e.path == path]
        files.append(
            {
                "path": path,
                "ai_lines": sum(1 for label in file_labels if label.kind == "ai"),
                "mixed_lines": sum(1 for label in file_labels if label.kind == "mixed"),
                "edits": len(mine),
                "agents": sorted({e.agent for e in mine}),
                "models": sorted({e.model for e in mine if e.model}),
            }
        )
    return PendingStatus(root=root, installed_agents=tuple(installed_agents(root)), files=tuple(files))
