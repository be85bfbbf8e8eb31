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

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from codewitness._git import blame_porcelain, git_available, run_git
from codewitness.attribution.notes import CommitNote, NoteError, read_note
from codewitness.attribution.trailers import AgentMark, agent_marks
from codewitness.errors import CodewitnessError, GitError
from codewitness.model import Origin

if TYPE_CHECKING:
    from codewitness.attribution.blame import Attributor
    from codewitness.attribution.functions import FunctionSpan

__all__ = ["Attribution", "CommitInfo", "commits_between"]

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


class Attribution:
    """Line-level "did an agent write this?" answers for one repository, cached per file and commit.

    Args:
        root: the repository root.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.usable = git_available() and (root / ".git").exists()
        self._blame: dict[str, dict[int, tuple[str, str, int]]] = {}
        self._engine: Attributor | None = None
        self._engine_failed = False
        self._dirty: set[str] | None = None
        self._origins: dict[str, list[Origin]] = {}
        self._spans: dict[str, tuple[str, list[FunctionSpan]]] = {}

    def ai_authored(self, rel: str, line: int) -> bool | None:
        """True when an agent wrote ``line`` of ``rel``, False when a person did, None when unknown."""
        origin = self.origin(rel, line)
        return None if origin is None else _AI.get(origin.kind)

    def origin(self, rel: str, line: int) -> Origin | None:
        """Who wrote ``line`` of ``rel`` (numbered as in the working tree), or ``None`` when nothing is known."""
        if not self.usable:
            return None
        if rel not in self._dirty_files():
            origins = self._engine_origins(rel)
            if origins is not None:
                return origins[line - 1] if 0 < line <= len(origins) else None
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
        inside = [s for s in spans if s.start_line <= line <= s.end_line]
        if not inside:
            return None
        span = max(inside, key=lambda s: s.start_line)
        return module, span.qualname, span.start_line, span.end_line

    def _read_spans(self, rel: str) -> tuple[str, list[FunctionSpan]]:
        from codewitness.attribution.functions import function_spans, module_name

        parts = rel.split("/")[:-1]
        packages = {
            "/".join([*parts[:i], "__init__.py"])
            for i in range(1, len(parts) + 1)
            if (self.root.joinpath(*parts[:i], "__init__.py")).is_file()
        }
        try:
            source = (self.root / rel).read_text(encoding="utf-8")
            return module_name(rel, packages), function_spans(source)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError, RecursionError):
            return "", []  # not readable as Python: the finding names no function

    def prefetch(self, rels: Iterable[str]) -> None:
        """Attribute many files at once (the engine blames them in parallel) before asking line by line."""
        if not self.usable:
            return
        wanted = sorted({rel for rel in rels if rel not in self._origins and rel not in self._dirty_files()})
        engine = self._get_engine()
        if not wanted or engine is None:
            return
        try:
            entries = [e for e in engine.files(wanted) if e.path in set(wanted)]
            for result in engine.attribute(entries):
                self._origins[result.path] = [line.origin for line in result.lines]
        except CodewitnessError:
            return  # line-by-line lookups will try again and fall back

    def close(self) -> None:
        """Stop the engine's git processes."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def _dirty_files(self) -> set[str]:
        if self._dirty is None:
            out = run_git(
                ["-c", "core.quotepath=off", "status", "--porcelain", "-z", "--untracked-files=all"],
                cwd=self.root,
                check=False,
            )
            self._dirty = {entry[3:] for entry in out.split("\0") if len(entry) > 3}
        return self._dirty

    def _engine_origins(self, rel: str) -> list[Origin] | None:
        if rel in self._origins:
            return self._origins[rel]
        engine = self._get_engine()
        if engine is None:
            return None
        try:
            lines = engine.attribute_path(rel).lines
        except CodewitnessError:
            return None  # not in HEAD (new file): the working-tree path decides
        self._origins[rel] = [line.origin for line in lines]
        return self._origins[rel]

    def _get_engine(self) -> Attributor | None:
        if self._engine is None and not self._engine_failed:
            from codewitness.attribution.blame import Attributor

            try:
                self._engine = Attributor(self.root, "HEAD")
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
