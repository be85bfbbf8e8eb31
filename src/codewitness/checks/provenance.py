"""Provenance checks (CW4xx): AI-marked commits without an attribution record, and metadata policy.

For every commit in ``--base..HEAD``:

* agent marks (trailers such as ``Co-Authored-By: Claude``) but neither a codewitness note
  (``refs/notes/codewitness``) nor a git-ai note (``refs/notes/ai``) -> CW401, for commits since the
  project adopted codewitness (``check.provenance_since``, default ``adoption``: from the oldest commit
  carrying such a note or adding codewitness configuration). History that predates the tool cannot
  have its records: those commits are counted as not judged, never reported;
* a codewitness note whose AI entries lack a field that ``check.required_metadata`` demands
  (``agent``, ``model``, ``session``, ``generations``) -> CW402;
* a codewitness note that cannot be read -> CW403;
* ``Codewitness-Generation`` trailers (written by the prepare-commit-msg hook when
  ``capture.commit_trailer`` is on) that name generations the note does not credit, or a note
  without them when trailers are on, or trailers on a commit with no note -> CW404.

Commit-level findings point at line 1 of the first file the commit changed, so code-scanning
tools can show them.

Example:
    >>> run(CheckContext(root=Path("."), files=[]))  # no --base: nothing to compare
    []
"""

from __future__ import annotations

from pathlib import Path

from codewitness._git import git_available, run_git
from codewitness.attribution.notes import NOTES_REF, CommitNote, NoteError, read_note, read_note_text
from codewitness.attribution.trailers import generation_trailers
from codewitness.checks.attribution import commits_between
from codewitness.checks.context import CheckContext
from codewitness.checks.findings import Finding

__all__ = ["GITAI_REF", "METADATA_FIELDS", "adoption_commit", "run"]

GITAI_REF = "refs/notes/ai"
METADATA_FIELDS = ("agent", "model", "session", "generations")


def run(ctx: CheckContext) -> list[Finding]:
    """Check the commits between ``ctx.base`` and HEAD (nothing without a base or outside git)."""
    if not ctx.base or not git_available() or not (ctx.root / ".git").exists():
        return []
    unknown = [f for f in ctx.settings.required_metadata if f not in METADATA_FIELDS]
    if unknown:
        from codewitness.errors import ConfigError

        raise ConfigError(
            f"check.required_metadata: unknown field(s) {', '.join(unknown)}; use {', '.join(METADATA_FIELDS)}"
        )
    findings: list[Finding] = []
    trailers_on = _trailers_on(ctx.root)
    commits = commits_between(ctx.root, ctx.base)
    judged = _judged(ctx, [c.sha for c in commits if c.marks])
    for commit in commits:
        short = commit.sha[:12]
        path = _first_file(ctx.root, commit.sha)
        snippet = f"commit {commit.sha}"
        marks = commit.marks if commit.sha in judged else ()
        try:
            note = read_note(ctx.root, commit.sha)
        except NoteError as exc:
            findings.append(
                Finding(
                    "CW403",
                    path,
                    1,
                    f"commit {short}: {exc}",
                    snippet=snippet,
                    properties={"commit": commit.sha},
                )
            )
            continue
        trailer = _trailer_finding(commit.sha, commit.message, note, trailers_on, path)
        if trailer is not None:
            findings.append(trailer)
        if note is None:
            if marks and read_note_text(ctx.root, commit.sha, ref=GITAI_REF) is None:
                agents = ", ".join(sorted({m.agent for m in marks}))
                findings.append(
                    Finding(
                        "CW401",
                        path,
                        1,
                        f"commit {short} is marked as written with {agents} but has no attribution note",
                        ai_authored=True,
                        snippet=snippet,
                        properties={"commit": commit.sha, "marks": [m.text for m in marks]},
                    )
                )
            continue
        for field in ctx.settings.required_metadata:
            lacking = sorted(
                {
                    p
                    for p, entries in note.files.items()
                    for e in entries
                    if e.origin in ("ai", "mixed") and not _has(e, field)
                }
            )
            if lacking:
                findings.append(
                    Finding(
                        "CW402",
                        lacking[0],
                        1,
                        f"commit {short}: AI lines in {len(lacking)} file(s) lack {field!r}",
                        ai_authored=True,
                        snippet=f"{snippet} {field}",
                        properties={"commit": commit.sha, "field": field, "files": lacking},
                    )
                )
    return findings


