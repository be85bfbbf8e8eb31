"""The codewitness git note: one JSON document per commit under ``refs/notes/codewitness``.

A note records, for the lines a commit *added or changed* (numbered as in that commit), who
wrote them. Lines of the commit that no entry covers were not written by an agent. Because
``git blame --porcelain`` reports each line's number in the commit that introduced it, a
blamed line is looked up directly in that commit's note.

Shape (``schema`` is versioned; readers refuse what they do not know)::

    {
      "schema": "codewitness.note/1",
      "files": {
        "src/shop/pricing.py": [
          {"lines": "1-10,15", "origin": "ai", "generations": ["gen_..."],
           "agent": "claude-code", "model": "claude-opus-4-5", "session": "9f1c..."},
          {"lines": "11", "origin": "mixed", "generations": ["gen_..."], "agent": "claude-code", ...},
          {"lines": "12-14", "origin": "human"},
          {"lines": "16", "origin": "ai", "agent": "copilot", "evidence": "trailer"}
        ]
      },
      "delta": {"ai_written": 13, "ai_kept": 11, "ai_edited": 1, "human": 3}
    }

An entry carried from elsewhere (a squash merge, a cherry-pick) on weaker evidence than a note
names that evidence (``"evidence": "trailer"`` or ``"import"``), so a reader gives the line the
confidence of where it came from; an entry without it is as exact as a note.

``delta`` is the developer delta of the commit: AI lines the agents wrote for it, how many
reached the commit verbatim, how many a human changed first, and lines a human wrote.

Example:
    >>> note = CommitNote(files={"a.py": (NoteEntry("ai", ((1, 3),), ("gen_x",)),)})
    >>> parse_note(note.to_json()).entry_for("a.py", 2).origin
    'ai'
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from codewitness._git import for_each_ref, identity_args, list_notes, resolve, run_git
from codewitness.errors import CodewitnessError
from codewitness.model import ORIGINS, OriginKind

__all__ = [
    "CARRIED_EVIDENCE",
    "MAX_JSON_DEPTH",
    "NOTES_REF",
    "SCHEMA",
    "TRACKING_PATTERN",
    "CarriedEvidence",
    "CommitNote",
    "Delta",
    "NoteEntry",
    "NoteError",
    "all_notes",
    "compact_lines",
    "find_note",
    "format_ranges",
    "load_json",
    "load_json_object",
    "parse_note",
    "parse_ranges",
    "read_note",
    "read_note_text",
    "tracking_ref",
    "write_note",
]

NOTES_REF = "refs/notes/codewitness"
NOTES_NAME = NOTES_REF.rsplit("/", 1)[1]
SCHEMA = "codewitness.note/1"

#: Where ``git fetch`` keeps each remote's notes (``codewitness init`` sets the refspec), and a
#: pattern matching all of them. Readers see them after the local notes.
TRACKING_PATTERN = "refs/notes/remotes/*/codewitness"


def tracking_ref(remote: str) -> str:
    """The ref holding ``remote``'s notes as last fetched."""
    return f"refs/notes/remotes/{remote}/codewitness"


