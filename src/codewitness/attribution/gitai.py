"""git-ai authorship notes (``refs/notes/ai``, schema ``authorship/3.0.0``): read and write.

A git-ai note has an attestation section, a line ``---``, then a JSON metadata document::

    src/app.py
      s_0123456789abcd::t_0123456789abcd 1-10,15
      h_0123456789abcd 11-12
    ---
    {"schema_version": "authorship/3.0.0", "base_commit_sha": "...", "prompts": {},
     "sessions": {"s_0123456789abcd": {"agent_id": {"tool": "claude", "id": "...", "model": "..."}}},
     "humans": {"h_0123456789abcd": {"author": "Dev <dev@example.com>"}}}

Keys are ``s_<14 hex>::t_<14 hex>`` (an AI session and checkpoint), ``h_<14 hex>`` (a known
human) or, in older notes, a bare 16-hex prompt key looked up in ``prompts``. Ranges are 1-based
line numbers of that commit, as in our own notes, so a git-ai note converts to a
:class:`~codewitness.attribution.notes.CommitNote` line for line.

Example:
    >>> note = parse_gitai("a.py\\n  s_0123456789abcd::t_0123456789abcd 1-2\\n---\\n"
    ...     '{"schema_version": "authorship/3.0.0", "sessions": {"s_0123456789abcd":'
    ...     ' {"agent_id": {"tool": "claude", "id": "x", "model": "m"}}}}')
    >>> to_commit_note(note).entry_for("a.py", 2).model
    'm'
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from codewitness.attribution.notes import (
    CommitNote,
    NoteEntry,
    NoteError,
    format_ranges,
    load_json_object,
    parse_ranges,
)

__all__ = [
    "GITAI_REF",
    "GITAI_SCHEMA",
    "GitAiAgent",
    "GitAiNote",
    "from_commit_note",
    "parse_gitai",
    "to_commit_note",
]

GITAI_REF = "refs/notes/ai"
GITAI_SCHEMA = "authorship/3.0.0"

_SESSION_KEY = re.compile(r"^(s_[0-9a-f]{14})(?:::t_[0-9a-f]{14})?$")
_HUMAN_KEY = re.compile(r"^h_[0-9a-f]{14}$")
_LEGACY_KEY = re.compile(r"^[0-9a-f]{16}$")

#: git-ai ``agent_id.tool`` values -> our agent ids (others pass through unchanged).
_TOOL_TO_AGENT = {
    "claude": "claude-code",
    "claude-code": "claude-code",
    "cursor": "cursor",
    "codex": "codex",
    "gemini": "gemini-cli",
    "gemini-cli": "gemini-cli",
    "copilot": "copilot",
    "github-copilot": "copilot",
    "github-copilot-cli": "copilot",
    "aider": "aider",
    "devin": "devin",
}
_AGENT_TO_TOOL = {"claude-code": "claude", "gemini-cli": "gemini"}


@dataclass(frozen=True)
class GitAiAgent:
    """Who a session or legacy prompt key stands for."""

    tool: str
    id: str = ""
    model: str = ""


@dataclass(frozen=True)
class GitAiNote:
    """A parsed git-ai authorship note.

    ``attestations`` maps each file to ``(key, spans)`` pairs in note order; ``agents`` maps session
    ids (``s_...``) and legacy prompt keys to their agent; ``humans`` maps ``h_...`` keys to authors.
    ``metadata`` keeps the whole JSON document so a rewrite loses nothing.
    """

    attestations: Mapping[str, tuple[tuple[str, tuple[tuple[int, int], ...]], ...]]
    agents: Mapping[str, GitAiAgent] = field(default_factory=dict)
    humans: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_text(self) -> str:
        """The note text as git-ai writes it."""
        lines: list[str] = []
        for path, keyed in self.attestations.items():
            if not keyed:
                continue
            lines.append(_quote_path(path))
            lines.extend(f"  {key} {format_ranges(spans)}" for key, spans in keyed)
        lines.append("---")
        return "\n".join(lines) + "\n" + json.dumps(dict(self.metadata), indent=2, sort_keys=True) + "\n"


def _quote_path(path: str) -> str:
    # A path with spaces or quotes is written JSON-quoted so the key line stays unambiguous.
    return json.dumps(path) if any(c in path for c in ' "\t') or path != path.strip() else path


def _unquote_path(text: str) -> str:
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return text
        return value if isinstance(value, str) else text
    return text


def _agent(raw: Any) -> GitAiAgent:
    if not isinstance(raw, Mapping):
        raise ValueError("agent_id is not an object")
    return GitAiAgent(
        tool=str(raw.get("tool") or "unknown"), id=str(raw.get("id") or ""), model=str(raw.get("model") or "")
    )


def parse_gitai(text: str) -> GitAiNote:
    """Parse a git-ai note.

    Raises:
        NoteError: no ``---`` separator, bad JSON, an unknown schema, or a malformed attestation.
    """
    head, sep, tail = text.partition("\n---\n")
    if not sep:
        if text.startswith("---\n"):
            head, tail = "", text[4:]
        else:
            raise NoteError("not a git-ai note (no '---' line between attestations and metadata)")
    metadata = load_json_object(tail, "git-ai note metadata")
    schema = metadata.get("schema_version")
    if not isinstance(schema, str) or not schema.startswith("authorship/3."):
        raise NoteError(f"git-ai note schema {schema!r} is not supported (expected {GITAI_SCHEMA})")
    attestations: dict[str, list[tuple[str, tuple[tuple[int, int], ...]]]] = {}
    current: str | None = None
    try:
        for number, line in enumerate(head.splitlines(), 1):
            if not line.strip():
                continue
            if line.startswith((" ", "\t")):
                if current is None:
                    raise ValueError(f"line {number}: ranges before any file path")
                key, _, ranges = line.strip().partition(" ")
                if not (_SESSION_KEY.match(key) or _HUMAN_KEY.match(key) or _LEGACY_KEY.match(key)):
                    raise ValueError(f"line {number}: unknown attestation key {key!r}")
                attestations[current].append((key, parse_ranges(ranges)))
            else:
                current = _unquote_path(line.rstrip())
                attestations.setdefault(current, [])
        agents: dict[str, GitAiAgent] = {}
        for key, raw in (metadata.get("sessions") or {}).items():
            agents[str(key)] = _agent(raw.get("agent_id") if isinstance(raw, Mapping) else None)
        for key, raw in (metadata.get("prompts") or {}).items():
            if isinstance(raw, Mapping) and "agent_id" in raw:
                agents[str(key)] = _agent(raw["agent_id"])
        humans = {
            str(key): str(raw.get("author", "")) if isinstance(raw, Mapping) else ""
            for key, raw in (metadata.get("humans") or {}).items()
        }
    except (ValueError, TypeError, AttributeError) as exc:
        raise NoteError(f"corrupt git-ai note ({exc})") from None
    return GitAiNote(
        attestations={p: tuple(k) for p, k in attestations.items()},
        agents=agents,
        humans=humans,
        metadata=metadata,
    )


def _session_of(key: str) -> str:
    match = _SESSION_KEY.match(key)
    return match.group(1) if match else key


def to_commit_note(note: GitAiNote) -> CommitNote:
    """Our view of a git-ai note: AI keys become ``ai`` entries, human keys ``human`` entries.

    Lines the note does not list stay uncovered (not AI), exactly as git-ai means them.
    """
    files: dict[str, tuple[NoteEntry, ...]] = {}
    for path, keyed in note.attestations.items():
        entries: list[NoteEntry] = []
        for key, spans in keyed:
            if _HUMAN_KEY.match(key):
                entries.append(NoteEntry("human", spans))
                continue
            agent = note.agents.get(_session_of(key)) or note.agents.get(key)
            tool = agent.tool if agent else "unknown"
            entries.append(
                NoteEntry(
                    "ai",
                    spans,
                    agent=None if tool == "unknown" else _TOOL_TO_AGENT.get(tool, tool),
                    model=(agent.model or None) if agent else None,
                    session_id=(agent.id or None) if agent else None,
                )
            )
        files[path] = tuple(entries)
    return CommitNote(files=files)


def _key(prefix: str, *parts: str | None) -> str:
    digest = hashlib.sha256("\0".join(p or "" for p in parts).encode("utf-8")).hexdigest()
    return f"{prefix}_{digest[:14]}"


def from_commit_note(note: CommitNote, *, base_commit: str = "", author: str = "") -> GitAiNote:
    """A git-ai note carrying what git-ai can of ``note``.

    ``ai`` and ``mixed`` lines become session keys (git-ai has no "mixed": such lines count as
    AI, the kind a human then edited), ``human`` lines become a human key for ``author``.
    Generation ids have no place in git-ai's format and are not written.
    """
    attestations: dict[str, list[tuple[str, tuple[tuple[int, int], ...]]]] = {}
    sessions: dict[str, Any] = {}
    humans: dict[str, Any] = {}
    for path, entries in sorted(note.files.items()):
        keyed = attestations.setdefault(path, [])
        for entry in entries:
            if entry.origin in ("ai", "mixed"):
                session = _key("s", entry.agent, entry.model, entry.session_id)
                checkpoint = _key("t", ",".join(entry.generation_ids), path, format_ranges(entry.spans))
                keyed.append((f"{session}::{checkpoint}", entry.spans))
                tool = _AGENT_TO_TOOL.get(entry.agent or "", entry.agent or "unknown")
                sessions[session] = {
                    "agent_id": {"tool": tool, "id": entry.session_id or "", "model": entry.model or ""}
                }
                if author:
                    sessions[session]["human_author"] = author
            elif entry.origin == "human":
                human = _key("h", author)
                keyed.append((human, entry.spans))
                humans[human] = {"author": author}
    metadata: dict[str, Any] = {
        "schema_version": GITAI_SCHEMA,
        "base_commit_sha": base_commit,
        "prompts": {},
        "sessions": sessions,
    }
    if humans:
        metadata["humans"] = humans
    return GitAiNote(
        attestations={p: tuple(k) for p, k in attestations.items() if k},
        agents={k: _agent(v["agent_id"]) for k, v in sessions.items()},
        humans={k: v["author"] for k, v in humans.items()},
        metadata=metadata,
    )
