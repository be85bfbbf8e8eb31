"""The attribution engine: the :class:`~codewitness.model.Origin` of every line of a file.

``git blame --porcelain -M`` names, for each line, the commit that introduced it and the line's
number *in that commit*; that pair is looked up in the commit's evidence, strongest first:

1. a codewitness note (``refs/notes/codewitness``) — exact lines from agent hooks;
2. imported records: our import notes (``refs/notes/codewitness-import``, written by
   ``codewitness import``) and git-ai notes (``refs/notes/ai``), read directly;
3. agent marks on the commit (``Co-authored-by: Claude``, ``(aider)``, bot authors, ...);
4. the author: a person means ``human``; nothing known means ``unknown``.

A line-precise record (1 or 2) decides for the whole commit: a line it does not mark as AI is
not AI, whatever the commit's trailers say. Within a commit, the strongest record that mentions
a file decides that file's lines.

Blame results are cached by ``(path, blob id)`` and commit metadata by commit id (see
:mod:`codewitness.attribution.cache`), so attributing a revision one commit after a cached one
only blames the files that changed.

Example:
    >>> origins = line_origins(Path("."), "src/app.py", "HEAD")  # doctest: +SKIP
    >>> origins[0].kind, origins[0].evidence  # doctest: +SKIP
    ('ai', 'note')
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from codewitness._git import (
    BlameRow,
    CatFile,
    CommitInfo,
    TreeEntry,
    blame_porcelain,
    for_each_ref,
    git_path,
    list_notes,
    list_tree,
    parse_commit,
    repo_root,
    resolve,
    run_git,
)
from codewitness.attribution.cache import AttributionCache, MemoryCache
from codewitness.attribution.gitai import GITAI_REF, parse_gitai, to_commit_note
from codewitness.attribution.notes import CommitNote, NoteError, all_notes, parse_note
from codewitness.attribution.trailers import agent_marks, generation_trailers
from codewitness.errors import GitError, InputError, NotFoundError
from codewitness.model import EvidenceKind, Origin

__all__ = [
    "CONFIDENCE",
    "IMPORT_REF",
    "Attributor",
    "FileAttribution",
    "LineAttribution",
    "line_origins",
]

#: Where ``codewitness import`` keeps foreign records, converted to our note schema.
IMPORT_REF = "refs/notes/codewitness-import"

#: Confidence of each way of knowing. Exact records are near-certain; an omission in a record
#: (the line is in the commit but the record does not call it AI) is slightly weaker; a trailer
#: only says an agent took part in the commit.
CONFIDENCE: dict[str, float] = {
    "note": 0.98,
    "note-omitted": 0.9,
    "import": 0.9,
    "import-omitted": 0.85,
    "record-other-file": 0.8,
    "trailer": 0.6,
    "author": 0.7,
    "none": 0.0,
}

_UNKNOWN = Origin("unknown", "none", CONFIDENCE["none"])
_OMITTED: dict[str, Origin] = {k: Origin("human", k, CONFIDENCE[f"{k}-omitted"]) for k in ("note", "import")}
_OTHER_FILE: dict[str, Origin] = {k: Origin("human", k, CONFIDENCE["record-other-file"]) for k in ("note", "import")}
#: Bumped when the way evidence turns into origins changes, so cached results are recomputed.
_ENGINE_VERSION = "attribution/2"
_BINARY_SNIFF = 8000
#: The cache kind of the commits known to be in a revision's history (keyed by the revision's commit).
_HISTORY = "history"


class _CommitMemo:
    """What git says of one commit that never changes (its whole tree, its history), kept for the
    process's last few commits: a long-lived process (the MCP server, asked about function after
    function at the same ``HEAD``) then lists neither again. Keyed by repository and full commit
    id, so a moved ``HEAD`` or another repository is simply another key (a repository that rewrites
    history with ``git replace`` while the process runs is not noticed). Thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, root: Path, commit: str) -> Any:
        with self._lock:
            return self._items.get((str(root), commit))

    def put(self, root: Path, commit: str, value: Any) -> None:
        with self._lock:
            self._items.pop((str(root), commit), None)
            while len(self._items) >= self.size:
                self._items.pop(next(iter(self._items)))
            self._items[(str(root), commit)] = value


