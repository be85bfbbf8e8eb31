"""The hook never breaks the agent: bad input is logged, skipped and exits 0; Gemini end to end."""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any

import pytest
from capture_helpers import Hooks, fixture_text
from hypothesis import given, settings
from hypothesis import strategies as st

from codewitness.attribution.notes import read_note
from codewitness.capture import claude, gemini
from codewitness.capture.journal import Journal
from codewitness.cli import main


def _edits(hooks: Hooks) -> list[Any]:
    with Journal.open(hooks.root / ".codewitness") as journal:
        return journal.edits()


@pytest.mark.parametrize(
    "data",
    [b"", b"not json", b"[1, 2]", b'{"hook_event_name": "PostToolUse"}', b"\xff\xfe\x00", b'{"tool_input": 5}'],
)
def test_malformed_payloads_are_logged_and_exit_zero(hooks: Hooks, data: bytes) -> None:
    assert hooks.run("claude", data) == 0
    assert "claude: ignored payload" in hooks.log()
    assert _edits(hooks) == []


def test_unknown_agent_exits_zero_and_logs(hooks: Hooks) -> None:
    assert hooks.run("vim", "{}") == 0
    assert "unknown agent 'vim'" in hooks.log()


def test_files_outside_the_repo_and_binary_files_are_skipped(hooks: Hooks, installed: Any) -> None:
    outside = hooks.root.parent / "outside.py"
    outside.write_text("x = 1\n", "utf-8")
    (hooks.root / "blob.bin").write_bytes(b"\x00\x01\x02")
    for path in (str(outside), str(hooks.root / "blob.bin"), str(hooks.root / ".git" / "config")):
        payload = {
            "hook_event_name": "PostToolUse",
            "tool_name": "Write",
            "tool_use_id": "t",
            "cwd": str(hooks.root),
            "tool_input": {"file_path": path, "content": "x = 1\n"},
        }
        assert hooks.run("claude", payload) == 0
    log = hooks.log()
    assert "outside.py: outside the repository" in log
    assert "blob.bin: binary file" in log
    assert ".git/config: outside the repository" in log
    assert _edits(hooks) == []


def test_large_files_are_skipped(hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEWITNESS_CAPTURE_MAX_FILE_BYTES", "10")
    (hooks.root / "big.py").write_text("x = 1\n" * 10, "utf-8")
    payload = {
        "hook_event_name": "PostToolUse",
        "tool_name": "Write",
        "cwd": str(hooks.root),
        "tool_input": {"file_path": "big.py", "content": "x = 1\n" * 10},
    }
    assert hooks.run("claude", payload) == 0
    assert "big.py: 60 bytes is over the 10 byte limit" in hooks.log()


def test_a_broken_journal_is_logged_not_raised(hooks: Hooks) -> None:
    folder = hooks.root / ".codewitness"
    (folder / "pending.db").unlink(missing_ok=True)
    (folder / "pending.db").write_bytes(b"this is not a database" * 100)
    payload = hooks.payload("claude_pre_write.json", TRANSCRIPT="/nonexistent")
    assert hooks.run("claude", payload) == 0
    assert "error:" in hooks.log()


def test_a_journal_that_cannot_be_opened_leaves_no_file_open(tmp_path: Any) -> None:
    # The failed open's connection is closed at once, not whenever the garbage collector gets to
    # it (3.13 warns about a connection collected unclosed); the exception held here keeps the
    # failed call's frame, and whatever it still referenced, alive.
    folder = tmp_path / ".codewitness"
    folder.mkdir()
    (folder / "pending.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        Journal.open(folder)
    assert caught.value.__traceback__ is not None
    assert _open_files_under(folder) == []


def _open_files_under(folder: Any) -> list[str]:
    fds = "/proc/self/fd"
    if not os.path.isdir(fds):
        pytest.skip("needs /proc to list this process's open files")
    targets = []
    for fd in os.listdir(fds):
        try:
            targets.append(os.readlink(os.path.join(fds, fd)))
        except OSError:
            continue  # the listing's own descriptor, closed by now
    return [target for target in targets if target.startswith(os.path.realpath(folder))]


def test_hook_command_through_the_cli_reads_stdin(hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    payload = hooks.payload("gemini_before_agent.json", TRANSCRIPT="/nonexistent")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(payload).encode()), "utf-8"))
    assert main(["hook", "gemini"]) == 0
    with Journal.open(hooks.root / ".codewitness") as journal:
        assert journal.session("gemini-cli", payload["session_id"]) == ("Write a greeting helper", None)


