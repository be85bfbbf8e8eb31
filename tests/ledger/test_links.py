"""Commit links in the ledger: checkpoints and the generations a commit carries, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from codewitness import ledger
from codewitness.attribution.notes import CommitNote, NoteEntry
from codewitness.model import Checkpoint, Generation
from codewitness.store import Store, schema


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
        ledger.record_commit(store, "c" * 40, note, checkpoints=[cp])
    assert ledger.commits_of(store, gen.id) == ["c" * 40]
    assert ledger.commits_of(store, "gen_notstored0000000000") == []
    [stored] = ledger.checkpoints_of(store, gen.id)
    assert (stored.path, stored.added, stored.removed, stored.after_hash) == ("a.py", ((1, 3),), (), "f" * 64)
    with store.read() as conn:
        rows = conn.execute(select(schema.commit_generations)).all()
    assert [(r.path, r.ai_lines, r.mixed_lines) for r in rows] == [("a.py", 2, 1)]


def test_record_commit_records_the_generations_it_links(store: Store) -> None:
    gen = Generation.create(agent="codex", model="m", prompt="p", output="x = 1")
    note = CommitNote(files={"a.py": (NoteEntry("ai", ((1, 1),), (gen.id,)),)})
    ledger.record_commit(store, "d" * 40, note, generations=[gen])
    assert ledger.get(store, gen.id).output == "x = 1"
    assert ledger.commits_of(store, gen.id) == ["d" * 40]
