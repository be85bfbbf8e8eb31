"""0012: flow context -- routes, statements and outbound calls per interval, the request of each
event, and acknowledged insights.

* ``runtime_routes``: one route's requests over one interval (the ``route`` record): statuses, a
  latency histogram, latency by requests in flight.
* ``runtime_dependencies``: one normalised statement or outbound call per route and issuing
  function over one interval (the ``dependency`` record): executions, time, rows, and how many
  times one request ran it -- the evidence for N+1 queries and chatty code.
* ``runtime_event_flows``: the request (or job) an exception, sample, breach or review item
  happened in, keyed by that event's id: route, method, request id, and the redacted context
  with its statements. A table of its own, so the event tables stay as they are.
* ``insight_acks``: a person's acknowledgement of an insight (insert-only; the newest wins).
  Insights themselves are computed when read, with an id from what they are about.
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
    # As on the other runtime tables, but the function may be unknown (no watched function issued
    # the statement; a route whose handler was not found).
    return [
        Column("function", String(1000)),
        Column("origin", String(20), nullable=False),
        Column("ai_share", Float, nullable=False),
        Column("generation_ids", JSON, nullable=False),
        Column("models", JSON, nullable=False),
        Column("path", String(1000)),
        Column("line", Integer),
    ]


Table(
    "runtime_routes",
    _md,
    Column("id", String(64), primary_key=True),
    *_source(),
    *_function(),
    Column("interval_start", UTCDateTime(), nullable=False),
    Column("interval_end", UTCDateTime(), nullable=False),
    Column("flow_kind", String(20), nullable=False),
    Column("method", String(20)),
    Column("route", String(1000)),
    Column("requests", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("statuses", JSON, nullable=False),
    Column("histogram", JSON, nullable=False),
    Column("total_ns", BigInteger, nullable=False),
    Column("max_ns", BigInteger, nullable=False),
    Column("concurrency", JSON, nullable=False),
    Column("ingested_at", UTCDateTime(), nullable=False),
    Index("ix_runtime_routes_route_time", "route", "interval_start"),
    Index("ix_runtime_routes_time", "interval_start"),
)
Table(
    "runtime_dependencies",
    _md,
    Column("id", String(64), primary_key=True),
    *_source(),
    *_function(),
    Column("interval_start", UTCDateTime(), nullable=False),
    Column("interval_end", UTCDateTime(), nullable=False),
    Column("route", String(1000)),
    Column("method", String(20)),
    Column("system", String(40), nullable=False),
    Column("statement", LosslessText(), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("calls", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("total_ns", BigInteger, nullable=False),
    Column("max_ns", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("requests", BigInteger, nullable=False),
    Column("repeated", BigInteger, nullable=False),
    Column("max_per_request", BigInteger, nullable=False),
    Column("details", JSON, nullable=False),
    Column("ingested_at", UTCDateTime(), nullable=False),
    Index("ix_runtime_dependencies_fingerprint_time", "fingerprint", "interval_start"),
    Index("ix_runtime_dependencies_time", "interval_start"),
)
Table(
    "runtime_event_flows",
    _md,
    Column("id", String(64), primary_key=True),
    Column("event_kind", String(20), nullable=False),
    Column("time", UTCDateTime(), nullable=False),
    Column("service", String(200), nullable=False),
    Column("revision", String(200)),
    Column("function", String(1000)),
    Column("request_id", String(200), nullable=False),
    Column("flow_kind", String(20), nullable=False),
    Column("method", String(20)),
    Column("route", String(1000)),
    Column("flow", JSON, nullable=False),
    Column("ingested_at", UTCDateTime(), nullable=False),
    Index("ix_runtime_event_flows_route_time", "route", "time"),
    Index("ix_runtime_event_flows_request", "request_id"),
)
Table(
    "insight_acks",
    _md,
    Column("id", String(64), primary_key=True),
    Column("insight_id", String(64), nullable=False),
    Column("note", LosslessText()),
    Column("acknowledged_at", UTCDateTime(), nullable=False),
    Index("ix_insight_acks_insight", "insight_id", "acknowledged_at"),
)


def upgrade(conn: Connection) -> None:
    """Create the flow tables and the insight acknowledgements."""
    _md.create_all(conn)