def test_gemini_write_file_is_captured_with_model_from_transcript(installed: Any, hooks: Hooks) -> None:
    transcript = hooks.root.parent / "gemini-session.json"
    transcript.write_text(fixture_text("gemini_transcript.json", ROOT=str(hooks.root)), "utf-8")
    values = {"TRANSCRIPT": str(transcript)}
    assert hooks.run("gemini", hooks.payload("gemini_before_agent.json", **values)) == 0
    assert hooks.run("gemini", hooks.payload("gemini_before_tool.json", **values)) == 0
    after = hooks.payload("gemini_after_tool.json", **values)
    installed.write("src/greet.py", after["tool_input"]["content"])
    assert hooks.run("gemini", after) == 0
    commit = installed.commit("greet")
    note = read_note(hooks.root, commit)
    assert note is not None, hooks.log()
    entry = note.entry_for("src/greet.py", 1)
    assert (entry.origin, entry.agent, entry.model) == ("ai", "gemini-cli", "gemini-2.5-pro")
    assert note.entry_for("src/greet.py", 2).origin == "ai"


def test_status_and_notes_show(installed: Any, hooks: Hooks, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    values = {"TRANSCRIPT": str(hooks.root.parent / "none.jsonl")}
    assert hooks.run("claude", hooks.payload("claude_pre_write.json", **values)) == 0
    write = hooks.payload("claude_post_write.json", **values)
    installed.write("src/calc.py", write["tool_input"]["content"])
    assert hooks.run("claude", write) == 0
    installed.write("src/calc.py", write["tool_input"]["content"].replace("a + b", "b + a"))
    monkeypatch.chdir(hooks.root)
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    pending = json.loads(capsys.readouterr().out)["pending"]
    assert pending == [
        {
            "path": "src/calc.py",
            "ai_lines": 5,
            "mixed_lines": 1,
            "edits": 1,
            "agents": ["claude-code"],
            "models": [],
        }
    ]
    assert main(["status"]) == 0
    assert "src/calc.py" in capsys.readouterr().out
    commit = installed.commit("calc")
    assert main(["notes", "show", commit, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["schema"] == "codewitness.note/1"
    assert shown["delta"] == {"ai_written": 6, "ai_kept": 5, "ai_edited": 1, "human": 0}
    assert shown["files"]["src/calc.py"][0]["model"] == "unknown"  # no transcript to read it from
    assert main(["notes", "show"]) == 0
    assert "kept 5" in capsys.readouterr().out
    assert main(["notes", "show", "HEAD~2"]) == 1  # committed before `codewitness init`
    assert "has no codewitness note" in capsys.readouterr().err
    assert main(["notes", "show", "no-such-rev"]) == 1


def test_transcript_readers_survive_missing_and_corrupt_files(tmp_path: Any) -> None:
    bad = tmp_path / "t.jsonl"
    truncated = '{"type": "assistant", "message": {"content": [{"type": "tool_use", "id": "x"\n'
    bad.write_text(truncated, "utf-8")
    assert claude.from_transcript(str(bad), "x") == (None, None)
    assert claude.from_transcript(str(tmp_path / "missing"), "x") == (None, None)
    assert claude.from_transcript(str(tmp_path), "x") == (None, None)  # a folder
    assert gemini.from_transcript(str(bad), None, "a.py") == (None, None)
    assert bad.read_text("utf-8") == truncated  # read, never repaired or truncated
    # A corrupt line among good ones is skipped; the good ones still answer.
    good = [
        {"type": "user", "message": {"role": "user", "content": "make it faster"}},
        {
            "type": "assistant",
            "message": {"role": "assistant", "model": "m2", "content": [{"type": "tool_use", "id": "x"}]},
        },
    ]
    bad.write_text(json.dumps(good[0]) + "\n" + truncated + "\xff not json\n" + json.dumps(good[1]) + "\n", "utf-8")
    assert claude.from_transcript(str(bad), "x") == ("m2", "make it faster")


def test_max_file_bytes_comes_from_the_config_and_follows_its_changes(hooks: Hooks) -> None:
    from codewitness.capture.hook import _max_bytes

    config = hooks.root / "codewitness.toml"
    assert _max_bytes(hooks.root) == 2_000_000
    assert (hooks.root / ".codewitness" / "hook-settings.json").exists()
    config.write_text(config.read_text("utf-8") + "max_file_bytes = 1234\n", "utf-8")
    os.utime(config, ns=(1, 1))  # a different modification time, whatever the clock resolution
    assert _max_bytes(hooks.root) == 1234
    assert _max_bytes(hooks.root) == 1234  # now from the cache


_texts = st.sampled_from(["fix it", "add tests", "", "uses toolu_A in a sentence"])
_text_part = st.builds(lambda text: {"type": "text", "text": text}, _texts)
_result_part = st.builds(
    lambda tid: {"type": "tool_result", "tool_use_id": tid, "content": "<system-reminder>ok</system-reminder>"},
    st.sampled_from(["toolu_A", "toolu_B"]),
)
_other_part = st.just({"type": "image", "source": {"type": "base64", "data": "AAAA"}})

_entries = st.one_of(
    st.builds(
        lambda text, meta: {"type": "user", "message": {"role": "user", "content": text}, **meta},
        _texts,
        st.sampled_from([{}, {"isMeta": True}, {"isMeta": False}]),
    ),
    # A person's prompt as a list of parts (text, images), and tool results, alone or mixed with text
    # (Claude Code appends system reminders as text parts beside a tool result).
    st.builds(
        lambda parts: {"type": "user", "message": {"role": "user", "content": parts}},
        st.lists(st.one_of(_text_part, _result_part, _other_part), max_size=3),
    ),
    st.builds(
        lambda tid, model: {
            "type": "assistant",
            "message": {
                "role": "assistant",
                "model": model,
                "content": [{"type": "tool_use", "id": tid, "name": "Edit"}],
            },
        },
        st.sampled_from(["toolu_A", "toolu_B"]),
        st.sampled_from(["claude-opus-4-5", "claude-haiku-4-5"]),
    ),
    st.just("not json at all toolu_A"),
)


def _typed(entry: Any) -> str | None:
    """What a person typed in a user entry, read plainly (``None``: not a prompt)."""
    if not isinstance(entry, dict) or entry["type"] != "user" or entry.get("isMeta"):
        return None
    content = entry["message"]["content"]
    if isinstance(content, str):
        return content or None
    if any(part["type"] == "tool_result" for part in content):
        return None
    return "\n".join(part["text"] for part in content if part["type"] == "text") or None


def _reference(entries: list[Any], tool_id: str) -> tuple[str | None, str | None]:
    """The plain reading: parse every line, take the last matching call, the user text before it."""
    for index in range(len(entries) - 1, -1, -1):
        entry = entries[index]
        if not isinstance(entry, dict) or entry["type"] != "assistant":
            continue
        if entry["message"]["content"][0]["id"] != tool_id:
            continue
        for earlier in reversed(entries[:index]):
            typed = _typed(earlier)
            if typed is not None:
                return entry["message"]["model"], typed
        return entry["message"]["model"], None
    return None, None


@given(entries=st.lists(_entries, max_size=12))
@settings(max_examples=300)
def test_claude_transcript_reader_matches_a_plain_reading(tmp_path_factory: Any, entries: list[Any]) -> None:
    path = tmp_path_factory.mktemp("t") / "t.jsonl"
    path.write_text("".join((json.dumps(e) if isinstance(e, dict) else e) + "\n" for e in entries), "utf-8")
    assert claude.from_transcript(str(path), "toolu_A") == _reference(entries, "toolu_A")


def test_a_tool_result_with_a_system_reminder_beside_it_is_not_the_prompt(tmp_path: Any) -> None:
    """Issue 25 survivor capture/claude.py: a typo in ``"tool_result"`` made the reminder the prompt
    (and so changed the generation id)."""
    entries = [
        {"type": "user", "message": {"role": "user", "content": [{"type": "text", "text": "rename the helper"}]}},
        {
            "type": "assistant",
            "message": {"role": "assistant", "model": "m1", "content": [{"type": "tool_use", "id": "toolu_1"}]},
        },
        {
            "type": "user",
            "message": {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "done"},
                    {"type": "text", "text": "<system-reminder>the file changed</system-reminder>"},
                ],
            },
        },
        {
            "type": "assistant",
            "message": {"role": "assistant", "model": "m1", "content": [{"type": "tool_use", "id": "toolu_2"}]},
        },
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in entries), "utf-8")
    assert claude.from_transcript(str(path), "toolu_2") == ("m1", "rename the helper")


def test_claude_transcript_prompt_far_back_is_found(tmp_path: Any) -> None:
    call = {
        "type": "assistant",
        "message": {"role": "assistant", "model": "m1", "content": [{"type": "tool_use", "id": "toolu_Z"}]},
    }
    filler = {
        "type": "assistant",
        "message": {"role": "assistant", "model": "m0", "content": [{"type": "text", "text": "x" * 1000}]},
    }
    lines = [{"type": "user", "message": {"role": "user", "content": "the real prompt"}}, *[filler] * 600, call]
    path = tmp_path / "long.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    assert path.stat().st_size > 600_000
    assert claude.from_transcript(str(path), "toolu_Z") == ("m1", "the real prompt")


def test_the_journal_does_not_import_the_hook_base_back() -> None:
    from tests.imports import reaches

    assert reaches("codewitness.capture._base", "codewitness.capture.journal")
    assert not reaches("codewitness.capture.journal", "codewitness.capture._base")
