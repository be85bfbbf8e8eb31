"""The current shape of every table, as SQLAlchemy Core objects used by queries.

Tables are created and changed only by migrations (:mod:`codewitness.store.migrations`);
this module mirrors the result. Rows are insert-only and time-keyed where they describe
events, so they map onto a columnar engine unchanged.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from codewitness.store.types import LosslessText, UTCDateTime

metadata = MetaData()
#: A JSON column whose ``None`` is SQL NULL (not JSON ``null``), so ``IS NULL`` finds it.
_NULLABLE_JSON = JSON(none_as_null=True)

migrations = Table(
    "cw_migrations",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("applied_at", UTCDateTime(), nullable=False),
)

prompts = Table(
    "prompts",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("text", LosslessText(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

prompt_versions = Table(
    "prompt_versions",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("prompt_hash", String(64), ForeignKey("prompts.hash"), nullable=False),
    Column("label", String(200)),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_prompt_versions_hash", "name", "prompt_hash", unique=True),
)

generations = Table(
    "generations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("agent", String(100), nullable=False),
    Column("model", String(200), nullable=False),
    Column("params", JSON, nullable=False),
    Column("prompt_hash", String(64), ForeignKey("prompts.hash"), nullable=False),
    Column("prompt_name", String(200)),
    Column("prompt_version", Integer),
    Column("output", LosslessText(), nullable=False),
    Column("session_id", String(200)),
    Column("request_id", String(200)),
    Column("tool_call_id", String(200)),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("latency_ms", Float),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_generations_model", "model"),
    Index("ix_generations_agent", "agent"),
    Index("ix_generations_created", "created_at"),
    Index("ix_generations_session", "session_id"),
    Index("ix_generations_prompt", "prompt_name", "prompt_version"),
)

generation_files = Table(
    "generation_files",
    metadata,
    Column("generation_id", String(40), ForeignKey("generations.id"), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("start_line", Integer, primary_key=True),
    Column("end_line", Integer, primary_key=True),
    Index("ix_generation_files_path", "path"),
)

# -- capture (m0002): agent edit checkpoints and the generations each commit carries ----------
checkpoints = Table(
    "checkpoints",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("generation_id", String(40), ForeignKey("generations.id"), nullable=False),
    Column("path", String(1000), nullable=False),
    Column("before_hash", String(64)),
    Column("after_hash", String(64)),
    Column("added", JSON, nullable=False),
    Column("removed", JSON, nullable=False),
    Column("session_id", String(200)),
    Column("agent", String(100)),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_checkpoints_generation", "generation_id"),
    Index("ix_checkpoints_path", "path"),
)

commit_generations = Table(
    "commit_generations",
    metadata,
    Column("commit_sha", String(64), primary_key=True),
    Column("generation_id", String(40), ForeignKey("generations.id"), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("ai_lines", Integer, nullable=False),
    Column("mixed_lines", Integer, nullable=False),
    Column("linked_at", UTCDateTime(), nullable=False),
    Index("ix_commit_generations_generation", "generation_id"),
)

# -- attribution cache (m0003): rebuildable, keyed by immutable git object ids ----------------
attr_blame = Table(
    "attr_blame",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("path", String(1000), nullable=False),
    Column("blob", String(64), nullable=False),
    Column("data", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_attr_blame_key", "blob", "path"),
)

attr_commit = Table(
    "attr_commit",
    metadata,
    Column("commit", String(64), primary_key=True),
    Column("data", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

attr_blob = Table(
    "attr_blob",
    metadata,
    Column("kind", String(40), primary_key=True),
    Column("blob", String(64), primary_key=True),
    Column("data", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)


# -- runtime facts (m0004) ------------------------------------------------------------------


def _runtime_source_columns() -> list[Column[object]]:
    # Where a record came from: the same four columns on every runtime table.
    return [
        Column("service", String(200), nullable=False),
        Column("revision", String(200)),
        Column("host", String(255), nullable=False),
        Column("pid", Integer, nullable=False),
    ]


def _runtime_function_columns() -> list[Column[object]]:
    return [
        Column("function", String(1000), nullable=False),
        Column("origin", String(20), nullable=False),
        Column("ai_share", Float, nullable=False),
        Column("generation_ids", JSON, nullable=False),
        Column("models", JSON, nullable=False),
        Column("path", String(1000)),
        Column("line", Integer),
    ]


runtime_aggregates = Table(
    "runtime_aggregates",
    metadata,
    Column("id", String(64), primary_key=True),
    *_runtime_source_columns(),
    *_runtime_function_columns(),
    Column("interval_start", UTCDateTime(), nullable=False),
    Column("interval_end", UTCDateTime(), nullable=False),
    Column("calls", BigInteger, nullable=False),
    Column("error_count", BigInteger, nullable=False),
    Column("errors", JSON, nullable=False),
    Column("histogram", JSON, nullable=False),
    Column("total_ns", BigInteger, nullable=False),
    Column("max_ns", BigInteger, nullable=False),
    Column("ingested_at", UTCDateTime(), nullable=False),
    # m0011: 0 as the sensor sent it; else the seconds of the span retention merged it into.
    Column("rollup", Integer, nullable=False, server_default="0"),
    Index("ix_runtime_aggregates_function_time", "function", "interval_start"),
    Index("ix_runtime_aggregates_time", "interval_start"),
    Index("ix_runtime_aggregates_rollup", "rollup", "interval_start"),
)
runtime_exceptions = Table(
    "runtime_exceptions",
    metadata,
    Column("id", String(64), primary_key=True),
    *_runtime_source_columns(),
    *_runtime_function_columns(),
    Column("time", UTCDateTime(), nullable=False),
    Column("type", String(500), nullable=False),
    Column("message", LosslessText(), nullable=False),
    Column("stack", JSON, nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("ingested_at", UTCDateTime(), nullable=False),
    # m0011: the failure's fingerprint, and how many occurrences in its interval the row stands for.
    Column("fingerprint", String(32)),
    Column("count", BigInteger, nullable=False, server_default="1"),
    Index("ix_runtime_exceptions_function_time", "function", "time"),
    Index("ix_runtime_exceptions_time", "time"),
    Index("ix_runtime_exceptions_fingerprint", "function", "fingerprint"),
)
runtime_samples = Table(
    "runtime_samples",
    metadata,
    Column("id", String(64), primary_key=True),
    *_runtime_source_columns(),
    *_runtime_function_columns(),
    Column("time", UTCDateTime(), nullable=False),
    Column("duration_ns", BigInteger, nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("result", JSON),
    Column("ingested_at", UTCDateTime(), nullable=False),
    # m0010: the input shape, the exact (replayable) encoding, or why there is none
    Column("shape", String(500)),
    Column("shape_calls", BigInteger),
    Column("source", String(20)),
    Column("input", _NULLABLE_JSON),
    Column("input_digest", String(64)),
    Column("output", _NULLABLE_JSON),
    Column("not_replayable", LosslessText()),
    Index("ix_runtime_samples_function_time", "function", "time"),
)
runtime_sensor_health = Table(
    "runtime_sensor_health",
    metadata,
    Column("id", String(64), primary_key=True),
    *_runtime_source_columns(),
    Column("interval_start", UTCDateTime(), nullable=False),
    Column("interval_end", UTCDateTime(), nullable=False),
    Column("dropped_events", BigInteger, nullable=False),
    Column("suppressed_exceptions", BigInteger, nullable=False),
    Column("internal_errors", JSON, nullable=False),
    Column("exporters", JSON, nullable=False),
    Column("ingested_at", UTCDateTime(), nullable=False),
    Index("ix_runtime_sensor_health_time", "interval_start"),
)


# -- invariants and review (m0006) ----------------------------------------------------------

runtime_breaches = Table(
    "runtime_breaches",
    metadata,
    Column("id", String(64), primary_key=True),
    *_runtime_source_columns(),
    *_runtime_function_columns(),
    Column("time", UTCDateTime(), nullable=False),
    Column("rule", String(500), nullable=False),
    Column("rule_kind", String(20), nullable=False),
    Column("expression", LosslessText(), nullable=False),
    Column("mode", String(10), nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("result", JSON),
    Column("detail", LosslessText()),
    Column("ingested_at", UTCDateTime(), nullable=False),
    Index("ix_runtime_breaches_function_time", "function", "time"),
)

runtime_invariant_counts = Table(
    "runtime_invariant_counts",
    metadata,
    Column("id", String(64), primary_key=True),
    *_runtime_source_columns(),
    Column("time", UTCDateTime(), nullable=False),
    Column("function", String(1000), nullable=False),
    Column("rule", String(500), nullable=False),
    Column("rule_kind", String(20), nullable=False),
    Column("expression", LosslessText(), nullable=False),
    Column("rule_source", String(20), nullable=False),
    Column("passed", BigInteger, nullable=False),
    Column("breached", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("ingested_at", UTCDateTime(), nullable=False),
    Index("ix_runtime_invariant_counts_rule", "function", "rule"),
)

review_items = Table(
    "review_items",
    metadata,
    Column("id", String(64), primary_key=True),
    *_runtime_source_columns(),
    *_runtime_function_columns(),
    Column("time", UTCDateTime(), nullable=False),
    Column("rule", String(1000), nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("result", JSON),
    Column("ingested_at", UTCDateTime(), nullable=False),
    Column("input", _NULLABLE_JSON),  # m0010
    Column("not_replayable", LosslessText()),  # m0010
    Index("ix_review_items_time", "time"),
)

review_marks = Table(
    "review_marks",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("item_id", String(64), nullable=False),
    Column("verdict", String(10), nullable=False),
    Column("note", LosslessText()),
    Column("marked_at", UTCDateTime(), nullable=False),
    Index("ix_review_marks_item", "item_id"),
)

regression_cases = Table(
    "regression_cases",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("item_id", String(64), nullable=False, unique=True),
    Column("function", String(1000), nullable=False),
    Column("revision", String(200)),
    Column("generation_ids", JSON, nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("wrong_result", JSON),
    Column("note", LosslessText()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("input", _NULLABLE_JSON),  # m0010
    Column("expect", _NULLABLE_JSON),  # m0010: the corrected expectation a reviewer gave
)


# -- the server (m0007): API tokens, ingested batches, browser sessions, gate runs ---------------

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
)

ingest_batches = Table(
    "ingest_batches",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("token_id", String(16), nullable=False),
    Column("records", Integer, nullable=False),
    Column("inserted", Integer, nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Index("ix_ingest_batches_received", "received_at"),
)

server_sessions = Table(
    "server_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("token_id", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

gate_runs = Table(
    "gate_runs",
    metadata,
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


# -- the agent face (m0008): incident tags; m0008 also adds the cw_* views and indexes by path --

incident_tags = Table(
    "incident_tags",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("incident_id", String(64), nullable=False),
    Column("cause", String(10), nullable=False),
    Column("note", LosslessText()),
    Column("link", String(2000)),
    Column("tagged_at", UTCDateTime(), nullable=False),
    Index("ix_incident_tags_incident", "incident_id", "tagged_at"),
)


# -- quality metrics and alerts (m0009) ---------------------------------------------------------

generation_compiles = Table(
    "generation_compiles",
    metadata,
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

test_runs = Table(
    "test_runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=False),
    Column("revision", String(64)),
    Column("tests", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Index("ix_test_runs_started", "started_at"),
)

test_results = Table(
    "test_results",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("nodeid", String(1000), primary_key=True),
    Column("outcome", String(10), nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("functions", JSON, nullable=False),
    Column("generation_ids", JSON, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
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


# -- flow context (m0012): routes, statements and outbound calls, the request of each event, insight acks --


def _flow_function_columns() -> list[Column[object]]:
    # The runtime function columns, but the function may be unknown.
    return [
        Column("function", String(1000)),
        Column("origin", String(20), nullable=False),
        Column("ai_share", Float, nullable=False),
        Column("generation_ids", JSON, nullable=False),
        Column("models", JSON, nullable=False),
        Column("path", String(1000)),
        Column("line", Integer),
    ]


runtime_routes = Table(
    "runtime_routes",
    metadata,
    Column("id", String(64), primary_key=True),
    *_runtime_source_columns(),
    *_flow_function_columns(),
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

runtime_dependencies = Table(
    "runtime_dependencies",
    metadata,
    Column("id", String(64), primary_key=True),
    *_runtime_source_columns(),
    *_flow_function_columns(),
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

runtime_event_flows = Table(
    "runtime_event_flows",
    metadata,
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

insight_acks = Table(
    "insight_acks",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("insight_id", String(64), nullable=False),
    Column("note", LosslessText()),
    Column("acknowledged_at", UTCDateTime(), nullable=False),
    Index("ix_insight_acks_insight", "insight_id", "acknowledged_at"),
)


# -- behaviour (m0010): the replay corpus, baselines, their checks, replay history ----------------

corpus_entries = Table(
    "corpus_entries",
    metadata,
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

baselines = Table(
    "baselines",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revision", String(64)),
    Column("dirty", Boolean, nullable=False),
    Column("functions", JSON, nullable=False),
    Column("cases", Integer, nullable=False),
    Column("skipped", JSON, nullable=False),
    Column("note", LosslessText()),
)

baseline_cases = Table(
    "baseline_cases",
    metadata,
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

baseline_checks = Table(
    "baseline_checks",
    metadata,
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

replay_functions = Table(
    "replay_functions",
    metadata,
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

# -- the daily summary of the intervals (m0013) ---------------------------------------------------

runtime_days = Table(
    "runtime_days",
    metadata,
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
runtime_day_errors = Table(
    "runtime_day_errors",
    metadata,
    Column("day", UTCDateTime(), primary_key=True),
    Column("function", String(1000), primary_key=True),
    # A digest of the type's name: the name may be long, and hold NUL (stored losslessly beside it).
    Column("type_id", String(32), primary_key=True),
    Column("type", LosslessText(), nullable=False),
    Column("count", BigInteger, nullable=False),
)

# -- functions the sensor stopped watching (m0014) ------------------------------------------------

runtime_unwatched = Table(
    "runtime_unwatched",
    metadata,
    Column("id", String(64), primary_key=True),
    *_runtime_source_columns(),
    *_runtime_function_columns(),
    Column("time", UTCDateTime(), nullable=False),
    Column("reason", String(40), nullable=False),
    Column("calls", BigInteger, nullable=False),
    Column("mean_ns", BigInteger, nullable=False),
    Column("ingested_at", UTCDateTime(), nullable=False),
    Index("ix_runtime_unwatched_function_time", "function", "time"),
)
