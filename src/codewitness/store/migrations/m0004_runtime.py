"""0004: runtime facts from the sensor -- interval aggregates, exceptions, samples, sensor health.

Every table is insert-only and time-keyed; ``id`` is the record id the sensor assigned, so
loading the same spool twice adds nothing.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Connection, Float, Index, Integer, MetaData, String, Table

from codewitness.store.types import LosslessText, UTCDateTime

_md = MetaData()


def _source_columns() -> list[Column[object]]:
    # Where a record came from: the same four columns on every runtime table.
    return [
        Column("service", String(200), nullable=False),
        Column("revision", String(200)),
        Column("host", String(255), nullable=False),
        Column("pid", Integer, nullable=False),
    ]


def _function_columns() -> list[Column[object]]:
    return [
        Column("function", String(1000), nullable=False),
        Column("origin", String(20), nullable=False),
        Column("ai_share", Float, nullable=False),
        Column("generation_ids", JSON, nullable=False),
        Column("models", JSON, nullable=False),
        Column("path", String(1000)),
        Column("line", Integer),
    ]


_aggregates = Table(
    "runtime_aggregates",
    _md,
    Column("id", String(64), primary_key=True),
    *_source_columns(),
    *_function_columns(),
    Column("interval_start", UTCDateTime(), nullable=False),
    Column("interval_end", UTCDateTime(), nullable=False),
    Column("calls", BigInteger, nullable=False),
    Column("error_count", BigInteger, nullable=False),
    Column("errors", JSON, nullable=False),
    Column("histogram", JSON, nullable=False),
    Column("total_ns", BigInteger, nullable=False),
    Column("max_ns", BigInteger, nullable=False),
    Column("ingested_at", UTCDateTime(), nullable=False),
    Index("ix_runtime_aggregates_function_time", "function", "interval_start"),
    Index("ix_runtime_aggregates_time", "interval_start"),
)
_exceptions = Table(
    "runtime_exceptions",
    _md,
    Column("id", String(64), primary_key=True),
    *_source_columns(),
    *_function_columns(),
    Column("time", UTCDateTime(), nullable=False),
    Column("type", String(500), nullable=False),
    Column("message", LosslessText(), nullable=False),
    Column("stack", JSON, nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("ingested_at", UTCDateTime(), nullable=False),
    Index("ix_runtime_exceptions_function_time", "function", "time"),
    Index("ix_runtime_exceptions_time", "time"),
)
_samples = Table(
    "runtime_samples",
    _md,
    Column("id", String(64), primary_key=True),
    *_source_columns(),
    *_function_columns(),
    Column("time", UTCDateTime(), nullable=False),
    Column("duration_ns", BigInteger, nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("result", JSON),
    Column("ingested_at", UTCDateTime(), nullable=False),
    Index("ix_runtime_samples_function_time", "function", "time"),
)
_health = Table(
    "runtime_sensor_health",
    _md,
    Column("id", String(64), primary_key=True),
    *_source_columns(),
    Column("interval_start", UTCDateTime(), nullable=False),
    Column("interval_end", UTCDateTime(), nullable=False),
    Column("dropped_events", BigInteger, nullable=False),
    Column("suppressed_exceptions", BigInteger, nullable=False),
    Column("internal_errors", JSON, nullable=False),
    Column("exporters", JSON, nullable=False),
    Column("ingested_at", UTCDateTime(), nullable=False),
    Index("ix_runtime_sensor_health_time", "interval_start"),
)


def upgrade(conn: Connection) -> None:
    """Create the runtime tables."""
    for table in (_aggregates, _exceptions, _samples, _health):
        table.create(conn)
