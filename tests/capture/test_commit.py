"""Linking captured edits to a commit: details completed at commit, the ledger written on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codewitness import ledger
from codewitness.attribution.notes import read_note
from codewitness.capture.commit import complete_details, edit_generation
from codewitness.capture.journal import Journal
from codewitness.store import open_store


def test_model_and_prompt_missing_at_hook_time_are_completed_at_commit(tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    with Journal.open(tmp_path / ".codewitness") as journal:
        journal.add_edit(
            agent="claude-code",
            path="a.py",
            before=None,
            after="x = 1\n",
            ai_lines=((1, 1),),
            output="x = 1\n",
            tool_call_id="toolu_9",
            transcript_path=str(transcript),
        )
        assert complete_details(journal) == 0  # the transcript is not there yet
        lines: list[dict[str, Any]] = [
            {"type": "user", "message": {"role": "user", "content": "set x"}},
            {
                "type": "assistant",
                "message": {
                    "role": "assistant",
                    "model": "claude-haiku-4-5",
                    "content": [{"type": "tool_use", "id": "toolu_9", "name": "Write"}],
                },
            },
        ]
        transcript.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
        assert complete_details(journal) == 1
        [edit] = journal.edits()
        assert (edit.model, edit.prompt) == ("claude-haiku-4-5", "set x")
        assert edit_generation(edit).model == "claude-haiku-4-5"


def test_post_commit_records_into_the_configured_postgresql(
    installed: Any, hooks: Any, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEWITNESS_DB", pg_url)  # the git hook process inherits it
    hooks.claude_write("src/pg.py")
    commit = installed.commit("pg")
    note = read_note(hooks.root, commit)
    assert note is not None, hooks.log()
    gen = note.entry_for("src/pg.py", 1).generation_ids[0]
    store = open_store(pg_url)
    try:
        assert ledger.get(store, gen).tool_call_id == "toolu_src/pg.py"
        assert ledger.commits_of(store, gen) == [commit]
    finally:
        store.close()


def test_an_unreachable_store_keeps_the_commit_the_note_and_the_pending_edits(
    installed: Any, hooks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEWITNESS_DB", "sqlite:////proc/no/such/dir/witness.db")
    hooks.claude_write("src/lost.py")
    commit = installed.commit("store down")  # git itself succeeds
    note = read_note(hooks.root, commit)
    assert note is not None and note.entry_for("src/lost.py", 1).origin == "ai"
    assert "git post-commit: error:" in hooks.log()
    with Journal.open(hooks.root / ".codewitness") as journal:
        assert journal.pending_paths() == ["src/lost.py"]  # kept for the next successful link
