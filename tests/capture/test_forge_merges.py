"""Server-side merges, simulated with real git: a bare "origin", a developer's clone with hooks and an
agent's commits on a branch (notes pushed), and a "forge" clone without hooks that lands the branch on
main as GitHub or GitLab do — a squash commit, rebased copies, a merge commit — with the pull request's
head ref present or absent. ``codewitness notes consolidate`` then writes the landed commits' notes in
a CI clone (or the developer's clone), line-exact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from capture_helpers import Forge, Hooks, git, make_forge

from codewitness import ledger
from codewitness.attribution.consolidate import consolidate, pull_requests
from codewitness.attribution.notes import CommitNote, read_note
from codewitness.cli import main
from codewitness.store import open_store


def _ai(note: CommitNote | None) -> dict[str, set[int]]:
    assert note is not None
    return {
        path: {line for e in entries if e.origin == "ai" for a, b in e.spans for line in range(a, b + 1)}
        for path, entries in note.files.items()
        if any(e.origin == "ai" for e in entries)
    }


@pytest.fixture
def forge(installed: Any, hooks: Hooks, tmp_path: Path) -> Forge:
    return make_forge(installed, hooks, tmp_path)


SQUASHED = {"src/net.py": {1, 2, 3, 4, 5}, "src/util.py": {1, 2}}


def test_a_github_squash_merge_with_the_pull_request_ref(forge: Forge, tmp_path: Path) -> None:
    forge.before()
    squash = forge.squash("Parse ports (#12)\n\n* Parse ports; clamp\n\n* A default port\n")
    forge.push_main()
    git(forge.server, "push", "-q", "origin", "origin/feature:refs/pull/12/head")
    ci = forge.ci_clone(tmp_path, "+refs/pull/*/head:refs/pull/*/head")
    report = consolidate(ci, "origin/main")
    [done] = report.consolidated
    assert (done.commit, done.how, done.found_by, done.pull_request) == (
        squash,
        "squash",
        "forge ref refs/pull/12/head",
        "#12",
    )
    note = read_note(ci, squash)
    assert _ai(note) == SQUASHED
    assert note is not None and note.entry_for("src/net.py", 8).origin == "human"
    original = read_note(ci, forge.branch_commits[0])
    assert original is not None
    assert note.entry_for("src/util.py", 1).generation_ids == original.entry_for("src/util.py", 1).generation_ids
    # Run again: the commit has its note now.
    again = consolidate(ci, "origin/main")
    assert again.consolidated == [] and again.skipped == [(squash, "it already has a note")]


def test_the_pull_request_ref_is_fetched_when_asked(forge: Forge, tmp_path: Path) -> None:
    forge.before()
    squash = forge.squash("Parse ports (#12)\n")
    forge.push_main()
    git(forge.server, "push", "-q", "origin", "origin/feature:refs/pull/12/head")
    git(forge.server, "push", "-q", "origin", "--delete", "feature")  # the branch is gone; the forge ref is not
    ci = forge.ci_clone(tmp_path)
    assert consolidate(ci, "origin/main").skipped == [(squash, "no pull request or branch with notes found for it")]
    report = consolidate(ci, "origin/main", remote="origin", fetch=True)
    assert [c.found_by for c in report.consolidated] == ["forge ref refs/pull/12/head"]
    assert _ai(read_note(ci, squash)) == SQUASHED


def test_explicit_pr_head_and_merged(forge: Forge, tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    forge.before()
    squash = forge.squash("Ports without a number\n")
    forge.push_main()
    ci = forge.ci_clone(tmp_path)
    head = git(ci, "rev-parse", "origin/feature").strip()
    monkeypatch.chdir(ci)
    capsys.readouterr()
    assert main(["notes", "consolidate", "--pr-head", head, "--merged", squash, "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["consolidated"]
    assert (row["commit"], row["how"], row["source"], row["found_by"]) == (squash, "squash", head, "given")
    assert (row["ai_lines"], row["human_lines"]) == (7, 3)
    assert _ai(read_note(ci, squash)) == SQUASHED


def test_without_a_pull_request_ref_the_branch_is_found_by_its_notes(forge: Forge) -> None:
    """The developer's own clone after `git pull`: the branch is deleted, its noted commits are still there."""
    forge.before()
    squash = forge.squash("Ports\n")  # GitLab's default squash message: the title only
    forge.push_main()
    dev = forge.dev
    dev.git("checkout", "-q", "main")
    dev.git("pull", "-q", "--ff-only", "origin", "main")
    dev.git("branch", "-q", "-D", "feature")
    report = consolidate(dev.root, "HEAD")
    [done] = report.consolidated
    assert done.found_by.startswith("content (") and done.source == forge.branch_commits[-1]
    assert _ai(read_note(dev.root, squash)) == SQUASHED


