"""Who changed a function between two revisions, and which commits changed the agents' context.

:func:`changed_by` attributes the lines of a function at the new revision and keeps those that
changed since the old one (their commit is not in the old revision's history): the generations,
models and prompt versions behind them (from the notes and the ledger), whether a person wrote or
edited any of them, and whether the working tree holds uncommitted changes to the file (not
attributed: nothing records them yet).

:func:`last_context_change` finds the newest commit that changed an agent context file
(``CLAUDE.md``, ``AGENTS.md``, ``.cursorrules``, ``.cursor/rules/*``, ``GEMINI.md``; configurable as
``metrics.context_files``), and :func:`ai_functions_since` the functions whose AI-written lines
came after it.

Example:
    >>> found = changed_by(store, root, "shop.pricing.total", old="v1", new=None)  # doctest: +SKIP
    >>> [g.id for g in found.generations], found.human_lines  # doctest: +SKIP
    (['gen_4be0...'], 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codewitness._git import dirty_paths, last_commit_touching, read_commit, rev_list, run_git
from codewitness.errors import CodewitnessError

if TYPE_CHECKING:
    from codewitness.attribution.blame import Attributor
    from codewitness.store import Store

__all__ = ["Author", "ChangedBy", "ContextChange", "ai_functions_since", "changed_by", "last_context_change"]


@dataclass(frozen=True)
class Author:
    """A generation behind changed lines, as the ledger knows it (only the id when it does not)."""

    id: str
    model: str | None = None
    agent: str | None = None
    prompt_name: str | None = None
    prompt_version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"id", "model", "agent", "prompt_name", "prompt_version"}``."""
        return {
            "id": self.id,
            "model": self.model,
            "agent": self.agent,
            "prompt_name": self.prompt_name,
            "prompt_version": self.prompt_version,
        }

    def text(self) -> str:
        """``gen_4be0... (claude-sonnet-4-5, prompt pricing@3)``."""
        parts = [p for p in (self.model, self.agent if not self.model else None) if p]
        if self.prompt_name:
            parts.append(f"prompt {self.prompt_name}@{self.prompt_version}")
        return self.id + (f" ({', '.join(parts)})" if parts else "")


@dataclass(frozen=True)
class ChangedBy:
    """Who changed one function's lines between two revisions.

    Attributes:
        path: the function's file (``None`` when it is not in the new revision's tree).
        start_line: its first line at the new revision.
        end_line: its last line.
        changed_lines: non-blank lines of the function changed since the old revision.
        generations: the generations behind the changed lines (AI or AI-then-edited lines).
        human_lines: changed lines a person wrote or edited.
        commits: the commits the changed lines came from, oldest first.
        uncommitted: the working tree changes the file (on top of what is attributed).
    """

    path: str | None
    start_line: int | None
    end_line: int | None
    changed_lines: int
    generations: tuple[Author, ...]
    human_lines: int
    commits: tuple[str, ...]
    uncommitted: bool

    @property
    def human_edited(self) -> bool:
        """Whether a person wrote or edited any changed line."""
        return self.human_lines > 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "changed_lines": self.changed_lines,
            "generations": [g.to_dict() for g in self.generations],
            "human_edited": self.human_edited,
            "human_lines": self.human_lines,
            "commits": list(self.commits),
            "uncommitted": self.uncommitted,
        }


def _locate(engine: Attributor, function: str) -> tuple[str, str] | None:
    """The file and local qualname of ``function`` (``module.qualname``) at the engine's revision."""
    from codewitness.attribution.functions import module_name

    tree = frozenset(e.path for e in engine.files())
    best: tuple[str, str] | None = None
    for path in sorted(tree):
        if not path.endswith(".py"):
            continue
        module = module_name(path, tree)
        if function.startswith(module + ".") and (best is None or len(module) > len(best[1])):
            best = (path, module)
    if best is None:
        return None
    return best[0], function[len(best[1]) + 1 :]


def _authors(store: Store | None, ids: list[str], fallback: dict[str, tuple[str | None, str | None]]) -> list[Author]:
    from codewitness import ledger

    out = []
    for gid in ids:
        model, agent = fallback.get(gid, (None, None))
        if store is not None:
            try:
                g = ledger.get(store, gid)
            except CodewitnessError:
                g = None
            if g is not None and g.id == gid:
                out.append(Author(gid, g.model, g.agent, g.prompt_name, g.prompt_version))
                continue
        out.append(Author(gid, model, agent))
    return out


