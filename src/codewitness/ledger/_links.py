"""Commit links: which generations a commit carries, and the checkpoints behind them.

``checkpoints`` holds one row per captured agent edit (content hashes before and after, the
line spans written and replaced), linked to its generation; ``commit_generations`` says which
generations a commit carries, per file, with how many of their lines reached it verbatim
(``ai``) or changed by a person (``mixed``). Both are insert-only.

Example:
    >>> record_commit(store, sha, note, generations=[g], checkpoints=[cp])  # doctest: +SKIP
    >>> commits_of(store, g.id)  # doctest: +SKIP
    ['9c1e...']
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import select

from codewitness.attribution.notes import CommitNote
from codewitness.ledger._generations import record
from codewitness.model import Checkpoint, Generation, utcnow
from codewitness.store import Store, schema

__all__ = ["checkpoints_of", "commits_of", "record_commit"]


def record_commit(
    store: Store,
    commit: str,
    note: CommitNote,
    *,
    generations: Iterable[Generation] = (),
    checkpoints: Sequence[Checkpoint] = (),
) -> None:
    """Record the generations of ``commit``, the checkpoints behind it and its generation links (idempotent).

    Args:
        store: the open store.
        commit: the commit's full id.
        note: the commit's attribution note; its ``ai`` and ``mixed`` lines give the link counts.
        generations: the generations the commit carries (stored once, by content address).
        checkpoints: the captured edits behind those generations.

    A note entry naming a generation the ledger does not hold is not linked.
    """
    for generation in generations:
        record(store, generation)
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for path, entries in note.files.items():
        for entry in entries:
            if entry.origin not in ("ai", "mixed"):
                continue
            for gen in entry.generation_ids:
                counts[(gen, path)][0 if entry.origin == "ai" else 1] += entry.line_count
    now = utcnow()
    with store.write() as conn:
        known = {
            row[0]
            for row in conn.execute(
                select(schema.checkpoints.c.id).where(schema.checkpoints.c.id.in_([c.id for c in checkpoints]))
            )
        }
        for cp in checkpoints:
            if cp.id in known or cp.generation_id is None:
                continue
            known.add(cp.id)
            conn.execute(
                schema.checkpoints.insert().values(
                    id=cp.id,
                    generation_id=cp.generation_id,
                    path=cp.path,
                    before_hash=cp.before_hash,
                    after_hash=cp.after_hash,
                    added=[list(span) for span in cp.added],
                    removed=[list(span) for span in cp.removed],
                    session_id=cp.session_id,
                    agent=cp.agent,
                    created_at=cp.created_at,
                )
            )
        table = schema.commit_generations
        linked = {
            (row[0], row[1])
            for row in conn.execute(select(table.c.generation_id, table.c.path).where(table.c.commit_sha == commit))
        }
        stored = {
            row[0]
            for row in conn.execute(
                select(schema.generations.c.id).where(schema.generations.c.id.in_([g for g, _ in counts]))
            )
        }
        for (gen, path), (ai, mixed) in sorted(counts.items()):
            if (gen, path) in linked or gen not in stored:
                continue
            conn.execute(
                table.insert().values(
                    commit_sha=commit, generation_id=gen, path=path, ai_lines=ai, mixed_lines=mixed, linked_at=now
                )
            )


def checkpoints_of(store: Store, generation_id: str) -> list[Checkpoint]:
    """The checkpoints recorded for one generation, oldest first."""
    table = schema.checkpoints
    with store.read() as conn:
        rows = conn.execute(
            select(table).where(table.c.generation_id == generation_id).order_by(table.c.created_at, table.c.id)
        ).all()
    return [
        Checkpoint(
            id=row.id,
            path=row.path,
            before_hash=row.before_hash,
            after_hash=row.after_hash,
            added=tuple((int(a), int(b)) for a, b in row.added),
            removed=tuple((int(a), int(b)) for a, b in row.removed),
            generation_id=row.generation_id,
            session_id=row.session_id,
            agent=row.agent,
            created_at=row.created_at,
        )
        for row in rows
    ]


def commits_of(store: Store, generation_id: str) -> list[str]:
    """The commits that carry lines of one generation."""
    table = schema.commit_generations
    with store.read() as conn:
        rows = conn.execute(
            select(table.c.commit_sha)
            .where(table.c.generation_id == generation_id)
            .distinct()
            .order_by(table.c.commit_sha)
        ).all()
    return [row[0] for row in rows]
