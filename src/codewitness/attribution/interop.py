"""Import and export attribution records of other tools: git-ai notes and Agent Trace records.

* :func:`import_gitai` copies git-ai notes (``refs/notes/ai`` or another ref, e.g. one fetched
  from a remote) into ``refs/notes/codewitness-import`` in our note schema.
* :func:`import_agent_trace` reads Agent Trace ``.jsonl`` files (``.agent-trace/*.jsonl`` by
  default) and stores each record's lines on its commit under the same ref.
* :func:`export_gitai` writes git-ai notes for commits that carry a codewitness note.
* :func:`export_agent_trace` turns codewitness notes into Agent Trace records.

Imported records are evidence of kind ``import``: weaker than our own notes, stronger than trailers.
Bad records are skipped and counted, never fatal; good ones are still imported.

Example:
    >>> result = import_agent_trace(Path("."), [Path(".agent-trace/traces.jsonl")])  # doctest: +SKIP
    >>> result.imported, result.skipped  # doctest: +SKIP
    (12, 0)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codewitness._git import CatFile, CommitInfo, list_notes, parse_commit, repo_root, resolve, write_notes
from codewitness.attribution import agenttrace, gitai
from codewitness.attribution.blame import IMPORT_REF
from codewitness.attribution.notes import NOTES_REF, CommitNote, NoteError, parse_note
from codewitness.errors import InputError

__all__ = ["TransferResult", "export_agent_trace", "export_gitai", "import_agent_trace", "import_gitai"]


@dataclass
class TransferResult:
    """How many records moved, how many were skipped, and why (message -> count)."""

    imported: int = 0
    skipped: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        """Count one skipped record."""
        self.skipped += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


def _read_notes(root: Path, ref: str) -> Iterator[tuple[str, str]]:
    index = list_notes(root, ref)
    with CatFile(root) as cat:
        for commit, blob in index.items():
            got = cat.read(blob)
            if got is not None:
                yield commit, got[1].decode("utf-8", "replace")


def _merge(existing: CommitNote | None, new: CommitNote) -> CommitNote:
    if existing is None:
        return new
    files = dict(existing.files)
    for path, entries in new.files.items():
        files[path] = entries  # the record read last decides a file
    return CommitNote(files=files)


def _existing_imports(root: Path) -> dict[str, CommitNote]:
    out: dict[str, CommitNote] = {}
    for commit, text in _read_notes(root, IMPORT_REF):
        try:
            out[commit] = parse_note(text)
        except NoteError:
            continue  # a corrupt import note is replaced by what is imported now
    return out


def import_gitai(root: Path, *, ref: str = gitai.GITAI_REF) -> TransferResult:
    """Copy every git-ai note under ``ref`` into the import ref, in our schema.

    Raises:
        GitError: not a repository.
        InputError: ``ref`` does not exist.
    """
    root = repo_root(root)
    if resolve(root, ref, commit=False) is None:
        raise InputError(f"no notes ref {ref} in {root} (fetch it first: git fetch origin '{ref}:{ref}')")
    result = TransferResult()
    existing = _existing_imports(root)
    out: dict[str, str] = {}
    for commit, text in _read_notes(root, ref):
        try:
            note = gitai.to_commit_note(gitai.parse_gitai(text))
        except NoteError as exc:
            result.skip(str(exc))
            continue
        out[commit] = _merge(existing.get(commit), note).to_json()
        result.imported += 1
    write_notes(root, IMPORT_REF, out, f"codewitness: import {len(out)} git-ai notes from {ref}")
    return result


def default_trace_files(root: Path) -> list[Path]:
    """``.agent-trace/*.jsonl`` in the work tree."""
    return sorted((root / ".agent-trace").glob("*.jsonl"))


def import_agent_trace(root: Path, files: Sequence[Path] = ()) -> TransferResult:
    """Import Agent Trace records from ``files`` (default ``.agent-trace/*.jsonl``).

    A record without a git revision, or whose revision is not in this repository, is skipped.

    Raises:
        GitError: not a repository.
        InputError: a named file cannot be read, or there is nothing to import.
    """
    root = repo_root(root)
    paths = list(files) or default_trace_files(root)
    if not paths:
        raise InputError(f"no Agent Trace files given and none in {root / '.agent-trace'}")
    result = TransferResult()
    existing = _existing_imports(root)
    merged: dict[str, CommitNote] = {}
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {path}: {exc}") from None
        for item in agenttrace.iter_records(text, source=str(path)):
            if isinstance(item, NoteError):
                result.skip(str(item))
                continue
            if item.vcs_type not in (None, "git") or not item.revision:
                result.skip("record without a git revision")
                continue
            commit = resolve(root, item.revision)
            if commit is None:
                result.skip("record for a revision not in this repository")
                continue
            base = merged.get(commit) or existing.get(commit)
            merged[commit] = _merge(base, agenttrace.to_commit_note(item))
            result.imported += 1
    write_notes(
        root,
        IMPORT_REF,
        {c: n.to_json() for c, n in merged.items()},
        f"codewitness: import Agent Trace records for {len(merged)} commits",
    )
    return result


def _codewitness_notes(root: Path, result: TransferResult) -> Iterator[tuple[CommitInfo, CommitNote]]:
    with CatFile(root) as cat:
        for commit, text in _read_notes(root, NOTES_REF):
            try:
                note = parse_note(text)
            except NoteError as exc:
                result.skip(str(exc))
                continue
            got = cat.read(commit)
            if got is None:
                result.skip("note on a commit that is not in this repository")
                continue
            yield parse_commit(commit, got[1]), note


def export_gitai(root: Path, *, ref: str = gitai.GITAI_REF, force: bool = False) -> TransferResult:
    """Write a git-ai note for every commit with a codewitness note.

    A commit that already has a git-ai note keeps it unless ``force``.
    """
    root = repo_root(root)
    result = TransferResult()
    present = list_notes(root, ref)
    out: dict[str, str] = {}
    for info, note in _codewitness_notes(root, result):
        if info.sha in present and not force:
            result.skip("commit already has a git-ai note (use --force to replace it)")
            continue
        out[info.sha] = gitai.from_commit_note(note, base_commit=info.sha, author=info.author).to_text()
        result.imported += 1
    write_notes(root, ref, out, f"codewitness: export {len(out)} notes as git-ai")
    return result


def export_agent_trace(root: Path) -> tuple[list[agenttrace.TraceRecord], TransferResult]:
    """One Agent Trace record per commit with a codewitness note (timestamp: the commit time)."""
    from datetime import UTC, datetime

    root = repo_root(root)
    result = TransferResult()
    records = []
    for info, note in _codewitness_notes(root, result):
        stamp = datetime.fromtimestamp(info.author_time, UTC)
        records.append(agenttrace.from_commit_note(note, revision=info.sha, timestamp=stamp))
        result.imported += 1
    return records, result
