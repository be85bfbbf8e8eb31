"""0014: the functions the sensor stopped watching, and why.

* ``runtime_unwatched``: one row per ``unwatched`` record -- a sensor process stopped counting a
  function's calls at ``time`` for ``reason`` (``cheap``: busy, and quicker than worth timing),
  with the calls and mean time of the interval that decided it. What it counted before stays in
  ``runtime_aggregates``.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Connection, Float, Index, Integer, MetaData, String, Table

from codewitness.store.types import UTCDateTime

_md = MetaData()

Table(
    "runtime_unwatched",
    _md,
    Column("id", String(64), primary_key=True),
    Column("service", String(200), nullable=False),
    Column("revision", String(200)),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("function", String(1000), nullable=False),
    Column("origin", String(20), nullable=False),
    Column("ai_share", Float, nullable=False),
    Column("generation_ids", JSON, nullable=False),
    Column("models", JSON, nullable=False),
    Column("path", String(1000)),
    Column("line", Integer),
    Column("time", UTCDateTime(), nullable=False),
    Column("reason", String(40), nullable=False),
    Column("calls", BigInteger, nullable=False),
    Column("mean_ns", BigInteger, nullable=False),
    Column("ingested_at", UTCDateTime(), nullable=False),
    Index("ix_runtime_unwatched_function_time", "function", "time"),
)


def upgrade(conn: Connection) -> None:
    """Create ``runtime_unwatched``."""
    _md.create_all(conn)
