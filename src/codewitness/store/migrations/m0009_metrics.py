"""0009: what the quality metrics need beyond the ledger, and fired alerts.

* ``generation_compiles`` -- per generation and file, whether the file as the agent left it (its raw
  output applied) and as committed parses, written when the commit is linked;
* ``test_runs`` / ``test_results`` -- one row per pytest session run with ``--codewitness-tests``,
  one per test: its outcome and the AI generations whose functions it ran (insert-only);
* ``alerts`` -- one row per firing of an alert condition, with its evidence; a condition that fires
  again while its row is open updates ``last_seen_at`` rather than adding a row, and a row is
  ``cleared`` when the condition no longer holds (so the next firing is a new row).
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Connection, Float, Index, Integer, MetaData, String, Table

from codewitness.store.types import LosslessText, UTCDateTime

_md = MetaData()

Table(
    "generation_compiles",
    _md,
    Column("generation_id", String(40), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("language", String(20), nullable=False),
    Column("raw_ok", Boolean),
    Column("raw_error", LosslessText()),
    Column("committed_ok", Boolean),
    Column("committed_error", LosslessText()),
    Column("commit_sha", String(64)),
    Column("checked_at", UTCDateTime(), nullable=False),
)
Table(
    "test_runs",
    _md,
    Column("id", String(64), primary_key=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=False),
    Column("revision", String(64)),
    Column("tests", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Index("ix_test_runs_started", "started_at"),
)
Table(
    "test_results",
    _md,
    Column("run_id", String(64), primary_key=True),
    Column("nodeid", String(1000), primary_key=True),
    Column("outcome", String(10), nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("functions", JSON, nullable=False),
    Column("generation_ids", JSON, nullable=False),
)
Table(
    "alerts",
    _md,
    Column("id", String(64), primary_key=True),
    Column("condition", String(1000), nullable=False),
    Column("rule", String(100), nullable=False),
    Column("subject", String(1000), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("message", LosslessText(), nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("status", String(10), nullable=False),
    Column("fired_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("cleared_at", UTCDateTime()),
    Column("acked_at", UTCDateTime()),
    Column("ack_note", LosslessText()),
    Column("deliveries", JSON, nullable=False),
    Index("ix_alerts_condition", "condition", "status"),
    Index("ix_alerts_fired", "fired_at"),
)


def upgrade(conn: Connection) -> None:
    """Create the compile verdict, test run and alert tables."""
    _md.create_all(conn)
