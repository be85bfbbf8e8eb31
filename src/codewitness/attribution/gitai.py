"""git-ai authorship notes (``refs/notes/ai``, schema ``authorship/3.0.0``): read and write.

A git-ai note has an attestation section, a line ``---``, then a JSON metadata document::

    src/app.py
      s_0123456789abcd::t_0123456789abcd 1-10,15
      h_0123456789abcd 11-12
    ---
    {"schema_version": "authorship/3.0.0", "base_commit_sha": "...", "prompts": {},
     "sessions": {"s_0123456789abcd": {"agent_id": {"tool": "claude", "id": "...", "model": "..."}}},
     "humans": {"h_0123456789abcd": {"author": "Dev <dev@example.com>"}}}

Ranges are 1-based line numbers of that commit, as in our own notes, so a git-ai note converts
to a :class:`~codewitness.attribution.notes.CommitNote` line for line. Lines no key covers are
"untracked" (not AI). When entries of one file overlap, the later entry decides the line, as
git-ai's own blame reads it.

Every attestation key form git-ai has written is read (:data:`KEY_FORMS`), because its notes
outlive its versions: ``s_<hex>::t_<hex>`` session keys (v1.4 on), ``h_<hex>`` known humans,
16-hex prompt keys (v1.0 to 1.3), 7-hex prompt keys (before v1.0), prompts keyed by the agent's
conversation UUID, and the checkpoint kinds ``human``, ``ai_agent`` and ``ai_tab`` that early
versions let slip into notes. As the format says, a key without a known prefix names a prompt
record, that is, an agent. A note is refused only when git-ai itself could not read it (no
``---`` line, bad JSON, an entry without a file or without ranges) or its ranges are not line
numbers.

Example:
    >>> note = parse_gitai("a.py\\n  s_0123456789abcd::t_0123456789abcd 1-2\\n---\\n"
    ...     '{"schema_version": "authorship/3.0.0", "sessions": {"s_0123456789abcd":'
    ...     ' {"agent_id": {"tool": "claude", "id": "x", "model": "m"}}}}')
    >>> to_commit_note(note).entry_for("a.py", 2).model
    'm'
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Mapping
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
from codewitness.model import OriginKind

__all__ = [
    "GITAI_REF",
    "GITAI_SCHEMA",
    "KEY_FORMS",
    "GitAiAgent",
    "GitAiNote",
    "from_commit_note",
    "key_form",
    "parse_gitai",
    "to_commit_note",
]

GITAI_REF = "refs/notes/ai"
GITAI_SCHEMA = "authorship/3.0.0"

#: Every attestation key form git-ai has written, tried in order: a name, the pattern, and whom the
#: key stands for. Session keys are looked up in ``sessions`` by their ``s_`` part, known humans in
#: ``humans``, every other key in ``prompts``; as git-ai's format says, an unprefixed key names a
#: prompt record, that is, an agent, even in a form git-ai never documented.
KEY_FORMS: tuple[tuple[str, re.Pattern[str], OriginKind], ...] = (
    ("session", re.compile(r"s_[0-9a-f]+(?:::t_[0-9a-f]+)?"), "ai"),
    ("known human", re.compile(r"h_[0-9a-f]+"), "human"),
    ("prompt (16 hex, v1.0 to v1.3)", re.compile(r"[0-9a-f]{16}"), "ai"),
    ("short prompt (7 hex, before v1.0)", re.compile(r"[0-9a-f]{7}"), "ai"),
    ("prompt keyed by conversation id", re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"), "ai"),
    ("checkpoint kind human", re.compile(r"human"), "human"),
    ("checkpoint kind ai_agent / ai_tab", re.compile(r"ai_agent|ai_tab"), "ai"),
    ("other prompt key", re.compile(r"[^\s\x00-\x1f\x7f]+"), "ai"),
)


def key_form(key: str) -> tuple[str, OriginKind]:
    """``(form name, origin)`` of an attestation key; see :data:`KEY_FORMS`.

    Raises:
        ValueError: the key is empty or holds whitespace or control characters.
    """
    for name, pattern, origin in KEY_FORMS:
        if pattern.fullmatch(key):
            return name, origin
    raise ValueError(f"attestation key {key!r} is not a key")


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
    # git-ai's rule: a path with whitespace is wrapped in double quotes, nothing inside is escaped.
    # A path that itself starts and ends with a quote is wrapped too, so reading strips one pair.
    # (A path with a line break cannot be written in this format by anyone.)
    quoted = any(c in path for c in " \t\n") or (len(path) > 1 and path[0] == path[-1] == '"')
    return f'"{path}"' if quoted else path


def _unquote_path(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _agent(raw: Any) -> GitAiAgent:
    # A record without a usable agent_id still stands for an agent, just an unnamed one.
    agent = raw.get("agent_id") if isinstance(raw, Mapping) else None
    if not isinstance(agent, Mapping):
        return GitAiAgent(tool="unknown")
    return GitAiAgent(
        tool=str(agent.get("tool") or "unknown"), id=str(agent.get("id") or ""), model=str(agent.get("model") or "")
    )


def _split(text: str) -> tuple[list[str], str]:
    """The attestation lines and the metadata text, split at the first line that is exactly ``---``."""
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if line.rstrip("\r") == "---":
            return lines[:number], "\n".join(lines[number + 1 :])
    raise NoteError("not a git-ai note (no '---' line between attestations and metadata)")


def parse_gitai(text: str) -> GitAiNote:
    """Parse a git-ai note, whichever git-ai version wrote it.

    Raises:
        NoteError: no ``---`` line, bad JSON, an unknown schema, an attestation entry before any
            file path or without line ranges, or ranges that are not 1-based line numbers.
    """
    head, tail = _split(text)
    metadata = load_json_object(tail, "git-ai note metadata")
    schema = metadata.get("schema_version")
    if not isinstance(schema, str) or not schema.startswith("authorship/3."):
        raise NoteError(f"git-ai note schema {schema!r} is not supported (expected {GITAI_SCHEMA})")
    attestations: dict[str, list[tuple[str, tuple[tuple[int, int], ...]]]] = {}
    current: str | None = None
    try:
        for number, line in enumerate(head, 1):
            line = line.rstrip()
            if not line:
                continue
            if line.startswith((" ", "\t")):
                if current is None:
                    raise ValueError(f"line {number}: ranges before any file path")
                key, _, ranges = line.strip().partition(" ")
                key_form(key)
                spans = parse_ranges(ranges)
                if not spans:
                    raise ValueError(f"line {number}: attestation {key!r} has no line ranges")
                attestations[current].append((key, spans))
            else:
                current = _unquote_path(line)
                attestations.setdefault(current, [])
        agents: dict[str, GitAiAgent] = {}
        for table in ("sessions", "prompts"):
            records = metadata.get(table) or {}
            if not isinstance(records, Mapping):
                raise ValueError(f"{table!r} is not an object")
            agents.update((str(key), _agent(raw)) for key, raw in records.items())
        humans_raw = metadata.get("humans") or {}
        if not isinstance(humans_raw, Mapping):
            raise ValueError("'humans' is not an object")
        humans = {
            str(key): str(raw.get("author", "")) if isinstance(raw, Mapping) else "" for key, raw in humans_raw.items()
        }
    except ValueError as exc:
        raise NoteError(f"corrupt git-ai note ({exc})") from None
    return GitAiNote(
        attestations={p: tuple(k) for p, k in attestations.items()},
        agents=agents,
        humans=humans,
        metadata=metadata,
    )


def _record_key(key: str) -> str:
    # "s_<hex>::t_<hex>" is looked up by its session part; every other key as it is.
    return key.split("::", 1)[0] if key.startswith("s_") else key


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint spans covering the same lines."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _subtract(spans: Iterable[tuple[int, int]], taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` without the lines of ``taken`` (sorted, disjoint)."""
    ends = [end for _, end in taken]
    out: list[tuple[int, int]] = []
    for start, end in spans:
        index = bisect.bisect_left(ends, start)  # the first taken span that ends at or after start
        while start <= end and index < len(taken) and taken[index][0] <= end:
            t_start, t_end = taken[index]
            if t_start > start:
                out.append((start, t_start - 1))
            start = max(start, t_end + 1)
            index += 1
        if start <= end:
            out.append((start, end))
    return out


