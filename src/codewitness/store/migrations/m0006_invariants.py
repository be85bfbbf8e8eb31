"""0006: invariant breaches and per-interval rule counts; the review queue and regression cases.

Runtime tables are insert-only and keyed by the record id the sensor assigned, so ingesting a
spool twice adds nothing. A review verdict is a new row in ``review_marks`` (the latest wins);
a call marked wrong is copied into ``regression_cases`` for later replay.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Connection, Float, Index, Integer, MetaData, String, Table

from codewitness.store.types import LosslessText, UTCDateTime

_md = MetaData()


def _source() -> list[Column[object]]:
    return [
        Column("service", String(200), nullable=False),
        Column("revision", String(200)),
        Column("host", String(255), nullable=False),
        Column("pid", Integer, nullable=False),
    ]


def _function() -> list[Column[object]]:
    return [
        Column("function", String(1000), nullable=False),
        Column("origin", String(20), nullable=False),
        Column("ai_share", Float, nullable=False),
        Column("generation_ids", JSON, nullable=False),
        Column("models", JSON, nullable=False),
        Column("path", String(1000)),
        Column("line", Integer),
    ]


Table(
    "runtime_breaches",
    _md,
    Column("id", String(64), primary_key=True),
    *_source(),
    *_function(),
    Column("time", UTCDateTime(), nullable=False),
    Column("rule", String(500), nullable=False),
    Column("rule_kind", String(20), nullable=False),
    Column("expression", LosslessText(), nullable=False),
    Column("mode", String(10), nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("result", JSON),
    Column("detail", LosslessText()),
    Column("ingested_at", UTCDateTime(), nullable=False),
    Index("ix_runtime_breaches_function_time", "function", "time"),
)
Table(
    "runtime_invariant_counts",
    _md,
    Column("id", String(64), primary_key=True),
    *_source(),
    Column("time", UTCDateTime(), nullable=False),
    Column("function", String(1000), nullable=False),
    Column("rule", String(500), nullable=False),
    Column("rule_kind", String(20), nullable=False),
    Column("expression", LosslessText(), nullable=False),
    Column("rule_source", String(20), nullable=False),
    Column("passed", BigInteger, nullable=False),
    Column("breached", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("ingested_at", UTCDateTime(), nullable=False),
    Index("ix_runtime_invariant_counts_rule", "function", "rule"),
)
Table(
    "review_items",
    _md,
    Column("id", String(64), primary_key=True),
    *_source(),
    *_function(),
    Column("time", UTCDateTime(), nullable=False),
    Column("rule", String(1000), nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("result", JSON),
    Column("ingested_at", UTCDateTime(), nullable=False),
    Index("ix_review_items_time", "time"),
)
Table(
    "review_marks",
    _md,
    Column("id", String(64), primary_key=True),
    Column("item_id", String(64), nullable=False),
    Column("verdict", String(10), nullable=False),
    Column("note", LosslessText()),
    Column("marked_at", UTCDateTime(), nullable=False),
    Index("ix_review_marks_item", "item_id"),
)
Table(
    "regression_cases",
    _md,
    Column("id", String(64), primary_key=True),
    Column("item_id", String(64), nullable=False, unique=True),
    Column("function", String(1000), nullable=False),
    Column("revision", String(200)),
    Column("generation_ids", JSON, nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("wrong_result", JSON),
    Column("note", LosslessText()),
    Column("created_at", UTCDateTime(), nullable=False),
)


def upgrade(conn: Connection) -> None:
    """Create the invariant and review tables."""
    _md.create_all(conn)
