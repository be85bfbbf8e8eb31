"""0011: runtime facts at scale -- failures by fingerprint, and aggregates rolled up by age.

* ``runtime_exceptions.fingerprint`` and ``count``: the sensor captures each distinct failure of a
  function (type, message pattern, innermost frames) at least once per interval and says how many
  occurrences a capture stands for. Rows stored before have no fingerprint and count 1.
* ``runtime_aggregates.rollup``: 0 for an interval as the sensor sent it; the length in seconds of
  the span a row covers once retention merged older intervals into it (``codewitness store prune``).
  Indexed with the start, so that finding what is left to merge reads only that.
* The ``cw_exceptions`` and ``cw_runtime`` views gain the new columns.
"""

from __future__ import annotations

from sqlalchemy import Connection

_COLUMNS = (
    "ALTER TABLE runtime_exceptions ADD COLUMN fingerprint VARCHAR(32)",
    "ALTER TABLE runtime_exceptions ADD COLUMN count BIGINT NOT NULL DEFAULT 1",
    "ALTER TABLE runtime_aggregates ADD COLUMN rollup INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX ix_runtime_aggregates_rollup ON runtime_aggregates (rollup, interval_start)",
    "CREATE INDEX ix_runtime_exceptions_fingerprint ON runtime_exceptions (function, fingerprint)",
)

# Plain SQL both SQLite and PostgreSQL read the same way (as in 0008), with the new columns last.
_VIEWS = (
    "DROP VIEW cw_runtime",
    """CREATE VIEW cw_runtime AS
    SELECT service, revision, host, pid, function, origin, ai_share, path, line,
           interval_start, interval_end, calls, error_count AS errors, errors AS errors_by_type,
           total_ns, max_ns, CAST(total_ns AS FLOAT) / NULLIF(calls, 0) / 1000000.0 AS mean_ms,
           generation_ids, models, rollup
    FROM runtime_aggregates""",
    "DROP VIEW cw_exceptions",
    """CREATE VIEW cw_exceptions AS
    SELECT id, time, service, revision, host, function, origin, ai_share, path, line, type, message,
           arguments, stack, generation_ids, models, fingerprint, count
    FROM runtime_exceptions""",
)


def upgrade(conn: Connection) -> None:
    """Add the fingerprint, count and rollup columns, their indexes, and the views' new columns."""
    for statement in (*_COLUMNS, *_VIEWS):
        conn.exec_driver_sql(statement)
