"""Per-agent capture paths that need no before hook: reported ranges, patches, payload snapshots."""

from __future__ import annotations

from typing import Any

from capture_helpers import Hooks

from codewitness.capture.journal import Journal

BASE = "import os\n\n\ndef size(path):\n    return os.path.getsize(path)\n"


def _spans(hooks: Hooks) -> dict[str, list[tuple[int, int]]]:
    with Journal.open(hooks.root / ".codewitness") as journal:
        return {e.path: list(e.ai_lines) for e in journal.edits()}


def test_cursor_tab_edit_range_is_exact_and_a_persons_change_stays_theirs(installed: Any, hooks: Hooks) -> None:
    installed.write("src/size.py", BASE)
    installed.commit("size")
    # A person edits line 1 (not staged); then Cursor Tab completes line 5.
    text = BASE.replace("import os", "import os  # stdlib").replace("getsize(path)", "getsize(path) or 0")
    installed.write("src/size.py", text)
    payload = {
        "conversation_id": "c1",
        "generation_id": "g1",
        "model": "cursor-tab",
        "hook_event_name": "afterTabFileEdit",
        "workspace_roots": [str(hooks.root)],
        "file_path": str(hooks.root / "src/size.py"),
        "edits": [
            {
                "old_string": "    return os.path.getsize(path)",
                "new_string": "    return os.path.getsize(path) or 0",
                "range": {"start_line_number": 5, "start_column": 1, "end_line_number": 5, "end_column": 33},
                "old_line": "    return os.path.getsize(path)",
                "new_line": "    return os.path.getsize(path) or 0",
            }
        ],
    }
    assert hooks.run("cursor", payload) == 0
    assert _spans(hooks) == {"src/size.py": [(5, 5)]}


def test_cursor_range_that_does_not_hold_the_text_is_not_trusted(installed: Any, hooks: Hooks) -> None:
    installed.write("src/size.py", BASE)
    installed.commit("size")
    installed.write("src/size.py", BASE.replace("getsize(path)", "getsize(path) or 0"))
    payload = {
        "conversation_id": "c1",
        "hook_event_name": "afterTabFileEdit",
        "workspace_roots": [str(hooks.root)],
        "file_path": "src/size.py",
        "edits": [
            {
                "old_string": "x",
                "new_string": "    return os.path.getsize(path) or 0",
                "range": {"start_line_number": 1},
            }
        ],
    }
    assert hooks.run("cursor", payload) == 0
    # The range (line 1) is wrong; the diff hunk on line 5 is what the edit string accounts for.
    assert _spans(hooks) == {"src/size.py": [(5, 5)]}


def test_codex_patch_without_a_before_hook_keeps_a_persons_lines(installed: Any, hooks: Hooks) -> None:
    installed.write("src/size.py", BASE)
    installed.commit("size")
    installed.write(
        "src/size.py",
        "# owned by ops\n"
        + BASE.replace("    return os.path.getsize(path)", "    n = os.path.getsize(path)\n    return n"),
    )
    patch = (
        "*** Begin Patch\n*** Update File: src/size.py\n@@ def size(path):\n-    return os.path.getsize(path)\n"
        "+    n = os.path.getsize(path)\n+    return n\n*** End Patch\n"
    )
    payload = {
        "session_id": "s",
        "turn_id": "t",
        "transcript_path": None,
        "cwd": str(hooks.root),
        "hook_event_name": "PostToolUse",
        "model": "gpt-5.1-codex",
        "permission_mode": "default",
        "tool_name": "apply_patch",
        "tool_use_id": "call_1",
        "tool_input": {"command": patch},
        "tool_response": "Success.",
    }
    assert hooks.run("codex", payload) == 0
    assert _spans(hooks) == {"src/size.py": [(6, 7)]}


def test_claude_edit_without_pre_hook_uses_original_file_and_patch(installed: Any, hooks: Hooks) -> None:
    installed.write("src/size.py", BASE)
    installed.commit("size")
    after = BASE.replace("    return os.path.getsize(path)", "    return os.stat(path).st_size")
    installed.write("src/size.py", after)
    payload = {
        "session_id": "s",
        "transcript_path": str(hooks.root / "missing.jsonl"),
        "cwd": str(hooks.root),
        "hook_event_name": "PostToolUse",
        "tool_name": "Edit",
        "tool_use_id": "toolu_x",
        "tool_input": {"file_path": "src/size.py", "old_string": "getsize(path)", "new_string": "stat(path).st_size"},
        "tool_response": {
            "originalFile": BASE,
            "structuredPatch": [
                {
                    "oldStart": 4,
                    "oldLines": 2,
                    "newStart": 4,
                    "newLines": 2,
                    "lines": [
                        " def size(path):",
                        "-    return os.path.getsize(path)",
                        "+    return os.stat(path).st_size",
                    ],
                }
            ],
        },
    }
    assert hooks.run("claude", payload) == 0
    assert _spans(hooks) == {"src/size.py": [(5, 5)]}


def test_claude_write_that_creates_a_file_without_pre_hook_is_all_ai(installed: Any, hooks: Hooks) -> None:
    """Issue 25 survivor capture/claude.py: ``tool_response.type == "create"`` says there was no file.

    Without that signal the hook fell back to the text git has staged: a file a person deleted and the
    agent wrote again, with the same lines, counted 0 AI lines (an AI-written file counted as not AI).
    """
    installed.write("src/size.py", BASE)
    installed.commit("size")
    (hooks.root / "src" / "size.py").unlink()  # deleted by hand; git's index still holds it
    written = BASE + "\n\ndef twice(path):\n    return 2 * size(path)\n"
    installed.write("src/size.py", written)
    payload = {
        "session_id": "s",
        "cwd": str(hooks.root),
        "hook_event_name": "PostToolUse",
        "tool_name": "Write",
        "tool_use_id": "toolu_create",
        "tool_input": {"file_path": "src/size.py", "content": written},
        "tool_response": {"type": "create", "filePath": "src/size.py", "content": written, "structuredPatch": []},
    }
    assert hooks.run("claude", payload) == 0
    assert _spans(hooks) == {"src/size.py": [(1, 9)]}
    with Journal.open(hooks.root / ".codewitness") as journal:
        assert [e.before for e in journal.edits()] == [None]
