"""The current shape of every table, as SQLAlchemy Core objects used by queries.

Tables are created and changed only by migrations (:mod:`codewitness.store.migrations`);
this module mirrors the result. Rows are insert-only and time-keyed where they describe
events, so they map onto a columnar engine unchanged.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text

from codewitness.store.types import LosslessText, UTCDateTime

metadata = MetaData()

migrations = Table(
    "cw_migrations",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("applied_at", UTCDateTime(), nullable=False),
)

prompts = Table(
    "prompts",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("text", LosslessText(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

prompt_versions = Table(
    "prompt_versions",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("prompt_hash", String(64), ForeignKey("prompts.hash"), nullable=False),
    Column("label", String(200)),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_prompt_versions_hash", "name", "prompt_hash", unique=True),
)

generations = Table(
    "generations",
    metadata,
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

generation_files = Table(
    "generation_files",
    metadata,
    Column("generation_id", String(40), ForeignKey("generations.id"), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("start_line", Integer, primary_key=True),
    Column("end_line", Integer, primary_key=True),
    Index("ix_generation_files_path", "path"),
)

# -- capture (m0002): agent edit checkpoints and the generations each commit carries ----------
checkpoints = Table(
    "checkpoints",
    metadata,
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

commit_generations = Table(
    "commit_generations",
    metadata,
    Column("commit_sha", String(64), primary_key=True),
    Column("generation_id", String(40), ForeignKey("generations.id"), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("ai_lines", Integer, nullable=False),
    Column("mixed_lines", Integer, nullable=False),
    Column("linked_at", UTCDateTime(), nullable=False),
    Index("ix_commit_generations_generation", "generation_id"),
)

# -- attribution cache (m0003): rebuildable, keyed by immutable git object ids ----------------
attr_blame = Table(
    "attr_blame",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("path", String(1000), nullable=False),
    Column("blob", String(64), nullable=False),
    Column("data", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_attr_blame_key", "blob", "path"),
)

attr_commit = Table(
    "attr_commit",
    metadata,
    Column("commit", String(64), primary_key=True),
    Column("data", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

attr_blob = Table(
    "attr_blob",
    metadata,
    Column("kind", String(40), primary_key=True),
    Column("blob", String(64), primary_key=True),
    Column("data", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
