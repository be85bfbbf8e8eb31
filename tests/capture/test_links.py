"""Checkpoints and commit links in the store, on SQLite and PostgreSQL; details completed at commit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codewitness import ledger
from codewitness.attribution.notes import CommitNote, NoteEntry, read_note
from codewitness.capture import links
from codewitness.capture.commit import complete_details, edit_generation
from codewitness.capture.journal import Journal
from codewitness.model import Checkpoint, Generation
from codewitness.store import Store, open_store


def test_record_commit_is_idempotent_and_queryable(store: Store) -> None:
    gen = ledger.record(store, Generation.create(agent="claude-code", model="m", prompt="p", output="o"))
    cp = Checkpoint(
        id="cp_1",
        path="a.py",
        before_hash=None,
        after_hash="f" * 64,
        added=((1, 3),),
        removed=(),
        generation_id=gen.id,
        session_id="s",
        agent="claude-code",
    )
    note = CommitNote(
        files={
            "a.py": (
                NoteEntry("ai", ((1, 2),), (gen.id,)),
                NoteEntry("mixed", ((3, 3),), (gen.id,)),
                NoteEntry("ai", ((9, 9),), ("gen_notstored0000000000",)),
                NoteEntry("human", ((4, 4),)),
            )
        }
    )
    for _ in range(2):
        links.record_commit(store, "c" * 40, [cp], note)
    assert links.commits_of(store, gen.id) == ["c" * 40]
    assert links.commits_of(store, "gen_notstored0000000000") == []
    [stored] = links.checkpoints_of(store, gen.id)
    assert (stored.path, stored.added, stored.removed, stored.after_hash) == ("a.py", ((1, 3),), (), "f" * 64)
    from sqlalchemy import select

    from codewitness.store import schema

    with store.read() as conn:
        rows = conn.execute(select(schema.commit_generations)).all()
    assert [(r.path, r.ai_lines, r.mixed_lines) for r in rows] == [("a.py", 2, 1)]


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


def _agent_write(installed: Any, hooks: Any, name: str) -> None:
    pre = {
        "session_id": "s",
        "cwd": str(hooks.root),
        "hook_event_name": "PreToolUse",
        "tool_name": "Write",
        "tool_use_id": f"toolu_{name}",
        "tool_input": {"file_path": str(hooks.root / name), "content": "x = 1\n"},
    }
    assert hooks.run("claude", pre) == 0
    installed.write(name, "x = 1\n")
    assert hooks.run("claude", {**pre, "hook_event_name": "PostToolUse"}) == 0


@pytest.mark.postgres
def test_post_commit_records_into_the_configured_postgresql(
    installed: Any, hooks: Any, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEWITNESS_DB", pg_url)  # the git hook process inherits it
    _agent_write(installed, hooks, "src/pg.py")
    commit = installed.commit("pg")
    note = read_note(hooks.root, commit)
    assert note is not None, hooks.log()
    gen = note.entry_for("src/pg.py", 1).generation_ids[0]
    store = open_store(pg_url)
    try:
        assert ledger.get(store, gen).tool_call_id == "toolu_src/pg.py"
        assert links.commits_of(store, gen) == [commit]
    finally:
        store.close()


def test_an_unreachable_store_keeps_the_commit_the_note_and_the_pending_edits(
    installed: Any, hooks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEWITNESS_DB", "sqlite:////proc/no/such/dir/witness.db")
    _agent_write(installed, hooks, "src/lost.py")
    commit = installed.commit("store down")  # git itself succeeds
    note = read_note(hooks.root, commit)
    assert note is not None and note.entry_for("src/lost.py", 1).origin == "ai"
    assert "git post-commit: error:" in hooks.log()
    with Journal.open(hooks.root / ".codewitness") as journal:
        assert journal.pending_paths() == ["src/lost.py"]  # kept for the next successful link
