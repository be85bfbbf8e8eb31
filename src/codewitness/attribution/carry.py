"""Carrying attribution onto a commit whose lines came from other commits.

Code reaches a branch by more ways than an agent's edit: a cherry-pick, a revert, a merge, a
squash merge, a file renamed with ``git mv``, a block cut from one file and pasted into another.
Each new commit gets a note of its own, and its lines must keep the origin they had where they
came from. :func:`carry_onto` finds that origin line by line:

* from a **source** revision (:class:`Source`: the picked commit, the merged branch head, the
  parent of a reverted commit): the source's file is attributed as a whole (``git blame`` and the
  notes of its history, :mod:`codewitness.attribution.blame`) and paired with the new file by a
  line diff; an unchanged line keeps its origin, an AI line changed on the way is ``mixed``;
* from the commit's **parent**, for code moved or copied within the commit: a run of added lines
  equal, line for line, to lines of a file the commit touched (in its parent) takes their
  origins, when the run is long enough to mean something (:data:`MIN_BLOCK_CHARS`).

:func:`commit_sources` lists the sources a commit names: ``CHERRY_PICK_HEAD`` and what a
``prepare-commit-msg`` hook recorded, the ``(cherry picked from commit X)`` lines of ``-x``,
``This reverts commit X.``, the ``commit X`` list of a ``git merge --squash`` message, a merge's
other parents, and, when nothing names it, a commit with a note and the same author, date and
change (subject or patch id) that is not in the new commit's history.

Example:
    >>> info = read_commit(root, "HEAD")  # doctest: +SKIP
    >>> sources = commit_sources(root, info)  # doctest: +SKIP
    >>> carried = carry_onto(root, info.sha, {"src/app.py": {4, 5}}, sources)  # doctest: +SKIP
    >>> carried["src/app.py"][4].kind  # doctest: +SKIP
    'ai'
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from codewitness import _git
from codewitness._git import CommitInfo, list_tree, resolve
from codewitness.attribution.notes import CARRIED_EVIDENCE, CommitNote, Delta, NoteEntry, all_notes, compact_lines
from codewitness.capture.checkpoint import pair_lines
from codewitness.model import Origin

__all__ = [
    "HUMAN",
    "MIN_BLOCK_CHARS",
    "Carried",
    "How",
    "Source",
    "carried_note",
    "carry_onto",
    "commit_sources",
    "file_origins",
    "origin_entries",
    "same_change",
]

#: How a commit took lines from a source.
How = Literal["cherry-pick", "revert", "merge", "squash", "rebase", "moved"]

#: A run of added lines equal to lines elsewhere counts as moved or copied code only when it
#: holds this many non-blank characters: one ``return None`` is a coincidence, a function is not.
MIN_BLOCK_CHARS = 40


@dataclass(frozen=True)
class Source:
    """A revision a commit took lines from, and how."""

    rev: str
    how: How


@dataclass(frozen=True)
class Carried:
    """The origin one line of a new commit had in its source, and where it was there."""

    origin: Origin
    how: How
    source: str  # the source revision
    path: str  # the file in the source
    line: int  # 1-based, in the source's file


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


# -- which commits a commit took lines from ------------------------------------------------------


def commit_sources(
    root: Path,
    info: CommitInfo,
    *,
    recorded: Sequence[Source] = (),
    pick_head: str | None = None,
    guess: bool = True,
) -> list[Source]:
    """The sources ``info`` names, strongest first, each revision once.

    Args:
        root: the repository.
        info: the new commit.
        recorded: sources recorded while the commit was being made (``prepare-commit-msg``).
        pick_head: the commit ``CHERRY_PICK_HEAD`` named when the commit was made.
        guess: when nothing names a source, look for the commit it copies among noted commits
            outside its history (see :func:`same_change`).
    """
    found: list[Source] = list(recorded)
    if pick_head:
        found.append(Source(pick_head, "cherry-pick"))
    found += [Source(sha, "cherry-pick") for sha in _git.cherry_picked_from(info.message)]
    reverted = _git.reverted_commit(info.message)
    if reverted is not None:
        parent = resolve(root, f"{reverted}^")  # the lines a revert restores are those of the reverted commit's parent
        if parent is not None:
            found.append(Source(parent, "revert"))
    squashed = [sha for sha in _git.squashed_commits(info.message) if resolve(root, sha) is not None]
    found += [Source(tip, "squash") for tip in _git.independent_tips(root, squashed)]
    found += [Source(parent, "merge") for parent in info.parents[1:]]
    if not found and guess and len(info.parents) == 1:
        original = same_change(root, info)
        if original is not None:
            found.append(Source(original, "cherry-pick"))
    unique: dict[str, Source] = {}
    for source in found:
        sha = resolve(root, source.rev)
        if sha is not None and sha != info.sha and sha not in unique:
            unique[sha] = Source(sha, source.how)
    return list(unique.values())


#: At most this many noted commits outside a commit's history are compared with it.
_GUESS_LIMIT = 500


def same_change(root: Path, info: CommitInfo, candidates: Iterable[str] | None = None) -> str | None:
    """A commit with a note, outside ``info``'s history, that made the same change: same author
    and author date, and the same subject or the same patch id. ``None`` when there is none.

    A cherry-pick or a rebase keeps the author and date of the commit it copies, so these are
    the commits to look at; the subject or the patch id tells a copy from a coincidence.

    Args:
        root: the repository.
        info: the new commit (with one parent).
        candidates: the commits to compare (default: every commit with a codewitness note that
            is not in the history of ``info``'s parent).
    """
    if candidates is None:
        noted = all_notes(root)
        if not noted:
            return None
        outside = _git.outside_history(
            root, _git.existing_commits(root, noted), info.parents[0] if info.parents else None
        )
        candidates = [sha for sha in outside if sha != info.sha]
    subject = info.message.split("\n", 1)[0].strip()
    same_author: list[CommitInfo] = []
    with _git.CatFile(root) as cat:
        for sha in list(candidates)[:_GUESS_LIMIT]:
            got = cat.read(sha)
            if got is None or got[0] != "commit":
                continue
            other = _git.parse_commit(sha, got[1])
            if other.author == info.author and other.author_time == info.author_time:
                same_author.append(other)
    matches = [c for c in same_author if c.message.split("\n", 1)[0].strip() == subject]
    if len(matches) != 1 and same_author:
        # None, or several (copies of one change: a rebase here, another on the forge): the patch decides.
        ids = _git.patch_ids(root, [info.sha, *(c.sha for c in same_author)])
        mine = ids.get(info.sha)
        by_patch = [c for c in (matches or same_author) if mine is not None and ids.get(c.sha) == mine]
        if by_patch or not matches:
            matches = by_patch
    # Copies of one change carry the same attribution: any of them will do, the same one every time.
    return min(c.sha for c in matches) if matches else None


# -- origins of the lines of a revision -----------------------------------------------------------


def file_origins(root: Path, rev: str, paths: Iterable[str]) -> dict[str, tuple[list[str], list[Origin]]]:
    """The lines of each of ``paths`` at ``rev`` and the origin of each (from blame and notes).

    Paths that are not text files at ``rev`` are left out.
    """
    from codewitness.attribution.blame import Attributor

    wanted = set(paths)
    if not wanted:
        return {}
    found: dict[str, tuple[list[str], list[Origin]]] = {}
    with Attributor(root, rev) as engine:
        entries = [e for e in engine.files(sorted(wanted)) if e.path in wanted]
        for result in engine.attribute(entries):
            if result.skipped is not None or not result.lines:
                continue
            texts = [line.text[:-1] if line.text.endswith("\r") else line.text for line in result.lines]
            found[result.path] = (texts, [line.origin for line in result.lines])
    return found


# -- carrying -------------------------------------------------------------------------------------


def carry_onto(
    root: Path,
    commit: str,
    added: Mapping[str, Iterable[int]],
    sources: Sequence[Source],
    *,
    moves: bool = True,
) -> dict[str, dict[int, Carried]]:
    """The origin each of the ``added`` lines of ``commit`` had where it came from.

    Args:
        root: the repository.
        commit: the new commit (a full id).
        added: for each file, the line numbers (in ``commit``) to find origins for.
        sources: the revisions to take origins from, strongest first; a line takes the first
            origin found.
        moves: also look for code moved or copied within the commit (from its first parent).

    Returns:
        For each file, the lines an origin was found for. A line a source holds unchanged gets
        that line's origin (``human`` too); a changed line gets ``mixed`` when the line it
        replaced was AI-written; a line found in no source is left out.
    """
    todo = {path: set(lines) for path, lines in added.items() if lines}
    found: dict[str, dict[int, Carried]] = {path: {} for path in todo}
    if not todo:
        return found
    texts = {path: _lines(text) for path, text in _git.blob_texts(root, commit, todo).items()}
    work = _Work(texts, todo, found)
    for source in sources:
        if not work.open_lines():
            break
        _carry_from(root, commit, source, work)
    if moves:
        parent = resolve(root, f"{commit}^")
        if parent is not None:
            _carry_moved(root, parent, commit, work)
    return found


@dataclass(frozen=True)
class _Work:
    """What :func:`carry_onto` works through, source after source."""

    texts: Mapping[str, list[str]]  # each file's lines at the commit
    todo: Mapping[str, set[int]]  # the lines to find origins for
    found: dict[str, dict[int, Carried]]  # the origins found so far

    def open_lines(self) -> dict[str, set[int]]:
        """Per file, the lines still without an origin (a file with none left is left out)."""
        left = {path: lines - self.found[path].keys() for path, lines in self.todo.items() if path in self.texts}
        return {path: lines for path, lines in left.items() if lines}


def _source_paths(root: Path, rev: str, commit: str, paths: Iterable[str]) -> dict[str, str]:
    """``{path in commit: path in rev}`` for the paths that exist in ``rev`` as they are or renamed."""
    wanted = sorted(paths)
    present = {e.path for e in list_tree(root, rev, wanted)}
    mapping = {path: path for path in wanted if path in present}
    missing = [path for path in wanted if path not in present]
    if missing:
        renames = _git.renamed_paths(root, rev, commit)
        mapping.update({path: renames[path] for path in missing if path in renames})
    return mapping


def _carry_from(root: Path, commit: str, source: Source, work: _Work) -> None:
    open_lines = work.open_lines()
    paths = _source_paths(root, source.rev, commit, open_lines)
    if not paths:
        return
    origins = file_origins(root, source.rev, set(paths.values()))
    for target, src in paths.items():
        if src not in origins:
            continue
        old, old_origins = origins[src]
        wanted = open_lines[target]
        for number, (index, same) in enumerate(pair_lines(old, work.texts[target]), 1):
            if number not in wanted or index is None:
                continue
            origin = old_origins[index]
            if not same:
                if origin.kind not in ("ai", "mixed"):
                    continue
                origin = replace(origin, kind="mixed")
            work.found[target][number] = Carried(origin, source.how, source.rev, src, index + 1)


def _significant(lines: Sequence[str]) -> bool:
    return sum(len("".join(line.split())) for line in lines) >= MIN_BLOCK_CHARS


def _carry_moved(root: Path, parent: str, commit: str, work: _Work) -> None:
    """Lines of runs that equal, line for line, text of a file the commit touched (as its parent had it)."""
    open_lines = work.open_lines()
    if not open_lines:
        return
    touched = [d.old_path for d in _git.file_diffs(root, parent, commit) if d.old_path is not None and not d.binary]
    before = {path: _lines(text) for path, text in _git.blob_texts(root, parent, touched).items()}
    index: dict[str, list[tuple[str, int]]] = {}
    for path, lines in before.items():
        for i, line in enumerate(lines):
            if line.strip():
                spots = index.setdefault(line, [])
                if len(spots) < 64:  # a line that common says nothing about where a block came from
                    spots.append((path, i))
    if not index:
        return
    blocks: list[tuple[str, int, str, int, int]] = []  # (target, first line, source path, first index, length)
    for target, wanted in open_lines.items():
        new = work.texts[target]
        number = min(wanted)
        last = max(wanted)
        while number <= last:
            if number not in wanted:
                number += 1
                continue
            best: tuple[str, int, int] | None = None
            for src, start in index.get(new[number - 1], ()):
                old = before[src]
                length = 0
                while (
                    number + length in wanted
                    and start + length < len(old)
                    and old[start + length] == new[number - 1 + length]
                ):
                    length += 1
                if best is None or length > best[2]:
                    best = (src, start, length)
            if best is not None and _significant(new[number - 1 : number - 1 + best[2]]):
                blocks.append((target, number, best[0], best[1], best[2]))
                number += best[2]
            else:
                number += 1
    if not blocks:
        return
    origins = file_origins(root, parent, {src for _, _, src, _, _ in blocks})
    for target, first, src, start, length in blocks:
        if src not in origins:
            continue
        old_origins = origins[src][1]
        for k in range(length):
            if start + k < len(old_origins):
                work.found[target][first + k] = Carried(old_origins[start + k], "moved", parent, src, start + k + 1)


# -- notes from origins ---------------------------------------------------------------------------


#: A person's line, as a note says it.
HUMAN = Origin("human", "note", 1.0)


def origin_entries(origins: Mapping[int, Origin]) -> tuple[tuple[NoteEntry, ...], dict[str, int]]:
    """Note entries for the given lines (line number -> origin), grouped by everything a note says
    about a line; and how many lines of each origin there are.

    An origin carried from evidence weaker than a note (a trailer, an imported record) keeps
    that evidence in its entry. Generations, agent, model and session are dropped from
    ``human`` lines.
    """
    groups: dict[NoteEntry, list[int]] = defaultdict(list)
    for line, origin in origins.items():
        if origin.kind == "human":
            key = NoteEntry("human", ())
        else:
            evidence = next((e for e in CARRIED_EVIDENCE if e == origin.evidence), None)
            key = NoteEntry(
                origin.kind, (), origin.generation_ids, origin.agent, origin.model, origin.session_id, evidence
            )
        groups[key].append(line)
    counts: dict[str, int] = defaultdict(int)
    entries = []
    for key, members in groups.items():
        counts[key.origin] += len(members)
        entries.append(replace(key, spans=compact_lines(members)))
    entries.sort(key=lambda e: e.spans[0])
    return tuple(entries), counts


def carried_note(
    root: Path, commit: str, sources: Sequence[Source], *, moves: bool = True
) -> tuple[CommitNote, dict[str, dict[int, Carried]]]:
    """The note of a commit none of whose lines a local agent edit wrote: each line the commit
    adds keeps the origin it had in ``sources`` (or in the commit's parent, for moved code);
    the rest are a person's. Nothing is written.

    Returns:
        The note and, per file, the lines an origin was found for.
    """
    parent = resolve(root, f"{commit}^") or _git.EMPTY_TREE
    added = {path: lines for path, lines in _git.added_lines(root, parent, commit).items() if lines}
    carried = carry_onto(root, commit, added, sources, moves=moves)
    files: dict[str, tuple[NoteEntry, ...]] = {}
    totals: dict[str, int] = defaultdict(int)
    moved = 0
    for path, lines in sorted(added.items()):
        found = carried.get(path, {})
        origins = {line: found[line].origin if line in found else HUMAN for line in lines}
        moved += sum(1 for c in found.values() if c.origin.kind in ("ai", "mixed"))
        entries, counts = origin_entries(origins)
        files[path] = entries
        for kind, count in counts.items():
            totals[kind] += count
    delta = Delta(ai_written=moved, ai_kept=totals["ai"], ai_edited=totals["mixed"], human=totals["human"])
    return CommitNote(files=files, delta=delta), carried
