"""``codewitness doctor``: is this clone set up so that attribution is captured, shared and kept?

A teammate's fresh clone has the agent settings (they are committed) but none of the git side:
no git hooks, no notes refspecs, no notes. :func:`diagnose` checks, in order:

* ``hooks`` — every git hook capture needs is installed, ours, and runs an interpreter that exists;
* ``refspecs`` — every remote fetches its notes into a tracking ref and pushes the local notes (and
  no remote still has the refspec that fetched over local notes);
* ``notes fetched`` — each remote's notes (``git ls-remote``) are the ones fetched here;
* ``notes merged`` — fetched notes are merged into the local notes;
* ``notes reachable`` — how many notes hang on commits HEAD does not reach (unmerged branches,
  branches merged by squash or rebase) or this clone does not have; and whether recent commits a
  forge made (naming a pull request, or merging one) lack the note ``codewitness notes
  consolidate`` gives them;
* ``journal`` — the pending journal opens and passes SQLite's check; edits waiting long are named;
* ``hook log`` — errors the hooks logged recently.

With ``fix=True`` it repairs what it can (hooks, refspecs, fetching and merging notes; a journal
that fails the check is moved aside, never deleted) and checks again.

Example:
    >>> report = diagnose(Path("."), fix=True)  # doctest: +SKIP
    >>> [(c.name, c.status) for c in report.checks]  # doctest: +SKIP
    [('hooks', 'fixed'), ('refspecs', 'fixed'), ('notes fetched', 'fixed'), ...]
"""

from __future__ import annotations

import os
import re
import shlex
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from codewitness import _git
from codewitness.attribution.notes import NOTES_REF, TRACKING_PATTERN, all_notes, tracking_ref
from codewitness.capture import sync
from codewitness.capture.setup import GIT_HOOKS, HOOK_MARK, NOTES_PUSH, hook_script, install_git
from codewitness.errors import GitError

__all__ = ["STALE_EDIT_DAYS", "Check", "DoctorReport", "diagnose"]

Status = Literal["ok", "warn", "fail", "fixed"]

#: Pending edits older than this are named: they were never committed, or their commit was not linked.
STALE_EDIT_DAYS = 14
#: Commits of HEAD's first-parent line checked for forge merges without a note.
RECENT_COMMITS = 100
#: Hook log lines read for errors (the log rotates at 1 MB).
_LOG_TAIL = 400


@dataclass
class Check:
    """One check: its status, what was found, and what to do about it."""

    name: str
    status: Status
    detail: str
    fix: str | None = None  # what `--fix` does, or the command to run

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


@dataclass
class DoctorReport:
    """Every check, in order."""

    checks: list[Check] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """No check failed (warnings and fixed problems are fine)."""
        return all(c.status != "fail" for c in self.checks)

    def to_dict(self) -> dict[str, object]:
        return {"healthy": self.healthy, "checks": [c.to_dict() for c in self.checks]}


def diagnose(root: Path, *, fix: bool = False, network: bool = True) -> DoctorReport:
    """Check the clone at ``root`` (the top of its work tree); repair what can be with ``fix``.

    Args:
        root: the repository's top folder.
        fix: install missing hooks and refspecs, fetch and merge notes, move a broken journal aside.
        network: ask the remotes what notes they have (``git ls-remote``); off, that check is skipped.

    Raises:
        GitError: ``root`` is not a git work tree.
    """
    root = _git.repo_root(root)
    report = DoctorReport()
    setup_checks = [_hooks(root), _refspecs(root)]
    if fix and any(c.status == "fail" for c in setup_checks):
        for remote in _git.remotes(root):
            # It fetched over the local notes, whoever set it: the tracking refspec replaces it.
            _git.unset_config(root, f"remote.{remote}.fetch", sync.LEGACY_FETCH_REFSPEC)
        install_git(root)
        for check in setup_checks:
            if check.status == "fail":
                again = _hooks(root) if check.name == "hooks" else _refspecs(root)
                check.status = "fixed" if again.status == "ok" else again.status
                check.detail = f"{check.detail} -> {again.detail}"
    report.checks += setup_checks
    report.checks.append(_fetched(root, fix) if network else Check("notes fetched", "warn", "not asked (--offline)"))
    report.checks.append(_merged(root, fix))
    report.checks.append(_reachable(root))
    report.checks.append(_journal(root, fix))
    report.checks.append(_hook_log(root))
    return report


