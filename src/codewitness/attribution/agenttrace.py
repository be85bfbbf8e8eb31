"""Agent Trace records (RFC ``version`` "0.1"): read and write.

An Agent Trace record is one JSON object, usually one per line of ``.agent-trace/traces.jsonl``::

    {"version": "0.1", "id": "<uuid>", "timestamp": "2026-11-22T10:00:00Z",
     "vcs": {"type": "git", "revision": "<commit sha>"},
     "tool": {"name": "claude-code", "version": "2.0"},
     "files": [{"path": "src/app.py", "conversations": [
         {"url": "...", "contributor": {"type": "ai", "model_id": "claude-opus-4-5"},
          "ranges": [{"start_line": 1, "end_line": 10}]}]}]}

Contributor types are ``human``, ``ai``, ``mixed`` and ``unknown``, exactly our origins; a range
may carry its own contributor. A record with a git revision converts to a
:class:`~codewitness.attribution.notes.CommitNote` for that commit. What Agent Trace has no field
for (generation ids, session ids, the agent of each conversation) travels in the record's
``metadata`` under ``"codewitness"``, so a round trip through Agent Trace loses nothing.

Example:
    >>> rec = parse_record('{"version": "0.1", "id": "x", "timestamp": "2026-01-01T00:00:00Z",'
    ...     ' "vcs": {"type": "git", "revision": "abc"}, "files": [{"path": "a.py", "conversations":'
    ...     ' [{"contributor": {"type": "ai", "model_id": "m"},'
    ...     ' "ranges": [{"start_line": 1, "end_line": 3}]}]}]}')
    >>> rec.revision, to_commit_note(rec).entry_for("a.py", 2).model
    ('abc', 'm')
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from codewitness.attribution.notes import (
    CommitNote,
    NoteEntry,
    NoteError,
    compact_lines,
    load_json,
    load_json_object,
)
from codewitness.model import ORIGINS, OriginKind, utcnow

__all__ = [
    "AGENT_TRACE_VERSION",
    "TraceRecord",
    "from_commit_note",
    "iter_records",
    "parse_record",
    "to_commit_note",
]

AGENT_TRACE_VERSION = "0.1"
_OURS = "codewitness"


@dataclass(frozen=True)
class TraceRecord:
    """One Agent Trace record; ``data`` is the whole JSON object, kept for a lossless rewrite."""

    id: str
    revision: str | None
    vcs_type: str | None
    tool: str | None
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """One line of JSON (the ``.jsonl`` form)."""
        return json.dumps(dict(self.data), sort_keys=True, separators=(",", ":"))


def parse_record(text: str) -> TraceRecord:
    """Parse one Agent Trace record.

    Raises:
        NoteError: not JSON, not an object, a version other than 0.x, or malformed files/ranges.
    """
    data = load_json_object(text, "Agent Trace record")
    version = data.get("version")
    if not isinstance(version, str) or not version.startswith("0."):
        raise NoteError(f"Agent Trace version {version!r} is not supported (expected {AGENT_TRACE_VERSION})")
    raw_vcs, raw_tool = data.get("vcs"), data.get("tool")
    vcs: dict[str, Any] = raw_vcs if isinstance(raw_vcs, dict) else {}
    tool: dict[str, Any] = raw_tool if isinstance(raw_tool, dict) else {}
    record = TraceRecord(
        id=str(data.get("id") or ""),
        revision=str(vcs["revision"]) if vcs.get("revision") else None,
        vcs_type=str(vcs["type"]) if vcs.get("type") else None,
        tool=str(tool["name"]) if tool.get("name") else None,
        data=data,
    )
    to_commit_note(record)  # validates files and ranges now, with a clear error
    return record


def iter_records(text: str, *, source: str = "input") -> Iterator[TraceRecord | NoteError]:
    """Records of a ``.jsonl`` text (or one JSON object / a JSON list); bad lines yield their error.

    A bad line does not stop the others: the caller counts and reports the errors.
    """
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            items = load_json(stripped, source)
        except NoteError as exc:
            yield exc
            return
        for n, item in enumerate(items if isinstance(items, list) else [], 1):
            try:
                yield parse_record(json.dumps(item))
            except NoteError as exc:
                yield NoteError(f"{source} item {n}: {exc}")
        return
    lines = stripped.splitlines()
    if len(lines) > 1 and stripped.startswith("{") and not stripped.splitlines()[0].rstrip().endswith("}"):
        lines = [stripped]  # one pretty-printed object
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield parse_record(line)
        except NoteError as exc:
            yield NoteError(f"{source} line {n}: {exc}")


def _contributor(raw: Any, default: OriginKind) -> tuple[OriginKind, str | None]:
    if not isinstance(raw, Mapping):
        return default, None
    kind = raw.get("type", default)
    if kind not in ORIGINS:
        raise ValueError(f"unknown contributor type {kind!r}")
    model = raw.get("model_id")
    return kind, str(model) if model else None


def to_commit_note(record: TraceRecord) -> CommitNote:
    """The attribution a record gives its revision, as one of our notes.

    Raises:
        NoteError: ``files`` or a range is malformed.
    """
    ours = record.data.get("metadata", {}).get(_OURS, {}) if isinstance(record.data.get("metadata"), dict) else {}
    extras = ours.get("files", {}) if isinstance(ours, dict) else {}
    has_extras = isinstance(ours, dict) and "files" in ours
    files: dict[str, list[NoteEntry]] = {}
    try:
        for item in record.data.get("files") or ():
            path = str(item["path"])
            extra_list = extras.get(path, []) if isinstance(extras, dict) else []
            for index, conversation in enumerate(item.get("conversations") or ()):
                kind, model = _contributor(conversation.get("contributor"), "unknown")
                extra = extra_list[index] if index < len(extra_list) and isinstance(extra_list[index], dict) else {}
                groups: dict[tuple[OriginKind, str | None], list[int]] = {}
                for rng in conversation.get("ranges") or ():
                    start, end = int(rng["start_line"]), int(rng["end_line"])
                    if start < 1 or end < start:
                        raise ValueError(f"bad range {start}-{end} in {path}")
                    if end - start > 10_000_000:
                        raise ValueError(f"range {start}-{end} in {path} is implausibly long")
                    # A range's own contributor replaces the conversation's, model included.
                    own = rng.get("contributor")
                    key = _contributor(own, kind) if isinstance(own, Mapping) else (kind, model)
                    groups.setdefault(key, []).extend(range(start, end + 1))
                for (g_kind, g_model), lines in groups.items():
                    files.setdefault(path, []).append(
                        NoteEntry(
                            g_kind,
                            compact_lines(lines),
                            generation_ids=tuple(map(str, extra.get("generations", ()))),
                            agent=extra.get("agent")
                            if has_extras
                            else (record.tool if g_kind in ("ai", "mixed") else None),
                            model=g_model,
                            session_id=extra.get("session"),
                        )
                    )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise NoteError(f"corrupt Agent Trace record {record.id or '?'} ({type(exc).__name__}: {exc})") from None
    return CommitNote(files={p: tuple(e) for p, e in files.items()})


def from_commit_note(
    note: CommitNote,
    *,
    revision: str,
    timestamp: datetime | None = None,
    record_id: str | None = None,
) -> TraceRecord:
    """An Agent Trace record for ``revision`` carrying everything ``note`` says about its lines.

    Each note entry becomes one conversation (contributor type = origin, ``model_id`` = model);
    generation ids, session id and agent go to ``metadata.codewitness.files``.
    """
    agents = sorted({e.agent for entries in note.files.values() for e in entries if e.agent})
    files: list[dict[str, Any]] = []
    extras: dict[str, list[dict[str, Any]]] = {}
    for path, entries in sorted(note.files.items()):
        conversations = []
        for entry in entries:
            contributor: dict[str, Any] = {"type": entry.origin}
            if entry.model:
                contributor["model_id"] = entry.model
            conversations.append(
                {
                    "contributor": contributor,
                    "ranges": [{"start_line": a, "end_line": b} for a, b in entry.spans],
                }
            )
            extra: dict[str, Any] = {}
            if entry.generation_ids:
                extra["generations"] = list(entry.generation_ids)
            if entry.session_id:
                extra["session"] = entry.session_id
            if entry.agent:
                extra["agent"] = entry.agent
            extras.setdefault(path, []).append(extra)
        files.append({"path": path, "conversations": conversations})
    data: dict[str, Any] = {
        "version": AGENT_TRACE_VERSION,
        "id": record_id or str(uuid.uuid4()),
        "timestamp": (timestamp or utcnow()).isoformat().replace("+00:00", "Z"),
        "vcs": {"type": "git", "revision": revision},
        "tool": {"name": agents[0] if len(agents) == 1 else "codewitness"},
        "files": files,
    }
    # Always written (even empty) so a reader knows absent agents mean "none", not "the tool".
    data["metadata"] = {_OURS: {"files": extras}}
    return TraceRecord(id=data["id"], revision=revision, vcs_type="git", tool=data["tool"]["name"], data=data)
