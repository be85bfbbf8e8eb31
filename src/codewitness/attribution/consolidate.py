"""Notes for commits a forge made: squash merges, rebase merges and merge commits on GitHub or GitLab.

A pull request merged on the server lands as commits no local hook saw: a **squash** commit (one
commit with the branch's whole change), **rebased** copies of the branch's commits, or a **merge
commit**. The branch's notes stay on the branch's commits, which main no longer reaches after a
squash or a rebase. :func:`consolidate` writes a note on each landed commit from the branch's
notes, line-exact: the branch's final tree (or the original commit, for a rebase) is attributed
with blame and notes and diffed against the landed commit
(:func:`codewitness.attribution.carry.carried_note`).

Which branch a landed commit came from, strongest first:

1. the pull request head given (``--pr-head``);
2. a rebased commit's original: a noted commit outside main with the same author, date and
   subject or patch id (:func:`codewitness.attribution.carry.same_change`);
3. the pull request the message names — GitHub's squash title ``Title (#123)`` and
   ``Merge pull request #123 from ...``, GitLab's ``See merge request group/project!123`` — and the
   forge's ref for it (``refs/pull/123/head``, ``refs/merge-requests/123/head``, or the same under
   ``refs/remotes/<remote>/``), fetched from the remote when asked;
4. the content: the tip of noted commits outside main whose files hold the most of the commit's
   added lines (at least half), preferring branches by the commit's author and ``Co-authored-by``
   people.

A merge commit needs none of this: its other parents are the branch.

Example:
    >>> report = consolidate(Path("."), "origin/main", since="HEAD@{1}")  # doctest: +SKIP
    >>> [(c.commit[:7], c.how, c.found_by) for c in report.consolidated]  # doctest: +SKIP
    [('9c1e2f0', 'squash', 'forge ref refs/pull/12/head')]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from codewitness import _git
from codewitness._git import CommitInfo, blob_text, read_commit, resolve
from codewitness.attribution.carry import Source, carried_note, same_change
from codewitness.attribution.notes import CommitNote, all_notes, read_note_text, write_note
from codewitness.capture.checkpoint import pair_lines, split_lines
from codewitness.errors import NotFoundError, UsageError

__all__ = [
    "ConsolidateReport",
    "Consolidated",
    "PullRequest",
    "consolidate",
    "pull_requests",
]

#: Landed commits looked at when no ``since`` is given and a rebase merge is walked back.
WALK_LIMIT = 200
#: Branch tips compared by content with one landed commit.
CONTENT_CANDIDATES = 30


@dataclass(frozen=True)
class PullRequest:
    """A pull (merge) request a commit message names."""

    forge: Literal["github", "gitlab"]
    number: int

    @property
    def label(self) -> str:
        """``#12`` on GitHub, ``!12`` on GitLab."""
        return f"{'#' if self.forge == 'github' else '!'}{self.number}"

    @property
    def refs(self) -> tuple[str, ...]:
        """Where a clone may hold the request's head: the forge's own ref, or common remote mappings."""
        n = self.number
        if self.forge == "github":
            return (f"refs/pull/{n}/head", f"refs/remotes/*/pull/{n}/head", f"refs/remotes/*/pr/{n}")
        return (f"refs/merge-requests/{n}/head", f"refs/remotes/*/merge-requests/{n}/head", f"refs/remotes/*/mr/{n}")

    @property
    def forge_ref(self) -> str:
        """The ref the forge itself keeps for the request's head."""
        return self.refs[0]