# -- the git side -----------------------------------------------------------------------------------

_PYTHON = re.compile(r"('[^']*'|\S+) -m codewitness\.capture\.hook")


def _hooks(root: Path) -> Check:
    folder = _git.git_path(root, "hooks")
    missing, foreign, stale = [], [], []
    for hook in GIT_HOOKS:
        path = folder / hook
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            missing.append(hook)
            continue
        if HOOK_MARK not in text:
            foreign.append(hook)
            continue
        found = _PYTHON.search(text)
        python = shlex.split(found.group(1))[0] if found else ""
        if not python or not os.access(python, os.X_OK) or text != hook_script(hook, python):
            stale.append(hook)
    if not (missing or foreign or stale):
        return Check("hooks", "ok", f"{len(GIT_HOOKS)} git hooks installed in {folder}")
    parts = []
    if missing:
        parts.append(f"missing: {', '.join(missing)}")
    if foreign:
        parts.append(f"not ours (run `codewitness init` to chain them): {', '.join(foreign)}")
    if stale:
        parts.append(f"from another codewitness or interpreter: {', '.join(stale)}")
    return Check("hooks", "fail", "; ".join(parts), "install the git hooks (`codewitness doctor --fix`)")


def _refspecs(root: Path) -> Check:
    remotes = _git.remotes(root)
    if not remotes:
        return Check("refspecs", "warn", "no remotes: notes stay in this clone", "git remote add, then doctor --fix")
    problems = []
    for remote in remotes:
        fetches = _git.config_values(root, f"remote.{remote}.fetch")
        if sync.LEGACY_FETCH_REFSPEC in fetches:
            problems.append(f"{remote} fetches notes over the local ones ({sync.LEGACY_FETCH_REFSPEC})")
        if sync.fetch_refspec(remote) not in fetches:
            problems.append(f"{remote} does not fetch notes")
        if sync.push_enabled(root) and NOTES_PUSH not in _git.config_values(root, f"remote.{remote}.push"):
            problems.append(f"{remote} does not push notes")
    if not problems:
        pushed = "fetched and pushed" if sync.push_enabled(root) else "fetched (capture.push_notes is false)"
        return Check("refspecs", "ok", f"notes {pushed} on {', '.join(remotes)}")
    return Check("refspecs", "fail", "; ".join(problems), "set the notes refspecs (`codewitness doctor --fix`)")


def _fetched(root: Path, fix: bool) -> Check:
    remotes = _git.remotes(root)
    if not remotes:
        return Check("notes fetched", "ok", "no remotes")
    behind, unreachable, fetched = [], [], []
    for remote in remotes:
        try:
            theirs = _git.remote_ref(root, remote, NOTES_REF)
        except GitError as exc:
            unreachable.append(f"{remote} ({exc})")
            continue
        if theirs is None:
            continue
        mine = _git.resolve(root, tracking_ref(remote), commit=False)
        if mine == theirs or (mine is not None and _has_object(root, theirs) and _git.is_ancestor(root, theirs, mine)):
            continue
        if fix and sync.fetch_notes(root, remote):
            fetched.append(remote)
        else:
            behind.append(remote)
    if behind:
        return Check("notes fetched", "fail", f"newer notes on {', '.join(behind)}", "git fetch (or doctor --fix)")
    if unreachable:
        return Check("notes fetched", "warn", f"could not ask {'; '.join(unreachable)}")
    if fetched:
        return Check("notes fetched", "fixed", f"fetched the notes of {', '.join(fetched)}")
    return Check("notes fetched", "ok", "every remote's notes are fetched")


def _has_object(root: Path, oid: str) -> bool:
    return _git.resolve(root, oid, commit=False) is not None


