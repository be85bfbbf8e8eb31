"""Why attribution found no AI-written code: what evidence a history holds, and what to do next.

``codewitness report`` showing 0% and ``manifest build`` writing 0 functions are right answers
for a history without evidence, and useless ones without the reason. :func:`census` counts, in
the history of a revision, the commits that carry each kind of evidence the blame engine reads
(codewitness notes, local or fetched; git-ai and imported notes; agent marks in commit messages
and accounts); :meth:`EvidenceCensus.explain` turns the counts into one paragraph that says
what was looked at and what to run.

Example:
    >>> census(Path("."), "HEAD").explain("HEAD")  # doctest: +SKIP
    'no AI evidence in the 212 commits of HEAD: no codewitness or git-ai notes, no agent marks ...'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codewitness._git import for_each_ref, list_notes, run_git
from codewitness.attribution.blame import IMPORT_REF
from codewitness.attribution.gitai import GITAI_REF
from codewitness.attribution.notes import NOTES_REF, TRACKING_PATTERN
from codewitness.attribution.trailers import agent_marks

__all__ = ["EvidenceCensus", "census"]

#: The most commits :func:`census` reads (newest first); older ones are not counted.
SCAN_LIMIT = 20_000


@dataclass(frozen=True)
class EvidenceCensus:
    """Commits of one history by the evidence they carry.

    Attributes:
        commits: commits read (the newest :data:`SCAN_LIMIT` at most).
        complete: whether that is the whole history.
        noted: commits with a codewitness note (local, or fetched from a remote).
        imported: commits with a git-ai note or an imported record.
        marked: commits an agent marked (trailer, message line, or an agent's account).
        notes_anywhere: codewitness notes in the repository at all, on any commit.
        shallow: the clone is shallow (older lines are unknown).
    """

    commits: int
    complete: bool
    noted: int
    imported: int
    marked: int
    notes_anywhere: int
    shallow: bool

    @property
    def any(self) -> bool:
        """Whether any commit of the history carries AI evidence."""
        return bool(self.noted or self.imported or self.marked)

    def explain(self, rev: str, *, scope: str = "") -> str:
        """Why no line of ``rev`` (under ``scope``, when given) is AI-written, and what to do."""
        where = f" under {scope}" if scope else ""
        history = f"{self.commits}{'' if self.complete else '+'} commit(s) of {rev}"
        if self.any:
            kinds = ", ".join(
                f"{n} {what}"
                for n, what in (
                    (self.noted, "with codewitness notes"),
                    (self.imported, "with git-ai or imported notes"),
                    (self.marked, "marked by an agent"),
                )
                if n
            )
            return (
                f"no AI-written line{where} at {rev}, although {kinds} of the {history}: the lines those commits "
                "added are gone or were changed by later commits (a line belongs to the commit that last changed "
                "it); `codewitness report --json` counts lines by evidence (by_evidence)"
            )
        parts = [
            f"no AI evidence in the {history}: no codewitness or git-ai notes on them and no agent marks "
            "(Co-Authored-By: Claude, Copilot or Cursor accounts, 'Generated with ...' lines)"
        ]
        if self.notes_anywhere:
            parts.append(
                f"{self.notes_anywhere} codewitness note(s) exist but on commits outside this history "
                "(another branch, or rewritten commits: `codewitness doctor` checks)"
            )
        parts.append(
            "edits agents make from now on are captured after `codewitness init` (a note on each new commit); "
            "a teammate's notes arrive with `git fetch origin 'refs/notes/*:refs/notes/*'`"
        )
        if self.shallow:
            parts.append("this clone is shallow: `git fetch --unshallow` reads the rest of the history")
        return "; ".join(parts)


def census(root: Path, rev: str, *, limit: int = SCAN_LIMIT) -> EvidenceCensus:
    """Count the commits of ``rev``'s history (newest ``limit``) by the AI evidence they carry.

    Raises:
        GitError: ``root`` is not a repository or ``rev`` does not exist.
    """
    log = run_git(
        ["log", f"-n{limit + 1}", "--format=%H%x00%an <%ae>%x00%cn <%ce>%x00%B%x1e", rev, "--"], cwd=root
    )
    records = [r.strip("\n") for r in log.split("\x1e") if r.strip("\n")]
    complete = len(records) <= limit
    records = records[:limit]
    shas: set[str] = set()
    marked = 0
    for record in records:
        sha, author, committer, message = [*record.split("\x00", 3), "", "", ""][:4]
        shas.add(sha)
        if agent_marks(message, author=author, committer=committer):
            marked += 1
    ours: set[str] = set()
    for ref in (NOTES_REF, *sorted(for_each_ref(root, TRACKING_PATTERN))):
        ours.update(list_notes(root, ref))
    others: set[str] = set()
    for ref in (GITAI_REF, IMPORT_REF):
        others.update(list_notes(root, ref))
    shallow = run_git(["rev-parse", "--is-shallow-repository"], cwd=root).strip() == "true"
    return EvidenceCensus(
        commits=len(records),
        complete=complete,
        noted=len(ours & shas),
        imported=len(others & shas),
        marked=marked,
        notes_anywhere=len(ours),
        shallow=shallow,
    )