_GITHUB_SQUASH = re.compile(r"\(#(\d+)\)\s*$")
_GITHUB_MERGE = re.compile(r"^Merge pull request #(\d+) from ", re.MULTILINE)
_GITLAB = re.compile(r"^See merge request (?:[\w.\-/]+)?!(\d+)\s*$", re.MULTILINE)
_COAUTHOR = re.compile(r"^co-authored-by:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)


def pull_requests(message: str) -> list[PullRequest]:
    """The pull requests a merge or squash commit's message names, as GitHub and GitLab write them.

    >>> pull_requests("Add ports (#12)\\n\\n* Parse ports\\n")
    [PullRequest(forge='github', number=12)]
    >>> pull_requests("Merge branch 'ports' into 'main'\\n\\nSee merge request team/app!7\\n")
    [PullRequest(forge='gitlab', number=7)]
    """
    subject = message.split("\n", 1)[0]
    found: list[PullRequest] = []
    match = _GITHUB_SQUASH.search(subject)
    if match:
        found.append(PullRequest("github", int(match.group(1))))
    found += [PullRequest("github", int(n)) for n in _GITHUB_MERGE.findall(message)]
    found += [PullRequest("gitlab", int(n)) for n in _GITLAB.findall(message)]
    return list(dict.fromkeys(found))


def _people(info: CommitInfo) -> set[str]:
    """Emails of the commit's author and its ``Co-authored-by`` people, lower-cased."""
    found = {info.author}
    found.update(_COAUTHOR.findall(info.message))
    return {p.rsplit("<", 1)[-1].rstrip(">").strip().lower() for p in found if "<" in p}


@dataclass(frozen=True)
class Consolidated:
    """One landed commit that got a note."""

    commit: str
    how: Literal["squash", "rebase", "merge"]
    source: str  # the branch head (squash, merge) or the original commit (rebase)
    found_by: str
    note: CommitNote
    pull_request: str | None = None

    def to_dict(self) -> dict[str, object]:
        d = self.note.delta
        return {
            "commit": self.commit,
            "how": self.how,
            "source": self.source,
            "found_by": self.found_by,
            "pull_request": self.pull_request,
            "ai_lines": d.ai_kept,
            "mixed_lines": d.ai_edited,
            "human_lines": d.human,
        }


@dataclass
class ConsolidateReport:
    """What :func:`consolidate` did, per landed commit."""

    consolidated: list[Consolidated] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (commit, why)
    shared: str | None = None  # what pushing the notes did

    def to_dict(self) -> dict[str, object]:
        return {
            "consolidated": [c.to_dict() for c in self.consolidated],
            "skipped": [{"commit": c, "reason": why} for c, why in self.skipped],
            "shared": self.shared,
        }


@dataclass(frozen=True)
class _Branch:
    head: str
    found_by: str
    pull_request: str | None = None


def _by_pull_request(
    root: Path, info: CommitInfo, remote: str | None, fetch: bool, named_in: str = ""
) -> _Branch | None:
    for request in pull_requests(info.message + "\n" + named_in):
        refs = _git.for_each_ref(root, *request.refs)
        if not refs and fetch and remote and _git.fetch_ref(root, remote, request.forge_ref, request.forge_ref):
            refs = _git.for_each_ref(root, request.forge_ref)
        for name, sha in sorted(refs.items()):
            if resolve(root, sha) is not None:
                return _Branch(sha, f"forge ref {name}", request.label)
    return None


def _by_content(root: Path, info: CommitInfo) -> _Branch | None:
    """The noted branch outside main whose files hold most of the commit's added lines."""
    noted = _git.existing_commits(root, all_notes(root))
    outside = _git.outside_history(root, noted, info.parents[0] if info.parents else None)
    outside = [sha for sha in outside if sha != info.sha]
    if not outside:
        return None
    tips = _git.independent_tips(root, outside)
    people = _people(info)
    with _git.CatFile(root) as cat:
        infos = [_git.parse_commit(sha, got[1]) for sha in tips if (got := cat.read(sha)) is not None]
    infos.sort(key=lambda c: c.author_time, reverse=True)
    by_people = [c for c in infos if _people(c) & people]
    candidates = (by_people or infos)[:CONTENT_CANDIDATES]
    parent = info.parents[0] if info.parents else _git.EMPTY_TREE
    added = {p: lines for p, lines in _git.added_lines(root, parent, info.sha).items() if lines}
    total = sum(len(lines) for lines in added.values())
    if not total:
        return None
    texts = {path: split_lines(blob_text(root, info.sha, path) or "") for path in added}
    best: tuple[int, str] | None = None
    for candidate in candidates:
        held = 0
        for path, lines in added.items():
            theirs = blob_text(root, candidate.sha, path)
            if theirs is None:
                continue
            pairs = pair_lines(split_lines(theirs), texts[path])
            held += sum(1 for line in lines if line <= len(pairs) and pairs[line - 1][1])
        if best is None or held > best[0]:
            best = (held, candidate.sha)
    if best is None or best[0] * 2 < total:
        return None
    return _Branch(best[1], f"content ({best[0]} of {total} lines)")


def _landed(root: Path, merged: str, since: str | None) -> list[str]:
    """The commits to consolidate, oldest first."""
    if since is None or set(since) == {"0"}:  # a push that created the branch names no "before"
        return [merged]
    base = resolve(root, since)
    if base is None:
        raise NotFoundError(f"no commit {since!r}; --since takes the commit main was at before the merge")
    return list(reversed(_git.rev_list(root, merged, "--first-parent", "--not", base)))


def consolidate(
    root: Path,
    merged: str = "HEAD",
    *,
    pr_head: str | None = None,
    since: str | None = None,
    remote: str | None = None,
    fetch: bool = False,
    push: bool = False,
    store_url: str | None = None,
) -> ConsolidateReport:
    """Write notes on commits that landed on main without a local hook (forge squash, rebase, merge).

    Args:
        root: the repository.
        merged: the landed commit (or the newest of them).
        pr_head: the pull request's head commit; found from the message, the forge's refs or the
            notes when omitted.
        since: consolidate every commit on main's first-parent line after this one up to
            ``merged`` (a push of several commits); only ``merged`` and, for a rebase merge, the
            rebased commits just below it otherwise.
        remote: the remote to fetch notes and pull request refs from and push notes to.
        fetch: first fetch ``remote``'s notes (and merge them in); fetch a named pull request's
            forge ref when the clone lacks it.
        push: push the notes to ``remote`` afterwards (merging and retrying when someone pushed
            notes meanwhile).
        store_url: also link the landed commits to the generations in this ledger.

    Returns:
        The notes written and the commits left alone, with why.

    Raises:
        NotFoundError: ``merged``, ``pr_head`` or ``since`` does not name a commit.
    """
    tip = resolve(root, merged)
    if tip is None:
        raise NotFoundError(f"no commit {merged!r} in {root}")
    head = None
    if pr_head is not None:
        head = resolve(root, pr_head)
        if head is None:
            raise NotFoundError(f"no commit {pr_head!r}: fetch the pull request's head first")
    from codewitness.capture import sync

    if (fetch or push) and remote is None:
        raise UsageError("name the remote to fetch from or push to (--remote)")
    if fetch and remote is not None and sync.fetch_notes(root, remote):
        sync.merge_remote_notes(root)
    report = ConsolidateReport()
    walk = _Walk(root, head, remote, fetch, report)
    walk_back = since is None
    below: str | None = None
    for sha in _landed(root, tip, since):
        done = _one(walk, sha)
        below = done.commit if done is not None and done.how == "rebase" else None
    landed = len(report.consolidated)
    for _ in range(WALK_LIMIT if walk_back else 0):
        # A rebase merge lands several commits: the ones below the tip may be rebased copies too.
        info = read_commit(root, below) if below is not None else None
        if info is None or not info.parents:
            break
        done = _one(walk, info.parents[0], rebase_only=True)
        below = done.commit if done is not None else None
    # Walked down from the tip: those are older than everything else; list oldest first.
    report.consolidated = report.consolidated[landed:][::-1] + report.consolidated[:landed]
    if store_url is not None and report.consolidated:
        _record(store_url, report.consolidated)
    if push and remote is not None:
        report.shared = sync.publish_notes(root, remote)
    return report


@dataclass(frozen=True)
class _Walk:
    """What stays the same while the landed commits are consolidated one by one."""

    root: Path
    head: str | None  # the pull request's head, when given
    remote: str | None
    fetch: bool
    report: ConsolidateReport  # filled as the walk goes


def _one(walk: _Walk, sha: str, *, rebase_only: bool = False, named_in: str = "") -> Consolidated | None:
    """Write the note of one landed commit and add it to the report (or why it gets none, unless walking down).

    Args:
        rebase_only: only a rebased copy of a branch commit is consolidated (walking down a rebase merge).
        named_in: more text naming the pull request (a GitLab merge commit above its squash commit).
    """
    result = _consolidate_one(walk, sha, rebase_only=rebase_only, named_in=named_in)
    if isinstance(result, str):
        if not rebase_only:
            walk.report.skipped.append((sha, result))
        return None
    write_note(walk.root, result.commit, result.note)
    walk.report.consolidated.append(result)
    return result


def _consolidate_one(walk: _Walk, sha: str, *, rebase_only: bool, named_in: str) -> Consolidated | str:
    root, head = walk.root, walk.head
    if read_note_text(root, sha) is not None:
        return "it already has a note"
    info = read_commit(root, sha)
    if info is None:
        return "not a commit"
    requests = pull_requests(info.message + "\n" + named_in)
    label = requests[0].label if requests else None
    if len(info.parents) >= 2:
        if rebase_only:
            return "a merge commit"
        for parent in info.parents[1:]:
            # GitLab's "merge commit with squash": the second parent is a squash commit no hook saw.
            side = read_commit(root, parent)
            if side is not None and len(side.parents) == 1 and read_note_text(root, parent) is None:
                _one(walk, parent, named_in=info.message)
        sources = [Source(parent, "merge") for parent in info.parents[1:]]
        note, _ = carried_note(root, sha, sources)
        return Consolidated(sha, "merge", info.parents[1], "merge parents", note, label)
    if not info.parents:
        return "a root commit"
    branch_commits = _git.rev_list(root, head, "--not", info.parents[0]) if head is not None else None
    original = same_change(root, info, branch_commits)
    if original is not None:
        note, _ = carried_note(root, sha, [Source(original, "rebase")])
        return Consolidated(sha, "rebase", original, "same change", note)
    if rebase_only:
        return "not a rebased commit"
    if head is not None:
        branch = _Branch(head, "given")
    else:
        found = _by_pull_request(root, info, walk.remote, walk.fetch, named_in) or _by_content(root, info)
        if found is None:
            return "no pull request or branch with notes found for it"
        branch = found
    note, _ = carried_note(root, sha, [Source(branch.head, "squash")])
    return Consolidated(sha, "squash", branch.head, branch.found_by, note, branch.pull_request or label)


def _record(store_url: str, done: Sequence[Consolidated]) -> None:
    from codewitness import ledger
    from codewitness.store import open_store

    with open_store(store_url) as store:
        for item in done:
            ledger.record_commit(store, item.commit, item.note)
