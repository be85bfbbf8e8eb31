"""Who wrote a line, as far as the merge gate needs to know.

Files the working tree has not changed since ``HEAD`` are attributed by the attribution engine
(:class:`codewitness.attribution.blame.Attributor`: codewitness notes, git-ai notes, imported
records, agent marks). Lines of files with uncommitted changes are numbered as in the working
tree, which the engine does not see; for those the gate blames the working tree itself and reads
the same evidence directly: the commit's codewitness note says ``ai``/``mixed``/``human``, and a
commit without a note but with agent marks (trailers) counts as AI-written (weaker evidence).

:meth:`Attribution.origin` gives the whole origin of a line (generations, agent, model), and
:meth:`Attribution.function_at` the function around it, so a finding can name its code.

Example:
    >>> attr = Attribution(Path("."))  # doctest: +SKIP
    >>> attr.ai_authored("src/app.py", 12)  # doctest: +SKIP
    True
    >>> attr.function_at("src/app.py", 12)  # doctest: +SKIP
    ('app', 'Cart.total')
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codewitness._files import write_atomically
from codewitness._git import BlameRow, TreeEntry, blame_porcelain, git_available, run_git
from codewitness._git import CommitInfo as _CommitInfo
from codewitness.attribution.cache import MemoryCache, commit_from_dict, commit_to_dict
from codewitness.attribution.notes import CommitNote, NoteError, read_note
from codewitness.attribution.trailers import AgentMark, agent_marks
from codewitness.errors import CodewitnessError, GitError
from codewitness.model import Origin

if TYPE_CHECKING:
    import ast
    from collections.abc import Callable

    from codewitness.attribution.blame import Attributor

__all__ = ["Attribution", "CommitInfo", "GateCache", "commits_between"]

_ZERO = "0" * 40
#: Whether a line of each origin counts as AI-written (``unknown``: no answer).
_AI = {"ai": True, "mixed": True, "human": False}
# Confidence of the working-tree path's answers, as the attribution engine rates the same evidence.
_NOTE, _TRAILER = 0.98, 0.6


@dataclass(frozen=True)
class CommitInfo:
    """One commit with the agent marks on it."""

    sha: str
    author: str
    committer: str
    message: str

    @property
    def marks(self) -> tuple[AgentMark, ...]:
        """Agent marks found on the commit."""
        return agent_marks(self.message, author=self.author, committer=self.committer)


def commits_between(root: Path, base: str, head: str = "HEAD") -> list[CommitInfo]:
    """The commits in ``base..head``, oldest first.

    Raises:
        GitError: git failed (e.g. a revision does not exist).
    """
    out = run_git(["log", "--reverse", "--format=%H%x00%an <%ae>%x00%cn <%ce>%x00%B%x1e", f"{base}..{head}"], cwd=root)
    commits = []
    for record in out.split("\x1e"):
        parts = record.strip("\n").split("\x00")
        if len(parts) == 4 and parts[0]:
            commits.append(CommitInfo(parts[0], parts[1], parts[2], parts[3]))
    return commits


class GateCache(MemoryCache):
    """The attribution engine's cache (blames by path and blob, commit metadata) plus the function spans of
    working-tree files, kept between gate runs in one JSON file.

    Everything in it is derived from immutable content (a blob id, a file's sha256), so an entry never goes
    stale; a run keeps what it used, so the file does not grow with the history. A missing, corrupt or foreign
    file is ignored and replaced.

    Args:
        path: the JSON file (``.codewitness/cache/attribution.json``).
    """

    VERSION = 1

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._used: set[str] = set()
        self._dirty = False
        with contextlib.suppress(OSError, ValueError, UnicodeDecodeError, TypeError, KeyError, AttributeError):
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("version") == self.VERSION:
                self.blames = {tuple(k.split("\0", 1)): v for k, v in data["blames"].items()}
                self.commits = {sha: commit_from_dict(sha, d) for sha, d in data["commits"].items()}
                self.blobs = {tuple(k.split("\0", 1)): v for k, v in data["blobs"].items()}

    def load_blames(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], list[BlameRow]]:
        self._used.update("b" + "\0".join(k) for k in keys)
        return super().load_blames(keys)

    def save_blames(self, items: Mapping[tuple[str, str], list[BlameRow]]) -> None:
        self._used.update("b" + "\0".join(k) for k in items)
        self._dirty = self._dirty or bool(items)
        super().save_blames(items)

    def load_commits(self, shas: Sequence[str]) -> dict[str, _CommitInfo]:
        self._used.update("c" + s for s in shas)
        return super().load_commits(shas)

    def save_commits(self, infos: Iterable[_CommitInfo]) -> None:
        infos = list(infos)
        self._used.update("c" + i.sha for i in infos)
        self._dirty = self._dirty or bool(infos)
        super().save_commits(infos)

    def load_blobs(self, kind: str, oids: Sequence[str]) -> dict[str, Any]:
        self._used.update(f"o{kind}\0{o}" for o in oids)
        return super().load_blobs(kind, oids)

    def save_blobs(self, kind: str, items: Mapping[str, Any]) -> None:
        self._used.update(f"o{kind}\0{o}" for o in items)
        self._dirty = self._dirty or bool(items)
        super().save_blobs(kind, items)

    def save(self) -> None:
        """Write what this run used, if anything new was learnt (temp file + rename)."""

        if not self._dirty:
            return
        blames = {"\0".join(k): v for k, v in self.blames.items() if "b" + "\0".join(k) in self._used}
        commits = {sha: commit_to_dict(info) for sha, info in self.commits.items() if "c" + sha in self._used}
        blobs = {"\0".join(k): v for k, v in self.blobs.items() if "o" + "\0".join(k) in self._used}
        payload = {"version": self.VERSION, "blames": blames, "commits": commits, "blobs": blobs}
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs the next run time
            write_atomically(self.path, json.dumps(payload, separators=(",", ":")), private=True)
        self._dirty = False


class Attribution:
    """Line-level "did an agent write this?" answers for one repository, cached per file and commit.

    Args:
        root: the repository root.
        cache: where blames, commit metadata and function spans are kept between runs (default: this run only).
    """

    def __init__(
        self, root: Path, cache: GateCache | None = None, parsed: Callable[[str], ast.Module | None] | None = None
    ) -> None:
        self.root = root
        #: The syntax tree the checks already made of a file, if any (parsing it again costs as much).
        self._parsed = parsed
        self.usable = git_available() and (root / ".git").exists()
        self._blame: dict[str, dict[int, tuple[str, str, int]]] = {}
        self._engine: Attributor | None = None
        self._engine_failed = False
        self._dirty: set[str] | None = None
        #: Origins of the lines asked for so far, per file attributed by the engine (``None``: past its end).
        self._origins: dict[str, dict[int, Origin | None]] = {}
        #: Files the engine cannot attribute (not in ``HEAD``, a submodule): the working tree decides.
        self._not_in_head: set[str] = set()
        self._entries: dict[str, TreeEntry] = {}
        self._spans: dict[str, tuple[str, list[tuple[str, int, int]]]] = {}
        self._cache = cache

    def ai_authored(self, rel: str, line: int) -> bool | None:
        """True when an agent wrote ``line`` of ``rel``, False when a person did, None when unknown."""
        origin = self.origin(rel, line)
        return None if origin is None else _AI.get(origin.kind)

    def origin(self, rel: str, line: int) -> Origin | None:
        """Who wrote ``line`` of ``rel`` (numbered as in the working tree), or ``None`` when nothing is known."""
        if not self.usable:
            return None
        if rel not in self._dirty_files():
            known = self._origins.get(rel)
            if known is None or line not in known:
                self.prefetch([(rel, line)])
                known = self._origins.get(rel)
            if known is not None and line in known:
                return known[line]
        return self._from_working_tree(rel, line)

    def function_at(self, rel: str, line: int) -> tuple[str, str, int, int] | None:
        """The innermost function around ``line`` of the working-tree file ``rel``: its module,
        ``__qualname__``, first and last line; ``None`` outside functions, or for a file that is
        not valid Python."""
        if not rel.endswith((".py", ".pyi")):
            return None
        if rel not in self._spans:
            self._spans[rel] = self._read_spans(rel)
        module, spans = self._spans[rel]
        inside = [s for s in spans if s[1] <= line <= s[2]]
        if not inside:
            return None
        qualname, start, end = max(inside, key=lambda s: s[1])
        return module, qualname, start, end

    def _read_spans(self, rel: str) -> tuple[str, list[tuple[str, int, int]]]:
        from codewitness.attribution.functions import module_facts, module_name

        parts = rel.split("/")[:-1]
        packages = {
            "/".join([*parts[:i], "__init__.py"])
            for i in range(1, len(parts) + 1)
            if (self.root.joinpath(*parts[:i], "__init__.py")).is_file()
        }
        try:
            data = (self.root / rel).read_bytes()
        except OSError:
            return "", []
        module = module_name(rel, packages)
        key = f"{module}\0{hashlib.sha256(data).hexdigest()}"
        if self._cache is not None:
            hit = self._cache.load_blobs("gate-spans", [key]).get(key)
            if isinstance(hit, list):
                return module, [(str(q), int(a), int(b)) for q, a, b in hit]
        try:
            text = data.decode("utf-8")
            tree = self._parsed(rel) if self._parsed is not None else None
            spans = [(s.qualname, s.start_line, s.end_line) for s in module_facts(text, tree=tree).spans]
        except (UnicodeDecodeError, SyntaxError, ValueError, RecursionError):
            return "", []  # not readable as Python: the finding names no function
        if self._cache is not None:
            self._cache.save_blobs("gate-spans", {key: spans})
        return module, spans

    def prefetch(self, lines: Iterable[tuple[str, int]]) -> None:
        """Attribute many ``(file, line)`` at once (the engine blames the files in parallel) before asking
        line by line. Only the lines asked for are worked out: a finding needs its own line's origin, not
        those of the thousands of other lines of its file."""
        if not self.usable:
            return
        dirty = self._dirty_files()
        wanted: dict[str, set[int]] = {}
        for rel, line in lines:
            if rel not in dirty and rel not in self._not_in_head and line not in self._origins.get(rel, {}):
                wanted.setdefault(rel, set()).add(line)
        engine = self._get_engine()
        if not wanted or engine is None:
            return
        try:
            unlisted = sorted(rel for rel in wanted if rel not in self._entries)
            if unlisted:
                self._entries.update((e.path, e) for e in engine.files(unlisted) if e.path in wanted)
            entries = [self._entries[rel] for rel in sorted(wanted) if rel in self._entries]
            entries = [e for e in entries if not e.is_submodule]
            self._not_in_head.update(set(wanted) - {e.path for e in entries})
            for result in engine.attribute(entries, only=wanted):
                known = self._origins.setdefault(result.path, {})
                known.update(dict.fromkeys(wanted[result.path]))  # lines past the end of the file: no answer
                known.update((line.line, line.origin) for line in result.lines)
        except CodewitnessError:
            return  # the working tree decides

    def close(self) -> None:
        """Stop the engine's git processes and keep what was learnt in the cache."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        if self._cache is not None:
            self._cache.save()

    def _dirty_files(self) -> set[str]:
        if self._dirty is None:
            out = run_git(
                ["-c", "core.quotepath=off", "status", "--porcelain", "-z", "--untracked-files=all"],
                cwd=self.root,
                check=False,
            )
            self._dirty = {entry[3:] for entry in out.split("\0") if len(entry) > 3}
        return self._dirty

    def _get_engine(self) -> Attributor | None:
        if self._engine is None and not self._engine_failed:
            from codewitness.attribution.blame import Attributor

            try:
                # The gate's cache keeps what a run used, so the history of HEAD kept there does not pile up.
                self._engine = Attributor(self.root, "HEAD", cache=self._cache, keep_history=self._cache is not None)
            except CodewitnessError:
                self._engine_failed = True  # e.g. no commits yet: the working-tree path decides
        return self._engine

    def _from_working_tree(self, rel: str, line: int) -> Origin | None:
        blamed = self._blame_file(rel).get(line)
        if blamed is None:
            return None
        sha, orig_path, orig_line = blamed
        if sha == _ZERO:
            return None  # not committed yet: no evidence either way
        note = self._note(sha)
        if note is not None:
            entry = note.entry_for(orig_path, orig_line)
            if entry is None or entry.origin not in ("ai", "mixed"):
                return Origin("human", "note", _NOTE)
            return Origin(
                entry.origin,
                "note",
                _NOTE,
                generation_ids=entry.generation_ids,
                agent=entry.agent,
                model=entry.model,
                session_id=entry.session_id,
            )
        marks = self._marks(sha)
        if not marks:
            return None
        model = next((m.model for m in marks if m.model), None)
        return Origin("ai", "trailer", _TRAILER, agent=marks[0].agent, model=model)

    def note(self, sha: str) -> CommitNote | None:
        """The codewitness note of ``sha`` (``None`` when absent).

        Raises:
            NoteError: the note exists but cannot be read.
        """
        return read_note(self.root, sha)

    # -- internals ----------------------------------------------------------------------------

    def _blame_file(self, rel: str) -> dict[int, tuple[str, str, int]]:
        if rel in self._blame:
            return self._blame[rel]
        try:
            rows = blame_porcelain(self.root, None, rel, detect_moves=False)
        except GitError:
            rows = []  # untracked file or not in HEAD: nothing is known
        lines = {number: (row.commit, row.orig_path, row.orig_line) for number, row in enumerate(rows, 1)}
        self._blame[rel] = lines
        return lines

    @lru_cache(maxsize=4096)  # noqa: B019 - one Attribution lives for one check run
    def _note(self, sha: str) -> CommitNote | None:
        try:
            return read_note(self.root, sha)
        except (NoteError, GitError):
            return None

    @lru_cache(maxsize=4096)  # noqa: B019 - one Attribution lives for one check run
    def _marks(self, sha: str) -> tuple[AgentMark, ...]:
        out = run_git(["show", "-s", "--format=%an <%ae>%x00%cn <%ce>%x00%B", sha], cwd=self.root)
        author, _, rest = out.partition("\x00")
        committer, _, message = rest.partition("\x00")
        return agent_marks(message, author=author, committer=committer)
