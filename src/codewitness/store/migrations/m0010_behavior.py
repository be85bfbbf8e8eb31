"""0010: behaviour -- the replay corpus, pinned baselines, their checks, and replay history.

* ``runtime_samples`` and ``review_items`` gain the exact, replayable encoding of a call
  (``input``, ``output``) or the reason it has none (``not_replayable``), and samples their input
  shape and how many calls of that shape the interval saw; ``regression_cases`` gain the input
  and the corrected expectation a reviewer gave.
* ``corpus_entries``: one row per (function, distinct input), fed by ingested samples (the
  sensor, ``pytest --codewitness-record``), review verdicts and ``codewitness corpus add``;
  ``seen`` counts the samples of that input.
* ``baselines`` / ``baseline_cases``: a named pin of every replayed input's outcome at one
  revision; never rewritten (deleted and pinned again under a name, if need be).
* ``baseline_checks``: every ``baseline check`` with its counts, share and whether it alarmed.
* ``replay_functions``: per replay run and function, what was replayed and how it ended -- the
  history of differences and of non-deterministic inputs (flakiness) over time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

from codewitness.store.types import LosslessText, UTCDateTime

_md = MetaData()
#: A JSON column whose ``None`` is SQL NULL (not JSON ``null``), so ``IS NULL`` finds it.
_NULLABLE_JSON = JSON(none_as_null=True)

Table(
    "corpus_entries",
    _md,
    Column("id", String(64), primary_key=True),
    Column("function", String(1000), nullable=False),
    Column("input_hash", String(64), nullable=False),
    Column("source", String(20), nullable=False),
    Column("shape", String(500)),
    Column("input", _NULLABLE_JSON),
    Column("arguments", JSON, nullable=False),
    Column("not_replayable", LosslessText()),
    Column("observed", _NULLABLE_JSON),
    Column("expect", _NULLABLE_JSON),
    Column("expect_source", String(20)),
    Column("revisions", JSON, nullable=False),
    Column("seen", BigInteger, nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("note", LosslessText()),
    Index("ix_corpus_entries_function", "function", "input_hash", unique=True),
    Index("ix_corpus_entries_last_seen", "last_seen"),
)
Table(
    "baselines",
    _md,
    Column("name", String(200), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revision", String(64)),
    Column("dirty", Boolean, nullable=False),
    Column("functions", JSON, nullable=False),
    Column("cases", Integer, nullable=False),
    Column("skipped", JSON, nullable=False),
    Column("note", LosslessText()),
)
Table(
    "baseline_cases",
    _md,
    Column("baseline", String(200), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("function", String(1000), nullable=False),
    Column("input_hash", String(64), nullable=False),
    Column("input", JSON, nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("outcome", JSON, nullable=False),
    Column("outcome_hash", String(64), nullable=False),
    Index("ix_baseline_cases_function", "baseline", "function"),
)
Table(
    "baseline_checks",
    _md,
    Column("id", String(32), primary_key=True),
    Column("baseline", String(200), nullable=False),
    Column("checked_at", UTCDateTime(), nullable=False),
    Column("revision", String(64)),
    Column("dirty", Boolean, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("compared", Integer, nullable=False),
    Column("equal", Integer, nullable=False),
    Column("differing", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("nondeterministic", Integer, nullable=False),
    Column("share", Float, nullable=False),
    Column("alarm", Boolean, nullable=False),
    Column("summary", JSON, nullable=False),
    Index("ix_baseline_checks_baseline", "baseline", "checked_at"),
)
Table(
    "replay_functions",
    _md,
    Column("run_id", String(32), primary_key=True),
    Column("function", String(1000), primary_key=True),
    Column("time", UTCDateTime(), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("against", String(64)),
    Column("revision", String(64)),
    Column("replayed", Integer, nullable=False),
    Column("equal", Integer, nullable=False),
    Column("differing", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("nondeterministic", Integer, nullable=False),
    Column("not_replayable", Integer, nullable=False),
    Index("ix_replay_functions_function", "function", "time"),
)

#: Columns added to existing tables: (table, column).
_ADDED: tuple[tuple[str, Column[Any]], ...] = (
    ("runtime_samples", Column("shape", String(500))),
    ("runtime_samples", Column("shape_calls", BigInteger)),
    ("runtime_samples", Column("source", String(20))),
    ("runtime_samples", Column("input", _NULLABLE_JSON)),
    ("runtime_samples", Column("input_digest", String(64))),
    ("runtime_samples", Column("output", _NULLABLE_JSON)),
    ("runtime_samples", Column("not_replayable", LosslessText())),
    ("review_items", Column("input", _NULLABLE_JSON)),
    ("review_items", Column("not_replayable", LosslessText())),
    ("regression_cases", Column("input", _NULLABLE_JSON)),
    ("regression_cases", Column("expect", _NULLABLE_JSON)),
)


def upgrade(conn: Connection) -> None:
    """Create the behaviour tables and add the replayable encodings to samples, review items and cases."""
    _md.create_all(conn)
    for table, column in _ADDED:
        kind = column.type.compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column.name} {kind}")
