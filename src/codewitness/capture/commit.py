"""Commit linking: the git note of a new commit, and carrying notes across amend and rebase.

:func:`link_commit` runs from the ``post-commit`` hook. For every file the commit adds lines
to, it replays the pending agent edits of that file (:mod:`codewitness.capture.journal`) up to
the committed text and labels each added line ``ai``, ``mixed`` or ``human``; it writes the
note (:mod:`codewitness.attribution.notes`), records each edit as a Generation in the ledger
with its checkpoint, and retires the edits whose file was committed in full.

:func:`remap` carries a note from an old commit to the commit that replaced it (``post-rewrite``
after ``git commit --amend`` / ``git rebase``; ``codewitness notes remap OLD NEW`` after a
cherry-pick or squash merge): lines unchanged between the two keep their origin, AI lines
changed on the way become ``mixed``, lines new in the replacement are ``human`` unless a fresher
note already says otherwise.

Example:
    >>> result = link_commit(Path("."))  # doctest: +SKIP
    >>> result.note.delta.ai_kept  # doctest: +SKIP
    12
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

from codewitness import _git
from codewitness._git import EMPTY_TREE, blob_text, read_commit, resolve
from codewitness._syntax import CompileVerdict, check_syntax
from codewitness.attribution.carry import HUMAN, How, Source, carry_onto, commit_sources, origin_entries
from codewitness.attribution.notes import (
    CommitNote,
    Delta,
    NoteEntry,
    read_note,
    read_note_text,
    write_note,
)
from codewitness.capture._base import read_repo_text
from codewitness.capture.checkpoint import (
    BASE,
    Label,
    Step,
    carry,
    diff_hunks,
    removed_ranges,
    replay,
    split_lines,
)
from codewitness.capture.journal import Journal, PendingEdit
from codewitness.capture.usage import with_usage
from codewitness.errors import NotFoundError
from codewitness.model import Checkpoint, FileRange, Generation, Origin, OriginKind

__all__ = [
    "SOURCES_FILE",
    "STATE_FILES",
    "LinkResult",
    "added_lines",
    "complete_details",
    "edit_generation",
    "label_commit",
    "link_commit",
    "link_merge",
    "local_sources",
    "pending_labels",
    "record_sources",
    "remap",
    "rewrite_in_progress",
    "staged_generations",
]

UNKNOWN_MODEL = "unknown"
#: Before-snapshots whose tool call never reported back are dropped after a day.
SNAPSHOT_MAX_AGE = 86_400.0


@dataclass
class LinkResult:
    """What :func:`link_commit` produced."""

    commit: str
    note: CommitNote
    generations: list[Generation] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    retired: dict[str, int] = field(default_factory=dict)
    sources: list[Source] = field(default_factory=list)
    carried: int = 0  # AI lines whose origin came from a source, not from the journal
    compiles: list[CompileVerdict] = field(default_factory=list)


def _resolve(root: Path, rev: str) -> str:
    sha = resolve(root, rev)
    if sha is None:
        raise NotFoundError(f"no commit {rev!r} in {root}")
    return sha


def added_lines(root: Path, commit: str) -> dict[str, set[int]]:
    """The lines each file gained in ``commit`` against its first parent (numbered as in ``commit``).

    Binary files and deletions are left out.
    """
    parent = resolve(root, f"{commit}^", commit=False) or EMPTY_TREE
    return {path: lines for path, lines in _git.added_lines(root, parent, commit).items() if lines}


def edit_generation(edit: PendingEdit) -> Generation:
    """The Generation one captured edit stands for (its id is the content address)."""
    return Generation.create(
        agent=edit.agent,
        model=edit.model or UNKNOWN_MODEL,
        prompt=edit.prompt or "",
        output=edit.output,
        session_id=edit.session_id,
        tool_call_id=edit.tool_call_id,
        files=tuple(FileRange(edit.path, a, b) for a, b in edit.ai_lines),
        created_at=datetime.fromtimestamp(edit.created, UTC),  # when the agent wrote it, not the commit
    )


def _digest(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def _checkpoint(edit: PendingEdit, generation: Generation) -> Checkpoint:
    before = split_lines(edit.before or "")
    after = split_lines(edit.after)
    return Checkpoint(
        id=f"cp_{hashlib.sha256(f'{generation.id}:{edit.path}:{edit.seq}:{edit.created}'.encode()).hexdigest()[:20]}",
        path=edit.path,
        before_hash=_digest(edit.before),
        after_hash=_digest(edit.after),
        added=edit.ai_lines,
        removed=removed_ranges(diff_hunks(before, after)),
        generation_id=generation.id,
        session_id=edit.session_id,
        agent=edit.agent,
    )


def _steps(edits: Sequence[PendingEdit], generations: dict[int, Generation]) -> tuple[list[str], list[Step]]:
    start = split_lines(edits[0].before or "")
    steps = [Step(split_lines(e.before or ""), split_lines(e.after), e.ai_lines, generations[e.seq].id) for e in edits]
    return start, steps


#: What a note entry says about a generation: (agent, model, session).
Who = tuple[str | None, str | None, str | None]


def _who_from_note(note: CommitNote | None) -> dict[str, Who]:
    found: dict[str, Who] = {}
    for entries in note.files.values() if note is not None else ():
        for entry in entries:
            for gen in entry.generation_ids:
                found.setdefault(gen, (entry.agent, entry.model, entry.session_id))
    return found


def _entries(
    lines: Iterable[int], labels: Sequence[Label], who: dict[str, Who]
) -> tuple[tuple[NoteEntry, ...], dict[str, int]]:
    """Group committed lines by origin and generations into note entries; count each origin."""
    origins: dict[int, Origin] = {}
    for line in lines:
        label = labels[line - 1] if 0 < line <= len(labels) else Label("human")
        origins[line] = _label_origin(label, who)
    return origin_entries(origins)


def _label_origin(label: Label, who: dict[str, Who]) -> Origin:
    """A replayed label as an origin (``base`` lines, there before any agent, are a person's)."""
    if label.kind in (BASE, "human"):
        return HUMAN
    agent, model, session = next((who[g] for g in label.generations if g in who), (None, None, None))
    kind: OriginKind = "mixed" if label.kind == "mixed" else "ai"
    return Origin(kind, "note", 1.0, label.generations, agent, model, session)


def label_commit(
    root: Path, commit: str, journal: Journal, *, sources: Sequence[Source] | None = None, moves: bool = True
) -> LinkResult:
    """Compute the note of ``commit`` from the pending edits and the commits it took lines from.

    A line an agent edit wrote (the journal's replay) is ``ai`` or ``mixed``; any other line keeps
    the origin it had in a source (a picked or merged commit, code moved within the commit; see
    :func:`codewitness.attribution.carry.carry_onto`); the rest are a person's. Nothing is written.

    Args:
        root: the repository.
        commit: the commit.
        journal: the pending edits.
        sources: where the commit's lines came from (default: what the commit itself names,
            :func:`codewitness.attribution.carry.commit_sources`).
        moves: look for code moved or copied within the commit.
    """
    commit = _resolve(root, commit)
    if sources is None:
        info = read_commit(root, commit)
        sources = commit_sources(root, info) if info is not None else []
    added = added_lines(root, commit)
    result = LinkResult(commit=commit, note=CommitNote(files={}), sources=list(sources))
    replayed: dict[str, dict[int, Origin]] = {}
    written = 0
    for path, lines in sorted(added.items()):
        edits = journal.edits(path)
        labels: list[Label] = []  # no captured edit: every added line is a person's
        who: dict[str, Who] = {}
        if edits:
            text = blob_text(root, commit, path)
            if text is None:
                continue
            final = split_lines(text)
            generations = {e.seq: edit_generation(e) for e in edits}
            start, steps = _steps(edits, generations)
            labels = replay(start, steps, final)
            who = {g.id: (g.agent, g.model, g.session_id) for g in generations.values()}
            used = {g for label in labels for g in label.generations}
            for edit in edits:
                generation = generations[edit.seq]
                if generation.id in used:
                    result.generations.append(generation)
                    result.checkpoints.append(_checkpoint(edit, generation))
                    result.compiles.extend(_compiles(generation.id, path, edit.after, text, commit))
                    written += sum(b - a + 1 for a, b in edit.ai_lines)
            result.retired[path] = edits[-1].seq
        replayed[path] = {
            line: _label_origin(labels[line - 1] if 0 < line <= len(labels) else Label("human"), who) for line in lines
        }
    open_lines = {
        path: {line for line, origin in origins.items() if origin.kind == "human"} for path, origins in replayed.items()
    }
    carried = carry_onto(root, commit, open_lines, sources, moves=moves)
    files: dict[str, tuple[NoteEntry, ...]] = {}
    totals: dict[str, int] = defaultdict(int)
    for path, origins in replayed.items():
        for line, found in carried.get(path, {}).items():
            origins[line] = found.origin
            if found.origin.kind in ("ai", "mixed"):
                result.carried += 1
        entries, counts = origin_entries(origins)
        files[path] = entries
        for kind, count in counts.items():
            totals[kind] += count
    delta = Delta(
        ai_written=written + result.carried, ai_kept=totals["ai"], ai_edited=totals["mixed"], human=totals["human"]
    )
    result.note = CommitNote(files=files, delta=delta)
    return result


#: Where ``prepare-commit-msg`` leaves the sources of the commit being made (in ``.codewitness/``).
SOURCES_FILE = "carry.json"

#: git's files that say which operation a commit finishes.
STATE_FILES = ("CHERRY_PICK_HEAD", "REVERT_HEAD", "MERGE_HEAD", "SQUASH_MSG")


def _sources_path(root: Path) -> Path:
    return root / ".codewitness" / SOURCES_FILE


def record_sources(root: Path) -> list[Source]:
    """Remember what the commit being made finishes (``prepare-commit-msg``); returns the sources.

    git removes ``CHERRY_PICK_HEAD``, ``MERGE_HEAD`` and ``SQUASH_MSG`` before ``post-commit``
    runs when a conflict was resolved by hand, so they are read here, written next to HEAD's id
    to ``.codewitness/carry.json``, and taken by :func:`local_sources` when the new commit's
    parent is that HEAD. Without any of them an earlier record is removed.
    """
    import json

    from codewitness._files import write_atomically

    found: list[Source] = []
    pick = resolve(root, "CHERRY_PICK_HEAD")
    if pick is not None:
        found.append(Source(pick, "cherry-pick"))
    reverted = resolve(root, "REVERT_HEAD")
    if reverted is not None:
        parent = resolve(root, f"{reverted}^")
        if parent is not None:
            found.append(Source(parent, "revert"))
    merge_head = _git.git_path(root, "MERGE_HEAD")
    if merge_head.is_file():
        heads = [resolve(root, line.strip()) for line in merge_head.read_text("utf-8", "replace").split()]
        found += [Source(sha, "merge") for sha in heads if sha is not None]
    squash = _git.git_path(root, "SQUASH_MSG")
    if squash.is_file():
        listed = _git.squashed_commits(squash.read_text("utf-8", "replace"))
        known = [sha for sha in listed if resolve(root, sha) is not None]
        found += [Source(tip, "squash") for tip in _git.independent_tips(root, known)]
    path = _sources_path(root)
    head = resolve(root, "HEAD")
    if not found or head is None:
        path.unlink(missing_ok=True)
        return []
    record = {"head": head, "sources": [[s.how, s.rev] for s in found]}
    write_atomically(path, json.dumps(record) + "\n", private=True)
    return found


def _take_recorded(root: Path, parent: str | None) -> list[Source]:
    """The sources :func:`record_sources` left for a commit on ``parent`` (the record is used up)."""
    import json

    path = _sources_path(root)
    try:
        record = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return []
    path.unlink(missing_ok=True)
    if not isinstance(record, dict) or record.get("head") != parent:
        return []
    found: list[Source] = []
    for item in record.get("sources", ()):
        if isinstance(item, list) and len(item) == 2 and item[0] in get_args(How) and isinstance(item[1], str):
            found.append(Source(item[1], item[0]))
    return found


def local_sources(root: Path, commit: str = "HEAD") -> list[Source]:
    """The sources of a commit just made here: what ``prepare-commit-msg`` recorded,
    ``CHERRY_PICK_HEAD``, and what the commit names (see :func:`~codewitness.attribution.carry.commit_sources`).

    An amended commit is not compared with the commit it replaces: ``post-rewrite`` carries that note.
    """
    info = read_commit(root, commit)
    if info is None:
        return []
    recorded = _take_recorded(root, info.parents[0] if info.parents else None)
    pick_head = resolve(root, "CHERRY_PICK_HEAD")
    amend = _git.reflog_subject(root).startswith("commit (amend)")
    return commit_sources(root, info, recorded=recorded, pick_head=pick_head, guess=not amend)


def link_merge(root: Path, squash: bool, *, store_url: str | None = None) -> LinkResult | None:
    """The ``post-merge`` hook: link the merge commit ``git merge`` just made (it runs no ``post-commit``).

    Nothing happens for a fast-forward (no new commit), a squash (the commit comes later, and
    ``post-commit`` links it) or a merge commit that already has a note.
    """
    if squash:
        return None
    info = read_commit(root, "HEAD")
    if info is None or len(info.parents) < 2 or "Fast-forward" in _git.reflog_subject(root):
        return None
    if read_note_text(root, info.sha) is not None:
        return None
    return link_commit(root, info.sha, store_url=store_url, sources=local_sources(root, info.sha))


def _compiles(generation: str, path: str, raw: str, committed: str, commit: str) -> list[CompileVerdict]:
    """Whether the file parses as the agent left it and as committed (nothing for a language not checked)."""
    before, after = check_syntax(path, raw), check_syntax(path, committed)
    if before is None or after is None:
        return []
    return [CompileVerdict(generation, path, before.language, before.ok, after.ok, before.error, after.error, commit)]


def rewrite_in_progress(root: Path) -> bool:
    """True while git is rebasing (post-commit then waits for post-rewrite to carry notes)."""
    return _git.git_path(root, "rebase-merge").exists() or _git.git_path(root, "rebase-apply").exists()


def link_commit(
    root: Path,
    commit: str = "HEAD",
    *,
    journal: Journal | None = None,
    store_url: str | None = None,
    sources: Sequence[Source] | None = None,
) -> LinkResult:
    """Write the note of ``commit``, record its generations, and retire committed edits.

    Args:
        root: the repository's work tree.
        commit: the commit to link (``HEAD`` in the post-commit hook).
        journal: the pending journal (opened from ``root/.codewitness`` when omitted).
        store_url: the ledger database (the project's configured store when omitted).
        sources: the commits it took lines from (default: those the commit names; the git
            hooks pass :func:`local_sources`).

    Returns:
        The note written and the generations recorded.
    """
    own = journal is None
    journal = journal or Journal.open(root / ".codewitness")
    try:
        complete_details(journal)
        journal.prune_snapshots(SNAPSHOT_MAX_AGE)
        result = label_commit(root, commit, journal, sources=sources)
        write_note(root, result.commit, result.note)
        if result.generations:
            result.generations = with_usage(result.generations, journal.edits())
        if result.generations or result.carried:
            _record(root, result, store_url)
        for path, seq in result.retired.items():
            current, problem = _work_text(root, path)
            if current is not None:
                committed_in_full = current == (blob_text(root, result.commit, path) or "")
            else:
                committed_in_full = problem is None  # the file is gone
            if committed_in_full:
                journal.retire(path, seq)
        _retire_vanished(root, journal)
        return result
    finally:
        if own:
            journal.close()


#: Work-tree files larger than this are treated as unreadable when commits are linked.
WORK_TEXT_LIMIT = 64_000_000


def _work_text(root: Path, path: str) -> tuple[str | None, str | None]:
    """``(text, problem)`` of a work-tree file, read as the hook reads files: a regular file inside
    the repository, never blocking (a FIFO or a link to a device is a problem, not a hang)."""
    _rel, text, problem = read_repo_text(str(root.resolve()), path, WORK_TEXT_LIMIT)
    return text, problem


def _retire_vanished(root: Path, journal: Journal) -> None:
    """Drop pending edits that left nothing in the work tree (undone, overwritten, file deleted)."""
    for path, labels in pending_labels(root, journal).items():
        edits = journal.edits(path)
        current, _problem = _work_text(root, path)
        undone = current is not None and split_lines(current) == split_lines(edits[0].before or "")
        if undone or not any(label.kind in ("ai", "mixed") for label in labels):
            journal.retire(path, edits[-1].seq)


def complete_details(journal: Journal) -> int:
    """Fill in the model/prompt of pending edits from their agent's transcript, where still missing.

    The hook reads transcripts too, but an agent may write the transcript line only after the
    hook ran; by commit time it is there. Returns how many edits were completed.
    """
    from codewitness.capture.agent import agent_modules

    readers = {module.AGENT: module.from_transcript for module in agent_modules().values()}
    done = 0
    for edit in journal.edits():
        reader = readers.get(edit.agent)
        if reader is None or not edit.transcript_path or (edit.model and edit.prompt):
            continue
        model, prompt = reader(edit.transcript_path, edit.tool_call_id, edit.path)
        if (model and not edit.model) or (prompt and not edit.prompt):
            journal.fill_details(edit.seq, model=model, prompt=prompt)
            done += 1
    return done


def _record(root: Path, result: LinkResult, store_url: str | None) -> None:
    from codewitness import ledger
    from codewitness.config import load_config
    from codewitness.store import open_store
    from codewitness.store.metrics import record_compiles

    with open_store(store_url or load_config(root).database_url) as store:
        ledger.record_commit(
            store, result.commit, result.note, generations=result.generations, checkpoints=result.checkpoints
        )
        record_compiles(store, result.compiles)


def _labels_from_note(note: CommitNote | None, path: str, length: int) -> list[Label]:
    labels = [Label(BASE)] * length
    if note is None:
        return labels
    for entry in note.files.get(path, ()):
        for first, last in entry.spans:
            for line in range(first, min(last, length) + 1):
                labels[line - 1] = Label(entry.origin, entry.generation_ids)
    return labels


def remap(root: Path, old: str, new: str) -> CommitNote | None:
    """Carry the note of ``old`` onto ``new`` (which replaced it) and write it.

    Returns:
        The note written on ``new``, or ``None`` when ``old`` has no note.

    Raises:
        NotFoundError: either revision does not exist.
        NoteError: a note is corrupt.
    """
    old, new = _resolve(root, old), _resolve(root, new)
    old_note = read_note(root, old)
    if old_note is None:
        return None
    fresh = read_note(root, new)
    who = {**_who_from_note(old_note), **_who_from_note(fresh)}
    files: dict[str, tuple[NoteEntry, ...]] = {}
    totals: dict[str, int] = defaultdict(int)
    for path, lines in sorted(added_lines(root, new).items()):
        if path not in old_note.files and (fresh is None or path not in fresh.files):
            entries, counts = _entries(lines, [], who)  # nothing known about it: a person's lines
            files[path] = entries
            totals["human"] += counts["human"]
            continue
        text = blob_text(root, new, path)
        if text is None:
            continue
        final = split_lines(text)
        old_text = blob_text(root, old, path) if path in old_note.files else None
        if old_text is not None:
            previous = split_lines(old_text)
            labels = carry(_labels_from_note(old_note, path, len(previous)), previous, final)
        else:
            labels = [Label(BASE)] * len(final)
        recent = _labels_from_note(fresh, path, len(final))
        merged = [r if r.kind in ("ai", "mixed") else c for r, c in zip(recent, labels, strict=True)]
        entries, counts = _entries(lines, merged, who)
        files[path] = entries
        for kind, count in counts.items():
            totals[kind] += count
    written = old_note.delta.ai_written + (fresh.delta.ai_written if fresh is not None else 0)
    note = CommitNote(
        files=files,
        delta=Delta(ai_written=written, ai_kept=totals["ai"], ai_edited=totals["mixed"], human=totals["human"]),
    )
    write_note(root, new, note)
    return note


def staged_generations(root: Path, journal: Journal) -> list[str]:
    """The generations whose lines the index holds now (what the next commit's note will credit).

    Used by the prepare-commit-msg hook for the ``Codewitness-Generation`` trailers.
    """
    complete_details(journal)  # the ids must be those post-commit records
    found: dict[str, None] = {}
    for path in journal.pending_paths():
        staged = blob_text(root, "", path)
        if staged is None:
            continue
        edits = journal.edits(path)
        generations = {e.seq: edit_generation(e) for e in edits}
        start, steps = _steps(edits, generations)
        for label in replay(start, steps, split_lines(staged)):
            if label.kind in ("ai", "mixed"):
                found.update(dict.fromkeys(label.generations))
    return list(found)


def pending_labels(root: Path, journal: Journal) -> dict[str, list[Label]]:
    """Labels of every line of each file with pending edits, as the work tree has it now."""
    result: dict[str, list[Label]] = {}
    for path in journal.pending_paths():
        edits = journal.edits(path)
        generations = {e.seq: edit_generation(e) for e in edits}
        start, steps = _steps(edits, generations)
        text, _problem = _work_text(root, path)
        result[path] = replay(start, steps, split_lines(text or ""))
    return result
