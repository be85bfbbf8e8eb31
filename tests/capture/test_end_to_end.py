"""End to end: replayed agent hook payloads, a person's edits, a real commit -> note and ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from capture_helpers import Hooks, fixture_text

from codewitness import ledger
from codewitness.attribution.notes import read_note
from codewitness.store import open_store


def _origins(note: Any, path: str, count: int) -> list[str]:
    """The origin of lines 1..count of ``path`` in the note ("-" for lines it does not cover)."""
    result = []
    for line in range(1, count + 1):
        entry = note.entry_for(path, line)
        result.append(entry.origin if entry else "-")
    return result


def _store(root: Path) -> Any:
    return open_store(f"sqlite:///{root / '.codewitness' / 'witness.db'}")


def test_claude_write_edit_human_edit_commit(installed: Any, hooks: Hooks) -> None:
    root = installed.root
    transcript = root.parent / "claude-session.jsonl"
    transcript.write_text(fixture_text("claude_transcript_1.jsonl", ROOT=str(root)), "utf-8")
    values = {"TRANSCRIPT": str(transcript)}

    # Write: PreToolUse, the tool writes the file, PostToolUse (each hook its own process).
    assert hooks.run_process("claude", hooks.payload("claude_pre_write.json", **values)).returncode == 0
    write = hooks.payload("claude_post_write.json", **values)
    installed.write("src/calc.py", write["tool_input"]["content"])
    done = hooks.run_process("claude", write)
    assert done.returncode == 0 and done.stdout == b""

    # Edit, in a later turn of the same session.
    with transcript.open("a", encoding="utf-8") as handle:
        handle.write(fixture_text("claude_transcript_2.jsonl", ROOT=str(root)))
    assert hooks.run_process("claude", hooks.payload("claude_pre_edit.json", **values)).returncode == 0
    text = (
        (root / "src/calc.py").read_text("utf-8").replace("    return a - b", "    result = a - b\n    return result")
    )
    installed.write("src/calc.py", text)
    assert hooks.run_process("claude", hooks.payload("claude_post_edit.json", **values)).returncode == 0

    # A person changes one AI line and adds one of their own, then commits.
    text = text.replace("    return a + b\n", "    return a + b  # checked\n") + "# end of calc\n"
    installed.write("src/calc.py", text)
    commit = installed.commit("Add calculator")

    note = read_note(root, commit)
    assert note is not None, hooks.log()
    assert _origins(note, "src/calc.py", 8) == ["ai", "mixed", "ai", "ai", "ai", "ai", "ai", "human"]
    assert note.entry_for("src/calc.py", 1).model == "claude-opus-4-5-20251101"
    assert note.entry_for("src/calc.py", 2).model == "claude-opus-4-5-20251101"
    assert note.entry_for("src/calc.py", 6).model == "claude-sonnet-4-5-20250929"
    assert note.entry_for("src/calc.py", 6).agent == "claude-code"
    assert note.entry_for("src/calc.py", 6).session_id == "5f0c2a9e-8d41-4c1b-9a57-3e2f1b6d7c80"
    assert (note.delta.ai_kept, note.delta.ai_edited, note.delta.human) == (6, 1, 1)
    assert note.delta.ai_written == 8  # six lines written, two rewritten by the Edit

    write_gen = note.entry_for("src/calc.py", 1).generation_ids[0]
    edit_gen = note.entry_for("src/calc.py", 6).generation_ids[0]
    assert write_gen != edit_gen
    store = _store(root)
    try:
        written = ledger.get(store, write_gen)
        assert written.model == "claude-opus-4-5-20251101"
        assert written.prompt == "Create src/calc.py with add and sub functions"
        assert written.tool_call_id == "toolu_01HqWrite7bK2mN4pQ8rS1tU"
        assert written.output == write["tool_input"]["content"]
        edited = ledger.get(store, edit_gen)
        assert edited.prompt == "Make sub store its result in a variable first"
        assert edited.output == "    result = a - b\n    return result"
        assert [(r.path, r.start, r.end) for r in edited.files] == [("src/calc.py", 6, 7)]
        assert ledger.commits_of(store, edit_gen) == [commit]
        checkpoints = ledger.checkpoints_of(store, edit_gen)
        assert [(c.path, c.added, c.removed) for c in checkpoints] == [("src/calc.py", ((6, 7),), ((6, 6),))]
    finally:
        store.close()

    # Everything was committed: nothing is pending any more.
    hooks.run("claude", "{}")
    from codewitness.capture.journal import Journal

    with Journal.open(root / ".codewitness") as journal:
        assert journal.pending_paths() == []


def test_cursor_after_file_edit_human_edit_commit(installed: Any, hooks: Hooks) -> None:
    root = installed.root
    installed.write("src/app.py", "import sys\n\n\ndef parse_port(text):\n    return int(text)\n")
    installed.commit("app")

    # A person starts a change of their own before the agent runs (not staged).
    installed.write(
        "src/app.py", "#!/usr/bin/env python3\nimport sys\n\n\ndef parse_port(text):\n    return int(text)\n"
    )
    assert hooks.run_process("cursor", hooks.payload("cursor_before_submit_prompt.json")).returncode == 0

    # The agent edits app.py (Cursor applies the edit, then calls afterFileEdit) ...
    app = hooks.payload("cursor_after_file_edit_app.json")
    edit = app["edits"][0]
    text = (root / "src/app.py").read_text("utf-8").replace(edit["old_string"], edit["new_string"])
    installed.write("src/app.py", text)
    assert hooks.run_process("cursor", app).returncode == 0
    # ... and creates config.py.
    config = hooks.payload("cursor_after_file_edit_config.json")
    installed.write("src/config.py", config["edits"][0]["new_string"])
    assert hooks.run_process("cursor", config).returncode == 0

    # The person tweaks one AI line, then commits both files.
    text = text.replace('raise ValueError(f"bad port {port}")', 'raise ValueError(f"port out of range: {port}")')
    installed.write("src/app.py", text)
    commit = installed.commit("Validate ports, load config")

    note = read_note(root, commit)
    assert note is not None, hooks.log()
    # app.py as committed: 1 shebang (human), 2-5 unchanged, 6-9 the agent's new body with line 8 edited.
    assert _origins(note, "src/app.py", 9) == ["human", "-", "-", "-", "-", "ai", "ai", "mixed", "ai"]
    assert _origins(note, "src/config.py", 6) == ["ai"] * 6
    entry = note.entry_for("src/app.py", 6)
    assert (entry.agent, entry.model, entry.session_id) == (
        "cursor",
        "gpt-5.1-codex",
        "c0ffee00-1234-4abc-9def-000000000042",
    )
    assert (note.delta.ai_kept, note.delta.ai_edited, note.delta.human) == (9, 1, 1)
    store = _store(root)
    try:
        generation = ledger.get(store, entry.generation_ids[0])
        assert generation.prompt == "Add input validation to parse_port and a config loader"
        assert generation.tool_call_id == "9a8b7c6d-0001-4e5f-8a9b-0c1d2e3f4a5b"
        found = ledger.find(store, agent="cursor")
        assert {g.id for g in found} == {entry.generation_ids[0], note.entry_for("src/config.py", 1).generation_ids[0]}
    finally:
        store.close()