#: The files of a commit's tree (``ls-tree -r``): a few hundred bytes a file.
_TREES = _CommitMemo(4)
#: The commits in a commit's history (``rev-list``): about 100 bytes a commit.
_HISTORIES = _CommitMemo(2)


class LineAttribution(NamedTuple):
    """One line of a file at a revision and who wrote it (a named tuple: files have many lines)."""

    line: int
    text: str
    commit: str
    author: str
    orig_path: str
    orig_line: int
    origin: Origin


@dataclass(frozen=True)
class FileAttribution:
    """Every line of one file at a revision (``lines`` is empty for a skipped file; with
    :meth:`Attributor.attribute`'s ``only``, just the lines asked for)."""

    path: str
    blob: str
    lines: tuple[LineAttribution, ...] = ()
    skipped: str | None = None  # why the file was not attributed ("binary", "submodule", ...)


@dataclass
class _Evidence:
    """Everything known about the commits of one repository, loaded once per run."""

    root: Path
    cat: CatFile
    cache: AttributionCache
    notes: dict[str, str] = field(default_factory=dict)
    imports: dict[str, str] = field(default_factory=dict)
    gitai: dict[str, str] = field(default_factory=dict)
    shallow: frozenset[str] = frozenset()
    warnings: dict[str, int] = field(default_factory=dict)
    _records: dict[str, list[tuple[EvidenceKind, CommitNote]]] = field(default_factory=dict)
    commits: dict[str, CommitInfo] = field(default_factory=dict)
    _entry_origins: dict[tuple[str, int], Origin] = field(default_factory=dict)
    _commit_origins: dict[str, Origin] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, root: Path, cat: CatFile, cache: AttributionCache) -> _Evidence:
        shallow: frozenset[str] = frozenset()
        if run_git(["rev-parse", "--is-shallow-repository"], cwd=root).strip() == "true":
            shallow_file = git_path(root, "shallow")
            shallow = frozenset(shallow_file.read_text().split()) if shallow_file.exists() else frozenset()
        # One listing of the notes refs, then one read per ref that exists (most repositories have none).
        refs = for_each_ref(root, "refs/notes")
        return cls(
            root=root,
            cat=cat,
            cache=cache,
            notes=all_notes(root, refs),
            imports=list_notes(root, IMPORT_REF, exists=True) if IMPORT_REF in refs else {},
            gitai=list_notes(root, GITAI_REF, exists=True) if GITAI_REF in refs else {},
            shallow=shallow,
        )

    def warn(self, message: str) -> None:
        with self._lock:
            self.warnings[message] = self.warnings.get(message, 0) + 1

    def _note_text(self, blob: str) -> str | None:
        got = self.cat.read(blob)
        return None if got is None else got[1].decode("utf-8", "replace")

    def records(self, sha: str) -> list[tuple[EvidenceKind, CommitNote]]:
        """The line-precise records of ``sha``, strongest first; corrupt ones are skipped and counted."""
        cached = self._records.get(sha)
        if cached is not None:
            return cached
        found: list[tuple[EvidenceKind, CommitNote]] = []
        sources: tuple[tuple[EvidenceKind, dict[str, str], str], ...] = (
            ("note", self.notes, "codewitness"),
            ("import", self.imports, "imported"),
            ("import", self.gitai, "git-ai"),
        )
        for kind, index, label in sources:
            blob = index.get(sha)
            if blob is None:
                continue
            text = self._note_text(blob)
            if text is None:
                continue
            try:
                note = parse_gitai(text) if index is self.gitai else None
                found.append((kind, to_commit_note(note) if note is not None else parse_note(text)))
            except NoteError as exc:
                self.warn(f"skipped a corrupt {label} note on commit {sha[:12]}: {exc}")
        with self._lock:
            self._records[sha] = found
        return found

    def prefetch_commits(self, shas: Iterable[str]) -> None:
        """Load commit metadata for ``shas`` (cache first, then one batched git read)."""
        missing = [s for s in set(shas) if s not in self.commits]
        if not missing:
            return
        cached = self.cache.load_commits(missing)
        fresh: list[CommitInfo] = []
        for sha in missing:
            info = cached.get(sha)
            if info is None:
                got = self.cat.read(sha)
                if got is None or got[0] != "commit":
                    continue
                info = parse_commit(sha, got[1])
                fresh.append(info)
            self.commits[sha] = info
        if fresh:
            self.cache.save_commits(fresh)

    def commit(self, sha: str) -> CommitInfo:
        if sha not in self.commits:
            self.prefetch_commits([sha])
        return self.commits.get(sha) or CommitInfo(sha=sha, author="", author_time=0, committer="", message="")

    def origin(self, sha: str, path: str, line: int) -> Origin:
        """Who wrote line ``line`` of ``path`` as numbered in commit ``sha``."""
        records = self.records(sha)
        for kind, note in records:
            if path not in note.files:
                continue
            entry = note.entry_for(path, line)
            if entry is None:
                return _UNKNOWN if sha in self.shallow else _OMITTED[kind]
            # One Origin per note entry, shared by all its lines.
            key = (kind, id(entry))
            found = self._entry_origins.get(key)
            if found is None:
                evidence: EvidenceKind = entry.evidence or kind  # a line carried from weaker evidence keeps it
                found = self._entry_origins[key] = Origin(
                    entry.origin,
                    evidence,
                    CONFIDENCE[evidence],
                    generation_ids=entry.generation_ids,
                    agent=entry.agent,
                    model=entry.model,
                    session_id=entry.session_id,
                )
            return found
        if sha in self.shallow:
            # The boundary commit of a shallow clone holds every older line too: nothing is known.
            self.warn(
                "shallow clone: lines older than the shallow boundary are 'unknown' "
                "(run `git fetch --unshallow` for full attribution)"
            )
            return _UNKNOWN
        if records:
            return _OTHER_FILE[records[0][0]]
        found = self._commit_origins.get(sha)
        if found is None:
            found = self._commit_origins[sha] = self._commit_origin(sha)
        return found

    def _commit_origin(self, sha: str) -> Origin:
        # Without a line-precise record, every line a commit introduced shares one origin.
        info = self.commit(sha)
        marks = agent_marks(info.message, author=info.author, committer=info.committer)
        generations = generation_trailers(info.message)  # written by our prepare-commit-msg hook
        if marks or generations:
            agent, model = (marks[0].agent, marks[0].model) if marks else (None, None)
            return Origin("ai", "trailer", CONFIDENCE["trailer"], generation_ids=generations, agent=agent, model=model)
        if info.author and not _is_bot(info.author):
            return Origin("human", "author", CONFIDENCE["author"])
        return _UNKNOWN