def _latest_wins(
    keyed: tuple[tuple[str, tuple[tuple[int, int], ...]], ...],
) -> tuple[tuple[str, tuple[tuple[int, int], ...]], ...]:
    """Each entry keeps only the lines no later entry of the file claims (git-ai's "latest wins")."""
    every = sorted(span for _, spans in keyed for span in spans)
    if all(a[1] < b[0] for a, b in itertools.pairwise(every)):
        return keyed  # no line is claimed twice: the common case
    taken: list[tuple[int, int]] = []
    kept: list[tuple[str, tuple[tuple[int, int], ...]]] = []
    for key, spans in reversed(keyed):
        own = _merge(_subtract(spans, taken))
        if own:
            kept.append((key, tuple(own)))
        taken = _merge([*taken, *spans])
    return tuple(reversed(kept))


def to_commit_note(note: GitAiNote) -> CommitNote:
    """Our view of a git-ai note: agent keys become ``ai`` entries, human keys ``human`` entries.

    Lines the note does not list stay uncovered (not AI), exactly as git-ai means them. A key whose
    record the note lacks (git-ai's own blame looks for it in other notes) still says who wrote
    the lines; only the agent and model are then unknown.
    """
    files: dict[str, tuple[NoteEntry, ...]] = {}
    for path, keyed in note.attestations.items():
        entries: list[NoteEntry] = []
        for key, spans in _latest_wins(keyed):
            _, origin = key_form(key)
            if origin == "human":
                entries.append(NoteEntry("human", spans))
                continue
            agent = note.agents.get(_record_key(key))
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
