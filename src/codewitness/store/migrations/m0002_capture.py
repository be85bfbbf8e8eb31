"""0002: capture — agent edit checkpoints, and which generations each commit carries."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Connection, ForeignKey, Index, Integer, MetaData, String, Table

from codewitness.store.types import UTCDateTime

_md = MetaData()

_generations_ref = Table("generations", _md, Column("id", String(40), primary_key=True))
_checkpoints = Table(
    "checkpoints",
    _md,
    Column("id", String(40), primary_key=True),
    Column("generation_id", String(40), ForeignKey("generations.id"), nullable=False),
    Column("path", String(1000), nullable=False),
    Column("before_hash", String(64)),
    Column("after_hash", String(64)),
    Column("added", JSON, nullable=False),
    Column("removed", JSON, nullable=False),
    Column("session_id", String(200)),
    Column("agent", String(100)),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_checkpoints_generation", "generation_id"),
    Index("ix_checkpoints_path", "path"),
)
_commit_generations = Table(
    "commit_generations",
    _md,
    Column("commit_sha", String(64), primary_key=True),
    Column("generation_id", String(40), ForeignKey("generations.id"), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("ai_lines", Integer, nullable=False),
    Column("mixed_lines", Integer, nullable=False),
    Column("linked_at", UTCDateTime(), nullable=False),
    Index("ix_commit_generations_generation", "generation_id"),
)


def upgrade(conn: Connection) -> None:
    """Create the checkpoint and commit-link tables."""
    _checkpoints.create(conn)
    _commit_generations.create(conn)
