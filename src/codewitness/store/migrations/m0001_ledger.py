"""0001: the generation ledger — prompts, prompt versions, generations and the lines they touched."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Connection, Float, ForeignKey, Index, Integer, MetaData, String, Table

from codewitness.store.types import LosslessText, UTCDateTime

_md = MetaData()

_prompts = Table(
    "prompts",
    _md,
    Column("hash", String(64), primary_key=True),
    Column("text", LosslessText(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
_prompt_versions = Table(
    "prompt_versions",
    _md,
    Column("name", String(200), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("prompt_hash", String(64), ForeignKey("prompts.hash"), nullable=False),
    Column("label", String(200)),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_prompt_versions_hash", "name", "prompt_hash", unique=True),
)
_generations = Table(
    "generations",
    _md,
    Column("id", String(40), primary_key=True),
    Column("agent", String(100), nullable=False),
    Column("model", String(200), nullable=False),
    Column("params", JSON, nullable=False),
    Column("prompt_hash", String(64), ForeignKey("prompts.hash"), nullable=False),
    Column("prompt_name", String(200)),
    Column("prompt_version", Integer),
    Column("output", LosslessText(), nullable=False),
    Column("session_id", String(200)),
    Column("request_id", String(200)),
    Column("tool_call_id", String(200)),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("latency_ms", Float),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_generations_model", "model"),
    Index("ix_generations_agent", "agent"),
    Index("ix_generations_created", "created_at"),
    Index("ix_generations_session", "session_id"),
    Index("ix_generations_prompt", "prompt_name", "prompt_version"),
)
_generation_files = Table(
    "generation_files",
    _md,
    Column("generation_id", String(40), ForeignKey("generations.id"), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("start_line", Integer, primary_key=True),
    Column("end_line", Integer, primary_key=True),
    Index("ix_generation_files_path", "path"),
)


def upgrade(conn: Connection) -> None:
    """Create the ledger tables."""
    _md.create_all(conn)
