"""Attribution survives the ways code reaches a branch: cherry-picks (with and without ``-x``, with a
conflict resolved by hand), ``git merge --squash``, merge commits, reverts, ``git mv`` and code moved
or copied across files. Each flow runs the installed git hooks on a real repository; the ledger
side runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from capture_helpers import Hooks

from codewitness import ledger
from codewitness.attribution.blame import line_origins
from codewitness.attribution.notes import CommitNote, read_note
from codewitness.store import open_store

PARSER = (
    "def parse_port(text):\n"
    "    port = int(text.strip())\n"
    "    if not 0 < port < 65536:\n"
    "        raise ValueError(f'port out of range: {port}')\n"
    "    return port\n"
)


def _origins(note: CommitNote | None, path: str) -> dict[int, str]:
    """Line -> origin of every line the note covers in ``path``."""
    assert note is not None
    return {
        line: entry.origin for entry in note.files.get(path, ()) for a, b in entry.spans for line in range(a, b + 1)
    }


def _ai(note: CommitNote | None, path: str) -> set[int]:
    return {line for line, origin in _origins(note, path).items() if origin == "ai"}


def _gens(note: CommitNote | None, path: str, line: int) -> tuple[str, ...]:
    assert note is not None
    entry = note.entry_for(path, line)
    assert entry is not None
    return entry.generation_ids


def _feature(installed: Any, hooks: Hooks, *, name: str = "src/net.py") -> tuple[str, CommitNote]:
    """On branch ``feature``: Claude writes ``name`` (five AI lines), committed; returns the commit and its note."""
    installed.git("checkout", "-q", "-b", "feature")
    hooks.claude_write(name, PARSER)
    commit = installed.commit("Parse ports")
    note = read_note(installed.root, commit)
    assert note is not None and _ai(note, name) == {1, 2, 3, 4, 5}, hooks.log()
    return commit, note


def _main_moves_on(installed: Any) -> None:
    installed.git("checkout", "-q", "main")
    installed.write("NOTES.txt", "unrelated\n")
    installed.commit("notes on main")


def _head(installed: Any) -> str:
    return str(installed.git("rev-parse", "HEAD").strip())


@pytest.mark.parametrize("flag", [[], ["-x"]], ids=["plain", "dash-x"])
def test_a_cherry_pick_keeps_its_attribution(installed: Any, hooks: Hooks, flag: list[str]) -> None:
    original, before = _feature(installed, hooks)
    _main_moves_on(installed)
    installed.git("cherry-pick", *flag, original)
    picked = _head(installed)
    note = read_note(installed.root, picked)
    assert _ai(note, "src/net.py") == {1, 2, 3, 4, 5}, hooks.log()
    assert _gens(note, "src/net.py", 3) == _gens(before, "src/net.py", 3)
    assert note is not None and note.entry_for("src/net.py", 1).agent == "claude-code"
    assert f"cherry-pick of {original[:12]}" in hooks.log()


def test_a_cherry_pick_with_a_conflict_resolved_by_hand(installed: Any, hooks: Hooks) -> None:
    installed.write("src/net.py", "PORT = 1\n")
    installed.commit("port constant")
    installed.git("checkout", "-q", "-b", "feature")
    hooks.claude_write("src/net.py", "PORT = 8080\n" + PARSER)
    original = installed.commit("Parse ports")
    installed.git("checkout", "-q", "main")
    installed.write("src/net.py", "PORT = 2\n")
    installed.commit("another port")
    with pytest.raises(AssertionError, match="cherry-pick"):  # the pick stops at the conflict
        installed.git("cherry-pick", original)
    # A person keeps main's constant and the agent's function, then commits with plain `git commit`
    # (git removes CHERRY_PICK_HEAD before post-commit runs; prepare-commit-msg saw it).
    installed.write("src/net.py", "PORT = 2\n" + PARSER)
    installed.git("add", "src/net.py")
    installed.git("commit", "-q", "--no-edit")
    note = read_note(installed.root, _head(installed))
    assert _origins(note, "src/net.py") == {2: "ai", 3: "ai", 4: "ai", 5: "ai", 6: "ai"}, hooks.log()
    assert not (installed.root / ".codewitness" / "carry.json").exists()


def test_a_squash_merge_committed_with_its_own_message(installed: Any, hooks: Hooks) -> None:
    _feature(installed, hooks)
    installed.write("src/net.py", PARSER + "\n\nDEFAULT = parse_port('8080')\n")  # a person's line
    installed.commit("default port")
    _main_moves_on(installed)
    installed.git("merge", "-q", "--squash", "feature")
    installed.git("commit", "-q", "-m", "Ports")  # -m: the SQUASH_MSG list of commits is not in the message
    note = read_note(installed.root, _head(installed))
    assert _origins(note, "src/net.py") == {
        1: "ai",
        2: "ai",
        3: "ai",
        4: "ai",
        5: "ai",
        6: "human",
        7: "human",
        8: "human",
    }
    assert note is not None and note.delta.ai_kept == 5


def test_a_merge_commit_takes_the_lines_of_its_second_parent(installed: Any, hooks: Hooks) -> None:
    _original, before = _feature(installed, hooks)
    _main_moves_on(installed)
    installed.git("merge", "-q", "--no-ff", "--no-edit", "feature")  # no post-commit: post-merge links it
    merge = _head(installed)
    note = read_note(installed.root, merge)
    assert _ai(note, "src/net.py") == {1, 2, 3, 4, 5}, hooks.log()
    assert _gens(note, "src/net.py", 1) == _gens(before, "src/net.py", 1)
    origins = line_origins(installed.root, "src/net.py")
    assert {o.kind for o in origins} == {"ai"}


def test_a_merge_that_pulls_main_into_a_branch(installed: Any, hooks: Hooks) -> None:
    """The first parent is the branch: the lines main brings (AI-written there) keep their origin."""
    installed.git("checkout", "-q", "-b", "topic")
    installed.write("topic.txt", "topic work\n")
    installed.commit("topic")
    installed.git("checkout", "-q", "main")
    hooks.claude_write("src/net.py", PARSER)
    installed.commit("Parse ports on main")
    installed.git("checkout", "-q", "topic")
    installed.git("merge", "-q", "--no-edit", "main")
    note = read_note(installed.root, _head(installed))
    assert _ai(note, "src/net.py") == {1, 2, 3, 4, 5}, hooks.log()


def test_a_merge_with_a_conflict_resolved_by_hand(installed: Any, hooks: Hooks) -> None:
    installed.write("src/net.py", "PORT = 1\n")
    installed.commit("port constant")
    installed.git("checkout", "-q", "-b", "feature")
    hooks.claude_write("src/net.py", "PORT = 8080\n" + PARSER)
    installed.commit("Parse ports")
    installed.git("checkout", "-q", "main")
    installed.write("src/net.py", "PORT = 2\n")
    installed.commit("another port")
    with pytest.raises(AssertionError, match="merge"):
        installed.git("merge", "feature")
    installed.write("src/net.py", "PORT = 3\n" + PARSER)
    installed.git("add", "src/net.py")
    installed.git("commit", "-q", "--no-edit")
    merge = _head(installed)
    assert len(installed.git("rev-list", "--parents", "-1", merge).split()) == 3
    note = read_note(installed.root, merge)
    # The resolution rewrote the agent's line 1 (as a person would edit it): mixed.
    assert _origins(note, "src/net.py") == {1: "mixed", 2: "ai", 3: "ai", 4: "ai", 5: "ai", 6: "ai"}, hooks.log()


def test_a_revert_restores_the_origin_of_the_lines_it_brings_back(installed: Any, hooks: Hooks) -> None:
    hooks.claude_write("src/net.py", PARSER)
    first = installed.commit("Parse ports")
    installed.write("src/net.py", "def parse_port(text):\n    return int(text)\n")  # a person simplifies it
    simplified = installed.commit("simpler")
    installed.git("revert", "--no-edit", simplified)
    note = read_note(installed.root, _head(installed))
    assert _ai(note, "src/net.py") == {2, 3, 4, 5}, hooks.log()  # line 1 was never removed
    assert _gens(note, "src/net.py", 2) == _gens(read_note(installed.root, first), "src/net.py", 2)


def test_git_mv_keeps_the_lines_of_the_renamed_file(installed: Any, hooks: Hooks) -> None:
    hooks.claude_write("src/net.py", PARSER)
    first = installed.commit("Parse ports")
    installed.git("mv", "src/net.py", "src/ports.py")
    installed.write("src/ports.py", PARSER + "# moved\n")
    installed.commit("rename")
    note = read_note(installed.root, _head(installed))
    assert _origins(note, "src/ports.py") == {1: "ai", 2: "ai", 3: "ai", 4: "ai", 5: "ai", 6: "human"}, hooks.log()
    assert _gens(note, "src/ports.py", 4) == _gens(read_note(installed.root, first), "src/net.py", 4)


def test_code_moved_and_copied_across_files(installed: Any, hooks: Hooks) -> None:
    hooks.claude_write("src/net.py", "import os\n\n\n" + PARSER)
    installed.commit("Parse ports")
    # A person moves the function into a new module and keeps a copy of its check in a third file.
    installed.write("src/net.py", "import os\n")
    installed.write("src/ports.py", '"""Ports."""\n\n\n' + PARSER)
    installed.write(
        "src/check.py",
        "def check(port):\n    if not 0 < port < 65536:\n        raise ValueError(f'port out of range: {port}')\n",
    )
    installed.commit("move the parser")
    note = read_note(installed.root, _head(installed))
    assert _origins(note, "src/ports.py") == {
        1: "human",
        2: "human",
        3: "human",
        4: "ai",
        5: "ai",
        6: "ai",
        7: "ai",
        8: "ai",
    }, hooks.log()
    assert _origins(note, "src/check.py") == {1: "human", 2: "ai", 3: "ai"}
    origins = line_origins(installed.root, "src/ports.py")
    assert [o.kind for o in origins] == ["human"] * 3 + ["ai"] * 5


def test_a_persons_commit_takes_nothing_it_did_not_copy(installed: Any, hooks: Hooks) -> None:
    """Short common lines are not taken as copies, and a commit like an AI one by another date is not a pick."""
    hooks.claude_write("src/net.py", PARSER)
    installed.commit("Parse ports")
    installed.write("src/other.py", "def other(text):\n    return port\n")
    installed.commit("Parse ports")  # same subject and author, another date and change
    note = read_note(installed.root, _head(installed))
    assert _origins(note, "src/other.py") == {1: "human", 2: "human"}


@pytest.mark.parametrize("flow", ["cherry-pick", "squash", "merge"])
def test_the_ledger_links_the_new_commit_on_each_store(
    installed: Any, hooks: Hooks, db_url: str, monkeypatch: pytest.MonkeyPatch, flow: str
) -> None:
    monkeypatch.setenv("CODEWITNESS_DB", db_url)  # the git hook processes inherit it
    original, before = _feature(installed, hooks)
    gen = _gens(before, "src/net.py", 1)[0]
    _main_moves_on(installed)
    if flow == "cherry-pick":
        installed.git("cherry-pick", original)
    elif flow == "squash":
        installed.git("merge", "-q", "--squash", "feature")
        installed.git("commit", "-q", "-m", "Ports")
    else:
        installed.git("merge", "-q", "--no-ff", "--no-edit", "feature")
    landed = _head(installed)
    store = open_store(db_url)
    try:
        assert ledger.commits_of(store, gen) == sorted([original, landed]), hooks.log()
    finally:
        store.close()
