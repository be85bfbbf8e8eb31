"""A file committed in parts keeps its captured edits until all of it is committed."""

from __future__ import annotations

from typing import Any

from capture_helpers import Hooks

from codewitness.attribution.notes import read_note
from codewitness.capture.journal import Journal

FULL = "def one():\n    return 1\n\n\ndef two():\n    return 2\n"
FIRST = "def one():\n    return 1\n"


def test_partly_staged_file(installed: Any, hooks: Hooks) -> None:
    root = hooks.root
    path = str(root / "src/two.py")
    pre = {
        "session_id": "s",
        "cwd": str(root),
        "hook_event_name": "PreToolUse",
        "tool_name": "Write",
        "tool_use_id": "toolu_two",
        "tool_input": {"file_path": path, "content": FULL},
    }
    assert hooks.run("claude", pre) == 0
    installed.write("src/two.py", FULL)
    assert hooks.run("claude", {**pre, "hook_event_name": "PostToolUse"}) == 0

    # Stage only the first function (as `git add -p` would), commit it.
    blob = installed.git("hash-object", "-w", "--stdin", input=FIRST).strip()
    installed.git("update-index", "--add", "--cacheinfo", f"100644,{blob},src/two.py")
    installed.git("commit", "-q", "-m", "one")
    first = read_note(root, "HEAD")
    assert first is not None
    assert [(e.origin, e.spans) for e in first.files["src/two.py"]] == [("ai", ((1, 2),))]
    with Journal.open(root / ".codewitness") as journal:
        assert journal.pending_paths() == ["src/two.py"]  # the rest is still to come

    installed.commit("two")
    second = read_note(root, "HEAD")
    assert second is not None
    assert [(e.origin, e.spans) for e in second.files["src/two.py"]] == [("ai", ((3, 6),))]
    with Journal.open(root / ".codewitness") as journal:
        assert journal.pending_paths() == []


def test_unusual_file_names_are_attributed(installed: Any, hooks: Hooks) -> None:
    for name in ("src/with space.py", 'src/quote"d.py', "src/ünïcode.py", "src/tab\tname.py"):
        hooks.claude_write(name, call=f"toolu_{len(name)}")
    installed.commit("names")
    note = read_note(hooks.root, "HEAD")
    assert note is not None
    for name in ("src/with space.py", 'src/quote"d.py', "src/ünïcode.py", "src/tab\tname.py"):
        entry = note.entry_for(name, 1)
        assert entry is not None and entry.origin == "ai", name


def test_edits_a_person_undid_are_dropped_at_the_next_commit(installed: Any, hooks: Hooks) -> None:
    installed.write("src/keep.py", "a = 1\n")
    installed.commit("keep")
    pre = {
        "session_id": "s",
        "cwd": str(hooks.root),
        "hook_event_name": "PreToolUse",
        "tool_name": "Write",
        "tool_use_id": "toolu_undo",
        "tool_input": {"file_path": str(hooks.root / "src/keep.py"), "content": "a = 2\n"},
    }
    assert hooks.run("claude", pre) == 0
    installed.write("src/keep.py", "a = 2\n")
    assert hooks.run("claude", {**pre, "hook_event_name": "PostToolUse"}) == 0
    installed.write("src/keep.py", "a = 1\n")  # the person undoes it
    installed.write("other.txt", "x\n")
    installed.commit("other")
    with Journal.open(hooks.root / ".codewitness") as journal:
        assert journal.pending_paths() == []
