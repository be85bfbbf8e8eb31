"""Named prompts: each name with its latest version, a name's versions, one version's text.

Example:
    >>> [p.to_dict() for p in prompt_list(store)]  # doctest: +SKIP
    [{'name': 'pricing', 'latest_version': 2, 'changed_at': '2026-...', 'generations': 2}]
    >>> prompt_versions(store, "pricing").to_dict()["changes"]  # doctest: +SKIP
    1
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

from codewitness.ledger import PromptVersion

if TYPE_CHECKING:
    from codewitness.store import Store

__all__ = [
    "PromptHistory",
    "PromptHistoryJson",
    "PromptSummary",
    "PromptSummaryJson",
    "PromptTextJson",
    "PromptVersionJson",
    "prompt_list",
    "prompt_text",
    "prompt_versions",
]


class PromptSummaryJson(TypedDict):
    """One prompt name (an item of ``prompts list --json``)."""

    name: str
    latest_version: int
    changed_at: str
    generations: int


class PromptVersionJson(TypedDict):
    """One version of a prompt (in ``prompts history --json``)."""

    version: int
    label: str | None
    created_at: str
    prompt_hash: str
    generations: int


class PromptHistoryJson(TypedDict):
    """The ``prompts history --json`` document."""

    name: str
    changes: int
    versions: list[PromptVersionJson]


class PromptTextJson(TypedDict):
    """The ``prompts show --json`` document."""

    name: str
    version: int
    label: str | None
    text: str
    generations: int


@dataclass(frozen=True)
class PromptSummary:
    """A prompt name: its latest version, when it last changed, how many generations used it."""

    name: str
    latest_version: int
    changed_at: datetime
    generations: int

    def to_dict(self) -> PromptSummaryJson:
        """The JSON form."""
        return {
            "name": self.name,
            "latest_version": self.latest_version,
            "changed_at": self.changed_at.isoformat(),
            "generations": self.generations,
        }


@dataclass(frozen=True)
class PromptHistory:
    """Every version of one prompt name, oldest first."""

    name: str
    versions: tuple[PromptVersion, ...]

    @property
    def changes(self) -> int:
        """How often the text changed."""
        return len(self.versions) - 1

    def to_dict(self) -> PromptHistoryJson:
        """The JSON form."""
        return {
            "name": self.name,
            "changes": self.changes,
            "versions": [
                {
                    "version": v.version,
                    "label": v.label,
                    "created_at": v.created_at.isoformat(),
                    "prompt_hash": v.prompt_hash,
                    "generations": v.uses,
                }
                for v in self.versions
            ],
        }


def prompt_list(store: Store) -> list[PromptSummary]:
    """Every prompt name with its latest version and use count."""
    from codewitness import ledger

    return [PromptSummary(n, v, w, u) for n, v, w, u in ledger.prompt_names(store)]


def prompt_versions(store: Store, name: str) -> PromptHistory:
    """The versions of the prompt ``name``.

    Raises:
        NotFoundError: no prompt has that name.
    """
    from codewitness import ledger

    return PromptHistory(name, tuple(ledger.prompt_history(store, name)))


def prompt_text(version: PromptVersion) -> PromptTextJson:
    """The JSON form of one version with its text."""
    return {
        "name": version.name,
        "version": version.version,
        "label": version.label,
        "text": version.text,
        "generations": version.uses,
    }