def _merged(root: Path, fix: bool) -> Check:
    local = _git.resolve(root, NOTES_REF, commit=False)
    pending = [
        ref
        for ref, tip in sorted(_git.for_each_ref(root, TRACKING_PATTERN).items())
        if local is None or not _git.is_ancestor(root, tip, local)
    ]
    if not pending:
        return Check("notes merged", "ok", "fetched notes are merged into the local notes")
    if fix:
        merged = sync.merge_remote_notes(root)
        return Check("notes merged", "fixed", f"merged {', '.join(merged)}")
    return Check(
        "notes merged", "warn", f"not merged yet: {', '.join(pending)} (readers see them anyway)", "doctor --fix"
    )


def _reachable(root: Path) -> Check:
    noted = all_notes(root)
    head = _git.resolve(root, "HEAD")
    if head is None:
        return Check("notes reachable", "ok", "no commits yet")
    present = _git.existing_commits(root, noted)
    outside = _git.outside_history(root, present, head)
    detail = f"{len(noted)} notes; {len(outside)} on commits HEAD does not reach"
    if len(noted) > len(present):
        detail += f", {len(noted) - len(present)} on commits this clone does not have"
    # Commits a forge made (they name a pull request, or merge one) that got no note yet.
    recent = _git.rev_list(root, head, "--first-parent", f"--max-count={RECENT_COMMITS}")
    missing = [sha for sha in recent if sha not in noted and _forge_made(root, sha)]
    if not missing:
        return Check("notes reachable", "ok", detail)
    oldest = missing[-1]
    return Check(
        "notes reachable",
        "warn",
        f"{detail}; {len(missing)} of the last {len(recent)} commits on HEAD were merged by a forge and have no note",
        f"codewitness notes consolidate --since {oldest[:12]}^ (CI does it on every push: docs/capture.md)",
    )


def _forge_made(root: Path, sha: str) -> bool:
    from codewitness.attribution.consolidate import pull_requests

    info = _git.read_commit(root, sha)
    return info is not None and (len(info.parents) > 1 or bool(pull_requests(info.message)))


# -- this machine's capture state -------------------------------------------------------------------


def _journal(root: Path, fix: bool) -> Check:
    from codewitness.capture.journal import JOURNAL_NAME, Journal

    folder = root / ".codewitness"
    path = folder / JOURNAL_NAME
    if not path.exists():
        return Check("journal", "ok", "no pending journal yet (no agent edit captured here)")
    try:
        with Journal.open(folder) as journal:
            problem, count, oldest = journal.health()
    except (sqlite3.Error, OSError) as exc:
        problem, count, oldest = f"{type(exc).__name__}: {exc}", 0, None
    if problem is not None:
        if fix:
            aside = path.with_name(f"{JOURNAL_NAME}.broken-{time.strftime('%Y%m%dT%H%M%S')}")
            os.replace(path, aside)
            return Check("journal", "fixed", f"{problem}; moved to {aside.name}, a new one starts")
        return Check("journal", "fail", problem, "doctor --fix moves it aside (its edits stay in the file)")
    if not count:
        return Check("journal", "ok", "no pending agent edits")
    age = (time.time() - oldest) / 86_400 if oldest is not None else 0.0
    detail = f"{count} pending agent edits, the oldest {age:.0f} days old"
    if age > STALE_EDIT_DAYS:
        return Check("journal", "warn", detail, "commit them, or see `codewitness status`")
    return Check("journal", "ok", detail)


def _hook_log(root: Path) -> Check:
    path = root / ".codewitness" / "log"
    try:
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            lines = handle.readlines()[-_LOG_TAIL:]
    except OSError:
        return Check("hook log", "ok", "no hook log")
    errors = [line.strip() for line in lines if ": error: " in line]
    if not errors:
        return Check("hook log", "ok", f"no errors in the last {len(lines)} lines")
    return Check("hook log", "warn", f"{len(errors)} errors; last: {errors[-1][:300]}", f"see {path}")