def adoption_commit(root: Path) -> str | None:
    """The oldest commit of HEAD's history that carries a codewitness or git-ai note or adds codewitness
    configuration (``[tool.codewitness]`` in ``pyproject.toml``, a ``codewitness.toml``); ``None`` if none does."""
    shas: set[str] = set()
    for ref in (NOTES_REF, GITAI_REF):
        out = run_git(["notes", f"--ref={ref}", "list"], cwd=root, check=False)
        shas.update(parts[1] for parts in (line.split() for line in out.splitlines()) if len(parts) == 2)
    shas.update(
        run_git(
            ["log", "--format=%H", "-G", r"^\[tool\.codewitness", "--", "pyproject.toml"], cwd=root, check=False
        ).split()
    )
    shas.update(
        run_git(["log", "--format=%H", "--diff-filter=A", "--", "codewitness.toml"], cwd=root, check=False).split()
    )
    if not shas:
        return None
    # Oldest first among those HEAD reaches (a note may sit on a commit of another branch).
    out = run_git(["rev-list", "--topo-order", "--reverse", "HEAD"], cwd=root, check=False)
    return next((sha for sha in out.split() if sha in shas), None)


def _judged(ctx: CheckContext, commits: list[str]) -> set[str]:
    """The commits CW401 judges, per ``check.provenance_since``; the others are counted in ``ctx.skipped``."""
    since = ctx.settings.provenance_since
    if since == "base" or not commits:
        return set(commits)
    start = adoption_commit(ctx.root) if since == "adoption" else _commit_of(ctx.root, since)
    if start is None:
        ctx.skipped.append(
            (
                "provenance",
                f"{len(commits)} agent-marked commit(s) not judged for CW401: no commit carries a codewitness or "
                "git-ai note or codewitness config, so the history predates adopting it "
                "(check.provenance_since = 'base' judges them)",
            )
        )
        return set()
    parents = run_git(["rev-parse", f"{start}^@"], cwd=ctx.root, check=False).split()
    since_start = set(run_git(["rev-list", "HEAD", *(f"^{p}" for p in parents)], cwd=ctx.root).split())
    judged = {c for c in commits if c in since_start}
    if len(judged) < len(commits):
        what = "adopting codewitness" if since == "adoption" else since
        ctx.skipped.append(
            (
                "provenance",
                f"{len(commits) - len(judged)} agent-marked commit(s) before {what} ({start[:12]}) "
                "not judged for CW401 (check.provenance_since)",
            )
        )
    return judged


def _commit_of(root: Path, rev: str) -> str:
    sha = run_git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd=root, check=False).strip()
    if not sha:
        from codewitness.errors import ConfigError

        raise ConfigError(f"check.provenance_since: {rev!r} is neither 'adoption', 'base' nor a commit")
    return sha


def _has(entry: object, field: str) -> bool:
    value = {"agent": "agent", "model": "model", "session": "session_id", "generations": "generation_ids"}[field]
    return bool(getattr(entry, value))


def _first_file(root: Path, sha: str) -> str:
    out = run_git(["diff-tree", "-z", "--no-commit-id", "--name-only", "-r", "--root", sha], cwd=root, check=False)
    names = [n for n in out.split("\0") if n]
    return names[0] if names else "."


def _trailers_on(root: Path) -> bool:
    """``capture.commit_trailer`` of the project (off when its configuration cannot be read)."""
    from codewitness.config import load_config
    from codewitness.errors import ConfigError

    try:
        return load_config(root).config.capture.commit_trailer
    except ConfigError:
        return False


def _trailer_finding(sha: str, message: str, note: CommitNote | None, trailers_on: bool, path: str) -> Finding | None:
    """CW404 for one commit: its ``Codewitness-Generation`` trailers against its note."""
    named = set(generation_trailers(message))
    short = sha[:12]
    if note is None:
        if not named:
            return None
        text = f"commit {short} names {len(named)} generation(s) in Codewitness-Generation trailers but has no note"
    else:
        credited = {
            g
            for entries in note.files.values()
            for e in entries
            if e.origin in ("ai", "mixed")
            for g in e.generation_ids
        }
        if not named and not (trailers_on and credited):
            return None
        missing, extra = sorted(credited - named), sorted(named - credited)
        if not missing and not extra:
            return None
        parts = []
        if missing:
            parts.append(
                f"the note credits {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''} with no trailer"
            )
        if extra:
            parts.append(
                f"trailers name {', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''} the note does not credit"
            )
        text = f"commit {short}: " + "; ".join(parts)
    return Finding(
        "CW404",
        path,
        1,
        text,
        ai_authored=True,
        snippet=f"commit {sha} trailers",
        properties={"commit": sha, "trailers": sorted(named)},
    )