def changed_by(store: Store | None, root: Path, function: str, *, old: str, new: str | None) -> ChangedBy:
    """Who changed ``function`` between commit ``old`` and ``new`` (``None``: the working tree,
    attributed at ``HEAD``, with uncommitted changes flagged).

    Raises:
        GitError: git failed.
        NotFoundError: a revision names no commit.
    """
    from codewitness.attribution.blame import Attributor
    from codewitness.attribution.functions import function_spans

    with Attributor(root, new or "HEAD") as engine:
        located = _locate(engine, function)
        if located is None:
            return ChangedBy(None, None, None, 0, (), 0, (), False)
        path, local = located
        lines = engine.attribute_path(path).lines
        try:
            spans = function_spans("\n".join(line.text for line in lines))
        except (SyntaxError, ValueError, RecursionError):
            spans = []
        span = next((s for s in spans if s.qualname == local), None)
        uncommitted = new is None and bool(dirty_paths(engine.root, [path]))
        if span is None:
            return ChangedBy(path, None, None, 0, (), 0, (), uncommitted)
        fresh = set(rev_list(engine.root, f"{old}..{engine.commit}"))
        body = [ln for ln in lines[span.start_line - 1 : span.end_line] if ln.text.strip()]
        changed = [ln for ln in body if ln.commit in fresh]
        ids: dict[str, None] = {}
        fallback: dict[str, tuple[str | None, str | None]] = {}
        for ln in changed:
            if ln.origin.kind in ("ai", "mixed"):
                for gid in ln.origin.generation_ids:
                    ids[gid] = None
                    fallback.setdefault(gid, (ln.origin.model, ln.origin.agent))
        human = sum(1 for ln in changed if ln.origin.kind in ("human", "mixed"))
        order = {sha: i for i, sha in enumerate(reversed(rev_list(engine.root, f"{old}..{engine.commit}")))}
        commits = sorted({ln.commit for ln in changed}, key=lambda sha: order.get(sha, 0))
        return ChangedBy(
            path=path,
            start_line=span.start_line,
            end_line=span.end_line,
            changed_lines=len(changed),
            generations=tuple(_authors(store, list(ids), fallback)),
            human_lines=human,
            commits=tuple(commits),
            uncommitted=uncommitted,
        )


@dataclass(frozen=True)
class ContextChange:
    """The newest commit that changed an agent context file, and the revision before it."""

    commit: str
    parent: str
    subject: str
    files: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"commit": self.commit, "parent": self.parent, "subject": self.subject, "files": list(self.files)}


def last_context_change(root: Path, patterns: tuple[str, ...], rev: str = "HEAD") -> ContextChange | None:
    """The newest commit reachable from ``rev`` that changed a file matching ``patterns``, or ``None``.

    Raises:
        InputError: that commit has no parent (there is no revision before it to replay against).
        GitError: git failed.
    """
    from codewitness.errors import InputError

    commit = last_commit_touching(root, rev, patterns)
    if commit is None:
        return None
    info = read_commit(root, commit)
    parents = info.parents if info is not None else ()
    if not parents:
        raise InputError(
            f"the newest context change, {commit[:10]}, is the first commit: there is no revision before it"
        )
    specs = [f":(glob){p}" for p in patterns]
    files = run_git(["diff", "--name-only", parents[0], commit, "--", *specs], cwd=root).split()
    subject = info.message.splitlines()[0] if info is not None and info.message else ""
    return ContextChange(commit=commit, parent=parents[0], subject=subject, files=tuple(files))


def ai_functions_since(root: Path, since: str, rev: str = "HEAD") -> list[str]:
    """The functions (``module.qualname``) at ``rev`` with AI-written lines from commits after ``since``.

    Raises:
        GitError: git failed.
    """
    from codewitness.attribution.blame import Attributor
    from codewitness.attribution.functions import function_spans, module_name

    fresh = set(rev_list(root, f"{since}..{rev}"))
    if not fresh:
        return []
    changed = [p for p in run_git(["diff", "--name-only", since, rev, "--", "*.py"], cwd=root).split() if p]
    found: list[str] = []
    with Attributor(root, rev) as engine:
        tree = frozenset(e.path for e in engine.files())
        for path in changed:
            if path not in tree:
                continue
            lines = engine.attribute_path(path).lines
            try:
                spans = function_spans("\n".join(line.text for line in lines))
            except (SyntaxError, ValueError, RecursionError):
                continue
            module = module_name(path, tree)
            for span in spans:
                body = lines[span.start_line - 1 : span.end_line]
                if any(ln.commit in fresh and ln.origin.kind in ("ai", "mixed") for ln in body):
                    found.append(f"{module}.{span.qualname}")
    return sorted(set(found))
