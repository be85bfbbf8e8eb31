"""0008: what the agent face needs -- incident tags, read-only SQL views, and indexes by file.

* ``incident_tags``: a person's verdict on an incident (``cause`` ai/human/unknown, a note, a
  link to the post-mortem). Insert-only: the newest tag of an incident wins. Incidents themselves
  are not stored: they are the exceptions and breaches grouped by fingerprint when read
  (:mod:`codewitness.views.incidents`), so an incident id is the same on every machine.
* ``cw_*`` views: the documented surface of ``codewitness mcp``'s ``query`` tool
  (:mod:`codewitness.store.readonly` describes every column).
* indexes on ``path`` of the runtime tables (covering, for the interval rows): the agent hook asks
  "what is wrong in this file?" before every edit, and must answer in milliseconds.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Index, MetaData, String, Table

from codewitness.store.types import LosslessText, UTCDateTime

_md = MetaData()

Table(
    "incident_tags",
    _md,
    Column("id", String(64), primary_key=True),
    Column("incident_id", String(64), nullable=False),
    Column("cause", String(10), nullable=False),
    Column("note", LosslessText()),
    Column("link", String(2000)),
    Column("tagged_at", UTCDateTime(), nullable=False),
    Index("ix_incident_tags_incident", "incident_id", "tagged_at"),
)

_INDEXES = (
    # Covering, in GROUP BY order: the hook sums one file's intervals per function and revision
    # without reading the wide rows (histograms) and without sorting (4-8 ms for 10,000 intervals,
    # against 17-22 ms with the time first).
    "CREATE INDEX ix_runtime_aggregates_path ON runtime_aggregates "
    "(path, function, revision, interval_start, origin, calls, error_count, total_ns, interval_end)",
    "CREATE INDEX ix_runtime_exceptions_path_time ON runtime_exceptions (path, time)",
    "CREATE INDEX ix_runtime_breaches_path_time ON runtime_breaches (path, time)",
    "CREATE INDEX ix_runtime_breaches_time ON runtime_breaches (time)",
)

# Plain SQL both SQLite and PostgreSQL read the same way. JSON columns stay JSON (text on SQLite).
_VIEWS = (
    """CREATE VIEW cw_runtime AS
    SELECT service, revision, host, pid, function, origin, ai_share, path, line,
           interval_start, interval_end, calls, error_count AS errors, errors AS errors_by_type,
           total_ns, max_ns, CAST(total_ns AS FLOAT) / NULLIF(calls, 0) / 1000000.0 AS mean_ms,
           generation_ids, models
    FROM runtime_aggregates""",
    """CREATE VIEW cw_functions AS
    SELECT function, origin, path, line, COUNT(*) AS intervals, SUM(calls) AS calls,
           SUM(error_count) AS errors, MIN(interval_start) AS first_seen, MAX(interval_end) AS last_seen
    FROM runtime_aggregates
    GROUP BY function, origin, path, line""",
    """CREATE VIEW cw_exceptions AS
    SELECT id, time, service, revision, host, function, origin, ai_share, path, line, type, message,
           arguments, stack, generation_ids, models
    FROM runtime_exceptions""",
    """CREATE VIEW cw_breaches AS
    SELECT id, time, service, revision, host, function, origin, ai_share, path, line, rule, rule_kind,
           expression, mode, arguments, result, detail, generation_ids, models
    FROM runtime_breaches""",
    """CREATE VIEW cw_generations AS
    SELECT g.id, g.agent, g.model, g.session_id, g.prompt_name, g.prompt_version, g.prompt_hash,
           p.text AS prompt, g.created_at, g.input_tokens, g.output_tokens, g.latency_ms
    FROM generations g JOIN prompts p ON p.hash = g.prompt_hash""",
    """CREATE VIEW cw_generation_files AS
    SELECT generation_id, path, start_line, end_line FROM generation_files""",
    """CREATE VIEW cw_commit_generations AS
    SELECT commit_sha, generation_id, path, ai_lines, mixed_lines, linked_at FROM commit_generations""",
    """CREATE VIEW cw_incident_tags AS
    SELECT incident_id, cause, note, link, tagged_at FROM incident_tags""",
)


def upgrade(conn: Connection) -> None:
    """Create the incident tags table, the ``cw_*`` views and the indexes by file."""
    _md.create_all(conn)
    for statement in (*_INDEXES, *_VIEWS):
        conn.exec_driver_sql(statement)