def test_a_rebase_merge_gets_a_note_on_every_rebased_commit(forge: Forge, tmp_path: Path) -> None:
    before = forge.before()
    git(forge.server, "checkout", "-q", "-b", "landing", "origin/feature")
    git(forge.server, "rebase", "-q", "main", env={"GIT_COMMITTER_NAME": "GitHub"})
    git(forge.server, "checkout", "-q", "main")
    tip = forge.land("merge", "-q", "--ff-only", "landing")
    forge.push_main()
    ci = forge.ci_clone(tmp_path)
    report = consolidate(ci, "origin/main", since=before)
    rebased = git(ci, "rev-list", "--reverse", f"{before}..{tip}").split()
    assert [(c.commit, c.how, c.source) for c in report.consolidated] == [
        (rebased[0], "rebase", forge.branch_commits[0]),
        (rebased[1], "rebase", forge.branch_commits[1]),
    ]
    assert _ai(read_note(ci, rebased[0])) == SQUASHED
    second = read_note(ci, rebased[1])
    assert second is not None and set(second.files) == {"src/net.py"} and _ai(second) == {}
    # Without --since, the rebased commits below the tip are found by walking down.
    other = forge.ci_clone(tmp_path)
    assert [c.commit for c in consolidate(other, "origin/main").consolidated] == rebased


def test_a_rebase_merge_of_a_change_copied_twice(forge: Forge) -> None:
    """The developer rebased the branch locally too (noted copies, never pushed): two noted commits
    match each landed one; either carries the same attribution."""
    dev = forge.dev
    dev.git("fetch", "-q", "origin")
    dev.git("rebase", "-q", "--force-rebase", "origin/main")  # post-rewrite notes the copies
    before = forge.before()
    git(forge.server, "checkout", "-q", "-b", "landing", "origin/feature")
    git(forge.server, "rebase", "-q", "--force-rebase", "main", env={"GIT_COMMITTER_NAME": "GitHub"})
    git(forge.server, "checkout", "-q", "main")
    tip = forge.land("merge", "-q", "--ff-only", "landing")
    forge.push_main()
    dev.git("fetch", "-q", "origin")
    report = consolidate(dev.root, "origin/main", since=before)
    assert [c.how for c in report.consolidated] == ["rebase", "rebase"], report.skipped
    assert report.consolidated[-1].commit == tip
    assert _ai(read_note(dev.root, report.consolidated[0].commit)) == SQUASHED


def test_a_github_merge_commit(forge: Forge, tmp_path: Path) -> None:
    forge.before()
    merge = forge.land("merge", "-q", "--no-ff", "-m", "Merge pull request #12 from dana/feature", "origin/feature")
    forge.push_main()
    ci = forge.ci_clone(tmp_path)
    [done] = consolidate(ci, "origin/main").consolidated
    assert (done.commit, done.how, done.pull_request) == (merge, "merge", "#12")
    assert _ai(read_note(ci, merge)) == SQUASHED


def test_a_gitlab_squash_with_a_merge_commit(forge: Forge, tmp_path: Path) -> None:
    """GitLab's "merge commit with squash": a squash commit (the title) and a merge commit naming !7."""
    before = forge.before()
    git(forge.server, "checkout", "-q", "-b", "squashed", before)
    forge.squash("Ports\n")
    git(forge.server, "checkout", "-q", "main")
    merge = forge.land(
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge branch 'feature' into 'main'\n\nPorts\n\nSee merge request team/app!7",
        "squashed",
    )
    forge.push_main()
    git(forge.server, "push", "-q", "origin", "origin/feature:refs/merge-requests/7/head")
    ci = forge.ci_clone(tmp_path, "+refs/merge-requests/*/head:refs/merge-requests/*/head")
    report = consolidate(ci, "origin/main", since=before)
    assert [(c.how, c.pull_request) for c in report.consolidated] == [("squash", "!7"), ("merge", "!7")]
    assert report.consolidated[1].commit == merge
    assert _ai(read_note(ci, merge)) == SQUASHED
    assert _ai(read_note(ci, report.consolidated[0].commit)) == SQUASHED


def test_pull_request_numbers_in_forge_messages() -> None:
    assert [p.label for p in pull_requests("Fix (#3) and more (#45)\n")] == ["#45"]
    assert [p.label for p in pull_requests("Merge pull request #9 from a/b\n\nTitle\n")] == ["#9"]
    assert [p.label for p in pull_requests("Title\n\nSee merge request group/sub/proj!120\n")] == ["!120"]
    assert pull_requests("Title mentioning #12 in passing\n") == []


@pytest.mark.parametrize("flow", ["squash", "merge"])
def test_consolidated_commits_are_linked_in_the_ledger(
    installed: Any, hooks: Hooks, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, flow: str
) -> None:
    monkeypatch.setenv("CODEWITNESS_DB", db_url)  # the developer's hooks record generations there
    forge_ = make_forge(installed, hooks, tmp_path)
    forge_.before()
    if flow == "squash":
        landed = forge_.squash("Parse ports (#12)\n")
    else:
        landed = forge_.land(
            "merge", "-q", "--no-ff", "-m", "Merge pull request #12 from dana/feature", "origin/feature"
        )
    forge_.push_main()
    ci = forge_.ci_clone(tmp_path, "+refs/heads/feature:refs/pull/12/head")
    note = read_note(installed.root, forge_.branch_commits[0])
    assert note is not None
    gen = note.entry_for("src/net.py", 1).generation_ids[0]
    consolidate(ci, "origin/main", store_url=db_url)
    store = open_store(db_url)
    try:
        assert landed in ledger.commits_of(store, gen)
    finally:
        store.close()