def all_notes(root: Path, refs: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{commit: note blob}`` of the local notes and, for commits they lack, every remote's fetched notes.

    ``refs``: every ref under ``refs/notes/`` (``for_each_ref(root, "refs/notes")``) when the caller has
    listed them already; then git is asked only about the notes refs that exist.
    """
    found: dict[str, str] = {}
    if refs is None:
        for ref in sorted(for_each_ref(root, TRACKING_PATTERN)):
            found.update(list_notes(root, ref, exists=True))
        found.update(list_notes(root, NOTES_REF))
        return found
    for ref in sorted(r for r in refs if _is_tracking(r)):
        found.update(list_notes(root, ref, exists=True))
    if NOTES_REF in refs:
        found.update(list_notes(root, NOTES_REF, exists=True))
    return found


def _is_tracking(ref: str) -> bool:
    """Whether ``ref`` matches :data:`TRACKING_PATTERN` as git matches ref patterns (``*`` within one segment)."""
    parts = ref.split("/")
    return len(parts) == 5 and parts[:3] == ["refs", "notes", "remotes"] and parts[3] != "" and parts[4] == NOTES_NAME


#: Evidence weaker than a note that an entry carried from another commit may name.
CarriedEvidence = Literal["import", "trailer"]
CARRIED_EVIDENCE: tuple[CarriedEvidence, ...] = ("import", "trailer")


class NoteError(CodewitnessError):
    """A note that is not valid JSON or not of a schema we know."""


#: The deepest nesting of arrays and objects a note may have. Real notes are a few levels deep;
#: anyone who can push notes could plant a deeper one, which would exhaust the recursion limit
#: of the JSON parser or of any later walk over it.
MAX_JSON_DEPTH = 100


def load_json(text: str, what: str) -> Any:
    """Parse ``text`` as one JSON document nested at most :data:`MAX_JSON_DEPTH` deep.

    Every reader of notes and records made by others (our notes, git-ai notes, Agent Trace)
    parses through here, so malformed or hostile text is always one :class:`NoteError`.

    Raises:
        NoteError: naming ``what``, when the text is not valid JSON or is nested too deeply.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NoteError(f"{what} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise NoteError(f"{what} is nested too deeply (over {MAX_JSON_DEPTH} levels)") from None
    # Only a text with that many brackets can be that deep: the usual note skips the walk.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _depth_over(data, MAX_JSON_DEPTH):
        raise NoteError(f"{what} is nested too deeply (over {MAX_JSON_DEPTH} levels)")
    return data


def _depth_over(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists/dicts more than ``limit`` deep (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def load_json_object(text: str, what: str) -> dict[str, Any]:
    """Parse ``text`` as one JSON object (see :func:`load_json`); :class:`NoteError` naming ``what`` otherwise."""
    data = load_json(text, what)
    if not isinstance(data, dict):
        raise NoteError(f"{what} is not a JSON object")
    return data


def compact_lines(lines: Iterable[int]) -> tuple[tuple[int, int], ...]:
    """Sorted, merged inclusive spans of the given 1-based line numbers."""
    spans: list[list[int]] = []
    for line in sorted(set(lines)):
        if spans and line == spans[-1][1] + 1:
            spans[-1][1] = line
        else:
            spans.append([line, line])
    return tuple((a, b) for a, b in spans)


def format_ranges(spans: Iterable[tuple[int, int]]) -> str:
    """``((1, 3), (5, 5))`` -> ``"1-3,5"``."""
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans)


def parse_ranges(text: str) -> tuple[tuple[int, int], ...]:
    """``"1-3,5"`` -> ``((1, 3), (5, 5))``.

    Raises:
        ValueError: a part is not ``N`` or ``N-M`` with ``1 <= N <= M``.
    """
    spans: list[tuple[int, int]] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        first, sep, last = part.partition("-")
        a = int(first)
        b = int(last) if sep else a
        if a < 1 or b < a:
            raise ValueError(f"bad line range {part!r}")
        spans.append((a, b))
    return tuple(spans)


@dataclass(frozen=True)
class NoteEntry:
    """Lines of one file that share an origin and the same generations."""

    origin: OriginKind
    spans: tuple[tuple[int, int], ...]
    generation_ids: tuple[str, ...] = ()
    agent: str | None = None
    model: str | None = None
    session_id: str | None = None
    evidence: CarriedEvidence | None = None

    def covers(self, line: int) -> bool:
        """True when ``line`` falls in one of the spans."""
        return any(a <= line <= b for a, b in self.spans)

    @property
    def line_count(self) -> int:
        """How many lines the spans cover."""
        return sum(b - a + 1 for a, b in self.spans)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"lines": format_ranges(self.spans), "origin": self.origin}
        if self.generation_ids:
            data["generations"] = list(self.generation_ids)
        for key, value in (
            ("agent", self.agent),
            ("model", self.model),
            ("session", self.session_id),
            ("evidence", self.evidence),
        ):
            if value is not None:
                data[key] = value
        return data


@dataclass(frozen=True)
class Delta:
    """The developer delta of one commit, in lines."""

    ai_written: int = 0
    ai_kept: int = 0
    ai_edited: int = 0
    human: int = 0


@dataclass(frozen=True)
class CommitNote:
    """The attribution of one commit's added lines."""

    files: Mapping[str, tuple[NoteEntry, ...]]
    delta: Delta = field(default_factory=Delta)
    schema: str = SCHEMA

    def entry_for(self, path: str, line: int) -> NoteEntry | None:
        """The entry covering ``line`` of ``path`` (numbered as in the commit), if any."""
        for entry in self.files.get(path, ()):
            if entry.covers(line):
                return entry
        return None

    def to_json(self) -> str:
        """The note text as stored in git (sorted keys, one line per file for readable diffs)."""
        document = {
            "schema": self.schema,
            "files": {path: [e.to_dict() for e in entries] for path, entries in sorted(self.files.items())},
            "delta": {
                "ai_written": self.delta.ai_written,
                "ai_kept": self.delta.ai_kept,
                "ai_edited": self.delta.ai_edited,
                "human": self.delta.human,
            },
        }
        return json.dumps(document, indent=1, sort_keys=True) + "\n"


def parse_note(text: str) -> CommitNote:
    """Parse a codewitness note.

    Raises:
        NoteError: the text is not JSON, not a codewitness note, or of an unknown schema.
    """
    data = load_json(text, "codewitness note")
    if not isinstance(data, dict) or not isinstance(data.get("schema"), str):
        raise NoteError("not a codewitness note (no schema field)")
    if data["schema"] != SCHEMA:
        raise NoteError(f"codewitness note schema {data['schema']!r} is not supported; upgrade codewitness")
    try:
        files: dict[str, tuple[NoteEntry, ...]] = {}
        for path, entries in data["files"].items():
            parsed = []
            for raw in entries:
                origin = raw["origin"]
                if origin not in ORIGINS:
                    raise ValueError(f"unknown origin {origin!r}")
                parsed.append(
                    NoteEntry(
                        origin=origin,
                        spans=parse_ranges(str(raw["lines"])),
                        generation_ids=tuple(str(g) for g in raw.get("generations", ())),
                        agent=raw.get("agent"),
                        model=raw.get("model"),
                        session_id=raw.get("session"),
                        evidence=raw["evidence"] if raw.get("evidence") in CARRIED_EVIDENCE else None,
                    )
                )
            files[str(path)] = tuple(parsed)
        raw_delta = data.get("delta") or {}
        delta = Delta(**{k: int(raw_delta.get(k, 0)) for k in ("ai_written", "ai_kept", "ai_edited", "human")})
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise NoteError(f"corrupt codewitness note ({type(exc).__name__}: {exc})") from None
    return CommitNote(files=files, delta=delta)


def read_note_text(root: Path, rev: str, ref: str | None = None) -> str | None:
    """The raw text of the note on ``rev``, or ``None`` when there is none.

    Args:
        root: the repository.
        rev: the commit.
        ref: the notes ref to read; by default the local notes, then each remote's fetched notes
            (as :func:`all_notes` sees them).

    Raises:
        GitError: git is missing or ``rev`` does not name a commit.
    """
    found = find_note(root, rev, (ref,) if ref is not None else None)
    return None if found is None else found[1]


def find_note(root: Path, rev: str, refs: Sequence[str] | None = None) -> tuple[str, str] | None:
    """``(ref, text)`` of the first note on ``rev`` among ``refs`` (default: local, then fetched notes).

    Raises:
        NotFoundError: ``rev`` does not name a commit.
    """
    commit = resolve(root, rev)
    if commit is None:
        from codewitness.errors import NotFoundError

        raise NotFoundError(f"no commit {rev!r} in {root}")
    if refs is None:
        refs = [NOTES_REF, *sorted(for_each_ref(root, TRACKING_PATTERN))]
    for ref in refs:
        # `git notes show` exits 1 both for "no note" and for errors; `notes list` tells them apart.
        listed = run_git(["notes", "--ref", ref, "list", commit], cwd=root, check=False).strip()
        if listed:
            return ref, run_git(["cat-file", "blob", listed.split()[0]], cwd=root)
    return None


def read_note(root: Path, rev: str) -> CommitNote | None:
    """The codewitness note of ``rev``, or ``None``; :class:`NoteError` when it is corrupt."""
    text = read_note_text(root, rev)
    return None if text is None else parse_note(text)


def write_note(root: Path, rev: str, note: CommitNote) -> None:
    """Attach ``note`` to ``rev`` under ``refs/notes/codewitness``, replacing any earlier note."""
    args = [*identity_args(root), "notes", "--ref", NOTES_REF, "add", "-f", "-F", "-", rev]
    run_git(args, cwd=root, input=note.to_json())
