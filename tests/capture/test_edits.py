"""The files an after-edit payload changed, with the text before the edit found exactly (never by search)."""

from __future__ import annotations

from typing import Any

from capture_helpers import Hooks
from hypothesis import given
from hypothesis import strategies as st

from codewitness.capture import claude, cursor
from codewitness.capture.checkpoint import before_from_structured_patch, diff_hunks, split_lines
from codewitness.capture.edits import edited_files


def _post(root: Any, path: str, tool_input: dict[str, Any], response: dict[str, Any], call: str = "toolu_1") -> dict:
    return {
        "hook_event_name": "PostToolUse",
        "session_id": "s1",
        "cwd": str(root),
        "tool_name": "Edit" if "old_string" in tool_input else "Write",
        "tool_use_id": call,
        "tool_input": {"file_path": str(root / path), **tool_input},
        "tool_response": response,
    }


def _pre(root: Any, path: str, call: str = "toolu_1") -> dict:
    return {
        "hook_event_name": "PreToolUse",
        "session_id": "s1",
        "cwd": str(root),
        "tool_name": "Write",
        "tool_use_id": call,
        "tool_input": {"file_path": str(root / path), "content": ""},
    }


def test_before_comes_from_the_payload_first(installed: Any) -> None:
    installed.write("req.txt", "flask\nrequests\n")
    payload = _post(installed.root, "req.txt", {"content": "flask\nrequests\n"}, {"originalFile": "flask\n"})
    [edited] = edited_files(claude, payload, cwd="/nowhere")
    assert (edited.before, edited.after, edited.source) == ("flask\n", "flask\nrequests\n", "payload")


def test_before_comes_from_the_capture_snapshot_before_and_after_the_capture_hook_ran(
    installed: Any, hooks: Hooks
) -> None:
    # The same text occurs twice after the edit: searching for the new text would undo the wrong one.
    installed.write("req.txt", "numpy\nflask\n")
    assert hooks.run("claude", _pre(installed.root, "req.txt")) == 0
    installed.write("req.txt", "numpy\nflask\nnumpy\n")
    payload = _post(installed.root, "req.txt", {"old_string": "flask\n", "new_string": "flask\nnumpy\n"}, {})
    [edited] = edited_files(claude, payload, cwd="/nowhere")
    assert (edited.before, edited.source) == ("numpy\nflask\n", "snapshot")
    assert hooks.run("claude", payload) == 0  # the capture hook takes the snapshot and records the edit
    [edited] = edited_files(claude, payload, cwd="/nowhere")
    assert (edited.before, edited.source) == ("numpy\nflask\n", "capture")


def test_before_is_rebuilt_from_the_agents_patch(installed: Any) -> None:
    installed.write("req.txt", "flask\nno-such-pkg\nrequests\n")
    patch = [
        {"oldStart": 1, "oldLines": 2, "newStart": 1, "newLines": 3, "lines": [" flask", "+no-such-pkg", " requests"]}
    ]
    payload = _post(installed.root, "req.txt", {"content": "x"}, {"structuredPatch": patch})
    [edited] = edited_files(claude, payload, cwd="/nowhere")
    assert (edited.before, edited.source) == ("flask\nrequests\n", "patch")
    wrong = [{"oldStart": 1, "oldLines": 1, "newStart": 1, "newLines": 2, "lines": [" numpy", "+x"]}]
    payload = _post(installed.root, "req.txt", {"content": "x"}, {"structuredPatch": wrong})
    assert edited_files(claude, payload, cwd="/nowhere")[0].source != "patch"  # checked, then not trusted


def test_without_a_before_state_the_last_known_text_is_used(installed: Any) -> None:
    installed.write("req.txt", "flask\n")
    installed.commit("requirements")
    installed.write("req.txt", "flask\nrequests\n")
    payload = {
        "hook_event_name": "afterFileEdit",
        "conversation_id": "c1",
        "generation_id": "g1",
        "workspace_roots": [str(installed.root)],
        "file_path": "req.txt",
        "edits": [{"old_string": "flask\n", "new_string": "flask\nrequests\n"}],
    }
    [edited] = edited_files(cursor, payload, cwd="/nowhere")
    assert (edited.path, edited.before, edited.source) == (str(installed.root / "req.txt"), "flask\n", "last")
    installed.write("new.txt", "a\n")
    payload = {**payload, "file_path": "new.txt"}
    assert edited_files(cursor, payload, cwd="/nowhere")[0][1:] == (None, "a\n", "none")
    payload = {**payload, "file_path": "gone.txt"}
    assert edited_files(cursor, payload, cwd="/nowhere") == []


@given(
    st.lists(st.sampled_from(["a", "b", "c", "", "a b"]), max_size=12),
    st.lists(st.sampled_from(["a", "b", "c", "", "d"]), max_size=12),
)
def test_a_patch_made_from_two_texts_gives_back_the_first(old: list[str], new: list[str]) -> None:
    patch = []
    for a0, a1, b0, b1 in diff_hunks(old, new):
        lines = [f"-{line}" for line in old[a0:a1]] + [f"+{line}" for line in new[b0:b1]]
        patch.append({"oldStart": a0 + 1, "oldLines": a1 - a0, "newStart": b0 + 1, "newLines": b1 - b0, "lines": lines})
    assert before_from_structured_patch(patch, new) == old
    assert split_lines("".join(f"{line}\n" for line in old)) == old
