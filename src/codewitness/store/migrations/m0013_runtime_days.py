"""0013: the daily summary of the runtime intervals, for questions over weeks.

* ``runtime_days``: per UTC day (of an interval's start), function, file and revision: calls,
  counted errors, time, and when the newest of those intervals started. Keyed by day, function
  and a digest of file and revision (either may be NULL); on SQLite a table without rowid, so
  the rows lie in day order and "since T" reads only the days from T on.
* ``runtime_day_errors``: per day, function and exception type: the errors the sensor counted.

Both are filled here from the intervals already stored (:func:`codewitness.store.days.rebuild`,
one pass over ``runtime_aggregates``), then kept up to date by ingest and retention
(:mod:`codewitness.store.days` says how, and why the answers stay exact).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Connection, MetaData, String, Table

from codewitness.store.types import LosslessText, UTCDateTime

_md = MetaData()

Table(
    "runtime_days",
    _md,
    # The key: a day's functions, each one's rows told apart by a digest of its file and revision
    # (either may be NULL, which a key cannot hold).
    Column("day", UTCDateTime(), primary_key=True),
    Column("function", String(1000), primary_key=True),
    Column("id", String(32), primary_key=True),
    Column("path", String(1000)),
    Column("revision", String(200)),
    Column("calls", BigInteger, nullable=False),
    Column("error_count", BigInteger, nullable=False),
    Column("total_ns", BigInteger, nullable=False),
    Column("last_start", UTCDateTime(), nullable=False),
    # SQLite keeps the rows in key order: "since T" reads the days from T on, and nothing else.
    sqlite_with_rowid=False,
)
Table(
    "runtime_day_errors",
    _md,
    Column("day", UTCDateTime(), primary_key=True),
    Column("function", String(1000), primary_key=True),
    # A digest of the type's name: the name may be long, and hold NUL (stored losslessly beside it).
    Column("type_id", String(32), primary_key=True),
    Column("type", LosslessText(), nullable=False),
    Column("count", BigInteger, nullable=False),
)


def upgrade(conn: Connection) -> None:
    """Create the summary tables and fill them from the stored intervals."""
    from codewitness.store.days import rebuild

    _md.create_all(conn)
    rebuild(conn)