def _is_bot(person: str) -> bool:
    lowered = person.lower()
    return "[bot]" in lowered or ("noreply@github.com" in lowered and "bot" in lowered)


def _resolve_commit(root: Path, rev: str) -> str:
    sha = resolve(root, rev)
    if sha is not None:
        return sha
    if resolve(root, "HEAD", commit=False) is None:
        raise GitError(f"the repository at {root} has no commits yet; commit something first")
    raise NotFoundError(f"no commit {rev!r} in {root}; check the revision name")


class Attributor:
    """Attributes files of one repository at one revision; reuse it for many files.

    Args:
        root: any folder inside the repository.
        rev: the revision to attribute (default ``HEAD``).
        cache: where blame results and commit metadata are kept between runs (default: this run only).
        jobs: how many ``git blame`` processes run at once (default: the number of CPUs).
        detect_moves: pass ``-M`` to blame so a block moved within a file keeps its author.
        keep_history: keep the commits found in the revision's history in ``cache`` (see :meth:`attribute`); for
            a cache that keeps only what a run used (the merge gate's), not one that only grows.

    Raises:
        GitError: not a repository, git missing, or a repository without commits.
        NotFoundError: ``rev`` does not name a commit.
    """

    def __init__(
        self,
        root: Path,
        rev: str = "HEAD",
        *,
        cache: AttributionCache | None = None,
        jobs: int | None = None,
        detect_moves: bool = True,
        keep_history: bool = False,
    ) -> None:
        self.root = repo_root(root)
        self.rev = rev
        self.commit = _resolve_commit(self.root, rev)
        self.cache: AttributionCache = cache if cache is not None else MemoryCache()
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.detect_moves = detect_moves
        self._cat = CatFile(self.root)
        self.evidence = _Evidence.load(self.root, self._cat, self.cache)
        self._reachable: frozenset[str] | None = None
        self._known_history: set[str] | None = None if keep_history else set()
        self._keep_history_in_cache = keep_history
        self._history_learnt = False
        self.stats: dict[str, int] = {"blamed": 0, "cached": 0, "skipped": 0}

    def close(self) -> None:
        """Stop the background git reader."""
        self._cat.close()

    def __enter__(self) -> Attributor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def warnings(self) -> dict[str, int]:
        """Messages about skipped evidence and files, with how often each happened."""
        return self.evidence.warnings

    def files(self, paths: Sequence[str] = ()) -> list[TreeEntry]:
        """The tree entries of the revision (under ``paths`` when given)."""
        every: list[TreeEntry] | None = _TREES.get(self.root, self.commit)
        if not paths:
            if every is None:
                every = list_tree(self.root, self.commit)
                _TREES.put(self.root, self.commit, every)
            return list(every)
        if every is not None:
            # A path that is a file of the tree is answered from it; anything else (a folder, a
            # path the tree lacks) goes to git, which knows how its paths match.
            wanted = set(paths)
            chosen = [e for e in every if e.path in wanted]  # in the tree's order, as git gives them
            if len(chosen) == len(wanted):
                return chosen
        return list_tree(self.root, self.commit, paths)

    def commit_times(self) -> dict[str, int]:
        """Author time (Unix seconds) of every commit seen so far."""
        return {sha: info.author_time for sha, info in self.evidence.commits.items()}

    def read_blob(self, oid: str) -> bytes:
        """The bytes of a blob."""
        got = self._cat.read(oid)
        return b"" if got is None else got[1]

    def fingerprint(self, commits: Iterable[str]) -> str:
        """A digest of the evidence known about ``commits`` (their notes in every ref we read).

        Results derived from those commits' lines stay valid while it stays the same.
        """
        ev = self.evidence
        digest = hashlib.sha256(_ENGINE_VERSION.encode())
        for sha in commits:
            parts = (sha, ev.notes.get(sha, ""), ev.imports.get(sha, ""), ev.gitai.get(sha, ""))
            digest.update("|".join(parts).encode())
            if sha in ev.shallow:
                digest.update(b"|shallow")
        return digest.hexdigest()[:32]

    def reachable(self) -> frozenset[str]:
        """Every commit in the history of the revision."""
        return self._reachable_commits()

    def _reachable_commits(self) -> frozenset[str]:
        if self._reachable is None:
            # A shallow clone's history of a commit grows when it is deepened: not kept.
            keep = not self.evidence.shallow
            known: frozenset[str] | None = _HISTORIES.get(self.root, self.commit) if keep else None
            if known is None:
                known = frozenset(run_git(["rev-list", self.commit], cwd=self.root).split())
                if keep:
                    _HISTORIES.put(self.root, self.commit, known)
            self._reachable = known
        return self._reachable

    def _blame(self, entry: TreeEntry) -> list[BlameRow]:
        return blame_porcelain(self.root, self.commit, entry.path, detect_moves=self.detect_moves)

    def attribute(
        self,
        entries: Sequence[TreeEntry],
        *,
        progress: Callable[[TreeEntry], None] | None = None,
        only: Mapping[str, Collection[int]] | None = None,
    ) -> Iterator[FileAttribution]:
        """Attribute each entry, blaming uncached files in parallel; yields in the given order.

        Submodules, symbolic links and binary files are skipped (``FileAttribution.skipped`` says
        why) and counted in :attr:`warnings`.

        With ``only`` (path -> line numbers), a file's ``lines`` hold just those of its lines (the ones
        that exist, in order): the merge gate needs the origins of a few flagged lines of a file, and
        working out every line's costs as much as the rest of a warm run. Each line's answer is the same
        as in the whole file's.
        """
        texts: dict[str, bytes] = {}
        todo: list[TreeEntry] = []
        for entry in entries:
            if entry.is_submodule or entry.is_symlink:
                continue
            data = self.read_blob(entry.oid)
            texts[entry.path] = data
            if b"\0" not in data[:_BINARY_SNIFF] and data:
                todo.append(entry)
        cached = self.cache.load_blames([(e.path, e.oid) for e in todo])
        blames: dict[str, list[BlameRow]] = {}
        to_blame: list[TreeEntry] = []
        for entry in todo:
            rows = cached.get((entry.path, entry.oid))
            # A cached blame is valid for this revision when all its commits are in its history
            # (after a rebase or on another branch, the same content may have other commits).
            if rows is not None and self._in_history({r.commit for r in rows}):
                blames[entry.path] = rows
                self.stats["cached"] += 1
                continue
            to_blame.append(entry)
        fresh: dict[str, list[BlameRow]] = {}
        with self._pool(bool(to_blame)) as pool:
            futures = {e.path: pool.submit(self._blame, e) for e in to_blame}
            for entry in entries:
                reason = self._skip_reason(entry, texts.get(entry.path, b""))
                if reason is not None:
                    self.stats["skipped"] += 1
                    self.evidence.warn(f"skipped {reason} files")
                    if progress:
                        progress(entry)
                    yield FileAttribution(entry.path, entry.oid, skipped=reason)
                    continue
                if entry.path in futures:
                    rows = futures[entry.path].result()
                    fresh[entry.path] = rows
                    blames[entry.path] = rows
                    self.stats["blamed"] += 1
                    if len(fresh) >= 64:
                        self._save(fresh, entries)
                        fresh = {}
                wanted = None if only is None else only.get(entry.path, ())
                yield self._assemble(entry, texts[entry.path], blames[entry.path], wanted)
                if progress:
                    progress(entry)
        self._save(fresh, entries)
        if to_blame:
            self._in_history({r.commit for e in to_blame for r in blames.get(e.path, ())}, blamed_here=True)
        self._keep_history()

    def _in_history(self, commits: set[str], *, blamed_here: bool = False) -> bool:
        """Whether every one of ``commits`` is in the revision's history (``blamed_here``: they are, as
        blame at this revision named them).

        Reachability from a commit never changes, so with ``keep_history`` the commits found in its history are
        kept in the cache under the commit (kind ``history``): a warm run whose cached blames name only those
        lists no history (``git rev-list`` of a few thousand commits was a tenth of a warm gate run).
        """
        if self._known_history is None:
            kept = self.cache.load_blobs(_HISTORY, [self.commit]).get(self.commit)
            self._known_history = {str(c) for c in kept} if isinstance(kept, list) else set()
        if commits <= self._known_history:
            return True
        if not blamed_here and not commits <= self._reachable_commits():
            return False
        self._known_history |= commits
        self._history_learnt = True
        return True

    def _keep_history(self) -> None:
        if self._keep_history_in_cache and self._history_learnt and self._known_history is not None:
            self.cache.save_blobs(_HISTORY, {self.commit: sorted(self._known_history)})
            self._history_learnt = False

    def _pool(self, needed: bool) -> AbstractContextManager[Any]:
        """The blame workers; none (and no thread machinery imported) when everything came from the cache."""
        if not needed:
            return nullcontext()
        from concurrent.futures import ThreadPoolExecutor

        return ThreadPoolExecutor(max_workers=self.jobs)

    def _save(self, fresh: dict[str, list[BlameRow]], entries: Sequence[TreeEntry]) -> None:
        if not fresh:
            return
        oids = {e.path: e.oid for e in entries}
        self.cache.save_blames({(path, oids[path]): rows for path, rows in fresh.items()})

    @staticmethod
    def _skip_reason(entry: TreeEntry, data: bytes) -> str | None:
        if entry.is_submodule:
            return "submodule"
        if entry.is_symlink:
            return "symlink"
        if not data:
            return "empty"
        if b"\0" in data[:_BINARY_SNIFF]:
            return "binary"
        return None

    def _assemble(
        self, entry: TreeEntry, data: bytes, rows: list[BlameRow], only: Collection[int] | None = None
    ) -> FileAttribution:
        text_lines = data.decode("utf-8", "replace").split("\n")
        if text_lines and text_lines[-1] == "":
            text_lines.pop()
        if only is None:
            numbered = list(enumerate(rows, 1))
        else:
            numbered = [(n, rows[n - 1]) for n in sorted(set(only)) if 0 < n <= len(rows)]
        commits = {row.commit for _, row in numbered}
        evidence = self.evidence
        evidence.prefetch_commits(commits)
        authors = {sha: evidence.commit(sha).author for sha in commits}
        count = len(text_lines)
        lines: list[LineAttribution] = []
        for number, row in numbered:
            path = row.orig_path or entry.path
            lines.append(
                LineAttribution(
                    number,
                    text_lines[number - 1] if number <= count else "",
                    row.commit,
                    authors[row.commit],
                    path,
                    row.orig_line,
                    evidence.origin(row.commit, path, row.orig_line),
                )
            )
        return FileAttribution(entry.path, entry.oid, tuple(lines))

    def attribute_path(self, path: str) -> FileAttribution:
        """Attribute one repository-relative path.

        Raises:
            InputError: the path is not a file at the revision, or is a submodule.
        """
        entries = [e for e in self.files([path]) if e.path == path]
        if not entries:
            raise InputError(f"{path} is not a file at {self.rev} ({self.commit[:12]})")
        if entries[0].is_submodule:
            raise InputError(f"{path} is a submodule; run codewitness inside it to attribute its files")
        (result,) = self.attribute(entries)  # run to the end: the cache is written after the last file
        return result


