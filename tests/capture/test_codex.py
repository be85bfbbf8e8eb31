"""Codex payloads and apply_patch envelopes, read exactly: which files, from where, with which lines."""

from __future__ import annotations

import pytest

from codewitness.capture import codex
from codewitness.capture._base import Capture, FileEdit, Parsed, PayloadError, SessionInfo, Snapshot

PATCH = "\r\n".join(
    [
        "*** Begin Patch",
        "*** Add File: src/new.py",
        "+x = 1",
        "+y = 2",
        "*** Update File: src/old.py",
        "*** Move to: src/moved.py",
        "@@ def f():",
        "-    return 1",
        "+    return 2",
        "     # end",
        "+# tail",
        "*** Delete File: src/gone.py",
        "*** Add File: docs/notes: draft.md",
        "+# Notes",
        "*** End Patch",
        "+not part of any file",
    ]
)


def test_an_envelope_names_every_file_it_writes_with_its_source() -> None:
    assert codex.patch_files(PATCH) == {
        "src/new.py": ("src/new.py", "+x = 1\n+y = 2"),
        "src/moved.py": ("src/old.py", "@@ def f():\n-    return 1\n+    return 2\n     # end\n+# tail"),
        "docs/notes: draft.md": ("docs/notes: draft.md", "+# Notes"),
    }


def test_a_move_without_a_new_name_keeps_the_file_where_it_was() -> None:
    patch = "*** Begin Patch\n*** Update File: a.py\n*** Move to:  \n+x\n*** End Patch\n"
    assert codex.patch_files(patch) == {"a.py": ("a.py", "+x")}
    # A "Move to" before any file, and an envelope that just ends, change nothing.
    assert codex.patch_files("*** Begin Patch\n*** Move to: b.py\n*** Add File: c.py\n+c") == {"c.py": ("c.py", "+c")}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ("", "apply_patch input is not a '*** Begin Patch' envelope"),
        ("*** Add File: a.py\n+x\n", "apply_patch input is not a '*** Begin Patch' envelope"),
        ("*** Begin Patch\n*** Add File:  \n+x\n*** End Patch", "apply_patch names an empty path"),
    ],
)
def test_bad_envelopes_are_payload_errors(patch: str, message: str) -> None:
    with pytest.raises(PayloadError) as info:
        codex.patch_files(patch)
    assert str(info.value) == message


def _payload(event: str, **extra: object) -> dict[str, object]:
    return {
        "hook_event_name": event,
        "session_id": "s1",
        "cwd": "/repo",
        "model": "gpt-5-codex",
        "tool_name": "apply_patch",
        "tool_use_id": "call_1",
        "tool_input": {"command": PATCH},
        **extra,
    }


def test_after_the_patch_every_written_file_is_one_edit_with_its_added_runs() -> None:
    parsed = codex.parse(_payload("PostToolUse", transcript_path="/t.jsonl"))
    assert parsed.cwd == "/repo"
    (capture,) = parsed.actions
    assert isinstance(capture, Capture)
    assert (capture.key, capture.session_id, capture.model, capture.transcript_path) == (
        "call_1",
        "s1",
        "gpt-5-codex",
        "/t.jsonl",
    )
    assert capture.edits == (
        FileEdit(path="docs/notes: draft.md", output="+# Notes", fragments=(("", "# Notes"),)),
        FileEdit(
            path="src/moved.py",
            output="@@ def f():\n-    return 1\n+    return 2\n     # end\n+# tail",
            source_path="src/old.py",
            fragments=(("", "    return 2"), ("", "# tail")),
        ),
        FileEdit(path="src/new.py", output="+x = 1\n+y = 2", fragments=(("", "x = 1\ny = 2"),)),
    )


def test_before_the_patch_the_sources_are_snapshotted() -> None:
    assert codex.parse(_payload("PreToolUse")) == Parsed(
        "/repo", (Snapshot("call_1", ("docs/notes: draft.md", "src/new.py", "src/old.py")),)
    )


def test_a_prompt_carries_the_model_of_the_payload() -> None:
    parsed = codex.parse({"hook_event_name": "UserPromptSubmit", "session_id": "s1", "prompt": "add x", "model": "m"})
    assert parsed.actions == (SessionInfo("s1", "add x", "m"),)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"hook_event_name": "PostToolUse", "tool_name": "apply_patch", "tool_input": {}}, "needs tool_input.command"),
        (
            {
                "hook_event_name": "PostToolUse",
                "tool_name": "apply_patch",
                "tool_use_id": "c",
                "tool_input": {"command": "*** Begin Patch\n*** Delete File: a.py\n*** End Patch"},
            },
            "apply_patch writes no files",
        ),
        ({"hook_event_name": "PostToolUse", "tool_name": "shell", "tool_input": {}}, "tool 'shell' is not captured"),
        ({"hook_event_name": "Stop"}, "event 'Stop' is not captured"),
    ],
)
def test_payloads_that_capture_nothing_say_why(payload: dict[str, object], message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        codex.parse(payload)
