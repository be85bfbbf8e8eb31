"""0003: the attribution cache — blame rows by (path, blob), commit metadata, per-blob analyses.

Every row is derived from immutable git objects and can be dropped and rebuilt at any time.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Index, Integer, MetaData, String, Table, Text

from codewitness.store.types import UTCDateTime

_md = MetaData()

_attr_blame = Table(
    "attr_blame",
    _md,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("path", String(1000), nullable=False),
    Column("blob", String(64), nullable=False),
    Column("data", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_attr_blame_key", "blob", "path"),
)
_attr_commit = Table(
    "attr_commit",
    _md,
    Column("commit", String(64), primary_key=True),
    Column("data", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
_attr_blob = Table(
    "attr_blob",
    _md,
    Column("kind", String(40), primary_key=True),
    Column("blob", String(64), primary_key=True),
    Column("data", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)


def upgrade(conn: Connection) -> None:
    """Create the attribution cache tables."""
    for table in (_attr_blame, _attr_commit, _attr_blob):
        table.create(conn)
