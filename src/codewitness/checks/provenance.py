"""Provenance checks (CW4xx): AI-marked commits without an attribution record, and metadata policy.

For every commit in ``--base..HEAD``:

* agent marks (trailers such as ``Co-Authored-By: Claude``) but neither a codewitness note
  (``refs/notes/codewitness``) nor a git-ai note (``refs/notes/ai``) -> CW401;
* a codewitness note whose AI entries lack a field that ``check.required_metadata`` demands
  (``agent``, ``model``, ``session``, ``generations``) -> CW402;
* a codewitness note that cannot be read -> CW403.

Commit-level findings point at line 1 of the first file the commit changed, so code-scanning
tools can show them.

Example:
    >>> run(CheckContext(root=Path("."), files=[]))  # no --base: nothing to compare
    []
"""

from __future__ import annotations

from pathlib import Path

from codewitness._git import git_available, run_git
from codewitness.attribution.notes import NoteError, read_note, read_note_text
from codewitness.checks.attribution import commits_between
from codewitness.checks.context import CheckContext
from codewitness.checks.findings import Finding

__all__ = ["GITAI_REF", "METADATA_FIELDS", "run"]

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
    for commit in commits_between(ctx.root, ctx.base):
        short = commit.sha[:12]
        path = _first_file(ctx.root, commit.sha)
        snippet = f"commit {commit.sha}"
        marks = commit.marks
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


def _has(entry: object, field: str) -> bool:
    value = {"agent": "agent", "model": "model", "session": "session_id", "generations": "generation_ids"}[field]
    return bool(getattr(entry, value))


def _first_file(root: Path, sha: str) -> str:
    out = run_git(["diff-tree", "-z", "--no-commit-id", "--name-only", "-r", "--root", sha], cwd=root, check=False)
    names = [n for n in out.split("\0") if n]
    return names[0] if names else "."
