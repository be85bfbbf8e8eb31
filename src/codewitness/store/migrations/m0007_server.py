"""0007: what ``codewitness serve`` keeps -- API tokens (hashed), ingested batch ids, browser
sessions, and merge-gate runs for the dashboard.

* ``api_tokens``: a token is shown once when created; only its SHA-256 is stored. Revoking
  sets ``revoked_at`` (the row stays, so ``token list`` can say when).
* ``ingest_batches``: the batch id an exporter sent with each accepted batch, so a retried
  batch is answered at once and adds nothing (the records' own ids make loading idempotent
  as well; the batch id makes a retry cheap and visible).
* ``server_sessions``: a browser session obtained with a token (hashed id, expiry).
* ``gate_runs``: the ``check --json`` document of a merge-gate run, with where it ran.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Connection, Index, Integer, MetaData, String, Table

from codewitness.store.types import LosslessText, UTCDateTime

_md = MetaData()

Table(
    "api_tokens",
    _md,
    Column("id", String(16), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
)
Table(
    "ingest_batches",
    _md,
    Column("id", String(64), primary_key=True),
    Column("token_id", String(16), nullable=False),
    Column("records", Integer, nullable=False),
    Column("inserted", Integer, nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Index("ix_ingest_batches_received", "received_at"),
)
Table(
    "server_sessions",
    _md,
    Column("id_hash", String(64), primary_key=True),
    Column("token_id", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)
Table(
    "gate_runs",
    _md,
    Column("id", String(32), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revision", String(64)),
    Column("base", String(200)),
    Column("source", String(200), nullable=False),
    Column("findings", Integer, nullable=False),
    Column("document", JSON, nullable=False),
    Column("summary", LosslessText()),
    Index("ix_gate_runs_created", "created_at"),
)


def upgrade(conn: Connection) -> None:
    """Create the server's tables."""
    _md.create_all(conn)