def relative_path(root: Path, path: Path | str) -> str:
    """``path`` (absolute, or relative to the current folder) as a repository-relative posix path.

    Raises:
        InputError: the path lies outside the repository.
    """
    candidate = Path(path)
    absolute = (candidate if candidate.is_absolute() else Path.cwd() / candidate).resolve()
    try:
        return absolute.relative_to(root.resolve()).as_posix()
    except ValueError:
        raise InputError(f"{path} is outside the repository at {root}") from None


def line_origins(
    repo: str | os.PathLike[str],
    path: str | os.PathLike[str],
    rev: str = "HEAD",
    *,
    cache: AttributionCache | None = None,
) -> list[Origin]:
    """The origin of each line of ``path`` at ``rev`` (index 0 is line 1).

    A small entry point for other stages (the merge gate uses it to review AI-written lines first).

    Args:
        repo: any folder inside the repository (a ``str`` or a path).
        path: the file, relative to the repository root (``/``-separated text, or a relative path).
        rev: the revision (default ``HEAD``).
        cache: an attribution cache to reuse across calls.

    Returns:
        One :class:`~codewitness.model.Origin` per line; empty for binary or empty files.

    Raises:
        GitError: not a repository, or git failed.
        NotFoundError: ``rev`` is not a commit.
        InputError: ``path`` is not a file at ``rev``.
    """
    with Attributor(Path(repo), rev, cache=cache) as engine:
        return [line.origin for line in engine.attribute_path(Path(path).as_posix()).lines]
